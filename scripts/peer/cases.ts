/**
 * bench:peer's cases: the steps both engines run (see scripts/bench-peer.ts), their graphs on the
 * engine's side, their weights and inputs, the description the PyTorch worker builds its model from
 * (case.json), and how much memory each engine is expected to hold.
 */
import { Rng } from '../../src/graph/rng.ts';
import * as G from '../../src/graph/index.ts';
import { clipTextModel, type CLIPTextConfig } from '../../src/models/clip-text.ts';
import { unet2DConditionModel, type UNet2DConditionConfig } from '../../src/models/unet.ts';
import { orthogonalDownProjections } from '../../src/pair/orthogonal.ts';
import { pairParamMode, pairTrainingLoss } from '../../src/pair/train.ts';
import { modelUnet } from '../../src/pipeline/conditioning.ts';
import { modelShapes } from '../lib/memory-cases.ts';

export type Kind = 'forward' | 'lora' | 'full';
export interface CaseDef {
  key: string;
  label: string;
  arch: 'emoji-mini' | 'sd15';
  /** Latent side (tokens at the first attention level: its square, for SD). */
  latent: number;
  kind: Kind;
}
export const CASES: CaseDef[] = [
  { key: 'emoji_forward', label: 'emoji-mini forward', arch: 'emoji-mini', latent: 16, kind: 'forward' },
  { key: 'emoji_lora', label: 'emoji-mini LoRA (pair) training step', arch: 'emoji-mini', latent: 16, kind: 'lora' },
  { key: 'emoji_full', label: 'emoji-mini full-weight training step (pretraining)', arch: 'emoji-mini', latent: 16, kind: 'full' },
  { key: 'sd32_forward', label: 'SD-1.5-shaped UNet, 32x32 latents, forward', arch: 'sd15', latent: 32, kind: 'forward' },
  { key: 'sd32_lora', label: 'SD-1.5-shaped UNet, 32x32 latents, LoRA (pair) training step', arch: 'sd15', latent: 32, kind: 'lora' },
  { key: 'sd32_full', label: 'SD-1.5-shaped UNet, 32x32 latents, full-weight training step', arch: 'sd15', latent: 32, kind: 'full' },
  { key: 'sd64_lora', label: 'SD-1.5-shaped UNet, 64x64 latents (4,096 tokens), LoRA (pair) training step', arch: 'sd15', latent: 64, kind: 'lora' },
];

export interface Built {
  graph: G.Graph;
  tensor: G.Tensor;
  text?: CLIPTextConfig;
  unet: UNet2DConditionConfig;
  rank: number;
  optimizer: { lr: number; weightDecay: number; clipNorm?: number; emaDecay?: number };
}

/** The engine's graph of the case (the emoji-mini text encoder's config for the full-weight step). */
export function buildCase(c: CaseDef, emojiText: CLIPTextConfig | undefined): Built {
  const shapes = modelShapes(c.arch, c.arch === 'sd15' ? 8 * c.latent : 2 * c.latent);
  const rank = c.arch === 'sd15' ? 64 : 8;
  if (c.kind === 'forward') {
    const graph = new G.Graph({ paramMode: () => 'frozen' });
    return { graph, tensor: modelUnet(graph, shapes, 2), unet: shapes.unet, rank, optimizer: { lr: 0, weightDecay: 0 } };
  }
  if (c.kind === 'lora') {
    // The pair method's step as trainPair builds it: rank 8 (emoji-mini) / 64 (SD), lr 1e-3 / 1e-5, no weight decay.
    const graph = new G.Graph({ paramMode: pairParamMode(false) });
    const lr = c.arch === 'sd15' ? 1e-5 : 1e-3;
    return { graph, tensor: pairTrainingLoss(graph, shapes, rank), unet: shapes.unet, rank, optimizer: { lr, weightDecay: 0 } };
  }
  // Pretraining's step (scripts/pretrain.ts): every weight trainable, MSE, clip 1, AdamW 3e-4 wd 0.01, EMA 0.999.
  const graph = new G.Graph();
  const [ch, h, w] = shapes.codec.latentShape;
  const sample = graph.input('sample', [2, ch, h, w]);
  const timestep = graph.input('timestep', [2]);
  const text = c.arch === 'emoji-mini' ? emojiText : undefined;
  if (c.arch === 'emoji-mini' && !text) throw new Error(`${c.key}: the emoji-mini text encoder's config is needed`);
  const states = text
    ? clipTextModel(graph, text, graph.input('input_ids', [2, shapes.contextLength], 'int64'))
    : graph.input('encoder_hidden_states', [2, shapes.contextLength, shapes.unet.cross_attention_dim]);
  const pred = unet2DConditionModel(graph, shapes.unet, { sample, timestep, encoderHiddenStates: states });
  const optimizer = { lr: 3e-4, weightDecay: 0.01, clipNorm: 1, emaDecay: 0.999 };
  return { graph, tensor: G.mse(pred, graph.input('target', [2, ch, h, w])), text, unet: shapes.unet, rank, optimizer };
}

