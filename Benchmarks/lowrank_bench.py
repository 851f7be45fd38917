"""Low-rank Fisher (issue "Curvature from data"), side by side with NumPy.

Usage: lowrank_bench.py LCDB_BINARY
- a float32 per-example gradient file: 1,000 examples over 16 layers of
  4,160 parameters (Linear(63, 64)), 266 MB, written once;
- build: fisher(form=lowrank) in a cold lcdb process (read, scale, store J as
  float64), against NumPy loading the file with safetensors.numpy and forming
  J = G / sqrt(n) in float64;
- solve: solve(L, g, regul=1e-3) in a cold lcdb process on the stored L (read
  J, Gram matrix, LU, two products), against NumPy's Woodbury from the file:
  load, J, K = J J^T, w = solve(K + regul I, J v), x = (v - J^T w) / regul.
  Both results are checked to agree (relative 1e-9).
Ratios are lcdb time / NumPy time (below 1: lcdb is faster); best of 3.
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from safetensors.numpy import load_file, save_file

lcdb = os.path.abspath(sys.argv[1])
work = tempfile.mkdtemp(prefix="lcdb-lowrank-bench-", dir=os.environ.get("LCDB_BENCH_DIR"))
env = dict(os.environ, HOME=work)
n, layers, regul = 1000, 16, 1e-3
rng = np.random.default_rng(0)
grads = {}
for i in range(layers):
    grads[f"l{i}.weight"] = rng.standard_normal((n, 64, 63), dtype=np.float32)
    grads[f"l{i}.bias"] = rng.standard_normal((n, 64), dtype=np.float32)
path = os.path.join(work, "grads.safetensors")
save_file(grads, path)
del grads
db = os.path.join(work, "l.lcdb")
collection = ", ".join(f"l{i} Linear(63, 64)" for i in range(layers))
subprocess.run([lcdb, "--no-init", db, "-c", f"create collection c ({collection}); let g = randn(c, seed=1); "
                f"export vector g to '{work}/g.safetensors';"], check=True, env=env, cwd=work)
subprocess.run(["cat", path], stdout=subprocess.DEVNULL, check=True)  # page cache


def lcdb_time(statements):
    start = time.perf_counter()
    out = subprocess.run([lcdb, "--no-init", "--format", "csv", db, "-c", statements], check=True,
                         capture_output=True, text=True, env=env, cwd=work).stdout
    return time.perf_counter() - start, out


def numpy_factor():
    g = load_file(path)
    return np.concatenate([np.concatenate([g[f"l{i}.weight"].reshape(n, -1), g[f"l{i}.bias"]], axis=1)
                           for i in range(layers)], axis=1).astype(np.float64) / np.sqrt(n)


def numpy_solve(v):
    J = numpy_factor()
    K = J @ J.T
    w = np.linalg.solve(K + regul * np.eye(n), J @ v)
    return (v - J.T @ w) / regul


gv = load_file(os.path.join(work, "g.safetensors"))
v = np.concatenate([np.concatenate([gv[f"l{i}.weight"].reshape(-1), gv[f"l{i}.bias"]]) for i in range(layers)])

build = min(lcdb_time("let L = fisher(c, 'grads.safetensors', form=lowrank);")[0] for _ in range(3))
times = []
for _ in range(3):
    start = time.perf_counter()
    numpy_factor()
    times.append(time.perf_counter() - start)
build_np = min(times)
print(f"build J (1,000 x 66,560, from a 266 MB float32 file): lcdb {build:.2f} s (stored), NumPy {build_np:.2f} s (in memory): "
      f"ratio {build / build_np:.2f}")

solve, out = min((lcdb_time(f"let x = solve(L, g, regul={regul}); export vector x to '{work}/x.safetensors';") for _ in range(3)),
                 key=lambda pair: pair[0])
times = []
for _ in range(3):
    start = time.perf_counter()
    x_np = numpy_solve(v)
    times.append(time.perf_counter() - start)
solve_np = min(times)
xv = load_file(os.path.join(work, "x.safetensors"))
x = np.concatenate([np.concatenate([xv[f"l{i}.weight"].reshape(-1), xv[f"l{i}.bias"]]) for i in range(layers)])
error = np.abs(x - x_np).max() / np.abs(x_np).max()
assert error < 1e-9, error
print(f"exact damped solve (Woodbury, n = 1,000, numel = 66,560; lcdb from its file, NumPy from the gradient file): "
      f"lcdb {solve:.2f} s, NumPy {solve_np:.2f} s: ratio {solve / solve_np:.2f} (results agree to {error:.1e})")
