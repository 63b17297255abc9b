/**
 * Engine benchmark (npm run bench:engine [-- --model DIR]). Prints, in one run on this machine:
 *   1. onnxruntime-node's own fp32 GEMM yardsticks (scripts/lib/bench.ts), measured first and again
 *      last, every ratio taken to the larger measurement: `fed` (both matrices inputs) and `packed` (a
 *      constant, pre-packed weight; never below `fed`);
 *   2. the product's own step, the headline: the default pair-training step of the shipped model
 *      (trainPair on models/emoji-mini: ContentLoRA + StyleLoRA B, batch 2, noise and targets, forward
 *      + backward, AdamW), wall time per step after the first (median and fastest), the fastest against
 *      `packed` because the model's frozen weights are constant initializers: `engine_train_efficiency=`;
 *   3. secondary figures, synthetic blocks: (a) a transformer block (width 256, sequence 256, batch 8)
 *      and (b) a conv residual block (64 channels, 32x32, batch 16): forward (frozen weights, against
 *      `packed`) and a training step with every weight trainable and fed (against `fed`), and the share
 *      of each training step spent outside onnxruntime (AdamW, copies); `synthetic_train_efficiency=`
 *      is the geometric mean of the two training-step ratios.
 * Every ratio is a benchmark's fastest run over the yardstick's fastest: on a machine shared with other
 * work, the least disturbed moments of both (the medians are printed too).
 * FLOPs count matrix products and convolutions only (2 per multiply-add), as the GEMM yardsticks do.
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { renderIcon } from '../src/data/render.ts';
import { loadEvalModel } from '../src/eval/generate.ts';
import * as G from '../src/graph/index.ts';
import { rgbToUnit } from '../src/formats/pixels.ts';
import { pairDefaultsFor, pairParamMode, pairTrainingLoss, trainPair } from '../src/pair/train.ts';
import { AdamW } from '../src/train/optim.ts';
import { StepFunction, Trainer } from '../src/train/step.ts';
import { describeYardsticks, gemmYardsticks, maxYardsticks, randomUniform, timeMs, timing, type Timing } from './lib/bench.ts';

const { values: args } = parseArgs({ options: { model: { type: 'string', default: 'models/emoji-mini' }, 'pair-steps': { type: 'string', default: '16' } } });
const threads = Number(process.env.BENCH_THREADS ?? cpus().length);
const seconds = Number(process.env.BENCH_SECONDS ?? 4);

const time = (fn: () => Promise<unknown>, budget = seconds) => timeMs(fn, budget);
const ms = (t: Timing) => `${t.median.toFixed(1)} ms (fastest ${t.best.toFixed(1)})`;

type Build = (g: G.Graph) => G.Tensor;

function transformerBlock(g: G.Graph): G.Tensor {
  const [b, n, c, heads, ctxLen] = [8, 256, 256, 4, 77];
  const x = g.input('x', [b, n, c]);
  const ctx = g.input('context', [b, ctxLen, c]);
  const p = (name: string, shape: number[]) => g.param(name, shape);
  const ln = (name: string, t: G.Tensor) => G.layerNorm(t, p(`${name}.weight`, [c]), p(`${name}.bias`, [c]));
  const attention = (name: string, q_in: G.Tensor, kv: G.Tensor) => {
    const len = kv.shape[1];
    const split = (t: G.Tensor, l: number) => G.transpose(G.reshape(t, [b, l, heads, c / heads]), [0, 2, 1, 3]);
    const q = split(G.linear(q_in, p(`${name}.to_q.weight`, [c, c])), n);
    const k = split(G.linear(kv, p(`${name}.to_k.weight`, [c, c])), len);
    const v = split(G.linear(kv, p(`${name}.to_v.weight`, [c, c])), len);
    const att = G.softmax(G.mul(G.matmul(q, G.transposeLast2(k)), 1 / Math.sqrt(c / heads)));
    const o = G.reshape(G.transpose(G.matmul(att, v), [0, 2, 1, 3]), [b, n, c]);
    return G.linear(o, p(`${name}.to_out.0.weight`, [c, c]), p(`${name}.to_out.0.bias`, [c]));
  };
  const h1 = ln('norm1', x);
  let h = G.add(x, attention('attn1', h1, h1));
  h = G.add(h, attention('attn2', ln('norm2', h), ctx));
  const ff = G.geglu(G.linear(ln('norm3', h), p('ff.net.0.proj.weight', [8 * c, c]), p('ff.net.0.proj.bias', [8 * c])));
  h = G.add(h, G.linear(ff, p('ff.net.2.weight', [c, 4 * c]), p('ff.net.2.bias', [c])));
  return G.mse(h, g.input('target', [b, n, c]));
}

function resnetBlock(g: G.Graph): G.Tensor {
  const [b, c, hw, t] = [16, 64, 32, 256];
  const x = g.input('x', [b, c, hw, hw]);
  const temb = g.input('temb', [b, t]);
  const p = (name: string, shape: number[]) => g.param(name, shape);
  let h = G.silu(G.groupNorm(x, p('norm1.weight', [c]), p('norm1.bias', [c]), 32));
  h = G.conv2d(h, p('conv1.weight', [c, c, 3, 3]), p('conv1.bias', [c]), { padding: 1 });
  h = G.add(h, G.reshape(G.linear(G.silu(temb), p('time_emb_proj.weight', [c, t]), p('time_emb_proj.bias', [c])), [b, c, 1, 1]));
  h = G.silu(G.groupNorm(h, p('norm2.weight', [c]), p('norm2.bias', [c]), 32));
  h = G.conv2d(h, p('conv2.weight', [c, c, 3, 3]), p('conv2.bias', [c]), { padding: 1 });
  return G.mse(G.add(x, h), g.input('target', [b, c, hw, hw]));
}

interface BlockFigures {
  name: string;
  /** GFLOP/s of the fastest forward and training-step runs. */
  forwardGflops: number;
  stepGflops: number;
  outsideShare: number;
}

