/**
 * Engine-thread tasks of the bot: train a style from a pair, draw with styles, blend two styles,
 * stylize a given picture.
 * Inputs and outputs are plain data: image bytes in, PNG bytes and style-file bytes out (styles travel
 * as encodeStyle bytes). Progress goes through ctx.progress; cancellation is checked every step. A
 * training pauses between its steps (and between the steps of its sample images) for quick jobs
 * waiting for the device (training-pauses.ts).
 */
import { cancelled } from '../../src/errors/user-error.ts';
import { gridPng, type Tile } from '../../src/images/grid.ts';
import { imagePng, loadImage } from '../../src/images/io.ts';
import { PixelCodec } from '../../src/models/pixel-codec.ts';
import { unitToRgb } from '../../src/formats/pixels.ts';
import type { TextToImageModel } from '../../src/pipeline/text-to-image.ts';
import { blendStrip, drawMixes, drawStyled } from '../../src/pair/draw.ts';
import { decodeStyle, encodeStyle } from '../../src/pair/style-file.ts';
import { STYLIZE_DEFAULTS, stylizeImage } from '../../src/pair/stylize.ts';
import { trainPair } from '../../src/pair/train.ts';
import type { BlendArgs, DrawArgs, JobProgress, JobResult, StylizeArgs, TrainArgs } from '../../src/queue/job.ts';
import type { TaskContext } from '../engine.ts';
import { displayScale, loadModel, type ModelSource } from './model-cache.ts';
import { trainingPauses, type TrainingPauses } from './training-pauses.ts';

/** Options the executor adds to every task (model choice with its device and precision; test knobs). */
export interface TaskOptions {
  model?: ModelSource;
  /** LoRA rank (small models need 2*rank <= the narrowest attention width). */
  rank?: number;
  /** Sampler steps of the sample images after training. */
  sampleSteps?: number;
  /** A preview image in the progress at most this often while drawing (default 2000 ms; tests: 0 = every step). */
  previewEveryMs?: number;
}

export const DEFAULT_SAMPLE_PROMPTS = ['dog face', 'red apple', 'rocket'];

/** Previews of trajectory `show` of a sampling run (undefined: none). */
interface PreviewPlan {
  model: TextToImageModel;
  everyMs: number;
  show: number;
}

/**
 * Previews only where they are cheap: the pixel codec decodes by a permutation (a VAE decode would cost
 * about a UNet step). At most one every `previewEveryMs` (the adapters edit at most every 2 s anyway).
 */
const previewPlan = (model: TextToImageModel, opts: TaskOptions, show: number): PreviewPlan | undefined =>
  model.codec instanceof PixelCodec ? { model, everyMs: opts.previewEveryMs ?? 2000, show } : undefined;

/** A preview about 128 px wide (the final images are about 256 px). */
const PREVIEW_PX = 128;

/** Progress of a sampling run, with its previews; `pauses`: a training's sample images, which pause for quick jobs. */
function stepper(ctx: TaskContext | undefined, phase: string, plan?: PreviewPlan, pauses?: TrainingPauses) {
  let lastPreview = performance.now();
  let preview: Uint8Array | undefined;
  const report = (p: JobProgress) => (pauses ? pauses.progress(p) : ctx?.progress(p));
  return async (i: number, total: number, estimate?: () => Promise<Float32Array>) => {
    await pauses?.pause();
    if (ctx?.cancelled) throw cancelled();
    // The last step needs none: the final image follows at once. A preview stays in every later
    // progress event of its phase, so the one an adapter renders (at most every 2 s) still shows it.
    if (plan && estimate && ctx && i + 1 < total && performance.now() - lastPreview >= plan.everyMs) {
      lastPreview = performance.now();
      const size = plan.model.imageSize;
      const px = 3 * size * size;
      const images = await estimate();
      preview = new Uint8Array(await imagePng(images.subarray(plan.show * px, (plan.show + 1) * px), size, Math.max(1, Math.round(PREVIEW_PX / size))));
      if (ctx.cancelled) throw cancelled();
    }
    report({ step: i, steps: total, phase, ...(preview ? { preview } : {}) });
  };
}

