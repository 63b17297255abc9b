/** Runs a model graph once on onnxruntime with frozen random (or given) weights. */
import { emitOnnx, GraphSession, type Feed, type Graph, type Outputs, type Tensor } from '../../src/graph/index.ts';
import { randomWeight } from './random-weights.ts';

export async function runGraph(
  g: Graph,
  outputs: Record<string, Tensor>,
  feeds: Record<string, Feed>,
  weight: (name: string) => Float32Array = (name) => randomWeight(name, g.params.get(name)!.shape),
): Promise<Outputs> {
  const model = emitOnnx({ outputs, weights: weight });
  // Parameters that are graph inputs (trainable or fed) get the same values as frozen ones would.
  const all: Record<string, Feed> = { ...feeds };
  for (const v of model.inputs) if (!(v.name in all) && g.params.has(v.name)) all[v.name] = weight(v.name);
  const session = await GraphSession.create(model, { threads: 2 });
  try {
    return await session.run(all);
  } finally {
    await session.release();
  }
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>, from = 0, to = a.length): number {
  let m = 0;
  for (let i = from; i < to; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
