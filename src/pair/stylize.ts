/**
 * Stylizing a picture the user gives: the picture, encoded by the model's codec, is inverted into the
 * model's noise by deterministic DDIM inversion (with fixed-point refinement, src/diffusion/inversion.ts)
 * with the plain model under a neutral prompt, up to the start step; from there it is denoised in one
 * batched run per mix of styles: with style guidance from the learned style(s), as draw does
 * (src/pair/draw.ts), and with no style (the plain reconstruction: the picture again, as the model
 * sees it). `keep` is the share of the schedule left out at the start (SDEdit-style): 0 inverts all
 * the way and lets the style act on every step; more keeps more of the picture's structure.
 *
 * By default the styled trajectories keep the picture's layout by structure guidance (`structure`,
 * src/diffusion/structure-guidance.ts): at each step their predicted x0 takes the plain reconstruction's
 * low frequencies, with each channel's own mean and spread ('layout').
 *
 * Optionally the styled trajectories keep the picture's layout by feature injection from the plain
 * reconstruction (`injection`, after Plug-and-Play: src/models/feature-injection.ts): during the first
 * `until` share of the run, their rows take the reconstruction row's coarse decoder features in the
 * same UNet batch, so a lower `keep` (more steps of style) keeps the structure.
 *
 * For the evaluation's baselines the styles can also be applied by LoRA scale (the usual practice), and
 * the start can be plain SDEdit: the encoded picture noised to the start step with seeded noise.
 */
import { loraScaleTerms, styleGuidance } from '../pipeline/guidance.ts';
import type { DiffusionPipeline, StepCallback, Term, Trajectory } from '../pipeline/diffusion-pipeline.ts';
import { Rng } from '../graph/rng.ts';
import { ddimTimesteps } from '../diffusion/timesteps.ts';
import { checkStructureGuidance, structureGuidanceOutput, type StructureGuidance } from '../diffusion/structure-guidance.ts';
import { checkInjectionPoints, parseInjectionPoints, type FeatureInjectionPoints } from '../models/feature-injection.ts';
import type { WeightedStyle } from './draw.ts';
import { checkStyleFitsModel } from './style-fit.ts';
import { adapterParams, adaptsConvs, styledPrompt } from './style.ts';
import { STYLIZE_OPTION_DEFAULTS } from './stylize-defaults.ts';

/**
 * Defaults chosen on the embedded model by eval:stylize (README, "Stylize your own picture"): keep and
 * strength (STYLIZE_OPTION_DEFAULTS), and the plain reconstruction's low-frequency layout held.
 */
export const STYLIZE_DEFAULTS: {
  strength: number;
  keep: number;
  steps: number;
  refine: number;
  structure: StructureGuidance | null;
  injection: StylizeInjection | null;
} = {
  ...STYLIZE_OPTION_DEFAULTS,
  steps: 30,
  refine: 1,
  structure: { weight: 1, sigma: 1 / 8, until: 1, match: 'layout' },
  injection: null,
};

/** Feature injection from the plain reconstruction into the styled trajectories. */
export interface StylizeInjection extends FeatureInjectionPoints {
  /** Share of the run's steps, from its first, during which it acts, in (0, 1]. */
  until: number;
  /** How far the styled rows' features move to the reconstruction's, in (0, 1] (default 1: replaced). */
  mix?: number;
}

/** Checks a stylize injection's settings (a clear error for each). */
export function checkStylizeInjection(inj: StylizeInjection): void {
  checkInjectionPoints(inj);
  if (!(inj.until > 0 && inj.until <= 1)) throw new Error(`feature injection: until must be in (0, 1], got ${inj.until}`);
  if (inj.mix !== undefined && !(inj.mix > 0 && inj.mix <= 1)) throw new Error(`feature injection: mix must be in (0, 1], got ${inj.mix}`);
}

/**
 * An injection from settings as written (the CLI's --inject/--inject-until, eval:stylize's variants):
 * `points` 'resnets', 'attention', 'resnets+attention' or 'none'; the parts not given are
 * STYLIZE_DEFAULTS.injection's (until 1 and the default levels when it has none). Nothing given: the default.
 */
export function stylizeInjectionOf(given: { points?: string; until?: number; levels?: number; mix?: number }): StylizeInjection | null {
  const base = STYLIZE_DEFAULTS.injection;
  if (given.points === 'none') return null;
  if (given.points === undefined && given.until === undefined && given.levels === undefined && given.mix === undefined) return base;
  const points = given.points !== undefined ? parseInjectionPoints(given.points) : base?.points;
  if (!points) throw new Error('feature injection: name its points (resnets, attention, or both: resnets+attention)');
  const levels = given.levels ?? base?.levels;
  const mix = given.mix ?? base?.mix;
  const inj = { points, until: given.until ?? base?.until ?? 1, ...(levels !== undefined ? { levels } : {}), ...(mix !== undefined ? { mix } : {}) };
  checkStylizeInjection(inj);
  return inj;
}

