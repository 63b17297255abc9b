/**
 * transformers' CLIPTextModel traced into the expression graph: token + position embeddings, pre-LN
 * encoder layers with causal self-attention, final LayerNorm -> last_hidden_state. Parameters are named
 * `${prefix}text_model.…` as in the transformers state dict (prefix default 'text_encoder.').
 */
import {
  add,
  cast,
  gather,
  Graph,
  GraphError,
  linear,
  mul,
  reduceSum,
  sigmoid,
  gelu,
  slice,
  unsqueeze,
  type DType,
  type Shape,
  type Tensor,
} from '../graph/index.ts';
import { f32ToF16 } from '../formats/float16.ts';
import { multiHeadAttention } from './attention.ts';
import { layerNormLayer, linearLayer } from './layers.ts';
import { CheckpointError } from './checkpoint-error.ts';

export interface CLIPTextConfig {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  max_position_embeddings: number;
  hidden_act: 'quick_gelu' | 'gelu';
  layer_norm_eps: number;
  /** CLIPTextModelWithProjection only (SDXL's text_encoder_2): width of text_projection (no bias). */
  projection_dim?: number;
}

/** openai/clip-vit-large-patch14 text tower (SD 1.5's text_encoder/config.json). */
export const SD15_TEXT_CONFIG: CLIPTextConfig = {
  vocab_size: 49408,
  hidden_size: 768,
  intermediate_size: 3072,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  max_position_embeddings: 77,
  hidden_act: 'quick_gelu',
  layer_norm_eps: 1e-5,
};

/** The embedded emoji model's text encoder, less its vocabulary size (the word tokenizer decides it). */
/** SDXL base's text encoders: CLIP ViT-L/14 as above, and OpenCLIP ViT-bigG/14 with its projection. */
export const SDXL_TEXT_CONFIG: CLIPTextConfig = SD15_TEXT_CONFIG;
export const SDXL_TEXT_2_CONFIG: CLIPTextConfig = {
  vocab_size: 49408,
  hidden_size: 1280,
  intermediate_size: 5120,
  num_hidden_layers: 32,
  num_attention_heads: 20,
  max_position_embeddings: 77,
  hidden_act: 'gelu',
  layer_norm_eps: 1e-5,
  projection_dim: 1280,
};

export const EMOJI_MINI_TEXT_CONFIG: Omit<CLIPTextConfig, 'vocab_size'> = {
  hidden_size: 128,
  intermediate_size: 512,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  max_position_embeddings: 16,
  hidden_act: 'quick_gelu',
  layer_norm_eps: 1e-5,
};

export const emojiMiniTextConfig = (vocabSize: number): CLIPTextConfig => ({ ...EMOJI_MINI_TEXT_CONFIG, vocab_size: vocabSize });

export interface CLIPTextOptions {
  /** Parameter name prefix (default 'text_encoder.'). */
  prefix?: string;
}

/** Added to attention scores above the diagonal (softmax weight exactly 0 in float32). */
export const CAUSAL_MASK_VALUE = -1e9;

/** quick_gelu(x) = x * sigmoid(1.702 x). */
export const quickGelu = (x: Tensor): Tensor => mul(x, sigmoid(mul(x, 1.702)));

/** [T, T] constant: 0 on and below the diagonal, CAUSAL_MASK_VALUE above (-Infinity in float16). */
export function causalMask(g: Graph, t: number, dtype: DType = 'float32'): Tensor {
  const m = new Float32Array(t * t);
  for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) m[i * t + j] = CAUSAL_MASK_VALUE;
  return g.constant(dtype === 'float16' ? f32ToF16(m) : m, [t, t], dtype);
}

export interface CLIPTextStates {
  /** last_hidden_state (after final_layer_norm) [B, T, hidden]. */
  last: Tensor;
  /** hidden_states[-2]: the input of the last encoder layer, no final norm [B, T, hidden] (SDXL's states). */
  penultimate: Tensor;
  /**
   * With `eosMask`: transformers' pooled output, last_hidden_state at the end-of-text token, through
   * text_projection when the config has projection_dim (CLIPTextModelWithProjection's text_embeds) [B, P].
   */
  pooled?: Tensor;
}

/**
 * Token ids int64 [B, T] (T <= max_position_embeddings) -> the encoder's states. `eosMask` (float32
 * [B, T], one-hot at each row's first end-of-text token) selects the pooled token.
 */
