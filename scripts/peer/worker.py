"""The PyTorch side of the peer benchmark (npm run bench:peer); started by scripts/bench-peer.ts.

One JSON request per line on stdin, one JSON answer per line on stdout (log lines go to stderr):
  {"op": "load", "dir": D}   build the case of D/case.json with D/weights.safetensors and
                             D/inputs.safetensors (written by the TypeScript side)
  {"op": "check"}            one step; writes D/peer.check.safetensors: the output (forward), or the loss
                             and the gradients before clipping, then D/peer.after.safetensors: the
                             parameters after the optimizer step (each file written from the tensors
                             themselves, no copies held)
  {"op": "step"}             one step, answered with its wall time in ms
  {"op": "attention", "kind": K}  use attention K ("plain" or "chunked") from now on
  {"op": "blas_threads", "n": N}  OpenBLAS's own thread count from now on
  {"op": "quit"}
Every answer carries peakGiB, the process's peak resident memory so far (VmHWM).
A step is what the TypeScript side times: forward (no gradients), or forward + backward + (clipping,)
AdamW (+ EMA) on the trainable parameters.
"""

import contextlib
import ctypes
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import CLIPTextModel, Runtime, UNet2DConditionModel  # noqa: E402
from safetensors_io import load_into, read_header, read_safetensors, write_safetensors  # noqa: E402


@contextlib.contextmanager
def no_default_init():
    """Builds modules without their random initialisation (every value is loaded from the file after)."""
    names = ["kaiming_uniform_", "uniform_", "normal_", "ones_", "zeros_"]
    saved = {n: getattr(torch.nn.init, n) for n in names}
    for n in names:
        setattr(torch.nn.init, n, lambda t, *a, **k: t)
    try:
        yield
    finally:
        for n, f in saved.items():
            setattr(torch.nn.init, n, f)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class Case:
    def __init__(self, folder):
        self.dir = folder
        with open(os.path.join(folder, "case.json")) as f:
            self.spec = json.load(f)
        spec = self.spec
        torch.set_num_threads(spec["threads"])
        self.inputs = read_safetensors(os.path.join(folder, "inputs.safetensors"))
        self.rt = Runtime()
        self.rt.attention = spec.get("attention", "plain")
        adapters = [(a["name"], a["rank"]) for a in spec.get("lora", [])]
        with no_default_init():
            self.unet = UNet2DConditionModel(spec["unet"], self.rt, adapters)
            modules = {"unet.": self.unet}
            self.text = None
            if spec.get("text"):
                self.text = CLIPTextModel(spec["text"])
                modules["text_encoder."] = self.text
        self.params = {prefix + name: p for prefix, m in modules.items() for name, p in m.named_parameters()}
        extra = load_into(os.path.join(folder, "weights.safetensors"), self.params)
        if extra:
            raise KeyError(f"weights.safetensors has tensors the model does not declare: {sorted(extra)[:5]}")
        missing_weights = set(self.params) - set(read_header(os.path.join(folder, "weights.safetensors"))[0])
        if missing_weights:
            raise KeyError(f"weights.safetensors lacks {sorted(missing_weights)[:5]}")
        trainable = set(spec.get("trainable", []))
        missing = trainable - set(self.params)
        if missing:
            raise KeyError(f"trainable parameters the model does not declare: {sorted(missing)[:5]}")
        for key, p in self.params.items():
            p.requires_grad_(key in trainable)
        self.trainable = [self.params[k] for k in spec.get("trainable", [])]
        self.trainable_names = list(spec.get("trainable", []))
        for a, _ in adapters:
            self.rt.gates[a] = self.inputs[f"lora_gate.{a}"]
        for a in spec.get("lora", []):
            if a.get("trainRows"):
                self.rt.train_rows[a["name"]] = self.inputs[a["trainRows"]]
        self.optimizer = None
        self.ema = None
        if spec["kind"] != "forward":
            opt = spec["optimizer"]
            self.optimizer = torch.optim.AdamW(self.trainable, lr=opt["lr"], betas=(0.9, 0.999), eps=1e-8, weight_decay=opt["weightDecay"], foreach=opt.get("foreach", True))
            self.clip = opt.get("clipNorm")
            if opt.get("emaDecay"):
                self.ema = [p.detach().clone() for p in self.trainable]
                self.ema_decay = opt["emaDecay"]
                self.ema_updates = 0

    def predict(self):
        i = self.inputs
        ctx = self.text(i["input_ids"].long()) if self.text is not None else i["encoder_hidden_states"]
        return self.unet(i["sample"], i["timestep"], ctx)

    def loss(self):
        pred = self.predict()
        err = pred - self.inputs["target"]
        if self.spec["loss"] == "pair":
            return ((err * err).mean(dim=(1, 2, 3)) * self.inputs["row_weight"]).sum()
        return (err * err).mean()

    def forward_backward(self):
        for p in self.trainable:
            p.grad = None
        loss = self.loss()
        loss.backward()
        return loss

    def update(self):
        if self.clip:
            torch.nn.utils.clip_grad_norm_(self.trainable, self.clip)
        self.optimizer.step()
        if self.ema is not None:
            d = min(self.ema_decay, (1 + self.ema_updates) / (10 + self.ema_updates))
            with torch.no_grad():
                torch._foreach_mul_(self.ema, d)
                torch._foreach_add_(self.ema, [p.detach() for p in self.trainable], alpha=1 - d)
            self.ema_updates += 1

    def step(self):
        if self.spec["kind"] == "forward":
            with torch.inference_mode():
                return self.predict()
        self.forward_backward()
        self.update()
        return None

    def check(self):
        path = os.path.join(self.dir, "peer.check.safetensors")
        if self.spec["kind"] == "forward":
            with torch.inference_mode():
                write_safetensors(path, {"out": self.predict()})
            return
        loss = self.forward_backward()
        # Written before the update, whose clipping scales the gradients in place.
        grads = {f"grad/{n}": p.grad for n, p in zip(self.trainable_names, self.trainable)}
        write_safetensors(path, {"loss": loss.detach().reshape(1), **grads})
        self.update()
        after = {f"after/{n}": p for n, p in zip(self.trainable_names, self.trainable)}
        write_safetensors(os.path.join(self.dir, "peer.after.safetensors"), after)


