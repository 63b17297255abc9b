/**
 * What a model's UNet is conditioned on, and how prompts become it. One place for the drawing pipeline,
 * pair training and the baselines:
 *
 * - SD 1.x and emoji-mini: the text encoder's last_hidden_state [B, T, D] (encoder_hidden_states).
 * - SDXL (a model with a second text encoder): both encoders' penultimate states (hidden_states[-2],
 *   no final norm) concatenated on features [B, 77, 768 + 1280]; text_embeds, the second encoder's
 *   projected pooled output [B, 1280]; and time_ids [B, 6] = (original h, w, crop top, left, target
 *   h, w), here always the model's image size with no crop (what diffusers' pipeline sends by default).
 *   With force_zeros_for_empty_prompt (SDXL base), an empty prompt conditions on zeros, not on the
 *   encoding of "".
 *
 * Precision: 'fp16' runs the networks in float16 (weights converted when the graph is emitted) between
 * float32 inputs and outputs; LoRA parameters stay float32 (lora.ts casts them where they are used).
 */
import type { Precision } from '../graph/device.ts';
import { cast, concat, Graph, GraphError, type DType, type Feed, type Tensor } from '../graph/index.ts';
import { clipTextStates, eosMaskOf } from '../models/clip-text.ts';
import type { LoraAdapter } from '../models/lora.ts';
import type { FeatureInjectionPoints } from '../models/feature-injection.ts';
import type { TextToImageModel } from './text-to-image.ts';
import { unet2DConditionModel } from '../models/unet.ts';
import { pooledTextWidth, TIME_IDS } from '../models/unet-config.ts';

/** What building a model's UNet graph needs of it: its shapes, not its weights. */
export type ModelShapes = Pick<TextToImageModel, 'unet' | 'contextLength' | 'imageSize'> & { codec: Pick<TextToImageModel['codec'], 'latentShape'> };

export const dtypeOf = (p: Precision = 'fp32'): DType => (p === 'fp16' ? 'float16' : 'float32');

/** Encoded prompts: states [prompts, T, cross_attention_dim] and, for text_time models, pooled [prompts, P]. */
export interface PromptConditioning {
  states: Float32Array;
  pooled?: Float32Array;
}

const SECOND = 'text_encoder_2.';

function checkSecondEncoder(model: TextToImageModel): void {
  if (!model.text2 || !model.tokenizer2)
    throw new GraphError(`${model.id}: its UNet needs pooled text embeddings, which only a second text encoder with a projection gives`);
  if (!model.text2.projection_dim) throw new GraphError(`${model.id}: text_encoder_2 has no projection_dim (it must be a CLIPTextModelWithProjection)`);
}

/** The text-encoder graph over `prompts` prompts: outputs states (and pooled); inputs input_ids (and input_ids_2, eos_mask_2). */
export function textEncoderGraph(model: TextToImageModel, prompts: number, precision: Precision = 'fp32'): Record<string, Tensor> {
  const g = new Graph({ paramMode: () => 'frozen' });
  const t = model.contextLength;
  const dtype = dtypeOf(precision);
  const ids = g.input('input_ids', [prompts, t], 'int64');
  if (!model.text2) return { states: cast(clipTextStates(g, model.text, ids, { dtype }).last, 'float32') };
  checkSecondEncoder(model);
  const first = clipTextStates(g, model.text, ids, { dtype });
  const second = clipTextStates(g, model.text2, g.input('input_ids_2', [prompts, t], 'int64'), {
    prefix: SECOND,
    dtype,
    eosMask: g.input('eos_mask_2', [prompts, t]),
  });
  return { states: cast(concat([first.penultimate, second.penultimate], 2), 'float32'), pooled: cast(second.pooled!, 'float32') };
}

/** Token feeds for textEncoderGraph. */
export function textEncoderFeeds(model: TextToImageModel, prompts: readonly string[]): Record<string, Feed> {
  const t = model.contextLength;
  const tokenize = (encode: (s: string, n: number) => number[]) => {
    const ids = new BigInt64Array(prompts.length * t);
    prompts.forEach((p, i) => encode(p, t).forEach((id, j) => (ids[i * t + j] = BigInt(id))));
    return ids;
  };
  const feeds: Record<string, Feed> = { input_ids: tokenize((s, n) => model.tokenizer.encode(s, n)) };
  if (model.text2) {
    const ids2 = tokenize((s, n) => model.tokenizer2!.encode(s, n));
    feeds.input_ids_2 = ids2;
    feeds.eos_mask_2 = eosMaskOf(ids2, prompts.length, t);
  }
  return feeds;
}

