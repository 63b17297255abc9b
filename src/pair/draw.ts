/**
 * Drawing with learned styles: style guidance (the pair method), blends of several styles, blend strips,
 * and LoRA-scale mode (the usual practice) for comparison. The unstyled image comes from the same seed
 * and runs in the same batched UNet calls as the styled one.
 */
import { cfgTerms, type DirectionSchedule, directionAt, loraScaleTerms, styleGuidance } from '../pipeline/guidance.ts';
import type { DiffusionPipeline, StepCallback, Trajectory } from '../pipeline/diffusion-pipeline.ts';
import type { SamplerName } from '../diffusion/samplers.ts';
import { checkStyleFitsModel } from './style-fit.ts';
import { adapterParams, adaptsConvs, styledPrompt, type Style } from './style.ts';

export interface WeightedStyle {
  style: Style;
  /** Style guidance weight w_i (LoRA-scale mode: the adapter scale). */
  weight: number;
}

export interface DrawOptions {
  prompt: string;
  negative?: string;
  seed: number;
  steps: number;
  cfg: number;
  sampler?: SamplerName;
  /** A variation of the seed's picture (GenerateRequest.variation): noise of another seed mixed in. */
  variation?: { seed: number; strength: number };
  mode?: 'guidance' | 'lora-scale';
  signal?: AbortSignal;
  /** After each sampler step; `preview()` gives the current estimate of the images, one per mix in order. */
  onStep?: StepCallback;
  /** At which steps style guidance evaluates its style rows (default STYLE_GUIDANCE_SCHEDULE). */
  styleSchedule?: DirectionSchedule;
}

/**
 * Style guidance's schedule: the style direction every other step, reused at the steps between (which
 * run the classifier-free guidance rows only). Its pictures equal those of the direction at every step
 * (EVERY_STEP, the method as published) inside eval:pair's noise, at 1.26x a plain draw's FLOPs instead
 * of 1.53x (README, "Style guidance"). A draw then alternates two onnxruntime sessions (two batch
 * shapes); the pipeline's sessions stop their threads' spinning after each run, so the idle one does
 * not take the cores from the running one.
 */
export const STYLE_GUIDANCE_SCHEDULE: DirectionSchedule = { every: 2, head: 0 };

export interface DrawResult {
  /** One image per requested trajectory, [3, S, S] in [-1, 1]. */
  images: Float32Array[];
  rowsPerStep: number;
  rowsRun: number;
  seconds: number;
}

/**
 * Draws one trajectory per entry of `mixes` (each a list of weighted styles; an empty list is the
 * unstyled image), all from the same seed, in one batched sampling run.
 */
export async function drawMixes(pipe: DiffusionPipeline, mixes: readonly (readonly WeightedStyle[])[], opts: DrawOptions): Promise<DrawResult> {
  const t0 = performance.now();
  const styles = [...new Set(mixes.flatMap((m) => m.map((w) => w.style)))];
  styles.forEach((s) => checkStyleFitsModel(s, pipe.model));
  const adapterOf = new Map(styles.map((s, i) => [s, `style${i}`]));
  const prompts = [opts.negative ?? '', opts.prompt];
  const promptIndex = (text: string) => {
    let i = prompts.indexOf(text);
    if (i < 0) i = prompts.push(text) - 1;
    return i;
  };
  const trajectories: Trajectory[] = mixes.map((mix) => {
    if (mix.length === 0) return { seed: opts.seed, terms: cfgTerms(0, 1, opts.cfg) };
    if (opts.mode === 'lora-scale') {
      const styled = promptIndex(styledPrompt(opts.prompt, mix[0].style.info.styleToken));
      return {
        seed: opts.seed,
        terms: loraScaleTerms(
          0,
          styled,
          opts.cfg,
          mix.map((w) => ({ adapter: adapterOf.get(w.style)!, weight: w.weight })),
        ),
      };
    }
    const terms = mix.map((w) => ({
      adapter: adapterOf.get(w.style)!,
      prompt: promptIndex(styledPrompt(opts.prompt, w.style.info.styleToken)),
      weight: w.weight,
    }));
    return { seed: opts.seed, ...styleGuidance(0, 1, opts.cfg, terms) };
  });
  const adapters = styles.map((s) => ({ name: adapterOf.get(s)!, rank: s.info.rank, convs: adaptsConvs(s), params: adapterParams(s, adapterOf.get(s)!) }));
  const r = await pipe.generate({
    prompts,
    trajectories,
    adapters,
    steps: opts.steps,
    sampler: opts.sampler,
    ...(opts.variation ? { variation: opts.variation } : {}),
    signal: opts.signal,
    onStep: opts.onStep,
    directionAt: directionAt(opts.styleSchedule ?? STYLE_GUIDANCE_SCHEDULE),
  });
  const px = r.images.length / mixes.length;
  const images = mixes.map((_, i) => r.images.slice(i * px, (i + 1) * px));
  return { images, rowsPerStep: r.rowsPerStep, rowsRun: r.rowsRun, seconds: (performance.now() - t0) / 1000 };
}

/** The styled image and its unstyled counterpart from the same seed. */
export async function drawStyled(pipe: DiffusionPipeline, styles: readonly WeightedStyle[], opts: DrawOptions) {
  const r = await drawMixes(pipe, [styles, []], opts);
  return { styled: r.images[0], unstyled: r.images[1], rowsPerStep: r.rowsPerStep, rowsRun: r.rowsRun, seconds: r.seconds };
}

/** K images moving from style A to style B: weights (s(1-a), s a) for a = 0 .. 1. */
export async function blendStrip(pipe: DiffusionPipeline, a: Style, b: Style, strength: number, k: number, opts: DrawOptions): Promise<DrawResult> {
  const mixes = Array.from({ length: k }, (_, i) => {
    const t = k === 1 ? 0.5 : i / (k - 1);
    return [
      { style: a, weight: strength * (1 - t) },
      { style: b, weight: strength * t },
    ].filter((w) => w.weight > 0);
  });
  return drawMixes(pipe, mixes, opts);
}
