"""Reading and writing safetensors files with the standard library, numpy and torch only.

The format: an 8-byte little-endian header length, a JSON header (name -> dtype, shape, data_offsets
relative to the data section; an optional __metadata__), then the raw little-endian tensor bytes.
"""

import json
import struct

import numpy as np
import torch

_NUMPY = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64, "I32": np.int32}


def read_header(path):
    """(header dict without __metadata__, absolute offset of the data section)."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length).decode("utf-8"))
    header.pop("__metadata__", None)
    return header, 8 + length


def _read_tensor(f, start, info, name, path):
    dtype = _NUMPY.get(info["dtype"])
    if dtype is None:
        raise ValueError(f"{path}: tensor {name} has dtype {info['dtype']}, which this reader does not handle")
    lo, hi = info["data_offsets"]
    array = np.empty((hi - lo) // np.dtype(dtype).itemsize, dtype=dtype)
    f.seek(start + lo)
    if f.readinto(memoryview(array).cast("B")) != hi - lo:
        raise ValueError(f"{path}: tensor {name} is cut short")
    tensor = torch.from_numpy(array).reshape(info["shape"])
    return tensor.float() if info["dtype"] == "F16" else tensor


def read_safetensors(path):
    """name -> torch tensor (float32 for F16/F32, integers as stored), each read from the file on its own."""
    header, start = read_header(path)
    with open(path, "rb") as f:
        return {name: _read_tensor(f, start, info, name, path) for name, info in header.items()}


def load_into(path, targets):
    """Copies every tensor of the file into targets[name] (same element count), one at a time so that
    the file is never held whole in memory. Returns the names of the file that targets lacks."""
    header, start = read_header(path)
    extra = []
    with open(path, "rb") as f, torch.no_grad():
        for name, info in header.items():
            if name not in targets:
                extra.append(name)
                continue
            t = targets[name]
            t.copy_(_read_tensor(f, start, info, name, path).reshape(t.shape))
    return extra


def write_safetensors(path, tensors, dtype="F32"):
    """Writes name -> torch tensor as F32 (or F16), one tensor at a time (a contiguous tensor of that type
    is written from its own memory; others are converted one by one)."""
    torch_dtype = {"F32": torch.float32, "F16": torch.float16}[dtype]
    size = {"F32": 4, "F16": 2}[dtype]
    header = {}
    offset = 0
    for name, t in tensors.items():
        n = size * t.numel()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for t in tensors.values():
            f.write(memoryview(t.detach().to("cpu", torch_dtype).contiguous().numpy().view(np.uint8)).cast("B"))
