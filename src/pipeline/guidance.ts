/**
 * Guidance schemes as coefficient lists over terms (see diffusion-pipeline.ts):
 *   classifier-free:  eps = e(neg) + w_cfg (e(c) - e(neg))
 *   style guidance:   eps = e(neg) + w_cfg (e(c) - e(neg)) + sum_i w_i (e_{+style_i}(c_i) - e(c)),
 *                     c_i = c + " in <S*_i> style" (Pair Customization, Jones et al. 2024); its two
 *                     differences are directions, each evaluated at the steps of its own schedule
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

/** The name of style guidance's style direction sum_i w_i (e_{+style_i}(c_i) - e(c)) in a trajectory's directions. */
export const STYLE_DIRECTION = 'style';
/** The name of classifier-free guidance's direction (w_cfg - 1) (e(c) - e(neg)) in a trajectory's directions. */
export const CFG_DIRECTION = 'cfg';

/**
 * Style guidance (one or several styles: a blend is several weights at once), written as
 *   eps = e(c) + (w_cfg - 1) (e(c) - e(neg)) + sum_i w_i (e_{+style_i}(c_i) - e(c)):
 * the term e(c), and two directions, classifier-free guidance's (CFG_DIRECTION; none when w_cfg = 1)
 * and the style direction (STYLE_DIRECTION), so that a draw can evaluate each at its own steps and
 * reuse it between them (GuidanceSchedule).
 */
export function styleGuidance(neg: number, cond: number, cfg: number, styles: readonly StyleTerm[]): { terms: Term[]; directions: Record<string, Term[]> } {
  const total = styles.reduce((s, t) => s + t.weight, 0);
  const style = [{ prompt: cond, coef: -total }, ...styles.map((s) => ({ prompt: s.prompt, gates: { [s.adapter]: 1 }, coef: s.weight }))];
  return {
    terms: [{ prompt: cond, coef: 1 }],
    directions: {
      ...(cfg === 1
        ? {}
        : {
            [CFG_DIRECTION]: [
              { prompt: cond, coef: cfg - 1 },
              { prompt: neg, coef: 1 - cfg },
            ],
          }),
      [STYLE_DIRECTION]: style,
    },
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
 * At which sampler steps a draw evaluates a guidance direction: each of its first `head` steps, then
 * every `every`-th step; at the steps between, the direction's last value is reused, so those steps run
 * no rows of it.
 */
export interface DirectionSchedule {
  every: number;
  head: number;
  /** Steps left out before the schedule starts (default 0): the direction is off at them, then `head` and `every` count from here. */
  from?: number;
}

/** The direction at every step (the method as published). */
export const EVERY_STEP: DirectionSchedule = { every: 1, head: 0 };

/** When a style-guided draw evaluates each of its two directions: the style direction and classifier-free guidance's. */
export interface GuidanceSchedule {
  style: DirectionSchedule;
  cfg: DirectionSchedule;
  /**
   * The step (counted from the run's first) from which the style direction is off and classifier-free
   * guidance's is evaluated at every step, as in a plain CFG draw: a guidance interval that ends before
   * the last steps (default: none, the style acts to the end).
   */
  styleUntil?: number;
}

/** The pipeline's `directionAt` for a schedule, counting from the run's first step `first`. */
export function directionAt(schedule: DirectionSchedule, first = 0): (step: number) => DirectionUse {
  const { every, head, from = 0 } = schedule;
  if (!Number.isInteger(every) || every < 1) throw new Error(`direction schedule: every must be an integer >= 1, got ${every}`);
  if (!Number.isInteger(head) || head < 0) throw new Error(`direction schedule: head must be an integer >= 0, got ${head}`);
  if (!Number.isInteger(from) || from < 0) throw new Error(`direction schedule: from must be an integer >= 0, got ${from}`);
  return (step) => {
    const k = step - first - from;
    if (k < 0) return 'off';
    return k < head || (k - head) % every === 0 ? 'evaluate' : 'reuse';
  };
}

/**
 * The pipeline's `directionAt` for style guidance's two directions (any other direction is evaluated
 * at every step), counting from the run's first step `first`.
 */
export function guidanceAt(schedule: GuidanceSchedule, first = 0): (step: number, direction: string) => DirectionUse {
  const at: Record<string, (step: number) => DirectionUse> = {
    [STYLE_DIRECTION]: directionAt(schedule.style, first),
    [CFG_DIRECTION]: directionAt(schedule.cfg, first),
  };
  const until = schedule.styleUntil;
  if (until !== undefined && !(Number.isInteger(until) && until >= 0)) throw new Error(`guidance schedule: styleUntil must be an integer >= 0, got ${until}`);
  return (step, direction) => {
    if (until !== undefined && step - first >= until) return direction === STYLE_DIRECTION ? 'off' : 'evaluate';
    return at[direction]?.(step) ?? 'evaluate';
  };
}

/** A schedule in words: `style direction every 2nd step; CFG direction the first 1 step(s), then every 2nd`. */
export function describeSchedule(s: GuidanceSchedule): string {
  const one = (d: DirectionSchedule) =>
    `${d.from ? `off for the first ${d.from} step(s), then ` : ''}${d.head ? `the first ${d.head} step(s), then ` : ''}every ${d.every === 1 ? '' : `${d.every}${d.every === 2 ? 'nd' : d.every === 3 ? 'rd' : 'th'} `}step`;
  const until = s.styleUntil === undefined ? '' : `; from step ${s.styleUntil} on, the style direction off and the CFG direction every step`;
  return `style direction ${one(s.style)}; CFG direction ${one(s.cfg)}${until}`;
}
