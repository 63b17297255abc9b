/**
 * Guidance schemes as coefficient lists over terms (see diffusion-pipeline.ts):
 *   classifier-free:  eps = e(neg) + w_cfg (e(c) - e(neg))
 *   style guidance:   eps = e(neg) + w_cfg (e(c) - e(neg)) + sum_i w_i (e_{+style_i}(c_i) - e(c)),
 *                     c_i = c + " in <S*_i> style" (Pair Customization, Jones et al. 2024)
 *   LoRA scale:       the usual practice, for comparison: CFG on the model with adapter gates = scale,
 *                     prompt c_i for both terms.
 */
import type { DirectionUse, Term } from './diffusion-pipeline.ts';

/** Term list of plain classifier-free guidance. `neg` and `cond` index the request's prompts. */
export function cfgTerms(neg: number, cond: number, cfg: number): Term[] {
  return [
    { prompt: neg, coef: 1 - cfg },
    { prompt: cond, coef: cfg },
  ];
}

export interface StyleTerm {
  adapter: string;
  /** Index of the prompt c + " in <S*> style". */
  prompt: number;
  weight: number;
}

/**
 * Style guidance (one or several styles: a blend is several weights at once): classifier-free guidance's
 * terms, and the style direction sum_i w_i (e_{+style_i}(c_i) - e(c)) as the trajectory's direction.
 */
export function styleGuidance(neg: number, cond: number, cfg: number, styles: readonly StyleTerm[]): { terms: Term[]; direction: Term[] } {
  const total = styles.reduce((s, t) => s + t.weight, 0);
  return {
    terms: cfgTerms(neg, cond, cfg),
    direction: [{ prompt: cond, coef: -total }, ...styles.map((s) => ({ prompt: s.prompt, gates: { [s.adapter]: 1 }, coef: s.weight }))],
  };
}

/** Term list of LoRA-scale mode: CFG with the adapters' gates set to their weights, styled prompt. */
export function loraScaleTerms(neg: number, styledCond: number, cfg: number, styles: readonly { adapter: string; weight: number }[]): Term[] {
  const gates = Object.fromEntries(styles.map((s) => [s.adapter, s.weight]));
  return [
    { prompt: neg, gates, coef: 1 - cfg },
    { prompt: styledCond, gates, coef: cfg },
  ];
}

/**
 * At which sampler steps a draw evaluates its guidance direction (style guidance's style rows): each of
 * its first `head` steps, then every `every`-th step; at the steps between, the direction's last value
 * is reused, so those steps run the classifier-free guidance rows only.
 */
export interface DirectionSchedule {
  every: number;
  head: number;
}

/** The direction at every step (the method as published). */
export const EVERY_STEP: DirectionSchedule = { every: 1, head: 0 };

/** The pipeline's `directionAt` for a schedule, counting from the run's first step `first`. */
export function directionAt(schedule: DirectionSchedule, first = 0): (step: number) => DirectionUse {
  const { every, head } = schedule;
  if (!Number.isInteger(every) || every < 1) throw new Error(`direction schedule: every must be an integer >= 1, got ${every}`);
  if (!Number.isInteger(head) || head < 0) throw new Error(`direction schedule: head must be an integer >= 0, got ${head}`);
  return (step) => {
    const k = step - first;
    return k < head || (k - head) % every === 0 ? 'evaluate' : 'reuse';
  };
}