const tile = (image: Float32Array, size: number, label: string): Tile => ({ rgb: unitToRgb(image, size, size), width: size, height: size, label });

async function grid(tiles: Tile[], columns: number, size: number): Promise<Uint8Array> {
  return new Uint8Array(await gridPng(tiles, { columns, scale: displayScale(size), labelHeight: 16 }));
}

export async function trainStyle(args: { job: TrainArgs } & TaskOptions, ctx?: TaskContext): Promise<JobResult> {
  const t0 = performance.now();
  const { model, pipe, runtime, trainingSteps } = await loadModel(args.model);
  const size = model.imageSize;
  const read = (bytes: Uint8Array, role: string) =>
    loadImage(bytes, size).catch((e) => {
      throw Object.assign(new Error(`the ${role} image: ${(e as Error).message}`), { name: 'ImageInputError' });
    });
  const pairs = await Promise.all(
    [{ content: args.job.content, style: args.job.style }, ...(args.job.extraPairs ?? [])].map(async (p, k) => {
      const n = k === 0 ? '' : String(k + 1);
      return { content: await read(p.content, `content${n}`), style: await read(p.style, `style${n}`) };
    }),
  );
  const [{ content, style }, ...extraPairs] = pairs;
  const pauses = trainingPauses(ctx);
  const r = await trainPair({
    model,
    content,
    style,
    extraPairs,
    name: args.job.name,
    subject: args.job.subject,
    steps: args.job.steps,
    seed: args.job.seed,
    rank: args.rank,
    device: runtime.device,
    precision: runtime.precision,
    pipe,
    stepCache: trainingSteps,
    shouldStop: () => ctx?.cancelled ?? false,
    pause: () => pauses.pause(),
    onProgress: (p) => pauses.progress({ step: p.step, steps: p.steps, loss: p.loss, phase: p.phase === 'content' ? 'content warm-up' : 'training' }),
  });
  const prompts = args.job.samplePrompts ?? DEFAULT_SAMPLE_PROMPTS;
  const tiles = pairs.flatMap((p, k) => {
    const n = pairs.length === 1 ? '' : ` ${k + 1}`;
    return [tile(p.content, size, `content${n}`), tile(p.style, size, `style${n}`)];
  });
  if (prompts.length) {
    // One batched run: for each prompt, its stylized image and the unstyled one from the same seed.
    const mixes = prompts.flatMap(() => [[], [{ style: r.style, weight: 3 }]]);
    const samples = await Promise.all(
      prompts.map((prompt, i) =>
        drawMixes(pipe, mixes.slice(2 * i, 2 * i + 2), {
          prompt,
          seed: i,
          steps: args.sampleSteps ?? 25,
          cfg: 5,
          onStep: stepper(ctx, `drawing sample ${i + 1}/${prompts.length}`, previewPlan(model, args, 1), pauses),
        }),
      ),
    );
    samples.forEach((s, i) => tiles.push(tile(s.images[0], size, prompts[i]), tile(s.images[1], size, `${prompts[i]} (styled)`)));
  }
  return {
    images: [{ name: `${args.job.name}-pair.png`, png: await grid(tiles, 2, size) }],
    style: { bytes: encodeStyle(r.style), info: { ...r.style.info, finalLoss: r.losses.at(-1) } },
    seconds: (performance.now() - t0) / 1000,
  };
}

/** What a draw or blend job asks of the sampler, with the job's progress callback. */
function samplingOptions(job: Pick<DrawArgs, 'prompt' | 'seed' | 'steps' | 'cfg' | 'variation'>, onStep: ReturnType<typeof stepper>) {
  return { prompt: job.prompt, seed: job.seed, steps: job.steps, cfg: job.cfg, variation: job.variation, onStep };
}

/** One picture [3, S, S] as a named PNG of the reply, at the display scale. */
async function picture(name: string, image: Float32Array, size: number) {
  return { name, png: new Uint8Array(await imagePng(image, size, displayScale(size))) };
}