export function clipTextStates(
  g: Graph,
  cfg: CLIPTextConfig,
  inputIds: Tensor,
  opts: CLIPTextOptions & { eosMask?: Tensor; dtype?: DType } = {},
): CLIPTextStates {
  const prefix = opts.prefix ?? 'text_encoder.';
  const p = `${prefix}text_model`;
  const [b, t] = inputIds.shape;
  const d = cfg.hidden_size;
  if (inputIds.graph !== g) throw new GraphError('CLIP text: input_ids belong to another graph');
  if (inputIds.rank !== 2 || (inputIds.dtype !== 'int64' && inputIds.dtype !== 'int32'))
    throw new GraphError(`CLIP text: input_ids must be int64 [B, T], got ${inputIds}`);
  if (t > cfg.max_position_embeddings) throw new GraphError(`CLIP text: ${t} tokens, but max_position_embeddings is ${cfg.max_position_embeddings}`);
  if (d % cfg.num_attention_heads) throw new GraphError(`CLIP text: hidden_size ${d} does not split into ${cfg.num_attention_heads} heads`);
  if (cfg.num_hidden_layers < 1) throw new GraphError('CLIP text: num_hidden_layers must be at least 1');

  const tokens = gather(g.param(`${p}.embeddings.token_embedding.weight`, [cfg.vocab_size, d]), inputIds);
  const positions = slice(g.param(`${p}.embeddings.position_embedding.weight`, [cfg.max_position_embeddings, d]), [0], [t], [0]);
  // The embedding tables stay float32; the layers run in `dtype` (their weights follow their input's).
  let h = cast(add(tokens, unsqueeze(positions, 0)), opts.dtype ?? 'float32');
  const mask = causalMask(g, t, h.dtype);
  const act = cfg.hidden_act === 'quick_gelu' ? quickGelu : (x: Tensor) => gelu(x);

  let penultimate = h;
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    if (i === cfg.num_hidden_layers - 1) penultimate = h;
    const l = `${p}.encoder.layers.${i}`;
    const x = layerNormLayer(h, `${l}.layer_norm1`, cfg.layer_norm_eps);
    const q = linearLayer(x, `${l}.self_attn.q_proj`, d);
    const k = linearLayer(x, `${l}.self_attn.k_proj`, d);
    const v = linearLayer(x, `${l}.self_attn.v_proj`, d);
    h = add(h, linearLayer(multiHeadAttention(q, k, v, cfg.num_attention_heads, mask), `${l}.self_attn.out_proj`, d));
    const y = layerNormLayer(h, `${l}.layer_norm2`, cfg.layer_norm_eps);
    h = add(h, linearLayer(act(linearLayer(y, `${l}.mlp.fc1`, cfg.intermediate_size)), `${l}.mlp.fc2`, d));
  }
  const last = layerNormLayer(h, `${p}.final_layer_norm`, cfg.layer_norm_eps);
  if (!opts.eosMask) return { last, penultimate };
  if (opts.eosMask.shape.join() !== `${b},${t}`) throw new GraphError(`CLIP text: eos mask must be [${b}, ${t}], got [${opts.eosMask.shape}]`);
  let pooled = reduceSum(mul(last, unsqueeze(cast(opts.eosMask, last.dtype), 2)), 1);
  if (cfg.projection_dim) pooled = linear(pooled, g.param(`${prefix}text_projection.weight`, [cfg.projection_dim, d], pooled.dtype));
  return { last, penultimate, pooled };
}

/** Token ids int64 [B, T] -> last_hidden_state float32 [B, T, hidden]. */
export function clipTextModel(g: Graph, cfg: CLIPTextConfig, inputIds: Tensor, opts: CLIPTextOptions = {}): Tensor {
  return clipTextStates(g, cfg, inputIds, opts).last;
}

/** One-hot [B, T] at each row's first end-of-text token: transformers' argmax over the ids (EOS is the largest id). */
export function eosMaskOf(ids: ArrayLike<number | bigint>, batch: number, t: number): Float32Array {
  const m = new Float32Array(batch * t);
  for (let r = 0; r < batch; r++) {
    let best = 0;
    for (let j = 1; j < t; j++) if (ids[r * t + j] > ids[r * t + best]) best = j;
    m[r * t + best] = 1;
  }
  return m;
}

/** Every parameter (name -> shape), traced symbolically; position_ids (a buffer) is not a parameter. */
export function clipTextParamShapes(cfg: CLIPTextConfig, opts: CLIPTextOptions = {}): Map<string, Shape> {
  const g = new Graph();
  const t = cfg.max_position_embeddings;
  clipTextStates(g, cfg, g.input('input_ids', [1, t], 'int64'), { ...opts, eosMask: cfg.projection_dim ? g.input('eos_mask', [1, t]) : undefined });
  return new Map([...g.params].map(([name, t]) => [name, t.shape]));
}

/**
 * text_encoder/config.json (transformers CLIPTextConfig) -> CLIPTextConfig. projection_dim is kept only
 * for CLIPTextModelWithProjection (every CLIP text config has the field, plain CLIPTextModel ignores it).
 */
export function textConfigFromJson(j: Record<string, unknown>, where = 'text_encoder/config.json'): CLIPTextConfig {
  const num = (k: string, fallback?: number) => {
    const v = j[k] ?? fallback;
    if (typeof v !== 'number') throw new CheckpointError(`${where}: no number "${k}"`);
    return v;
  };
  const act = (j.hidden_act ?? 'quick_gelu') as CLIPTextConfig['hidden_act'];
  if (act !== 'quick_gelu' && act !== 'gelu') throw new CheckpointError(`${where}: hidden_act ${JSON.stringify(act)} is not supported (quick_gelu, gelu)`);
  return {
    vocab_size: num('vocab_size', 49408),
    hidden_size: num('hidden_size', 512),
    intermediate_size: num('intermediate_size', 2048),
    num_hidden_layers: num('num_hidden_layers', 12),
    num_attention_heads: num('num_attention_heads', 8),
    max_position_embeddings: num('max_position_embeddings', 77),
    hidden_act: act,
    layer_norm_eps: num('layer_norm_eps', 1e-5),
    ...(Array.isArray(j.architectures) && j.architectures.includes('CLIPTextModelWithProjection') ? { projection_dim: num('projection_dim') } : {}),
  };
}
