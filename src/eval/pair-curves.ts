/**
 * The pair evaluation's per-picture samples and the statistics computed from them over a set of pairs
 * (a bootstrap resample of the pairs passes each pair as often as it was drawn). eval:pair computes its
 * table, headline and paired differences with these, and eval:pair-compare the same statistics of two
 * runs on the same pairs (for instance two base models).
 */

/** One styled picture of a pair's drawn subject by a method at one strength (or LoRA scale). */
export interface PairSample {
  pair: number;
  subject: number;
  method: string;
  weight: number;
  /** The artist judge's probability of the target set. */
  pTarget: number;
  /** RMSE to the target's real drawing, over the unstyled picture's. */
  distRatio: number;
  /** The identity judge's top-1 is the unstyled picture's. */
  agree: boolean;
  /** SSIM to the unstyled picture. */
  ssim: number;
  /** The identity judge's top-1 is the pair's own subject (the pair's content leaked into the drawing). */
  leak: boolean;
  /** The drawn subject is in the identity judge's top-5. */
  subjectTop5: boolean;
}

/** The unstyled picture of a pair's drawn subject (the same seed and prompt as its styled pictures). */
export interface UnstyledSample {
  pair: number;
  pTarget: number;
  leak: boolean;
  subjectTop5: boolean;
}

export type PairMetric = 'pTarget' | 'distRatio' | 'identityAgreement' | 'ssim' | 'leakage' | 'subjectTop5';

const METRIC_OF: Record<PairMetric, (q: PairSample) => number> = {
  pTarget: (q) => q.pTarget,
  distRatio: (q) => q.distRatio,
  identityAgreement: (q) => Number(q.agree),
  ssim: (q) => q.ssim,
  leakage: (q) => Number(q.leak),
  subjectTop5: (q) => Number(q.subjectTop5),
};
export const PAIR_METRICS = Object.keys(METRIC_OF) as PairMetric[];

const mean = (xs: readonly number[]) => xs.reduce((s, v) => s + v, 0) / Math.max(1, xs.length);

export class PairCurves {
  private readonly styled = new Map<number, PairSample[]>();
  private readonly plain = new Map<number, UnstyledSample[]>();

  constructor(samples: readonly PairSample[], unstyled: readonly UnstyledSample[]) {
    for (const q of samples) (this.styled.get(q.pair) ?? this.styled.set(q.pair, []).get(q.pair)!).push(q);
    for (const u of unstyled) (this.plain.get(u.pair) ?? this.plain.set(u.pair, []).get(u.pair)!).push(u);
  }

  /** The strengths (or LoRA scales) the method drew at, ascending. */
  weightsOf(method: string): number[] {
    const ws = new Set<number>();
    for (const qs of this.styled.values()) for (const q of qs) if (q.method === method) ws.add(q.weight);
    return [...ws].sort((x, y) => x - y);
  }

  /** The mean of a metric over the pictures of these pairs drawn by the method at strength w. */
  metricOver(pairs: readonly number[], method: string, w: number, m: PairMetric): number {
    const f = METRIC_OF[m];
    return mean(pairs.flatMap((p) => (this.styled.get(p) ?? []).filter((q) => q.method === method && q.weight === w).map(f)));
  }

  /** The mean of an unstyled picture's value over these pairs. */
  unstyledOver(pairs: readonly number[], m: 'pTarget' | 'leakage' | 'subjectTop5'): number {
    const f = (u: UnstyledSample) => (m === 'pTarget' ? u.pTarget : Number(m === 'leakage' ? u.leak : u.subjectTop5));
    return mean(pairs.flatMap((p) => (this.plain.get(p) ?? []).map(f)));
  }

  /**
   * The headline of a method over some pairs: its style (P(target)) where identity agreement falls to
   * `floor`, walking its curve from the unstyled point (agreement 1) by increasing strength; the largest
   * style seen while agreement >= floor, with linear interpolation on the segment that crosses it.
   */
  styleAtAgreement(method: string, weights: readonly number[], pairs: readonly number[], floor = 0.5): number {
    const pts = [
      { c: 1, s: this.unstyledOver(pairs, 'pTarget') },
      ...[...weights]
        .sort((x, y) => x - y)
        .map((w) => ({ c: this.metricOver(pairs, method, w, 'identityAgreement'), s: this.metricOver(pairs, method, w, 'pTarget') })),
    ];
    let best = pts[0].s;
    for (let k = 1; k < pts.length; k++) {
      const [lo, hi] = [pts[k - 1], pts[k]];
      if (hi.c >= floor) best = Math.max(best, hi.s);
      else {
        if (lo.c >= floor && lo.c !== hi.c) best = Math.max(best, lo.s + ((lo.c - floor) / (lo.c - hi.c)) * (hi.s - lo.s));
        break;
      }
    }
    return best;
  }
}
