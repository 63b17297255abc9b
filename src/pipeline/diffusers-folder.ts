/**
 * The diffusers Stable Diffusion folder: model_index.json, unet/{config.json,
 * diffusion_pytorch_model[.fp16].safetensors}, text_encoder/{config.json, model[.fp16].safetensors},
 * vae/{config.json, diffusion_pytorch_model[.fp16].safetensors}, tokenizer/{vocab.json, merges.txt, ...},
 * scheduler/scheduler_config.json; SDXL's also text_encoder_2/ and tokenizer_2/. Read (the configs by
 * the parsers beside each model, the weights checked before any is read) and written (exports, and the
 * tests' small checkpoints).
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fromSchedulerConfig, NoiseSchedule, STABLE_DIFFUSION_SCHEDULE, type ScheduleConfig } from '../diffusion/schedule.ts';
import { unreadableWeightsReason } from '../formats/pytorch-sniff.ts';
import { writeSafetensors } from '../formats/safetensors.ts';
import { CheckpointError } from '../models/checkpoint-error.ts';
import { textConfigFromJson } from '../models/clip-text.ts';
import { ClipTokenizer } from '../models/tokenizers/clip-bpe.ts';
import { unetConfigFromJson } from '../models/unet-config.ts';
import { vaeConfigFromJson } from '../models/vae.ts';
import { hasProblems, missingOf, noProblems, planFile, problemsError, readPlanned } from './checkpoint-check.ts';
import {
  checkConfigsFit,
  checkpointComponent,
  stableDiffusionInventory,
  stableDiffusionModelOf,
  type CheckpointContents,
  type LoadOptions,
  type StableDiffusionConfigs,
  type StableDiffusionModel,
} from './stable-diffusion.ts';

const readJson = (path: string): Record<string, unknown> => {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new CheckpointError(`${path}: ${(e as Error).message}`);
  }
};

/** diffusers < 0.14 VAE attention names, still in many published vae/ files. */
const DEPRECATED_VAE_ATTENTION: Record<string, string> = { query: 'to_q', key: 'to_k', value: 'to_v', proj_attn: 'to_out.0' };

function weightsFile(dir: string, sub: string, base: string, variant?: string): string {
  const name = variant ? `${base}.${variant}.safetensors` : `${base}.safetensors`;
  const path = join(dir, sub, name);
  if (existsSync(path)) return path;
  const bin = join(dir, sub, variant ? `${base}.${variant}.bin` : `${base}.bin`);
  if (existsSync(bin)) throw new CheckpointError(`${bin} ${unreadableWeightsReason(bin)} (${name})`);
  throw new CheckpointError(`${path}: not found${variant ? '' : " (fp16-only copies need { variant: 'fp16' })"}`);
}

/** True for a diffusers Stable Diffusion folder (model_index.json with unet, text_encoder and vae). */
export function isDiffusersPipelineDir(dir: string): boolean {
  if (!existsSync(join(dir, 'model_index.json'))) return false;
  const j = readJson(join(dir, 'model_index.json'));
  return 'unet' in j && 'text_encoder' in j && 'vae' in j;
}

export async function loadDiffusersPipeline(dir: string, opts: LoadOptions = {}): Promise<StableDiffusionModel> {
  const index = readJson(join(dir, 'model_index.json'));
  for (const part of ['unet', 'text_encoder', 'vae', 'tokenizer', 'scheduler']) {
    if (!(part in index))
      throw new CheckpointError(
        `${join(dir, 'model_index.json')}: no "${part}"; expected a Stable Diffusion pipeline (unet, text_encoder, vae, tokenizer, scheduler)`,
      );
  }
  const sdxl = 'text_encoder_2' in index;
  if (sdxl && !('tokenizer_2' in index)) throw new CheckpointError(`${join(dir, 'model_index.json')}: "text_encoder_2" without "tokenizer_2"`);
  const cfg: StableDiffusionConfigs = {
    unet: unetConfigFromJson(readJson(join(dir, 'unet/config.json')), join(dir, 'unet/config.json')),
    text: textConfigFromJson(readJson(join(dir, 'text_encoder/config.json')), join(dir, 'text_encoder/config.json')),
    text2: sdxl ? textConfigFromJson(readJson(join(dir, 'text_encoder_2/config.json')), join(dir, 'text_encoder_2/config.json')) : undefined,
    vae: vaeConfigFromJson(readJson(join(dir, 'vae/config.json')), join(dir, 'vae/config.json')),
  };
  checkConfigsFit(dir, cfg);
  const expected = stableDiffusionInventory(cfg.unet, cfg.text, cfg.vae, cfg.text2);
  const textRename = (prefix: string) => (k: string) =>
    /^(text_model\.)?embeddings\.position_ids$/.test(k)
      ? null
      : `${prefix}${k.startsWith('text_model.') || k === 'text_projection.weight' ? k : `text_model.${k}`}`;
  const files = [
    { path: weightsFile(dir, 'unet', 'diffusion_pytorch_model', opts.variant), prefix: 'unet.', rename: (k: string) => `unet.${k}` },
    { path: weightsFile(dir, 'text_encoder', 'model', opts.variant), prefix: 'text_encoder.', rename: textRename('text_encoder.') },
    ...(sdxl ? [{ path: weightsFile(dir, 'text_encoder_2', 'model', opts.variant), prefix: 'text_encoder_2.', rename: textRename('text_encoder_2.') }] : []),
    {
      path: weightsFile(dir, 'vae', 'diffusion_pytorch_model', opts.variant),
      prefix: 'vae.',
      rename: (k: string) =>
        `vae.${k.replace(/(mid_block\.attentions\.0)\.(query|key|value|proj_attn)\./, (_, m: string, old: string) => `${m}.${DEPRECATED_VAE_ATTENTION[old]}.`)}`,
    },
  ];
  const p = noProblems();
  const seen = new Set<string>();
  const plans = [];
  // Problems name the component folder of each key (unet/, text_encoder/, vae/).
  for (const f of files) plans.push(await planFile(f.path, expected, f.rename, seen, p, `${f.prefix.slice(0, -1)}/`));
  missingOf(expected, seen, p);
  if (hasProblems(p)) throw problemsError(dir, p);

  const weights = new Map<string, Float32Array>();
  const hash = createHash('sha256');
  // The hash covers the UNet and text encoders (what a style is trained against), not the VAE.
  for (let i = 0; i < files.length; i++) await readPlanned(files[i].path, plans[i], weights, files[i].prefix !== 'vae.' ? hash : undefined);
  return stableDiffusionModelOf(
    opts.id ?? basename(dir),
    hash.digest('hex').slice(0, 16),
    cfg,
    {
      tokenizer: ClipTokenizer.fromDir(join(dir, 'tokenizer')),
      tokenizer2: sdxl ? ClipTokenizer.fromDir(join(dir, 'tokenizer_2')) : undefined,
      forceZerosForEmptyPrompt: index.force_zeros_for_empty_prompt === true,
    },
    fromSchedulerConfig(readJson(join(dir, 'scheduler/scheduler_config.json'))),
    weights,
    opts,
  );
}