/** Tokens at the first attention level. */
export const caseTokens = (c: CaseDef): number => (c.arch === 'sd15' ? c.latent * c.latent : (c.latent / 2) ** 2);

/** The inputs: seeded normal values, fixed gates, timesteps and row weights, token ids for int64. */
export function inputFeeds(c: CaseDef, graph: G.Graph): Record<string, Float32Array | BigInt64Array> {
  const rng = new Rng(7);
  const feeds: Record<string, Float32Array | BigInt64Array> = {};
  const fixed: Record<string, number[]> = {
    timestep: c.kind === 'lora' ? [500, 500] : [250, 750],
    'lora_gate.content': [1, 1],
    'lora_gate.style': [0, 1],
    'train_rows.content': [1, 0],
    row_weight: [1, 1],
  };
  for (const [name, t] of graph.inputs) {
    if (fixed[name]) feeds[name] = Float32Array.from(fixed[name]);
    else if (t.dtype === 'int64') feeds[name] = BigInt64Array.from({ length: t.size }, (_, i) => BigInt((i * 37 + 5) % 997));
    else {
      const a = new Float32Array(t.size);
      rng.fillNormal(a);
      feeds[name] = a;
    }
  }
  return feeds;
}

/** Seeded uniform weights scaled by fan-in (variance 1/fan-in), norm scales 1: xorshift32 seeded by the name, fast enough for SD 1.5's 860 M. */
export function randomWeight(name: string, shape: readonly number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  if (/norm[^.]*\.weight$/.test(name)) return out.fill(1);
  const fanIn = shape.length > 1 ? shape.slice(1).reduce((a, b) => a * b, 1) : 400;
  const scale = (2 * Math.sqrt(3 / fanIn)) / 4294967296;
  let x = 2166136261;
  for (let i = 0; i < name.length; i++) x = Math.imul(x ^ name.charCodeAt(i), 16777619) >>> 0;
  x ||= 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = ((x >>> 0) - 2147483648) * scale;
  }
  return out;
}

/** The LoRA adapters' starting values: A the pair method's orthogonal rows, B small random (zero in trainPair; nonzero here so that every path is checked). */
export function loraValue(name: string, shape: readonly number[], rank: number): Float32Array | undefined {
  const a = /\.lora_A\.(content|style)\.weight$/.exec(name);
  if (a) return orthogonalDownProjections(shape[1], rank, 0)[a[1] as 'content' | 'style'].slice();
  if (/\.lora_B\./.test(name)) return randomWeight(name, shape).map((v) => v * 0.01);
  return undefined;
}

/**
 * What scripts/peer/worker.py builds its model from (case.json); `case` names the case for the engine's
 * worker; `foreach`: PyTorch's AdamW in its foreach form (else one tensor at a time).
 */
export function caseSpec(c: CaseDef, b: Built, threads: number, foreach: boolean): Record<string, unknown> {
  return {
    case: c.key,
    kind: c.kind,
    threads,
    unet: b.unet,
    text: b.text,
    loss: c.kind === 'lora' ? 'pair' : 'mse',
    lora:
      c.kind === 'lora'
        ? [
            { name: 'content', rank: b.rank, trainRows: 'train_rows.content' },
            { name: 'style', rank: b.rank },
          ]
        : [],
    trainable: c.kind === 'forward' ? [] : b.graph.trainableParams().map((p) => p.node.name!),
    optimizer: { ...b.optimizer, foreach },
    attention: 'plain',
  };
}

/**
 * Bytes each engine is expected to hold, from the weights W: PairStyle ~2.2 W for constant weights (as
 * measured by bench:models), PyTorch ~W; the full-weight step ~5 W in each (parameters, gradients,
 * AdamW's two moments and the EMA); each with the training step's activations on top. PyTorch's AdamW
 * in its foreach form (`foreach`) makes two more copies of the moment's size (the square root of the
 * second moment and the denominator), after the backward has freed the activations: 7 W at its peak.
 */
export function memoryEstimate(c: CaseDef, graph: G.Graph, foreach: boolean): { ours: number; peer: number } {
  const w = 4 * [...graph.params.values()].reduce((a, t) => a + t.size, 0);
  const tokens = c.arch === 'sd15' ? c.latent * c.latent : 64;
  const activations = c.kind === 'forward' ? 0 : (tokens / 1024) * (c.arch === 'sd15' ? 3 : 0.01) * 2 ** 30;
  if (c.kind !== 'full') return { ours: 2.2 * w + activations, peer: w + activations };
  return { ours: 5 * w + activations, peer: Math.max(5 * w + activations, foreach ? 7 * w : 0) };
}
