/**
 * transformers' CLIPTextModel traced into the expression graph: token + position embeddings, pre-LN
 * encoder layers with causal self-attention, final LayerNorm -> last_hidden_state. Parameters are named
 * `${prefix}text_model.…` as in the transformers state dict (prefix default 'text_encoder.').
 */
import { add, gather, Graph, GraphError, mul, sigmoid, gelu, slice, unsqueeze, type Shape, type Tensor } from '../graph/index.ts';
import { multiHeadAttention } from './attention.ts';
import { layerNormLayer, linearLayer } from './layers.ts';

export interface CLIPTextConfig {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  max_position_embeddings: number;
  hidden_act: 'quick_gelu' | 'gelu';
  layer_norm_eps: number;
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

/** [T, T] float32 constant: 0 on and below the diagonal, CAUSAL_MASK_VALUE above. */
export function causalMask(g: Graph, t: number): Tensor {
  const m = new Float32Array(t * t);
  for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) m[i * t + j] = CAUSAL_MASK_VALUE;
  return g.constant(m, [t, t], 'float32');
}

/** Token ids int64 [B, T] (T <= max_position_embeddings) -> last_hidden_state float32 [B, T, hidden]. */
export function clipTextModel(g: Graph, cfg: CLIPTextConfig, inputIds: Tensor, opts: CLIPTextOptions = {}): Tensor {
  const p = `${opts.prefix ?? 'text_encoder.'}text_model`;
  const [, t] = inputIds.shape;
  const d = cfg.hidden_size;
  if (inputIds.graph !== g) throw new GraphError('CLIP text: input_ids belong to another graph');
  if (inputIds.rank !== 2 || (inputIds.dtype !== 'int64' && inputIds.dtype !== 'int32')) throw new GraphError(`CLIP text: input_ids must be int64 [B, T], got ${inputIds}`);
  if (t > cfg.max_position_embeddings) throw new GraphError(`CLIP text: ${t} tokens, but max_position_embeddings is ${cfg.max_position_embeddings}`);
  if (d % cfg.num_attention_heads) throw new GraphError(`CLIP text: hidden_size ${d} does not split into ${cfg.num_attention_heads} heads`);

  const tokens = gather(g.param(`${p}.embeddings.token_embedding.weight`, [cfg.vocab_size, d]), inputIds);
  const positions = slice(g.param(`${p}.embeddings.position_embedding.weight`, [cfg.max_position_embeddings, d]), [0], [t], [0]);
  let h = add(tokens, unsqueeze(positions, 0));
  const mask = causalMask(g, t);
  const act = cfg.hidden_act === 'quick_gelu' ? quickGelu : (x: Tensor) => gelu(x);

  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const l = `${p}.encoder.layers.${i}`;
    const x = layerNormLayer(h, `${l}.layer_norm1`, cfg.layer_norm_eps);
    const q = linearLayer(x, `${l}.self_attn.q_proj`, d);
    const k = linearLayer(x, `${l}.self_attn.k_proj`, d);
    const v = linearLayer(x, `${l}.self_attn.v_proj`, d);
    h = add(h, linearLayer(multiHeadAttention(q, k, v, cfg.num_attention_heads, mask), `${l}.self_attn.out_proj`, d));
    const y = layerNormLayer(h, `${l}.layer_norm2`, cfg.layer_norm_eps);
    h = add(h, linearLayer(act(linearLayer(y, `${l}.mlp.fc1`, cfg.intermediate_size)), `${l}.mlp.fc2`, d));
  }
  return layerNormLayer(h, `${p}.final_layer_norm`, cfg.layer_norm_eps);
}

/** Every parameter (name -> shape), traced symbolically; position_ids (a buffer) is not a parameter. */
export function clipTextParamShapes(cfg: CLIPTextConfig, opts: CLIPTextOptions = {}): Map<string, Shape> {
  const g = new Graph();
  clipTextModel(g, cfg, g.input('input_ids', [1, cfg.max_position_embeddings], 'int64'), opts);
  return new Map([...g.params].map(([name, t]) => [name, t.shape]));
}
