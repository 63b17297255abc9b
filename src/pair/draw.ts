/**
 * Drawing with learned styles: style guidance (the pair method), blends of several styles, blend strips,
 * and LoRA-scale mode (the usual practice) for comparison. The unstyled image comes from the same seed
 * and runs in the same batched UNet calls as the styled one.
 */
import { cfgTerms, EVERY_STEP, type GuidanceSchedule, guidanceAt, loraScaleTerms, styleGuidance } from '../pipeline/guidance.ts';
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
  /** At which steps style guidance evaluates its style and CFG directions (default STYLE_GUIDANCE_SCHEDULE). */
  styleSchedule?: GuidanceSchedule;
}

/**
 * Style guidance's earlier schedule: the style direction every other step, reused at the
 * steps between; classifier-free guidance's direction at every step. A style step runs 3 rows
 * (e(neg), e(c), e_{+style}(c_s)), the others 2: 1.26x a plain draw's FLOPs. Its pictures equal those
 * of the style direction at every step (the method as published) inside eval:pair's noise (README,
 * "Style guidance").
 */
export const STYLE_EVERY_OTHER_STEP: GuidanceSchedule = { style: { every: 2, head: 0 }, cfg: EVERY_STEP };

/**
 * The two directions alternating: both at the first step, then the CFG direction (w_cfg - 1)(e(c) -
 * e(neg)) at odd steps and the style direction at even ones, each reused at the other's steps. Every
 * step after the first runs 2 rows for a styled image, (e(c), e_{+style}(c_s)) or (e(neg), e(c)), as a
 * plain CFG draw does: about 1.0x its FLOPs. An unstyled image drawn beside it keeps its classifier-free
 * guidance at every step (its terms), so it stays the plain CFG draw of its seed.
 */
export const STYLE_CFG_ALTERNATING: GuidanceSchedule = { style: { every: 2, head: 0 }, cfg: { every: 2, head: 1 } };

/**
 * The draws' schedule: the two directions alternating. Against the style direction every other step
 * (eval:pair, 24 pairs over four held-out styles): the headline equal (paired +0.000 [-0.011, 0.012]),
 * at each strength slightly less P(target) (0.001-0.008, apart from 0) and slightly more identity
 * agreement (README, "Style guidance").
 */
export const STYLE_GUIDANCE_SCHEDULE: GuidanceSchedule = STYLE_CFG_ALTERNATING;

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
    // Style guidance at strength 0 is classifier-free guidance: drawn as the unstyled image is, with its
    // CFG direction at every step (a reused one would make it differ from the unstyled image).
    const unstyled = mix.length === 0 || (opts.mode !== 'lora-scale' && mix.every((w) => w.weight === 0));
    if (unstyled) return { seed: opts.seed, terms: cfgTerms(0, 1, opts.cfg) };
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
    directionAt: guidanceAt(opts.styleSchedule ?? STYLE_GUIDANCE_SCHEDULE),
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