export async function draw(args: { job: DrawArgs } & TaskOptions, ctx?: TaskContext): Promise<JobResult> {
  const t0 = performance.now();
  const { model, pipe } = await loadModel(args.model);
  const size = model.imageSize;
  const { job } = args;
  // drawMixes([[]]) and drawStyled ([styled, unstyled]): trajectory 0 is the picture to preview.
  const opts = samplingOptions(job, stepper(ctx, 'drawing', previewPlan(model, args, 0)));
  if (job.styles.length === 0) {
    const r = await drawMixes(pipe, [[]], opts);
    return { images: [await picture('image.png', r.images[0], size)], seconds: (performance.now() - t0) / 1000 };
  }
  const styles = job.styles.map((s) => ({ style: decodeStyle(s.style.bytes, `style '${s.style.name}'`), weight: s.weight }));
  const r = await drawStyled(pipe, styles, opts);
  const label = job.styles.map((s) => `${s.style.name} ${s.weight}`).join(' + ');
  return {
    images: [{ name: 'styled.png', png: await grid([tile(r.unstyled, size, 'unstyled'), tile(r.styled, size, label)], 2, size) }],
    seconds: (performance.now() - t0) / 1000,
  };
}

export async function blend(args: { job: BlendArgs } & TaskOptions, ctx?: TaskContext): Promise<JobResult> {
  const t0 = performance.now();
  const { model, pipe } = await loadModel(args.model);
  const size = model.imageSize;
  const { job } = args;
  const a = decodeStyle(job.a.bytes, `style '${job.a.name}'`);
  const b = decodeStyle(job.b.bytes, `style '${job.b.name}'`);
  // One blended image (ratio) or a strip: preview its middle picture.
  const opts = samplingOptions(job, stepper(ctx, 'blending', previewPlan(model, args, job.ratio !== undefined ? 0 : Math.floor((job.strip - 1) / 2))));
  if (job.ratio !== undefined) {
    const wa = job.strength * (1 - job.ratio);
    const wb = job.strength * job.ratio;
    const mix = [
      { style: a, weight: wa },
      { style: b, weight: wb },
    ].filter((w) => w.weight > 0);
    const r = await drawMixes(pipe, [mix], opts);
    return { images: [await picture('blend.png', r.images[0], size)], seconds: (performance.now() - t0) / 1000 };
  }
  const k = job.strip;
  const r = await blendStrip(pipe, a, b, job.strength, k, opts);
  const tiles = r.images.map((img, i) => tile(img, size, `${(job.strength * (1 - i / (k - 1))).toFixed(1)}/${((job.strength * i) / (k - 1)).toFixed(1)}`));
  return { images: [{ name: 'blend-strip.png', png: await grid(tiles, k, size) }], seconds: (performance.now() - t0) / 1000 };
}

export async function stylize(args: { job: StylizeArgs } & TaskOptions, ctx?: TaskContext): Promise<JobResult> {
  const t0 = performance.now();
  const { model, pipe } = await loadModel(args.model);
  const size = model.imageSize;
  const { job } = args;
  const picture = await loadImage(job.image, size).catch((e) => {
    throw Object.assign(new Error(`the picture: ${(e as Error).message}`), { name: 'ImageInputError' });
  });
  const styles = job.styles.map((s) => ({ style: decodeStyle(s.style.bytes, `style '${s.style.name}'`), weight: s.weight }));
  const keep = job.keep ?? STYLIZE_DEFAULTS.keep;
  const steps = job.steps ?? STYLIZE_DEFAULTS.steps;
  const inverting = stepper(ctx, 'inverting the picture');
  const r = await stylizeImage(pipe, picture, styles, {
    keep,
    steps,
    variation: job.variation,
    onInvertStep: (done, total) => inverting(done, total),
    // stylizeImage's trajectories are [styled, unstyled]: preview the styled one.
    onStep: stepper(ctx, 'stylizing', previewPlan(model, args, 0)),
  });
  const label = job.styles.map((s) => `${s.style.name} ${s.weight}`).join(' + ') || 'plain';
  return {
    images: [
      { name: 'stylized.png', png: await grid([tile(picture, size, 'picture'), tile(r.unstyled, size, 'plain'), tile(r.styled, size, label)], 3, size) },
    ],
    text: `keep ${keep}, ${steps} steps`,
    seconds: (performance.now() - t0) / 1000,
  };
}
