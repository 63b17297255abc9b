/**
 * Tiled attention (the FlashAttention algorithm, written as a static, unrolled sequence of standard
 * ONNX ops): softmax(q k^T + mask) v without ever holding the [.., N, M] score matrix, forward or
 * backward, only one [.., queryBlock, keyBlock] block of it at a time.
 *
 * Forward, per block of queries: a loop over blocks of keys with an online softmax (a running row
 * maximum m and row sum l; when a block raises the maximum, the sum and the output accumulated so far
 * are rescaled by exp(m_old - m_new)), then out = acc / l and the log-sum-exp lse = m + log(l) of every
 * query row. Backward (its own rule, not autodiff through the forward's loop): the scores of each block
 * are recomputed and turned into probabilities with the saved lse, p = exp(s - lse), and
 *   dv_j += p^T g_i,  dp = g_i v_j^T,  ds = p * (dp - D_i) with D = rowsum(g * out),
 *   dq_i += ds k_j,  dk^T_j += q_i^T ds,
 * accumulated over blocks. With every key in one block (keyBlock >= M: tiled over queries only) a
 * block is a plain Softmax, forward and backward, and no lse is kept. What stays alive from forward to
 * backward is out and lse ([.., N, dv] and [.., N, 1]) and the blocks of q, k^T and v; both passes
 * cost the matrix products of the plain form (forward q k^T and p v; backward q k^T again, p^T g,
 * g v^T, ds k and q^T ds), plus exp, max and sums per block.
 *
 * The forward is built from ordinary graph ops (so emission, the memory planner and the FLOP count see
 * it as it runs); the TiledAttention node that follows it is an identity on its output whose backward
 * rule is the block backward above (the forward's own ops get no gradient). Choosing between this and
 * the fused core by size is the model's business (src/models/attention.ts).
 *
 * Block order is data, not hope: onnxruntime does not run nodes in the order they are written but in
 * a depth-first order from the graph's outputs, which, left alone, reaches the blocks of the backward
 * pass column by column through dv's sum, computes every p before ds needs it, and so held 2-3 whole
 * score matrices at once (measured: 2.8-3.2 GiB for two layers at 2x8x4096x4096, against 4.2 GiB fused
 * and a 0.4-0.7 GiB plan). So each block's q (and, in the backward pass, its rows of g) reads an exact
 * 0 taken from everything the block before it produced (zeroAfter): no order of the graph can start a
 * block's products before the previous block is finished.
 */
import { defineOp, ShapeError } from '../op.ts';
import type { Tensor } from '../tensor.ts';
import { add, div, exp, log, mul, sub } from './elementwise.ts';
import { matmul } from './matmul.ts';
import { softmax } from './nn.ts';
import { broadcastShapes, reduceMax, reduceSum, sumAll, unbroadcast } from './reduce.ts';
import { concat, slice, transposeLast2 } from './shape.ts';

/** Rows of queries and columns of keys per block of the score matrix. */
export interface AttentionTiling {
  queryBlock: number;
  keyBlock: number;
}

/** [start, end) ranges of at most `size` covering 0..n; the last one may be shorter. */
function ranges(n: number, size: number): [number, number][] {
  const out: [number, number][] = [];
  for (let s = 0; s < n; s += size) out.push([s, Math.min(n, s + size)]);
  return out;
}

/** The mask's part for query rows `rows` and key columns `cols` (an axis broadcast from 1 stays whole). */
function maskBlock(mask: Tensor, rows: [number, number], cols: [number, number]): Tensor {
  const r = mask.rank;
  const starts: number[] = [];
  const ends: number[] = [];
  const axes: number[] = [];
  if (r >= 2 && mask.shape[r - 2] !== 1) {
    starts.push(rows[0]);
    ends.push(rows[1]);
    axes.push(r - 2);
  }
  if (r >= 1 && mask.shape[r - 1] !== 1) {
    starts.push(cols[0]);
    ends.push(cols[1]);
    axes.push(r - 1);
  }
  return axes.length ? slice(mask, starts, ends, axes) : mask;
}