export interface StylizeOptions {
  /** The neutral prompt the picture is inverted and reconstructed under (default ''). */
  prompt?: string;
  steps: number;
  /** Share of the DDIM schedule skipped at the start, in [0, 1): the start step is round(keep * steps). */
  keep: number;
  /** Fixed-point iterations per inversion step (default STYLIZE_DEFAULTS.refine). */
  refine?: number;
  /** 'guidance' (default): style guidance; 'lora-scale': the adapters' gates at the weights (a baseline). */
  mode?: 'guidance' | 'lora-scale';
  /**
   * Structure guidance (src/diffusion/structure-guidance.ts): each styled picture's predicted x0 takes the
   * low frequencies of the plain reconstruction's (default STYLIZE_DEFAULTS.structure; null: none).
   */
  structure?: StructureGuidance | null;
  /**
   * Feature injection (src/models/feature-injection.ts): during the first `until` share of the run, the
   * styled rows take the plain reconstruction row's features at `points` (default
   * STYLIZE_DEFAULTS.injection; null: none).
   */
  injection?: StylizeInjection | null;
  /** 'inversion' (default); 'sdedit': the encoded picture noised to the start step with noise of `seed` (a baseline). */
  start?: 'inversion' | 'sdedit';
  /** Seed of the SDEdit noise (unused by the deterministic inversion). */
  seed?: number;
  /** A variation (GenerateRequest.variation): DDIM's per-step noise at eta = strength, drawn from its seed; absent: deterministic. */
  variation?: { seed: number; strength: number };
  /** The start latent when already made for these options (stylizeStart), e.g. to stylize one picture in several runs. */
  from?: Float32Array;
  signal?: AbortSignal;
  /** After each inversion step (`done` of `total`). */
  onInvertStep?: (done: number, total: number) => void | Promise<void>;
  /** After each denoising step; `preview()` gives the current estimates, one per mix in order. */
  onStep?: StepCallback;
}

export interface StylizeResult {
  /** One picture per mix, [3, S, S] in [-1, 1]. */
  images: Float32Array[];
  /** The sampler step the denoising started at, of `steps`. */
  startStep: number;
  rowsPerStep: number;
  seconds: number;
}

/** The start step of a stylization: `keep` of the schedule skipped (at most steps - 1, so one step always runs). */
export function stylizeStartStep(keep: number, steps: number): number {
  if (!(keep >= 0 && keep < 1)) throw new Error(`keep must be in [0, 1), got ${keep}`);
  return Math.min(steps - 1, Math.round(keep * steps));
}

/**
 * The picture `image` ([3, S, S] in [-1, 1], at the model's size) once per entry of `mixes` (each a
 * list of weighted styles; an empty list is the plain reconstruction), all from the same start latent.
 */