/** force_zeros_for_empty_prompt: zero the conditioning of empty prompts, in place. */
export function zeroEmptyPrompts(model: TextToImageModel, prompts: readonly string[], cond: PromptConditioning): PromptConditioning {
  if (!model.forceZerosForEmptyPrompt) return cond;
  const row = cond.states.length / prompts.length;
  const pooledRow = cond.pooled ? cond.pooled.length / prompts.length : 0;
  prompts.forEach((p, i) => {
    if (p.trim()) return;
    cond.states.fill(0, i * row, (i + 1) * row);
    cond.pooled?.fill(0, i * pooledRow, (i + 1) * pooledRow);
  });
  return cond;
}

/** The UNet's conditioning graph inputs for `rows` batch rows: encoder_hidden_states (and text_embeds, time_ids). */
export function conditionInputs(g: Graph, model: ModelShapes, rows: number) {
  const encoderHiddenStates = g.input('encoder_hidden_states', [rows, model.contextLength, model.unet.cross_attention_dim]);
  const pooled = pooledTextWidth(model.unet);
  if (model.unet.addition_embed_type !== 'text_time') return { encoderHiddenStates };
  return { encoderHiddenStates, added: { textEmbeds: g.input('text_embeds', [rows, pooled]), timeIds: g.input('time_ids', [rows, TIME_IDS]) } };
}

/** SDXL's size ids for drawing or training at the model's image size: no crop, original = target. */
export const defaultTimeIds = (size: number): number[] => [size, size, 0, 0, size, size];

/** Feeds for conditionInputs: row r conditioned on prompt promptOfRow[r] of `cond`. */
export function conditionFeeds(model: TextToImageModel, cond: PromptConditioning, promptOfRow: readonly number[]): Record<string, Float32Array> {
  const states = gatherRows(cond.states, model.contextLength * model.unet.cross_attention_dim, promptOfRow);
  if (model.unet.addition_embed_type !== 'text_time') return { encoder_hidden_states: states };
  if (!cond.pooled) throw new GraphError(`${model.id}: its UNet needs pooled text embeddings, and the prompts were encoded without them`);
  const textEmbeds = gatherRows(cond.pooled, pooledTextWidth(model.unet), promptOfRow);
  const timeIds = gatherRows(
    Float32Array.from(defaultTimeIds(model.imageSize)),
    TIME_IDS,
    promptOfRow.map(() => 0),
  );
  return { encoder_hidden_states: states, text_embeds: textEmbeds, time_ids: timeIds };
}

/** Rows of `width` values of `src`, row i of the result being row promptOfRow[i] of src. */
function gatherRows(src: Float32Array, width: number, promptOfRow: readonly number[]): Float32Array {
  const out = new Float32Array(promptOfRow.length * width);
  promptOfRow.forEach((p, i) => out.set(src.subarray(p * width, (p + 1) * width), i * width));
  return out;
}

/**
 * The model's UNet over `rows` batch rows with its conditioning inputs (conditionInputs) and input
 * 'sample' [rows, ...latentShape], 'timestep' [rows]; float32 output whatever the precision.
 */
export function modelUnet(
  g: Graph,
  model: ModelShapes,
  rows: number,
  opts: { lora?: readonly LoraAdapter[]; precision?: Precision; recomputeAttention?: boolean; injection?: FeatureInjectionPoints } = {},
): Tensor {
  const dtype = dtypeOf(opts.precision);
  const [c, h, w] = model.codec.latentShape;
  const cond = conditionInputs(g, model, rows);
  const out = unet2DConditionModel(
    g,
    model.unet,
    {
      sample: cast(g.input('sample', [rows, c, h, w]), dtype),
      timestep: g.input('timestep', [rows]),
      encoderHiddenStates: cast(cond.encoderHiddenStates, dtype),
      added: cond.added && { textEmbeds: cast(cond.added.textEmbeds, dtype), timeIds: cond.added.timeIds },
    },
    { lora: opts.lora, recomputeAttention: opts.recomputeAttention, injection: opts.injection },
  );
  return cast(out, 'float32');
}
