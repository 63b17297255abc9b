/**
 * Feature injection across the rows of one UNet batch, after the idea of Plug-and-Play (Tumanyan et al.
 * 2023): some rows take some of their structural features from another row of the same batch, e.g. a
 * styled picture's rows take the decoder's coarse features from the plain reconstruction's row, so the
 * layout stays while the finer levels (outlines, texture, shading) are left to the style. Per row:
 *
 *   feature' = feature + mix * (feature[source] - feature)
 *
 * with the graph inputs `inject_source` (int64 [B]: the row to copy from) and `inject_mix` (float32 [B]:
 * 0 leaves the row as it is, exactly; 1 replaces its feature with the source row's). The points:
 * - 'resnets': every resnet output of the decoder's coarser up-blocks;
 * - 'attention': the self-attention queries and keys of the transformer blocks of those up-blocks (the
 *   attention pattern, which is where the layout lives; the values stay the row's own).
 * The coarser up-blocks are the first `levels` of the decoder (lowest resolution first); by default all
 * but the last one, so the full-resolution level is never touched.
 */
import { add, cast, gather, GraphError, mul, reshape, sameShape, sub, type Tensor } from '../graph/index.ts';

export const INJECTION_POINTS = ['resnets', 'attention'] as const;
export type InjectionPoint = (typeof INJECTION_POINTS)[number];

export const INJECT_SOURCE_INPUT = 'inject_source';
export const INJECT_MIX_INPUT = 'inject_mix';

/** Which features of the UNet are injected (the graph part: the rows and mixes are fed per run). */
export interface FeatureInjectionPoints {
  points: readonly InjectionPoint[];
  /** How many up-blocks, from the lowest resolution, are injected (default: all but the last). */
  levels?: number;
}

/** Checks injection points (a clear error for each). */
export function checkInjectionPoints(p: FeatureInjectionPoints, upBlocks?: number): void {
  if (p.points.length === 0) throw new Error('feature injection: name at least one point (resnets, attention)');
  for (const q of p.points)
    if (!(INJECTION_POINTS as readonly string[]).includes(q))
      throw new Error(`feature injection: unknown point '${q}' (points: ${INJECTION_POINTS.join(', ')})`);
  if (p.levels !== undefined) {
    if (!Number.isInteger(p.levels) || p.levels < 1) throw new Error(`feature injection: levels must be a positive integer, got ${p.levels}`);
    if (upBlocks !== undefined && p.levels > upBlocks) throw new Error(`feature injection: levels ${p.levels}, but the UNet has ${upBlocks} up-blocks`);
  }
}

/** A stable text of the points, e.g. for a session cache key ('resnets+attention@2'). */
export const injectionKey = (p: FeatureInjectionPoints): string => `${[...p.points].sort().join('+')}@${p.levels ?? 'default'}`;

/** The graph inputs of the injection for a batch of `batch` rows (declared once per graph). */
export function injectionInputs(x: Tensor): { source: Tensor; mix: Tensor } {
  const g = x.graph;
  const batch = x.shape[0];
  const source = g.inputs.get(INJECT_SOURCE_INPUT) ?? g.input(INJECT_SOURCE_INPUT, [batch], 'int64');
  const mix = g.inputs.get(INJECT_MIX_INPUT) ?? g.input(INJECT_MIX_INPUT, [batch], 'float32');
  if (!sameShape(source.shape, [batch]) || !sameShape(mix.shape, [batch]))
    throw new GraphError(`feature injection: inputs are [${source.shape}] and [${mix.shape}], but the batch is ${batch}`);
  return { source, mix };
}

/** x [B, ...] with each row moved `mix` of the way to row `source` (the graph inputs). */
export function injectRows(x: Tensor): Tensor {
  const { source, mix } = injectionInputs(x);
  const m = reshape(cast(mix, x.dtype), [x.shape[0], ...x.shape.slice(1).map(() => 1)]);
  return add(x, mul(m, sub(gather(x, source), x)));
}

/** Whether up-block `i` of `upBlocks` is injected at `point`. */
export function injectsAt(p: FeatureInjectionPoints | undefined, point: InjectionPoint, i: number, upBlocks: number): boolean {
  return !!p && p.points.includes(point) && i < (p.levels ?? upBlocks - 1);
}

/** Points written as 'resnets', 'attention' or 'resnets+attention' (as the CLI and eval:stylize take them). */
export function parseInjectionPoints(text: string): InjectionPoint[] {
  const points = text.split('+').map((p) => p.trim());
  const bad = points.find((p) => !(INJECTION_POINTS as readonly string[]).includes(p));
  if (bad !== undefined) throw new Error(`feature injection: unknown point '${bad}' (points: ${INJECTION_POINTS.join(', ')}, joined by '+')`);
  return [...new Set(points)] as InjectionPoint[];
}