export async function stylizeMixes(
  pipe: DiffusionPipeline,
  image: Float32Array,
  mixes: readonly (readonly WeightedStyle[])[],
  opts: StylizeOptions,
): Promise<StylizeResult> {
  const t0 = performance.now();
  const { model } = pipe;
  const px = 3 * model.imageSize * model.imageSize;
  if (image.length !== px) throw new Error(`stylize: the picture has ${image.length} values, expected ${px} (3x${model.imageSize}x${model.imageSize})`);
  const styles = [...new Set(mixes.flatMap((m) => m.map((w) => w.style)))];
  styles.forEach((s) => checkStyleFitsModel(s, model));
  const adapterOf = new Map(styles.map((s, i) => [s, `style${i}`]));
  const neutral = opts.prompt ?? '';
  const startStep = stylizeStartStep(opts.keep, opts.steps);
  const plain: Term[] = [{ prompt: 0, coef: 1 }];
  const start = opts.from ?? (await stylizeStart(pipe, image, opts));

  const prompts = [neutral];
  const promptIndex = (text: string) => {
    let i = prompts.indexOf(text);
    if (i < 0) i = prompts.push(text) - 1;
    return i;
  };
  const trajectories: Trajectory[] = mixes.map((mix) => {
    if (mix.length === 0) return { seed: 0, terms: plain };
    if (opts.mode === 'lora-scale') {
      const styled = promptIndex(styledPrompt(neutral, mix[0].style.info.styleToken));
      const weights = mix.map((w) => ({ adapter: adapterOf.get(w.style)!, weight: w.weight }));
      return { seed: 0, terms: loraScaleTerms(0, styled, 1, weights).filter((t) => t.coef !== 0) };
    }
    // With the neutral prompt as both the negative and the condition, classifier-free guidance cancels:
    // e(neutral) + sum_i w_i (e_{+style_i}(neutral in <S*_i> style) - e(neutral)).
    const terms = mix.map((w) => ({ adapter: adapterOf.get(w.style)!, prompt: promptIndex(styledPrompt(neutral, w.style.info.styleToken)), weight: w.weight }));
    return { seed: 0, ...styleGuidance(0, 0, 1, terms) };
  });
  const adapters = styles.map((s) => ({ name: adapterOf.get(s)!, rank: s.info.rank, convs: adaptsConvs(s), params: adapterParams(s, adapterOf.get(s)!) }));
  // Structure guidance and feature injection pull every styled trajectory toward the plain
  // reconstruction: one is run (and left out of the result) when the mixes hold none.
  const structure = opts.structure === undefined ? STYLIZE_DEFAULTS.structure : opts.structure;
  if (structure) checkStructureGuidance(structure);
  const injection = opts.injection === undefined ? STYLIZE_DEFAULTS.injection : opts.injection;
  if (injection) checkStylizeInjection(injection);
  const guided = structure !== null && structure.weight > 0;
  let plainAt = mixes.findIndex((m) => m.length === 0);
  if ((guided || injection) && plainAt < 0) plainAt = trajectories.push({ seed: 0, terms: plain }) - 1;
  const pairs = guided ? mixes.flatMap((m, j) => (m.length ? [[j, plainAt] as const] : [])) : [];
  const runSteps = opts.steps - startStep;
  const injectedSteps = injection ? Math.ceil(injection.until * runSteps) : 0;
  const latents = new Float32Array(start.length * trajectories.length);
  trajectories.forEach((_, i) => latents.set(start, i * start.length));
  const r = await pipe.generate({
    prompts,
    trajectories,
    adapters,
    steps: opts.steps,
    sampler: 'ddim',
    init: { latents, step: startStep },
    ...(opts.variation ? { variation: opts.variation } : {}),
    ...(injection
      ? {
          injection: {
            points: injection.points,
            ...(injection.levels !== undefined ? { levels: injection.levels } : {}),
            sources: trajectories.map((_, j) => (j < mixes.length && mixes[j].length ? plainAt : null)),
            mixAt: (i: number) => (i - startStep < injectedSteps ? (injection.mix ?? 1) : 0),
          },
        }
      : {}),
    signal: opts.signal,
    onStep: opts.onStep,
    ...(pairs.length
      ? {
          adjustOutput: structureGuidanceOutput({
            schedule: model.schedule,
            latentShape: model.codec.latentShape,
            pairs,
            guidance: structure!,
            first: startStep,
            runSteps,
          }),
        }
      : {}),
  });
  const images = mixes.map((_, i) => r.images.slice(i * px, (i + 1) * px));
  return { images, startStep, rowsPerStep: r.rowsPerStep, seconds: (performance.now() - t0) / 1000 };
}

/** The latent to denoise from: the inverted picture, or (SDEdit) the encoded picture noised to the start step. */
export async function stylizeStart(pipe: DiffusionPipeline, image: Float32Array, opts: StylizeOptions): Promise<Float32Array> {
  const { model } = pipe;
  const neutral = opts.prompt ?? '';
  const startStep = stylizeStartStep(opts.keep, opts.steps);
  if (opts.start !== 'sdedit') {
    return pipe.invert({
      prompts: [neutral],
      trajectories: [{ seed: 0, terms: [{ prompt: 0, coef: 1 }] }],
      images: image,
      steps: opts.steps,
      toStep: startStep,
      refine: opts.refine ?? STYLIZE_DEFAULTS.refine,
      signal: opts.signal,
      onStep: opts.onInvertStep,
    });
  }
  const x0 = await model.codec.encode(image, 1);
  const a = model.schedule.alphaBar(ddimTimesteps(opts.steps, model.schedule.config)[startStep]!);
  const noise = new Rng(opts.seed ?? 0).fillNormal(new Float32Array(x0.length));
  return x0.map((v, k) => Math.sqrt(a) * v + Math.sqrt(1 - a) * noise[k]!);
}

/** The picture with the styles (style guidance) and its plain reconstruction, from the same inverted latent. */
export async function stylizeImage(pipe: DiffusionPipeline, image: Float32Array, styles: readonly WeightedStyle[], opts: StylizeOptions) {
  const r = await stylizeMixes(pipe, image, [styles, []], opts);
  return { styled: r.images[0], unstyled: r.images[1], startStep: r.startStep, rowsPerStep: r.rowsPerStep, seconds: r.seconds };
}
