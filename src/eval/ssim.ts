/**
 * Structural similarity (Wang, Bovik, Sheikh, Simoncelli 2004) of two pictures, and pixel distances.
 * SSIM: Gaussian window (sigma 1.5, 7x7), constants K1 = 0.01, K2 = 0.03 on a data range of 1, computed
 * per channel over the positions where the window fits inside the picture, then averaged.
 */

export interface SsimOptions {
  /** Values of the pictures span [lo, hi] (default [-1, 1], the models' range). */
  range?: [number, number];
  sigma?: number;
  /** Window radius (7x7 window: 3). */
  radius?: number;
}

/** Mean SSIM of two [C, H, W] pictures (1 for identical pictures). */
export function ssim(a: Float32Array, b: Float32Array, width: number, height = width, opts: SsimOptions = {}): number {
  if (a.length !== b.length) throw new Error(`ssim: pictures differ in size (${a.length} vs ${b.length} values)`);
  const plane = width * height;
  const channels = a.length / plane;
  if (!Number.isInteger(channels) || channels < 1) throw new Error(`ssim: ${a.length} values is not a whole number of ${width}x${height} planes`);
  const [lo, hi] = opts.range ?? [-1, 1];
  const r = opts.radius ?? 3;
  const sigma = opts.sigma ?? 1.5;
  if (width <= 2 * r || height <= 2 * r) throw new Error(`ssim: a ${width}x${height} picture is smaller than the ${2 * r + 1}x${2 * r + 1} window`);
  const k: number[] = [];
  for (let i = -r; i <= r; i++) k.push(Math.exp(-(i * i) / (2 * sigma * sigma)));
  const ks = k.reduce((p, q) => p + q, 0);
  const w = k.map((v) => v / ks);
  const c1 = 0.01 ** 2;
  const c2 = 0.03 ** 2;
  const scale = 1 / (hi - lo);
  let total = 0;
  let count = 0;
  const x = new Float64Array(plane);
  const y = new Float64Array(plane);
  for (let ch = 0; ch < channels; ch++) {
    for (let i = 0; i < plane; i++) {
      x[i] = (a[ch * plane + i] - lo) * scale;
      y[i] = (b[ch * plane + i] - lo) * scale;
    }
    for (let cy = r; cy < height - r; cy++)
      for (let cx = r; cx < width - r; cx++) {
        let mx = 0;
        let my = 0;
        let sxx = 0;
        let syy = 0;
        let sxy = 0;
        for (let dy = -r; dy <= r; dy++)
          for (let dx = -r; dx <= r; dx++) {
            const wt = w[dy + r] * w[dx + r];
            const j = (cy + dy) * width + cx + dx;
            mx += wt * x[j];
            my += wt * y[j];
            sxx += wt * x[j] * x[j];
            syy += wt * y[j] * y[j];
            sxy += wt * x[j] * y[j];
          }
        const vx = sxx - mx * mx;
        const vy = syy - my * my;
        const cov = sxy - mx * my;
        total += ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
        count++;
      }
  }
  return total / count;
}

/** Root-mean-square difference of two pictures (in their own units). */
export function rmse(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`rmse: pictures differ in size (${a.length} vs ${b.length} values)`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s / a.length);
}
