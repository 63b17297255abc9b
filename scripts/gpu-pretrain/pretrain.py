"""Pretraining of emoji-mini in PyTorch, for a host with a GPU (the CPU path is for checking it).

    python3 scripts/gpu-pretrain/pretrain.py --data data/gpu-pretrain --out OUT [--init models/emoji-mini | scratch]
        [--batch 1024] [--lr 3e-4] [--warmup 300] [--seconds 400] [--max-steps N] [--ema-decay 0.999] [--seed 1]

The same objective as `npm run pretrain` (scripts/pretrain.ts, scripts/lib/pretrain-step.ts): the models
of scripts/peer/models.py (the project's UNet2DConditionModel and CLIPTextModel with the checkpoint's
parameter names), the pixel codec (pixel unshuffle by 2 of RGB scaled to [-1, 1]), the DDPM linear
schedule with v-prediction, MSE; pictures drawn with the weights and captions that
scripts/gpu-pretrain/export-data.ts wrote (emoji share, every caption captionFor can give, 10% caption
dropout), random horizontal flips; AdamW (weight decay 0.01), linear warm-up then cosine decay to 10%,
gradient clipping at norm 1, EMA weights with warm-up. bf16 autocast on CUDA.

The run is bounded by time: after 50 timed steps the total number of steps is fixed at what fits in
--seconds (or --max-steps, whichever is fewer), and the cosine decay runs over that total. The EMA
weights are written (float16 safetensors) every --checkpoint-seconds and at the end, with train.json
(steps, batch, losses, timings); scripts/gpu-pretrain/import.ts makes a model folder of them.
--init: a model folder whose weights start the run (token embeddings carried over by word with the
export's token_map.i32, new words at the mean embedding), or 'scratch' (PyTorch's default
initialisation, as src/models/init.ts does).
"""

import argparse
import gzip
import json
import math
import os
import re
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peer"))
from models import CLIPTextModel, Runtime, UNet2DConditionModel  # noqa: E402
from safetensors_io import load_into, write_safetensors  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--data", default="data/gpu-pretrain")
p.add_argument("--out", required=True)
p.add_argument("--init", default="models/emoji-mini")
p.add_argument("--batch", type=int, default=1024)
p.add_argument("--lr", type=float, default=3e-4)
p.add_argument("--warmup", type=int, default=300)
p.add_argument("--seconds", type=float, default=400)
p.add_argument("--max-steps", type=int, default=1_000_000)
p.add_argument("--ema-decay", type=float, default=0.999)
p.add_argument("--seed", type=int, default=1)
p.add_argument("--checkpoint-seconds", type=float, default=60)
p.add_argument("--log-every", type=int, default=100)
args = p.parse_args()

t_start = time.time()
dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
torch.manual_seed(args.seed)
if dev.type == "cuda":
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
os.makedirs(args.out, exist_ok=True)
meta = json.load(open(os.path.join(args.data, "meta.json")))


def read(name, dtype):
    """An array export-data.ts wrote (NAME.gz, little-endian)."""
    with gzip.open(os.path.join(args.data, name + ".gz"), "rb") as f:
        return np.frombuffer(f.read(), dtype=dtype).copy()


n, h, w, ctx_len = meta["count"], meta["height"], meta["width"], meta["contextLength"]
pixels = torch.from_numpy(read("pixels.u8", np.uint8).reshape(n, h, w, 3).copy()).to(dev)
item_weight = torch.from_numpy(read("item_weight.f64", np.float64)).to(dev)
captions = torch.from_numpy(read("captions.i32", np.int32).astype(np.int64).reshape(-1, ctx_len)).to(dev)
caption_item = read("caption_item.i32", np.int32).astype(np.int64)
caption_weight = read("caption_weight.f64", np.float64)
empty = torch.from_numpy(read("empty.i32", np.int32).astype(np.int64)).to(dev)
# Caption keys: picture index + the cumulative probability of its captions, normalised so that each
# picture's last caption ends at index + 1; a caption of picture i is drawn as searchsorted(keys, i + u).
item_totals = np.bincount(caption_item, weights=caption_weight, minlength=n)
within = np.zeros_like(caption_weight)
run = 0.0
for c in range(len(caption_weight)):
    run = 0.0 if c == 0 or caption_item[c] != caption_item[c - 1] else run
    run += caption_weight[c]
    within[c] = run / item_totals[caption_item[c]]
keys = torch.from_numpy(caption_item + within).to(dev)

# ---- the schedule: DDPM linear betas, v-prediction
sched = meta["schedule"]
T = sched["num_train_timesteps"]
betas = torch.linspace(sched["beta_start"], sched["beta_end"], T, dtype=torch.float64)
alpha_bar = torch.cumprod(1 - betas, 0)
sqrt_ab = alpha_bar.sqrt().float().to(dev)
sqrt_1mab = (1 - alpha_bar).sqrt().float().to(dev)
assert sched["prediction_type"] == "v_prediction"

