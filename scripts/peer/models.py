"""The project's models written in PyTorch, for the peer benchmark (npm run bench:peer).

Written from the project's architecture (src/models: unet.ts, resnet.ts, transformer-2d.ts,
attention.ts, lora.ts, timestep-embedding.ts, clip-text.ts), with the same parameter names (diffusers'
and transformers' state-dict names), so that one safetensors file of weights loads into both engines.

- UNet2DConditionModel (SD 1.x layout: 1x1-conv projections, cross-attention down/up blocks, the
  cross-attention mid block), ResnetBlock2D, Transformer2DModel with BasicTransformerBlocks (GEGLU).
- LoRA as the pair method uses it: adapters on to_q, to_k, to_v and to_out.0 of every attention,
  y = W x (+ b) + sum_a gate_a[row] * B_a (A_a x); an adapter with train rows sends its B gradient only
  from those rows (ContentLoRA in the style row), while its output and the gradient to x flow in every
  row. Here that is one matrix product with a row-masked weight gradient (RowMaskedLinear) where the
  project's graph runs two products (one through a gradient-stopped B).
- CLIPTextModel (causal self-attention, quick_gelu), for the pretraining step.
- Attention: "plain" (bmm, softmax, bmm; the probabilities kept for the backward) or "chunked" (over
  queries, each chunk under torch.utils.checkpoint: the probabilities of a chunk are recomputed in the
  backward and never stored for the whole sequence). PyTorch 1.13 has no scaled_dot_product_attention.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint


class Runtime:
    """What every layer reads at run time: the LoRA gates and train rows, and the attention kind."""

    def __init__(self):
        self.gates = {}
        self.train_rows = {}
        self.attention = "plain"
        self.chunk = 1024


class _Weight(nn.Module):
    def __init__(self, *shape):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(*shape))


class RowMaskedLinear(torch.autograd.Function):
    """y = x W^T; the gradient of W only from the rows whose mask is 1, the gradient of x from all."""

    @staticmethod
    def forward(ctx, x, w, mask):
        ctx.save_for_backward(x, w, mask)
        return F.linear(x, w)

    @staticmethod
    def backward(ctx, gy):
        x, w, mask = ctx.saved_tensors
        gx = gy @ w if ctx.needs_input_grad[0] else None
        gw = None
        if ctx.needs_input_grad[1]:
            masked = gy * mask.reshape([-1] + [1] * (gy.dim() - 1))
            gw = masked.reshape(-1, gy.shape[-1]).t() @ x.reshape(-1, x.shape[-1])
        return gx, gw, None


class LoraLinear(nn.Module):
    """nn.Linear (weight [out, in], optional bias) plus the runtime's LoRA adapters (names lora_A.<a>, lora_B.<a>)."""

    def __init__(self, rt, in_dim, out_dim, bias, adapters):
        super().__init__()
        self.rt = rt
        self.weight = nn.Parameter(torch.zeros(out_dim, in_dim))
        self.bias = nn.Parameter(torch.zeros(out_dim)) if bias else None
        self.adapters = [a for a, _ in adapters]
        if adapters:
            self.lora_A = nn.ModuleDict({a: _Weight(r, in_dim) for a, r in adapters})
            self.lora_B = nn.ModuleDict({a: _Weight(out_dim, r) for a, r in adapters})

    def forward(self, x):
        y = F.linear(x, self.weight, self.bias)
        for a in self.adapters:
            down = F.linear(x, self.lora_A[a].weight)
            rows = self.rt.train_rows.get(a)
            b = self.lora_B[a].weight
            up = RowMaskedLinear.apply(down, b, rows) if rows is not None else F.linear(down, b)
            y = y + up * self.rt.gates[a].reshape([-1] + [1] * (x.dim() - 1))
        return y


