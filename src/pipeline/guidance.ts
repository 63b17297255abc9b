/**
 * Guidance schemes as coefficient lists over terms (see diffusion-pipeline.ts):
 *   classifier-free:  eps = e(neg) + w_cfg (e(c) - e(neg))
 *   style guidance:   eps = e(neg) + w_cfg (e(c) - e(neg)) + sum_i w_i (e_{+style_i}(c_i) - e(c)),
 *                     c_i = c + " in <S*_i> style" (Pair Customization, Jones et al. 2024)
 *   LoRA scale:       the usual practice, for comparison: CFG on the model with adapter gates = scale,
 *                     prompt c_i for both terms.
 */
import type { Term } from './diffusion-pipeline.ts';

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

/** Term list of style guidance (one or several styles: a blend is several weights at once). */
export function styleGuidanceTerms(neg: number, cond: number, cfg: number, styles: readonly StyleTerm[]): Term[] {
  const total = styles.reduce((s, t) => s + t.weight, 0);
  return [
    { prompt: neg, coef: 1 - cfg },
    { prompt: cond, coef: cfg - total },
    ...styles.map((s) => ({ prompt: s.prompt, gates: { [s.adapter]: 1 }, coef: s.weight })),
  ];
}

/** Term list of LoRA-scale mode: CFG with the adapters' gates set to their weights, styled prompt. */
export function loraScaleTerms(neg: number, styledCond: number, cfg: number, styles: readonly { adapter: string; weight: number }[]): Term[] {
  const gates = Object.fromEntries(styles.map((s) => [s.adapter, s.weight]));
  return [
    { prompt: neg, gates, coef: 1 - cfg },
    { prompt: styledCond, gates, coef: cfg },
  ];
}