async function benchBlock(name: string, build: Build): Promise<BlockFigures> {
  // Forward: the loss with every parameter frozen (initializers), as in inference.
  const gf = new G.Graph({ paramMode: () => 'frozen' });
  const lossF = build(gf);
  const values = new Map(
    [...gf.params].map(([n, t]) => [n, n.endsWith('weight') && t.rank === 1 ? new Float32Array(t.size).fill(1) : randomUniform(t.size, 0.05)]),
  );
  const batch = Object.fromEntries([...gf.inputs].map(([n, t]) => [n, randomUniform(t.size)]));
  const fwd = await G.GraphSession.create(G.emitOnnx({ outputs: { loss: lossF }, weights: (n) => values.get(n) }), { threads });
  const forwardFlops = G.countFlops([lossF]);
  const forwardMs = await time(() => fwd.run(batch));
  await fwd.release();

  // Training step: every parameter trainable; loss + all gradients, then AdamW in JS.
  const gt = new G.Graph();
  const lossT = build(gt);
  const step = await StepFunction.compile(lossT, { threads });
  const stepFlops = G.countFlops([lossT, ...G.grad(lossT, gt.trainableParams())]);
  const params = Object.fromEntries([...values].map(([n, v]) => [n, v.slice()]));
  const optimizer = new AdamW([{ params: Object.entries(params).map(([n, data]) => ({ name: n, data })), lr: 1e-4 }]);
  const trainer = new Trainer(step, { params, optimizer });
  let ort = 0;
  let total = 0;
  const stepMs = await time(async () => {
    const r = await trainer.trainStep(batch);
    ort += r.ortMs;
    total += r.totalMs;
  });
  await step.release();
  const fig: BlockFigures = {
    name,
    forwardGflops: forwardFlops / (forwardMs.best * 1e6),
    stepGflops: stepFlops / (stepMs.best * 1e6),
    outsideShare: (total - ort) / total,
  };
  console.log(
    `${name}: forward ${ms(forwardMs)}, ${(forwardFlops / 1e9).toFixed(2)} GFLOP` +
      ` | train step ${ms(stepMs)}, ${(stepFlops / 1e9).toFixed(2)} GFLOP` +
      ` | outside onnxruntime ${(100 * fig.outsideShare).toFixed(1)}% of a step`,
  );
  return fig;
}

/** The product's step: trainPair's default pair-training step on the shipped model, optimizer included. */
async function productStep(): Promise<number> {
  const model = await loadEvalModel(args.model!);
  const S = model.imageSize;
  const content = rgbToUnit(await renderIcon('noto', 'dog-face', S), S, S);
  const style = rgbToUnit(await renderIcon('openmoji', 'dog-face', S), S, S);
  const steps = Number(args['pair-steps']);
  const r = await trainPair({ model, content, style, name: 'bench', subject: 'dog face', steps, threads });
  const rank = pairDefaultsFor(model).rank;
  const g = new G.Graph({ paramMode: pairParamMode(false) });
  const loss = pairTrainingLoss(g, model, rank);
  const flops = G.countFlops([loss, ...G.grad(loss, g.trainableParams())]);
  const t = timing(r.stepMs.slice(1));
  console.log(
    `product step: default pair training of ${args.model} (rank ${rank}, batch 2, LoRA B of content and style, AdamW), ${steps - 1} steps after the first: ` +
      `${ms(t)}, ${(flops / 1e9).toFixed(3)} GFLOP`,
  );
  return flops / (t.best * 1e6);
}

const before = await gemmYardsticks(threads);
console.log(`onnxruntime-node ${(await import('onnxruntime-node')).env.versions.node}, before: ${describeYardsticks(before, threads)}`);
const product = await productStep();
const a = await benchBlock('(a) transformer block w256 s256 b8', transformerBlock);
const b = await benchBlock('(b) conv residual block c64 32x32 b16', resnetBlock);
const after = await gemmYardsticks(threads);
console.log(`after: ${describeYardsticks(after, threads)}`);
const yard = maxYardsticks(before, after);
console.log(`ratios, fastest run to the larger measurement of each yardstick (fed ${yard.fed.toFixed(1)}, packed ${yard.packed.toFixed(1)} GFLOP/s):`);
console.log(
  `engine_train_efficiency=${(product / yard.packed).toFixed(3)} yardstick=packed ${yard.packed.toFixed(1)} GFLOP/s (the product's pair-training step)`,
);
console.log('secondary, synthetic blocks:');
for (const f of [a, b])
  console.log(`${f.name}: forward ${(f.forwardGflops / yard.packed).toFixed(3)} of packed | train step ${(f.stepGflops / yard.fed).toFixed(3)} of fed`);
console.log(
  `synthetic_train_efficiency=${Math.sqrt((a.stepGflops / yard.fed) * (b.stepGflops / yard.fed)).toFixed(3)} yardstick=fed ${yard.fed.toFixed(1)} GFLOP/s`,
);
