/**
 * Intervals for the evaluations: every figure they report comes with a 95% interval.
 *
 * - wilson: a proportion of n independent trials (recognition rates).
 * - meanInterval: a mean of independent units (Student's t; n >= 2).
 * - bootstrap: any statistic of clustered data, by resampling the units (pairs) with replacement;
 *   the percentile interval.
 */
import { Rng } from '../graph/rng.ts';

export interface Interval {
  value: number;
  low: number;
  high: number;
}

/** Wilson score interval of k successes in n trials (95%). */
export function wilson(k: number, n: number, z = 1.959964): Interval {
  if (n <= 0) return { value: NaN, low: NaN, high: NaN };
  const p = k / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  return { value: p, low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

/** Two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom; 1.96 beyond. */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069,
  2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** Mean of independent values with its 95% t interval. */
export function meanInterval(xs: readonly number[]): Interval {
  const n = xs.length;
  const mean = xs.reduce((s, v) => s + v, 0) / Math.max(1, n);
  if (n < 2) return { value: n ? mean : NaN, low: NaN, high: NaN };
  const sd = Math.sqrt(xs.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
  const half = (T975[n - 2] ?? 1.96) * (sd / Math.sqrt(n));
  return { value: mean, low: mean - half, high: mean + half };
}

/**
 * Percentile bootstrap (95%) of `stat` over `units` resampled with replacement; `value` is the
 * statistic of the units as they are. Non-finite resampled statistics are left out.
 */
export function bootstrap<T>(units: readonly T[], stat: (sample: readonly T[]) => number, o: { resamples?: number; seed?: number } = {}): Interval {
  const value = stat(units);
  const rng = new Rng(o.seed ?? 12345);
  const stats: number[] = [];
  for (let b = 0; b < (o.resamples ?? 2000); b++) {
    const sample = Array.from({ length: units.length }, () => units[rng.int(units.length)]!);
    const v = stat(sample);
    if (Number.isFinite(v)) stats.push(v);
  }
  stats.sort((x, y) => x - y);
  if (stats.length === 0) return { value, low: NaN, high: NaN };
  const at = (q: number) => stats[Math.min(stats.length - 1, Math.max(0, Math.floor(q * stats.length)))]!;
  return { value, low: at(0.025), high: at(0.975) };
}

/** "62.0% [55.1, 68.4]" for a proportion interval. */
export function pctInterval(i: Interval): string {
  const f = (v: number) => (100 * v).toFixed(1);
  return Number.isFinite(i.low) ? `${f(i.value)}% [${f(i.low)}, ${f(i.high)}]` : Number.isFinite(i.value) ? `${f(i.value)}%` : 'n/a';
}

/** "0.126 [0.101, 0.150]". */
export function numInterval(i: Interval, digits = 3): string {
  return Number.isFinite(i.low)
    ? `${i.value.toFixed(digits)} [${i.low.toFixed(digits)}, ${i.high.toFixed(digits)}]`
    : Number.isFinite(i.value)
      ? i.value.toFixed(digits)
      : 'n/a';
}

/** True when two intervals do not overlap (the difference is outside the noise at this resolution). */
export function separated(a: Interval, b: Interval): boolean {
  return a.low > b.high || b.low > a.high;
}
