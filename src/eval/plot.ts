/**
 * Line plots as an SVG string, rendered to PNG by sharp (librsvg): panels side by side, each with axes,
 * ticks, grid lines, one polyline with point markers per series (optional point labels, e.g. the
 * strength of each point), and one legend under all panels. Enough for trade-off curves; no
 * dependencies beyond sharp.
 */
import sharp from 'sharp';

export interface Point {
  x: number;
  y: number;
  /** Printed next to the marker (e.g. the strength). */
  label?: string;
}

export interface Series {
  name: string;
  points: Point[];
  color?: string;
  /** Dashed line (e.g. for baselines). */
  dashed?: boolean;
}

export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Axis ranges; default: the data's range, padded and rounded to ticks. */
  xDomain?: [number, number];
  yDomain?: [number, number];
}

export interface PlotOptions {
  title?: string;
  panelWidth?: number;
  panelHeight?: number;
  columns?: number;
}

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

const esc = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
/** Tick labels with as many decimals as the tick step needs. */
function tickFormat(ticks: readonly number[]): (v: number) => string {
  const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : Math.abs(ticks[0]) || 1;
  const decimals = Math.max(0, Math.min(8, -Math.floor(Math.log10(step) + 1e-9)));
  return (v) => v.toFixed(decimals);
}

/** Tick values: a 1/2/5 x 10^k step giving about `count` ticks over [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toFixed(12)));
  return out;
}

function domain(values: number[], given?: [number, number]): [number, number] {
  if (given) return given;
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return [0, 1];
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  const pad = hi - lo < 1e-9 ? 0.5 : (hi - lo) * 0.05;
  lo -= pad;
  hi += pad;
  const ticks = niceTicks(lo, hi);
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : hi - lo;
  return [Math.floor(lo / step) * step, Math.ceil(hi / step) * step];
}

function panelSvg(p: Panel, left: number, top: number, width: number, height: number, colors: Map<string, string>): string {
  const m = { l: 58, r: 14, t: 26, b: 44 };
  const w = width - m.l - m.r;
  const h = height - m.t - m.b;
  const xs = p.series.flatMap((s) => s.points.map((q) => q.x));
  const ys = p.series.flatMap((s) => s.points.map((q) => q.y));
  const [x0, x1] = domain(xs, p.xDomain);
  const [y0, y1] = domain(ys, p.yDomain);
  const X = (v: number) => m.l + ((v - x0) / (x1 - x0)) * w;
  const Y = (v: number) => m.t + h - ((v - y0) / (y1 - y0)) * h;
  const parts: string[] = [`<g transform="translate(${left},${top})">`];
  parts.push(`<text x="${m.l + w / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">${esc(p.title)}</text>`);
  const xTicks = niceTicks(x0, x1);
  const yTicks = niceTicks(y0, y1);
  const fx = tickFormat(xTicks);
  const fy = tickFormat(yTicks);
  for (const t of xTicks) {
    parts.push(`<line x1="${X(t)}" y1="${m.t}" x2="${X(t)}" y2="${m.t + h}" stroke="#e4e4e4"/>`);
    parts.push(`<text x="${X(t)}" y="${m.t + h + 15}" text-anchor="middle" font-size="10">${fx(t)}</text>`);
  }
  for (const t of yTicks) {
    parts.push(`<line x1="${m.l}" y1="${Y(t)}" x2="${m.l + w}" y2="${Y(t)}" stroke="#e4e4e4"/>`);
    parts.push(`<text x="${m.l - 5}" y="${Y(t) + 3.5}" text-anchor="end" font-size="10">${fy(t)}</text>`);
  }
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${w}" height="${h}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${m.l + w / 2}" y="${height - 8}" text-anchor="middle" font-size="11">${esc(p.xLabel)}</text>`);
  parts.push(`<text transform="translate(14,${m.t + h / 2}) rotate(-90)" text-anchor="middle" font-size="11">${esc(p.yLabel)}</text>`);
  for (const s of p.series) {
    const color = s.color ?? colors.get(s.name) ?? '#333';
    const pts = s.points.filter((q) => Number.isFinite(q.x) && Number.isFinite(q.y));
    if (pts.length > 1) {
      parts.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6,4"' : ''} points="${pts.map((q) => `${X(q.x).toFixed(1)},${Y(q.y).toFixed(1)}`).join(' ')}"/>`,
      );
    }
    for (const q of pts) {
      parts.push(`<circle cx="${X(q.x).toFixed(1)}" cy="${Y(q.y).toFixed(1)}" r="3.5" fill="${color}"/>`);
      if (q.label) parts.push(`<text x="${(X(q.x) + 5).toFixed(1)}" y="${(Y(q.y) - 5).toFixed(1)}" font-size="9" fill="${color}">${esc(q.label)}</text>`);
    }
  }
  parts.push('</g>');
  return parts.join('\n');
}

/** The whole figure as an SVG document. */
export function plotSvg(panels: readonly Panel[], opts: PlotOptions = {}): string {
  const pw = opts.panelWidth ?? 420;
  const ph = opts.panelHeight ?? 340;
  const cols = Math.max(1, Math.min(opts.columns ?? panels.length, panels.length));
  const rows = Math.ceil(panels.length / cols);
  const names = [...new Set(panels.flatMap((p) => p.series.map((s) => s.name)))];
  const colors = new Map(names.map((n, i) => [n, panels.flatMap((p) => p.series).find((s) => s.name === n)?.color ?? PALETTE[i % PALETTE.length]]));
  const titleH = opts.title ? 28 : 0;
  const width = cols * pw;
  // Legend columns: up to 3, fewer when the longest name (about 6.2 px a character at 11 px) would run into the next column.
  const longest = Math.max(0, ...names.map((n) => n.length));
  const legendCols = Math.max(1, Math.min(3, Math.floor(width / (40 + 6.2 * longest))));
  const legendRows = Math.ceil(names.length / legendCols);
  const legendH = 10 + 18 * legendRows;
  const height = titleH + rows * ph + legendH;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
  ];
  if (opts.title) parts.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${esc(opts.title)}</text>`);
  panels.forEach((p, i) => parts.push(panelSvg(p, (i % cols) * pw, titleH + Math.floor(i / cols) * ph, pw, ph, colors)));
  const dashed = new Set(panels.flatMap((p) => p.series.filter((s) => s.dashed).map((s) => s.name)));
  const colW = width / legendCols;
  names.forEach((n, i) => {
    const x = 20 + (i % legendCols) * colW;
    const y = titleH + rows * ph + 14 + Math.floor(i / legendCols) * 18;
    parts.push(
      `<line x1="${x}" y1="${y - 4}" x2="${x + 26}" y2="${y - 4}" stroke="${colors.get(n)}" stroke-width="2.5"${dashed.has(n) ? ' stroke-dasharray="6,4"' : ''}/>`,
    );
    parts.push(`<circle cx="${x + 13}" cy="${y - 4}" r="3.5" fill="${colors.get(n)}"/>`);
    parts.push(`<text x="${x + 32}" y="${y}" font-size="11">${esc(n)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** The figure as a PNG. */
export async function plotPng(panels: readonly Panel[], opts: PlotOptions = {}): Promise<Buffer> {
  return sharp(Buffer.from(plotSvg(panels, opts)))
    .png()
    .toBuffer();
}
