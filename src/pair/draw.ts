/**
 * Drawing with learned styles: style guidance (the pair method), blends of several styles, blend strips,
 * and LoRA-scale mode (the usual practice) for comparison. The unstyled image comes from the same seed
 * and runs in the same batched UNet calls as the styled one.
 */
import { cfgTerms, EVERY_STEP, type GuidanceSchedule, guidanceAt, loraScaleTerms, STYLE_DIRECTION, styleGuidance } from '../pipeline/guidance.ts';
import type { DiffusionPipeline, StepCallback, Trajectory } from '../pipeline/diffusion-pipeline.ts';
import type { SamplerName } from '../diffusion/samplers.ts';
import { checkStructureGuidance, structureGuidanceOutput, type StructureGuidance } from '../diffusion/structure-guidance.ts';
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
  /** At which steps style guidance evaluates its style and CFG directions (default styleGuidanceSchedule(steps)). */
  styleSchedule?: GuidanceSchedule;
  /**
   * Structure guidance (src/diffusion/structure-guidance.ts): each styled trajectory's predicted x0 takes
   * the low frequencies of the unstyled draw's from the same seed (run beside it, and left out of the
   * result when `mixes` holds none). Default null: none.
   */
  structure?: StructureGuidance | null;
  /**
   * LoRA-scale mode only: the share of the steps drawn as the plain CFG draw before the scaled adapters
   * act (as the style guidance's STYLE_START, rounded by startStep; default 0: from the first step, the usual way).
   */
  loraScaleStart?: number;
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
 * guidance at every step (its terms), so it stays the plain CFG draw of its seed. The style acts from
 * the first step (the draws' schedule until 2026-12-04; `styleFrom(0)`).
 */
export const STYLE_CFG_ALTERNATING: GuidanceSchedule = { style: { every: 2, head: 0 }, cfg: { every: 2, head: 1 } };

/**
 * The two directions alternating from step `from` on (as STYLE_CFG_ALTERNATING from there). Before it
 * the style direction is off and classifier-free guidance's is evaluated at every step, so the styled
 * trajectory is the unstyled draw of its seed until then: the plain model lays out the picture, and the
 * style acts on the steps that draw its outlines, fills and shading. It runs the rows a plain CFG draw
 * runs, and one more (the style's) at step `from`.
 */
export function styleFrom(from: number): GuidanceSchedule {
  return { style: { every: 2, head: 0, from }, cfg: { every: 2, head: from + 1 } };
}

/**
 * Share of a draw's steps before its style starts (`styleGuidanceSchedule`). Chosen by eval:pair on
 * OpenMoji with seeds that are not reported (13-15): the headline rose with a later start up to half
 * of the steps and no further (0.2: +0.008, 0.3: +0.023, 0.4: +0.050, 0.5: +0.060, 0.6: +0.060 over the
 * style from the first step, paired); the earlier of the two best. README, "Style guidance".
 */
export const STYLE_START = 0.5;

/**
 * The draws' schedule for a draw of `steps` steps: the two directions alternating from `start` of the
 * steps on (rounded; at the latest the last step, so that the style acts in a draw of any length), and
 * with `end` < 1 the style off again from `end` of the steps (rounded; after at least one step of it).
 */
export function styleGuidanceSchedule(steps: number, start = STYLE_START, end = 1): GuidanceSchedule {
  if (!(start >= 0 && start < 1)) throw new Error(`style start must be in [0, 1), got ${start}`);
  if (!(end > start && end <= 1)) throw new Error(`style end must be in (${start}, 1], got ${end}`);
  const from = startStep(start, steps);
  if (end === 1) return styleFrom(from);
  // At least one step of style, whatever the rounding.
  return { ...styleFrom(from), styleUntil: Math.max(from + 1, Math.round(end * steps)) };
}

/**
 * The step from which a style acts when it starts at `share` of a draw's `steps`: rounded, and at the
 * latest the last step, so that a style acts in a draw of any length (style guidance and LoRA scale alike).
 */
export function startStep(share: number, steps: number): number {
  return Math.min(Math.round(share * steps), Math.max(0, steps - 1));
}

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
  if (opts.loraScaleStart !== undefined && !(opts.loraScaleStart >= 0 && opts.loraScaleStart < 1))
    throw new Error(`LoRA-scale start must be in [0, 1), got ${opts.loraScaleStart}`);
  const loraFrom = opts.mode === 'lora-scale' && opts.loraScaleStart ? startStep(opts.loraScaleStart, opts.steps) : 0;
  const styles = [...new Set(mixes.flatMap((m) => m.map((w) => w.style)))];
  styles.forEach((s) => checkStyleFitsModel(s, pipe.model));
  const adapterOf = new Map(styles.map((s, i) => [s, `style${i}`]));
  const prompts = [opts.negative ?? '', opts.prompt];
  const promptIndex = (text: string) => {
    let i = prompts.indexOf(text);
    if (i < 0) i = prompts.push(text) - 1;
    return i;
  };
  // Style guidance at strength 0 is classifier-free guidance: drawn as the unstyled image is, with its
  // CFG direction at every step (a reused one would make it differ from the unstyled image).
  const unstyled = mixes.map((mix) => mix.length === 0 || (opts.mode !== 'lora-scale' && mix.every((w) => w.weight === 0)));
  const trajectories: Trajectory[] = mixes.map((mix, j) => {
    if (unstyled[j]) return { seed: opts.seed, terms: cfgTerms(0, 1, opts.cfg) };
    if (opts.mode === 'lora-scale') {
      const styled = promptIndex(styledPrompt(opts.prompt, mix[0].style.info.styleToken));
      const scaled = loraScaleTerms(
        0,
        styled,
        opts.cfg,
        mix.map((w) => ({ adapter: adapterOf.get(w.style)!, weight: w.weight })),
      );
      if (!loraFrom) return { seed: opts.seed, terms: scaled };
      // From step loraFrom: the plain CFG draw plus (LoRA-scaled CFG - plain CFG), a direction off before.
      const plain = cfgTerms(0, 1, opts.cfg);
      return { seed: opts.seed, terms: plain, directions: { [STYLE_DIRECTION]: [...scaled, ...plain.map((t) => ({ ...t, coef: -t.coef }))] } };
    }
    const terms = mix.map((w) => ({
      adapter: adapterOf.get(w.style)!,
      prompt: promptIndex(styledPrompt(opts.prompt, w.style.info.styleToken)),
      weight: w.weight,
    }));
    return { seed: opts.seed, ...styleGuidance(0, 1, opts.cfg, terms) };
  });
  const adapters = styles.map((s) => ({ name: adapterOf.get(s)!, rank: s.info.rank, convs: adaptsConvs(s), params: adapterParams(s, adapterOf.get(s)!) }));
  const structure = opts.structure ?? null;
  if (structure) checkStructureGuidance(structure);
  let pairs: (readonly [sample: number, reference: number])[] = [];
  if (structure && structure.weight > 0 && unstyled.includes(false)) {
    let plainAt = unstyled.indexOf(true);
    if (plainAt < 0) plainAt = trajectories.push({ seed: opts.seed, terms: cfgTerms(0, 1, opts.cfg) }) - 1;
    pairs = mixes.flatMap((_, j) => (unstyled[j] ? [] : [[j, plainAt] as const]));
  }
  const r = await pipe.generate({
    prompts,
    trajectories,
    adapters,
    steps: opts.steps,
    sampler: opts.sampler,
    ...(opts.variation ? { variation: opts.variation } : {}),
    signal: opts.signal,
    onStep: opts.onStep,
    directionAt: guidanceAt(
      loraFrom ? { style: { ...EVERY_STEP, from: loraFrom }, cfg: EVERY_STEP } : (opts.styleSchedule ?? styleGuidanceSchedule(opts.steps)),
    ),
    ...(pairs.length
      ? {
          adjustOutput: structureGuidanceOutput({
            schedule: pipe.model.schedule,
            latentShape: pipe.model.codec.latentShape,
            pairs,
            guidance: structure!,
            first: 0,
            runSteps: opts.steps,
          }),
        }
      : {}),
  });
  const px = r.images.length / trajectories.length;
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