def attention_core(q, k, v, rt):
    """q [BH, N, d] (already scaled), k and v [BH, M, d] -> [BH, N, d]."""
    if rt.attention == "plain" or q.shape[1] <= rt.chunk:
        return torch.bmm(torch.bmm(q, k.transpose(1, 2)).softmax(-1), v)

    def block(qc, k_, v_):
        return torch.bmm(torch.bmm(qc, k_.transpose(1, 2)).softmax(-1), v_)

    grad = torch.is_grad_enabled() and (q.requires_grad or k.requires_grad or v.requires_grad)
    parts = []
    for s in range(0, q.shape[1], rt.chunk):
        qc = q[:, s : s + rt.chunk]
        parts.append(checkpoint(block, qc, k, v, use_reentrant=False) if grad else block(qc, k, v))
    return torch.cat(parts, 1)


class Attention(nn.Module):
    """diffusers Attention: to_q, to_k, to_v without bias, to_out.0 with bias; heads split the width."""

    def __init__(self, rt, dim, ctx_dim, heads, adapters):
        super().__init__()
        self.rt = rt
        self.heads = heads
        self.to_q = LoraLinear(rt, dim, dim, False, adapters)
        self.to_k = LoraLinear(rt, ctx_dim, dim, False, adapters)
        self.to_v = LoraLinear(rt, ctx_dim, dim, False, adapters)
        self.to_out = nn.ModuleList([LoraLinear(rt, dim, dim, True, adapters)])

    def forward(self, x, ctx=None):
        ctx = x if ctx is None else ctx
        b, n, c = x.shape
        m = ctx.shape[1]
        h = self.heads
        d = c // h
        q = (self.to_q(x) * (1 / math.sqrt(d))).reshape(b, n, h, d).transpose(1, 2).reshape(b * h, n, d)
        k = self.to_k(ctx).reshape(b, m, h, d).transpose(1, 2).reshape(b * h, m, d)
        v = self.to_v(ctx).reshape(b, m, h, d).transpose(1, 2).reshape(b * h, m, d)
        o = attention_core(q, k, v, self.rt).reshape(b, h, n, d).transpose(1, 2).reshape(b, n, c)
        return self.to_out[0](o)


class GEGLU(nn.Module):
    def __init__(self, dim, inner):
        super().__init__()
        self.proj = nn.Linear(dim, 2 * inner)

    def forward(self, x):
        h, gate = self.proj(x).chunk(2, dim=-1)
        return h * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.net = nn.ModuleList([GEGLU(dim, 4 * dim), nn.Identity(), nn.Linear(4 * dim, dim)])

    def forward(self, x):
        return self.net[2](self.net[0](x))


class BasicTransformerBlock(nn.Module):
    def __init__(self, rt, dim, ctx_dim, heads, adapters):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.attn1 = Attention(rt, dim, dim, heads, adapters)
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.attn2 = Attention(rt, dim, ctx_dim, heads, adapters)
        self.norm3 = nn.LayerNorm(dim, eps=1e-5)
        self.ff = FeedForward(dim)

    def forward(self, x, ctx):
        h = self.attn1(self.norm1(x)) + x
        h = self.attn2(self.norm2(h), ctx) + h
        return self.ff(self.norm3(h)) + h


class Transformer2DModel(nn.Module):
    """GroupNorm(eps 1e-6) -> proj_in (1x1 conv, run as a matrix product on tokens) -> blocks -> proj_out -> + x."""

    def __init__(self, rt, c, ctx_dim, heads, layers, groups, adapters):
        super().__init__()
        self.norm = nn.GroupNorm(groups, c, eps=1e-6)
        self.proj_in = nn.Conv2d(c, c, 1)
        self.transformer_blocks = nn.ModuleList([BasicTransformerBlock(rt, c, ctx_dim, heads, adapters) for _ in range(layers)])
        self.proj_out = nn.Conv2d(c, c, 1)

    def forward(self, x, ctx):
        b, c, hh, ww = x.shape
        t = self.norm(x).permute(0, 2, 3, 1).reshape(b, hh * ww, c)
        t = F.linear(t, self.proj_in.weight.reshape(c, c), self.proj_in.bias)
        for blk in self.transformer_blocks:
            t = blk(t, ctx)
        t = F.linear(t, self.proj_out.weight.reshape(c, c), self.proj_out.bias)
        return t.reshape(b, hh, ww, c).permute(0, 3, 1, 2) + x