# ---- the models
rt = Runtime()
unet = UNet2DConditionModel(meta["unet"], rt).to(dev)
text = CLIPTextModel(meta["text"]).to(dev)
params = {**{f"unet.{k}": v for k, v in unet.named_parameters()}, **{f"text_encoder.{k}": v for k, v in text.named_parameters()}}
TOKEN_EMBEDDING = "text_encoder.text_model.embeddings.token_embedding.weight"


def init_scratch():
    """PyTorch's default initialisation by name (src/models/init.ts): norms 1/0, embeddings N(0, 0.02) (positions 0.01), others U(+-1/sqrt(fan_in))."""
    with torch.no_grad():
        for name, t in params.items():
            owner = name.split(".")[-2]  # the module that holds the parameter, as isNorm in src/models/init.ts reads it
            if re.fullmatch(r"norm\w*|layer_norm\d?|final_layer_norm|conv_norm_out", owner):
                t.fill_(1.0 if name.endswith(".weight") else 0.0)
            elif name.endswith("embedding.weight"):
                t.normal_(0, 0.01 if "position" in name else 0.02)
            else:
                wt = params[name[: -len(".bias")] + ".weight"] if name.endswith(".bias") else t
                fan_in = int(np.prod(wt.shape[1:])) if wt.dim() > 1 else 1
                bound = 1 / math.sqrt(fan_in)
                t.uniform_(-bound, bound)


def init_from_folder(folder):
    """The folder's weights; the token embedding carried over by word (token_map.i32), new words at the mean."""
    if os.path.normpath(meta["initFrom"]) != os.path.normpath(folder):
        raise SystemExit(f"{args.data}'s token map was made for {meta['initFrom']}, not {folder}: run export-data.ts with --init-from {folder}")
    token_map = torch.from_numpy(read("token_map.i32", np.int32).astype(np.int64))
    emb = params[TOKEN_EMBEDDING]
    cfg = json.load(open(os.path.join(folder, "text_encoder", "config.json")))
    old = torch.zeros(cfg["vocab_size"], emb.shape[1], device=dev)
    targets = {k[len("text_encoder.") :]: v for k, v in params.items() if k.startswith("text_encoder.") and k != TOKEN_EMBEDDING}
    targets[TOKEN_EMBEDDING[len("text_encoder.") :]] = old
    extra = load_into(os.path.join(folder, "text_encoder", "model.safetensors"), targets)
    extra += load_into(os.path.join(folder, "unet", "diffusion_pytorch_model.safetensors"), {k[len("unet.") :]: v for k, v in params.items() if k.startswith("unet.")})
    if extra:
        raise SystemExit(f"{folder}: weights this model does not have: {extra[:5]}")
    with torch.no_grad():
        mean = old.mean(0)
        known = token_map >= 0
        emb.copy_(mean.expand_as(emb))
        emb[known.to(dev)] = old[token_map[known].to(dev)]
    return int(known.sum())


if args.init == "scratch":
    init_scratch()
    init_note = "random initialisation (PyTorch defaults, as src/models/init.ts)"
else:
    kept = init_from_folder(args.init)
    init_note = f"the weights of {args.init} ({kept} of {params[TOKEN_EMBEDDING].shape[0]} token embeddings carried over by word)"

fused = dev.type == "cuda"
opt = torch.optim.AdamW(list(params.values()), lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, **({"fused": True} if fused else {}))
ema = {k: v.detach().clone().float() for k, v in params.items()}
ema_keys = list(ema.keys())
ema_list = [ema[k] for k in ema_keys]
param_list = [params[k] for k in ema_keys]


def lr_scale(step, total):
    if step < args.warmup:
        return (step + 1) / args.warmup
    progress = min(1.0, max(0.0, (step - args.warmup) / max(1, total - args.warmup)))
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))


def batch(b):
    items = torch.multinomial(item_weight, b, replacement=True)
    u = torch.rand(b, device=dev, dtype=torch.float64)
    cap = torch.searchsorted(keys, items.double() + u, right=True).clamp_max(len(keys) - 1)
    ids = captions[cap]
    ids = torch.where((torch.rand(b, device=dev) < meta["captionDropout"])[:, None], empty[None], ids)
    px = pixels[items].permute(0, 3, 1, 2).float() / 127.5 - 1
    flip = torch.rand(b, device=dev) < 0.5
    px = torch.where(flip[:, None, None, None], px.flip(3), px)
    x0 = F.pixel_unshuffle(px, 2)
    t = torch.randint(0, T, (b,), device=dev)
    noise = torch.randn_like(x0)
    a, s = sqrt_ab[t][:, None, None, None], sqrt_1mab[t][:, None, None, None]
    return ids, a * x0 + s * noise, t, a * noise - s * x0


