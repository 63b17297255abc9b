"""Prerequisites of the peer benchmark, as one JSON line on stdout: torch's version, its build's BLAS,
the BLAS library actually loaded (the reference libblas is ~25x slower than OpenBLAS and must not be
the yardstick), and the fastest of several 1024^3 float32 matmuls at the given thread count.
Exit 0 whatever it finds; the TypeScript side decides. Without torch: {"torch": null, "error": ...}."""

import ctypes
import json
import sys
import time

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
try:
    import torch
except Exception as e:  # noqa: BLE001
    print(json.dumps({"torch": None, "error": f"{type(e).__name__}: {e}", "python": sys.executable}))
    sys.exit(0)

torch.set_num_threads(threads)
a = torch.randn(1024, 1024)
b = torch.randn(1024, 1024)


def best_gflops():
    times = []
    for i in range(12):
        t0 = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - t0)
    return 2 * 1024**3 / min(times[2:]) / 1e9


gflops = best_gflops()
with open("/proc/self/maps") as f:
    libs = sorted({line.split()[-1] for line in f if "blas" in line.lower() and "/" in line})
# OpenBLAS keeps its own thread pool; on a loaded machine one BLAS thread can be the faster (the
# benchmark chooses per step, see worker.py).
for lib in (x for x in libs if "libopenblas" in x):
    ctypes.CDLL(lib).openblas_set_num_threads(1)
    gflops_one = best_gflops()
    ctypes.CDLL(lib).openblas_set_num_threads(threads)
    break
else:
    gflops_one = None
config = torch.__config__.show()
blas_info = next((p.split("=", 1)[1] for p in config.replace(",", " ").split() if p.startswith("BLAS_INFO=")), None)
print(
    json.dumps(
        {
            "torch": torch.__version__,
            "python": sys.executable,
            "blasInfo": blas_info,
            "blasLibraries": libs,
            "cpuCapability": next((line.split(":", 1)[1].strip() for line in config.splitlines() if "CPU capability" in line), None),
            "matmul1024Gflops": gflops,
            "matmul1024GflopsOneBlasThread": gflops_one,
            "threads": torch.get_num_threads(),
        }
    )
)