/**
 * A diffusers folder. The tokenizer files are copied from `tokenizerDir`; the schedule is written as
 * a DDIMScheduler config. Each component is encoded in memory (so at most ~2 GB per file).
 */
export async function writeDiffusersPipeline(
  dir: string,
  c: CheckpointContents & { tokenizerDir: string; tokenizer2Dir?: string; schedule?: Partial<ScheduleConfig>; forceZerosForEmptyPrompt?: boolean },
): Promise<void> {
  if (c.text2 && !c.tokenizer2Dir) throw new CheckpointError('write checkpoint: a second text encoder needs tokenizer2Dir');
  for (const sub of ['unet', 'text_encoder', 'vae', 'scheduler', ...(c.text2 ? ['text_encoder_2'] : [])]) mkdirSync(join(dir, sub), { recursive: true });
  const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
  const opts = { dtype: c.dtype ?? 'F32', metadata: { format: 'pt' } } as const;
  await writeSafetensors(join(dir, 'unet/diffusion_pytorch_model.safetensors'), checkpointComponent(c, 'unet.'), opts);
  await writeSafetensors(join(dir, 'text_encoder/model.safetensors'), checkpointComponent(c, 'text_encoder.'), opts);
  await writeSafetensors(join(dir, 'vae/diffusion_pytorch_model.safetensors'), checkpointComponent(c, 'vae.'), opts);
  writeFileSync(join(dir, 'unet/config.json'), json({ _class_name: 'UNet2DConditionModel', ...c.unet }));
  writeFileSync(join(dir, 'text_encoder/config.json'), json({ architectures: ['CLIPTextModel'], model_type: 'clip_text_model', ...c.text }));
  if (c.text2) {
    await writeSafetensors(join(dir, 'text_encoder_2/model.safetensors'), checkpointComponent(c, 'text_encoder_2.'), opts);
    writeFileSync(join(dir, 'text_encoder_2/config.json'), json({ architectures: ['CLIPTextModelWithProjection'], model_type: 'clip_text_model', ...c.text2 }));
    cpSync(c.tokenizer2Dir!, join(dir, 'tokenizer_2'), { recursive: true });
  }
  writeFileSync(join(dir, 'vae/config.json'), json({ _class_name: 'AutoencoderKL', ...c.vae }));
  writeFileSync(
    join(dir, 'scheduler/scheduler_config.json'),
    json({ _class_name: 'DDIMScheduler', ...new NoiseSchedule(c.schedule ?? STABLE_DIFFUSION_SCHEDULE).toSchedulerConfig() }),
  );
  cpSync(c.tokenizerDir, join(dir, 'tokenizer'), { recursive: true });
  writeFileSync(
    join(dir, 'model_index.json'),
    json({
      _class_name: c.text2 ? 'StableDiffusionXLPipeline' : 'StableDiffusionPipeline',
      scheduler: ['diffusers', 'DDIMScheduler'],
      text_encoder: ['transformers', 'CLIPTextModel'],
      tokenizer: ['transformers', 'CLIPTokenizer'],
      ...(c.text2
        ? {
            text_encoder_2: ['transformers', 'CLIPTextModelWithProjection'],
            tokenizer_2: ['transformers', 'CLIPTokenizer'],
            force_zeros_for_empty_prompt: c.forceZerosForEmptyPrompt ?? true,
          }
        : {}),
      unet: ['diffusers', 'UNet2DConditionModel'],
      vae: ['diffusers', 'AutoencoderKL'],
    }),
  );
}