class ResnetBlock2D(nn.Module):
    def __init__(self, cin, cout, temb, groups, eps):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=eps)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps=eps)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (x if self.conv_shortcut is None else self.conv_shortcut(x)) + h


class _Sampler(nn.Module):
    def __init__(self, c, stride):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=stride, padding=1)


class _Block(nn.Module):
    pass


class TimestepEmbedding(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.linear_1 = nn.Linear(cin, cout)
        self.linear_2 = nn.Linear(cout, cout)

    def forward(self, x):
        return self.linear_2(F.silu(self.linear_1(x)))


def _per_block(v, n):
    return [v] * n if isinstance(v, int) else list(v)


class UNet2DConditionModel(nn.Module):
    """cfg: the project's UNet2DConditionConfig (diffusers' config.json names); adapters: [(name, rank)]."""

    def __init__(self, cfg, rt, adapters=()):
        super().__init__()
        if cfg.get("use_linear_projection"):
            raise ValueError("peer UNet: only the SD 1.x layout (1x1-conv projections) is written here")
        self.cfg = cfg
        self.rt = rt
        ch = cfg["block_out_channels"]
        n = len(ch)
        heads_cfg = cfg.get("num_attention_heads") or cfg["attention_head_dim"]
        heads = _per_block(heads_cfg, n)
        layers = _per_block(cfg["layers_per_block"], n)
        tlayers = _per_block(cfg.get("transformer_layers_per_block", 1), n)
        groups, eps, ctx_dim = cfg["norm_num_groups"], cfg["norm_eps"], cfg["cross_attention_dim"]
        temb = 4 * ch[0]
        half = ch[0] // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float64) / (half - cfg["freq_shift"])).float()
        self.register_buffer("freqs", freqs, persistent=False)
        self.time_embedding = TimestepEmbedding(ch[0], temb)
        self.conv_in = nn.Conv2d(cfg["in_channels"], ch[0], 3, padding=1)

        def transformer(c, level):
            return Transformer2DModel(rt, c, ctx_dim, heads[level], tlayers[level], groups, adapters)

        skips = [ch[0]]
        cur = ch[0]
        self.down_blocks = nn.ModuleList()
        for i in range(n):
            blk = _Block()
            cross = cfg["down_block_types"][i] == "CrossAttnDownBlock2D"
            blk.resnets = nn.ModuleList()
            blk.attentions = nn.ModuleList() if cross else None
            for _ in range(layers[i]):
                blk.resnets.append(ResnetBlock2D(cur, ch[i], temb, groups, eps))
                cur = ch[i]
                if cross:
                    blk.attentions.append(transformer(cur, i))
                skips.append(cur)
            blk.downsamplers = nn.ModuleList([_Sampler(cur, 2)]) if i < n - 1 else None
            if i < n - 1:
                skips.append(cur)
            self.down_blocks.append(blk)
        self.mid_block = _Block()
        self.mid_block.resnets = nn.ModuleList([ResnetBlock2D(cur, cur, temb, groups, eps), ResnetBlock2D(cur, cur, temb, groups, eps)])
        self.mid_block.attentions = nn.ModuleList([transformer(cur, n - 1)])
        self.up_blocks = nn.ModuleList()
        for i in range(n):
            level = n - 1 - i
            blk = _Block()
            cross = cfg["up_block_types"][i] == "CrossAttnUpBlock2D"
            blk.resnets = nn.ModuleList()
            blk.attentions = nn.ModuleList() if cross else None
            for _ in range(layers[level] + 1):
                blk.resnets.append(ResnetBlock2D(cur + skips.pop(), ch[level], temb, groups, eps))
                cur = ch[level]
                if cross:
                    blk.attentions.append(transformer(cur, level))
            blk.upsamplers = nn.ModuleList([_Sampler(cur, 1)]) if i < n - 1 else None
            self.up_blocks.append(blk)
        self.conv_norm_out = nn.GroupNorm(groups, ch[0], eps=eps)
        self.conv_out = nn.Conv2d(ch[0], cfg["out_channels"], 3, padding=1)

    def forward(self, sample, timestep, ctx):
        args = timestep.float()[:, None] * self.freqs[None]
        sin_cos = [torch.cos(args), torch.sin(args)] if self.cfg["flip_sin_to_cos"] else [torch.sin(args), torch.cos(args)]
        temb = self.time_embedding(torch.cat(sin_cos, 1))
        h = self.conv_in(sample)
        skips = [h]
        for blk in self.down_blocks:
            for j, res in enumerate(blk.resnets):
                h = res(h, temb)
                if blk.attentions is not None:
                    h = blk.attentions[j](h, ctx)
                skips.append(h)
            if blk.downsamplers is not None:
                h = blk.downsamplers[0].conv(h)
                skips.append(h)
        h = self.mid_block.resnets[0](h, temb)
        h = self.mid_block.attentions[0](h, ctx)
        h = self.mid_block.resnets[1](h, temb)
        for blk in self.up_blocks:
            for j, res in enumerate(blk.resnets):
                h = res(torch.cat([h, skips.pop()], 1), temb)
                if blk.attentions is not None:
                    h = blk.attentions[j](h, ctx)
            if blk.upsamplers is not None:
                h = blk.upsamplers[0].conv(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.conv_norm_out(h)))