/** The operands split into blocks, with a block's scores q_i k^T_j (+ mask). */
function blocked(q: Tensor, kt: Tensor, v: Tensor, mask: Tensor | undefined, tiling: AttentionTiling) {
  const n = q.shape[q.rank - 2];
  const m = kt.shape[kt.rank - 1];
  const rows = ranges(n, tiling.queryBlock);
  const cols = ranges(m, tiling.keyBlock);
  const ktBlocks = cols.map(([c0, c1]) => slice(kt, [c0], [c1], [-1]));
  const vBlocks = cols.map(([c0, c1]) => slice(v, [c0], [c1], [-2]));
  const rowsOf = (x: Tensor, i: number) => slice(x, [rows[i][0]], [rows[i][1]], [-2]);
  const scores = (qi: Tensor, i: number, j: number) => {
    const s = matmul(qi, ktBlocks[j]);
    return mask ? add(s, maskBlock(mask, rows[i], cols[j])) : s;
  };
  return { rows, cols, ktBlocks, vBlocks, rowsOf, scores };
}

const max2 = (a: Tensor, b: Tensor) => reduceMax(concat([a, b], -1), -1, true);

/**
 * An exact scalar 0 read from one element of each of `deps` (x - x): what adds it comes after them in
 * every order onnxruntime may choose. Exact for finite values; an Inf or NaN in a dep makes the
 * attention non-finite anyway.
 */
function zeroAfter(deps: readonly Tensor[]): Tensor {
  const corner = (t: Tensor) =>
    slice(
      t,
      t.shape.map(() => 0),
      t.shape.map(() => 1),
      t.shape.map((_, i) => i),
    );
  return deps.map((t) => sumAll(sub(corner(t), corner(t)))).reduce((a, b) => add(a, b));
}

/**
 * The forward pass: the output and, when the keys are split, each query row's log-sum-exp of its
 * scores ([.., N, 1]). With every key in one block a row needs no online softmax: the block is a plain
 * Softmax (one onnxruntime kernel instead of its exp, max and sum written out) and the backward pass
 * recomputes it the same way, without the log-sum-exp.
 */
function tiledForward(q: Tensor, kt: Tensor, v: Tensor, mask: Tensor | undefined, tiling: AttentionTiling): { out: Tensor; lse?: Tensor } {
  const b = blocked(q, kt, v, mask, tiling);
  const outs: Tensor[] = [];
  const lses: Tensor[] = [];
  let previous: Tensor[] = [];
  b.rows.forEach((_, i) => {
    const qi = b.rowsOf(q, i);
    if (b.cols.length === 1) {
      outs.push(matmul(softmax(b.scores(previous.length ? add(qi, zeroAfter(previous)) : qi, i, 0)), b.vBlocks[0]));
      previous = [outs[i]];
      return;
    }
    let rowMax: Tensor | undefined;
    let rowSum: Tensor | undefined;
    let acc: Tensor | undefined;
    b.cols.forEach((_, j) => {
      const s = b.scores(previous.length ? add(qi, zeroAfter(previous)) : qi, i, j);
      const blockMax = reduceMax(s, -1, true);
      if (!rowMax || !rowSum || !acc) {
        const p = exp(sub(s, blockMax));
        [rowMax, rowSum, acc] = [blockMax, reduceSum(p, -1, true), matmul(p, b.vBlocks[j])];
        previous = [rowSum, acc];
        return;
      }
      const next = max2(rowMax, blockMax);
      const rescale = exp(sub(rowMax, next));
      const p = exp(sub(s, next));
      rowSum = add(mul(rowSum, rescale), reduceSum(p, -1, true));
      acc = add(mul(acc, rescale), matmul(p, b.vBlocks[j]));
      rowMax = next;
      previous = [rowSum, acc];
    });
    outs.push(div(acc!, rowSum!));
    lses.push(add(rowMax!, log(rowSum!)));
    previous = [outs[i], lses[i]];
  });
  return { out: concat(outs, -2), lse: lses.length ? concat(lses, -2) : undefined };
}