def set_blas_threads(n):
    """OpenBLAS keeps its own thread pool beside torch's OpenMP one; sets its size (no-op for other BLAS)."""
    with open("/proc/self/maps") as f:
        libs = sorted({line.split()[-1] for line in f if "libopenblas" in line and "/" in line})
    for lib in libs:
        ctypes.CDLL(lib).openblas_set_num_threads(n)
    return libs


def rss_gib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    return float("nan")


def main():
    torch.set_num_interop_threads(1)
    case = None
    for line in sys.stdin:
        req = json.loads(line)
        op = req["op"]
        try:
            if op == "load":
                case = None
                case = Case(req["dir"])
                answer = {"ok": True, "torch": torch.__version__, "threads": torch.get_num_threads()}
            elif op == "check":
                case.check()
                answer = {"ok": True}
            elif op == "step":
                t0 = time.perf_counter()
                case.step()
                answer = {"ok": True, "ms": (time.perf_counter() - t0) * 1000}
            elif op == "blas_threads":
                answer = {"ok": True, "libraries": set_blas_threads(req["n"])}
            elif op == "attention":
                case.rt.attention = req["kind"]
                answer = {"ok": True}
            elif op == "quit":
                print(json.dumps({"ok": True, "peakGiB": rss_gib()}), flush=True)
                return
            else:
                answer = {"ok": False, "error": f"unknown op {op}"}
        except Exception as e:  # the TypeScript side reports it and stops
            import traceback

            traceback.print_exc()
            answer = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        print(json.dumps({**answer, "peakGiB": rss_gib()}), flush=True)


if __name__ == "__main__":
    main()