class _ClipLayer(nn.Module):
    def __init__(self, d, inner, eps):
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(d, eps=eps)
        self.self_attn = _Block()
        for p in ("q_proj", "k_proj", "v_proj", "out_proj"):
            setattr(self.self_attn, p, nn.Linear(d, d))
        self.layer_norm2 = nn.LayerNorm(d, eps=eps)
        self.mlp = _Block()
        self.mlp.fc1 = nn.Linear(d, inner)
        self.mlp.fc2 = nn.Linear(inner, d)


class CLIPTextModel(nn.Module):
    """transformers' CLIPTextModel -> last_hidden_state; parameters under text_model."""

    def __init__(self, cfg):
        super().__init__()
        if cfg["hidden_act"] != "quick_gelu":
            raise ValueError("peer CLIP text: only quick_gelu is written here")
        d = cfg["hidden_size"]
        self.cfg = cfg
        self.text_model = _Block()
        self.text_model.embeddings = _Block()
        self.text_model.embeddings.token_embedding = nn.Embedding(cfg["vocab_size"], d)
        self.text_model.embeddings.position_embedding = nn.Embedding(cfg["max_position_embeddings"], d)
        self.text_model.encoder = _Block()
        eps = cfg["layer_norm_eps"]
        self.text_model.encoder.layers = nn.ModuleList([_ClipLayer(d, cfg["intermediate_size"], eps) for _ in range(cfg["num_hidden_layers"])])
        self.text_model.final_layer_norm = nn.LayerNorm(d, eps=eps)

    def forward(self, ids):
        tm = self.text_model
        b, t = ids.shape
        d = self.cfg["hidden_size"]
        heads = self.cfg["num_attention_heads"]
        hd = d // heads
        h = tm.embeddings.token_embedding(ids) + tm.embeddings.position_embedding.weight[:t][None]
        mask = torch.full((t, t), -1e9, device=ids.device).triu(1)
        for layer in tm.encoder.layers:
            x = layer.layer_norm1(h)
            sa = layer.self_attn

            def split(y):
                return y.reshape(b, t, heads, hd).transpose(1, 2)

            q = split(sa.q_proj(x) * (1 / math.sqrt(hd)))
            scores = q @ split(sa.k_proj(x)).transpose(-1, -2) + mask
            o = (scores.softmax(-1) @ split(sa.v_proj(x))).transpose(1, 2).reshape(b, t, d)
            h = h + sa.out_proj(o)
            y = layer.mlp.fc1(layer.layer_norm2(h))
            h = h + layer.mlp.fc2(y * torch.sigmoid(1.702 * y))
        return tm.final_layer_norm(h)