defineOp('TiledAttention', {
  // Inputs: the forward's output, q, k^T, v, the mask if `masked`, and the log-sum-exp if the keys are split.
  infer(inputs, attrs) {
    const [out, q] = inputs;
    const lse = inputs[attrs.masked ? 5 : 4];
    if (lse && (lse.shape[lse.rank - 1] !== 1 || lse.shape[lse.rank - 2] !== q.shape[q.rank - 2])) {
      throw new ShapeError('tiledAttention', 'lse is not one value per query row', inputs);
    }
    return [{ shape: out.shape, dtype: out.dtype }];
  },
  emit: (node) => ({ opType: 'Identity', inputs: [node.inputs[0]] }),
  backward(node, [g], needs) {
    const [out, q, kt, v] = node.inputs;
    const mask = node.attrs.masked ? node.inputs[4] : undefined;
    const lse = node.inputs[node.attrs.masked ? 5 : 4];
    const tiling = { queryBlock: node.attrs.queryBlock as number, keyBlock: node.attrs.keyBlock as number };
    // The first block reads its 0 from the incoming gradient (as the fused core does, attention.ts):
    // without it the recomputed scores would be the forward's own nodes (hash-consing here,
    // common-subexpression elimination in onnxruntime), kept alive from the forward to here.
    const b = blocked(q, kt, v, mask, tiling);
    const delta = reduceSum(mul(g!, out), -1, true);
    let previous: Tensor[] = [g!];
    const dq: Tensor[] = [];
    const dkt: (Tensor | undefined)[] = b.cols.map(() => undefined);
    const dv: (Tensor | undefined)[] = b.cols.map(() => undefined);
    const sum = (acc: Tensor | undefined, x: Tensor) => (acc ? add(acc, x) : x);
    b.rows.forEach((_, i) => {
      const [qRows, gRows, lsei, di] = [b.rowsOf(q, i), b.rowsOf(g!, i), lse && b.rowsOf(lse, i), b.rowsOf(delta, i)];
      let dqi: Tensor | undefined;
      b.cols.forEach((_, j) => {
        // Both operands of the block's products: g v^T too, else it could run for every block first.
        const zero = zeroAfter(previous);
        const [qi, gi] = [add(qRows, zero), add(gRows, zero)];
        const scores = b.scores(qi, i, j);
        const p = lsei ? exp(sub(scores, lsei)) : softmax(scores);
        if (needs[3]) dv[j] = sum(dv[j], matmul(transposeLast2(p), gi));
        if (needs[1] || needs[2]) {
          const ds = mul(p, sub(matmul(gi, transposeLast2(b.vBlocks[j])), di));
          if (needs[1]) dqi = sum(dqi, matmul(ds, transposeLast2(b.ktBlocks[j])));
          if (needs[2]) dkt[j] = sum(dkt[j], matmul(transposeLast2(qi), ds));
        }
        previous = [dv[j], dqi, dkt[j]].filter((t): t is Tensor => t !== undefined);
      });
      if (dqi) dq.push(dqi);
    });
    return [
      undefined, // out (and lse): the forward's ops take no gradient; this rule stands for them
      needs[1] ? unbroadcast(concat(dq, -2), q.shape) : undefined,
      needs[2] ? unbroadcast(concat(dkt as Tensor[], -1), kt.shape) : undefined,
      needs[3] ? unbroadcast(concat(dv as Tensor[], -2), v.shape) : undefined,
      undefined, // the mask is a constant
      undefined,
    ];
  },
});

/**
 * softmax(q kT + mask) v over the last two axes (q [..., N, d], kT [..., d, M], v [..., M, dv]), in
 * blocks of `tiling.queryBlock` query rows by `tiling.keyBlock` keys (the last block of each may be
 * shorter): the [..., N, M] scores are never held whole, forward or backward.
 */
export function tiledAttention(q: Tensor, kT: Tensor, v: Tensor, mask: Tensor | undefined, tiling: AttentionTiling): Tensor {
  const inputs = mask ? [q, kT, v, mask] : [q, kT, v];
  const [n, d] = q.shape.slice(-2);
  const [d2, m] = kT.shape.slice(-2);
  const [m2] = v.shape.slice(-2);
  if (q.rank < 2 || kT.rank !== q.rank || v.rank !== q.rank || d !== d2 || m !== m2) {
    throw new ShapeError('tiledAttention', 'q [.., N, d], k^T [.., d, M] and v [.., M, dv] of one rank do not chain', inputs);
  }
  if (new Set(inputs.map((t) => t.dtype)).size !== 1) throw new ShapeError('tiledAttention', 'dtypes differ', inputs);
  const batch = broadcastShapes(
    'tiledAttention',
    broadcastShapes('tiledAttention', q.shape.slice(0, -2), kT.shape.slice(0, -2), inputs),
    v.shape.slice(0, -2),
    inputs,
  );
  if (mask) broadcastShapes('tiledAttention', mask.shape, [...batch, n, m], inputs);
  for (const [k, b] of Object.entries(tiling)) {
    if (!Number.isInteger(b) || b < 1) throw new ShapeError('tiledAttention', `${k} must be a positive integer, got ${b}`, inputs);
  }
  const { out, lse } = tiledForward(q, kT, v, mask, tiling);
  const rest = [...(mask ? [mask] : []), ...(lse ? [lse] : [])];
  return q.graph.apply('TiledAttention', [out, q, kT, v, ...rest], { queryBlock: tiling.queryBlock, keyBlock: tiling.keyBlock, masked: mask !== undefined })[0];
}
