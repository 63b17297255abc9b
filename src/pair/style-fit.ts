/**
 * Does a style fit the model it is about to run on? Its base model (id and weight hash), and every
 * LoRA-adapted attention projection of the model's UNet present in the style at the model's widths
 * (a cut or forged file that passed style-file.ts's checks still fails here). Kept apart from
 * style-file.ts because it builds the model's UNet graph (src/pipeline), which the bot's own process
 * never loads.
 */
import { unetGraph } from '../pipeline/diffusion-pipeline.ts';
import type { TextToImageModel } from '../pipeline/text-to-image.ts';
import { msg } from '../i18n/message.ts';
import { printable } from '../errors/user-error.ts';
import { StyleFileError } from './style-file.ts';
import { adaptsConvs, type Style } from './style.ts';

/**
 * The LoRA-adapted modules of a model's UNet with their widths (from its graph; cached per model):
 * the attention projections, and the resnet convolutions a style with conv adapters (LoCon) adapts too
 * (`kernel` set; inDim = in channels x k x k).
 */
const projectionsByModel = new WeakMap<TextToImageModel, Map<string, { inDim: number; outDim: number; kernel?: number }>>();
export function loraProjectionsOf(model: TextToImageModel): Map<string, { inDim: number; outDim: number; kernel?: number }> {
  let found = projectionsByModel.get(model);
  if (!found) {
    const { graph } = unetGraph(model, 1, [{ name: 'probe', rank: 1, convs: true }]);
    found = new Map();
    for (const [name, t] of graph.params) {
      const m = /^(.*)\.lora_A\.probe\.weight$/.exec(name);
      if (m)
        found.set(m[1], {
          inDim: t.shape.slice(1).reduce((a, b) => a * b, 1),
          outDim: graph.params.get(`${m[1]}.lora_B.probe.weight`)!.shape[0],
          ...(t.shape.length === 4 ? { kernel: t.shape[2] } : {}),
        });
    }
    projectionsByModel.set(model, found);
  }
  return found;
}

/** A model as a refusal names it: its id and the first 12 hex digits of its weights' hash ("emoji-mini 3f2a9c01d4e5"). */
/** A model named in a message: its id (quoted short: a style file's is whatever the file says) and 12 hex digits of its hash. */
const modelName = (id: string, hash: string) => `${printable(id)} ${printable(hash.replace(/^sha256:/, ''), 12)}`;

/**
 * Refuses a style trained on another base model (its weights would be meaningless there), saying how to
 * train it again: in a chat, `/pairstyle retrain` (the bot keeps the pictures); `cli`: `pairstyle train`.
 */
export function checkStyleFitsModel(style: Style, model: TextToImageModel, again: 'chat' | 'cli' = 'chat'): void {
  const name = printable(style.info.name);
  const where = `style '${name}'`;
  if (style.info.baseModel !== model.id || style.info.baseModelHash !== model.hash) {
    throw new StyleFileError(
      msg('style.other-model', {
        name,
        trained: modelName(style.info.baseModel, style.info.baseModelHash),
        loaded: modelName(model.id, model.hash),
        again: msg(again === 'chat' ? 'style.again-chat' : 'style.again-cli', { name }),
      }),
    );
  }
  // Same model: the file must still hold every projection, at the model's widths (a forged or cut file does not).
  const convs = adaptsConvs(style);
  const projections = new Map([...loraProjectionsOf(model)].filter(([, p]) => convs || p.kernel === undefined));
  const inFile = new Map(style.modules.map((m) => [m.module, m]));
  for (const [module, want] of projections) {
    const got = inFile.get(module);
    if (!got) throw new StyleFileError(`${where} has no weights for ${module}: the file is incomplete; train it again`);
    if (got.inDim !== want.inDim || got.outDim !== want.outDim) {
      throw new StyleFileError(
        `${where} does not fit the model: its ${module} is ${got.inDim} wide (${got.outDim} out), the model's ${module} is ${want.inDim} wide (${want.outDim} out)`,
      );
    }
  }
  const extra = style.modules.find((m) => !projections.has(m.module));
  if (extra) throw new StyleFileError(`${where} has weights for ${printable(extra.module, 80)}, which the model does not have`);
}