def loss_of(ids, xt, t, v):
    with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
        pred = unet(xt, t, text(ids))
    return F.mse_loss(pred.float(), v)


def save(step, total, smooth, timing):
    tensors = {}
    for k in ema_keys:
        prefix, rest = k.split(".", 1)
        tensors.setdefault(prefix, {})[rest] = ema[k].to(torch.float16)
    for prefix, ts in tensors.items():
        write_safetensors(os.path.join(args.out, f"{prefix}.safetensors"), ts, dtype="F16")
    record = {
        "steps": step,
        "plannedSteps": total,
        "batch": args.batch,
        "lr": args.lr,
        "warmup": args.warmup,
        "emaDecay": args.ema_decay,
        "seed": args.seed,
        "from": init_note,
        "meanLoss": smooth,
        "meanLossSteps": timing.get("window", 0),
        "trainingSeconds": timing["train"],
        "wallSeconds": time.time() - t_start,
        "device": torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "samplesPerSecond": timing.get("rate", 0) * args.batch,
        "emojiShare": meta["emojiShare"],
        "pictures": meta["count"],
        "sets": meta["sets"],
        "sourceSha256": meta["sourceSha256"],
        "losses": timing["losses"],
    }
    json.dump(record, open(os.path.join(args.out, "train.json"), "w"), indent=1)


# Loss of the starting weights on a fixed set of batches (the same draws for every run of one seed).
g_state = torch.get_rng_state()
with torch.no_grad():
    torch.manual_seed(12345)
    if dev.type == "cuda":
        torch.cuda.manual_seed(12345)
    start_loss = float(np.mean([loss_of(*batch(min(args.batch, 256))).item() for _ in range(4)]))
torch.set_rng_state(g_state)
print(f"start: {init_note}; loss {start_loss:.4f} on 4 fixed batches; {sum(t.numel() for t in params.values()) / 1e6:.2f} M parameters; device {dev}", flush=True)

total = args.max_steps
smooth = float("nan")  # the mean loss over the last log window (args.log_every steps)
window_sum = torch.zeros((), device=dev)
window_steps = 0
timing = {"train": 0.0, "losses": [{"step": 0, "loss": start_loss}]}
t0 = time.time()
last_save = t0
rate_from = None
step = 0
while step < total:
    ids, xt, t, v = batch(args.batch)
    loss = loss_of(ids, xt, t, v)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(param_list, 1.0)
    for group in opt.param_groups:
        group["lr"] = args.lr * lr_scale(step, total)
    opt.step()
    step += 1
    window_sum += loss.detach()
    window_steps += 1
    d = min(args.ema_decay, (1 + step) / (10 + step))
    with torch.no_grad():
        detached = [q.detach() for q in param_list]
        torch._foreach_mul_(ema_list, d)
        torch._foreach_add_(ema_list, detached, alpha=1 - d)
    if step == 20:
        if dev.type == "cuda":
            torch.cuda.synchronize()
        rate_from = time.time()
    if step == 70 and rate_from is not None:
        if dev.type == "cuda":
            torch.cuda.synchronize()
        rate = 50 / (time.time() - rate_from)
        timing["rate"] = rate
        left = args.seconds - (time.time() - t0)
        total = min(args.max_steps, max(step + 1, int(step + rate * left)))
        print(f"measured {rate:.2f} step/s ({rate * args.batch:.0f} pictures/s) at batch {args.batch}: {total} steps in {args.seconds:.0f} s", flush=True)
    if step % args.log_every == 0 or step == total:
        smooth = window_sum.item() / window_steps
        timing["window"] = window_steps
        window_sum.zero_()
        window_steps = 0
        timing["losses"].append({"step": step, "meanLoss": smooth})
        print(f"step {step}/{total} loss {smooth:.4f} (mean of the last {timing['window']} steps) lr {args.lr * lr_scale(step, total):.2e} {time.time() - t0:.0f} s", flush=True)
    if time.time() - last_save > args.checkpoint_seconds:
        timing["train"] = time.time() - t0
        save(step, total, smooth, timing)
        last_save = time.time()
timing["train"] = time.time() - t0
if timing.get("rate") is None:
    timing["rate"] = step / timing["train"]
with torch.no_grad():
    # Loss of the EMA weights on the same fixed batches as the start.
    for k in ema_keys:
        params[k].data.copy_(ema[k])
    torch.manual_seed(12345)
    if dev.type == "cuda":
        torch.cuda.manual_seed(12345)
    end_loss = float(np.mean([loss_of(*batch(min(args.batch, 256))).item() for _ in range(4)]))
timing["losses"].append({"step": step, "emaLoss": end_loss})
save(step, total, smooth, timing)
print(f"done: {step} steps at batch {args.batch} in {timing['train']:.0f} s; EMA weights' loss {end_loss:.4f} on the start's 4 fixed batches (start {start_loss:.4f})", flush=True)
