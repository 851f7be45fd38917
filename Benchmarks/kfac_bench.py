"""KFAC on GPT-2 small (issue "Structured curvature"), side by side with NumPy.

Usage: kfac_bench.py LCDB_BINARY [ROUNDS]
- the stored size of GPT-2 small's KFAC (random_kfac: Kronecker factors for the
  Linear and Embedding layers, dense LayerNorm blocks) in float32 and float64;
- mv on the stored float64 matrix in a cold lcdb process (open, read every part,
  multiply, print the norm), against NumPy computing G V A per layer (and the
  LayerNorm blocks' products) on the same factors, exported by lcdb and held in
  memory before the clock starts (each side reduces a layer's product to its
  sum of squares as it goes; neither holds the whole result);
- the exact damped solve (K + 1e-3 I)^-1 g, the same way, against NumPy's
  `eigh` of each factor, then the solve in the eigenbasis.
Ratios are lcdb time / NumPy time (below 1: lcdb is faster), of the best
time of each side and, steadier on a shared machine, the median of the rounds'
ratios (each round runs the two sides back to back, and prints both times
as it ends); both sides agree
on the result's norm to 1e-9 relative. For `mv` it also prints the floor:
the products' FLOPs over the rate NumPy's OpenBLAS reaches on the largest
layer's G V A, i.e. the time of these products with these kernels and nothing
else, and each side's best time as a multiple of it. Both sides' kernels are
printed: the machine's OPENBLAS_CORETYPE (set on some processors for older
OpenBLAS builds) sets them. The 7.5 GB work folder is removed at the end
unless LCDB_BENCH_KEEP is set; LCDB_BENCH_WORK=FOLDER reuses a kept one.
"""
import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from safetensors.numpy import load_file

from timing import best

lcdb = os.path.abspath(sys.argv[1])
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 1
here = os.path.dirname(os.path.abspath(__file__))
# LCDB_BENCH_WORK names a work folder kept from an earlier run
# (LCDB_BENCH_KEEP): its database and exports are reused, not rebuilt.
reuse = os.environ.get("LCDB_BENCH_WORK")
work = reuse or tempfile.mkdtemp(prefix="lcdb-kfac-bench-", dir=os.environ.get("LCDB_BENCH_DIR"))
if not reuse and not os.environ.get("LCDB_BENCH_KEEP"):  # 7.5 GB of database and exports
    atexit.register(shutil.rmtree, work, ignore_errors=True)
env = dict(os.environ, HOME=work)
samples = os.path.join(here, "..", "samples")


def lcdb_run(db, statements):
    start = time.perf_counter()
    out = subprocess.run([lcdb, "--no-init", "--format", "csv", db, "-c", statements], check=True,
                         capture_output=True, text=True, env=env, cwd=samples).stdout
    return time.perf_counter() - start, out


def last_value(out):
    return float(out.strip().split("\n")[-1])


db = os.path.join(work, "kfac.lcdb")
if not reuse:
    lcdb_run(db, ".read gpt2.lc\nlet K32 = random_kfac(gpt2, seed=1, dtype=float32);\n"
                 "let K = random_kfac(gpt2, seed=1);\nlet g = randn(gpt2, seed=2);\n"
                 f"export matrix K to '{work}/K.safetensors';\nexport vector g to '{work}/g.safetensors';\n"
                 "export collection gpt2 to '" + work + "/gpt2.json';")
_, listing = lcdb_run(db, "list matrices;")
sizes = {row.split(",")[0]: int(row.split(",")[4]) for row in listing.strip().split("\n")[1:]}

import json
layers = json.load(open(os.path.join(work, "gpt2.json")))["layers"]
K = load_file(os.path.join(work, "K.safetensors"))
g = load_file(os.path.join(work, "g.safetensors"))


def V(layer):
    """The layer's gradient as the matrix the factors act on."""
    name, kind, hp = layer["name"], layer["kind"], layer["hyperparameters"]
    w = g[f"{name}.weight"]
    if kind == "LayerNorm":
        return np.concatenate([w, g[f"{name}.bias"]])
    if kind == "Embedding":
        return w
    w = w.reshape(w.shape[0], -1)
    return np.concatenate([w, g[f"{name}.bias"][:, None]], axis=1) if f"{name}.bias" in g else w


def sq(f):
    return np.diag(f) if f.ndim == 1 else f


inputs = [(layer, V(layer)) for layer in layers]


def numpy_mv():
    total = 0.0
    for layer, v in inputs:
        name = layer["name"]
        if layer["kind"] == "LayerNorm":
            out = K[name] @ v
        elif layer["kind"] == "Embedding":
            out = (K[f"{name}.A"][:, None] * v) @ K[f"{name}.G"]
        else:
            out = K[f"{name}.G"] @ v @ K[f"{name}.A"]
        total += float(np.sum(out * out))
    return total ** 0.5


def numpy_solve(regul=1e-3):
    total = 0.0
    for layer, v in inputs:
        name = layer["name"]
        if layer["kind"] == "LayerNorm":
            lam, u = np.linalg.eigh(K[name])
            out = u @ ((u.T @ v) / (lam + regul))
        else:
            left, right = ("A", "G") if layer["kind"] == "Embedding" else ("G", "A")
            L, R = K[f"{name}.{left}"], K[f"{name}.{right}"]
            if L.ndim == 1:
                lam_l, u_l = L, np.ones_like(L)
                z = (v * u_l[:, None])
            else:
                lam_l, u_l = np.linalg.eigh(L)
                z = u_l.T @ v
            lam_r, u_r = np.linalg.eigh(R)
            z = z @ u_r
            z /= np.outer(lam_l, lam_r) + regul
            out = (z * u_l[:, None] if L.ndim == 1 else u_l @ z) @ u_r.T
        total += float(np.sum(out * out))
    return total ** 0.5


def numpy_kernels():
    """The kernels NumPy's OpenBLAS runs (scipy-openblas builds; else '?')."""
    import ctypes
    import glob
    folder = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in glob.glob(os.path.join(folder, "libscipy_openblas*.so")):
        for symbol in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename"):
            if hasattr(ctypes.CDLL(path), symbol):
                corename = getattr(ctypes.CDLL(path), symbol)
                corename.restype = ctypes.c_char_p
                return corename().decode()
    return "?"


# Both sides' kernels, since OPENBLAS_CORETYPE (set on some machines for
# older OpenBLAS builds) changes them and with them every figure.
lcdb_kernels = subprocess.run([lcdb, "--version"], check=True, capture_output=True, text=True, env=env).stdout.strip()
print(f"kernels: lcdb {lcdb_kernels}; NumPy {np.__version__} OpenBLAS {numpy_kernels()}; "
      f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")

def mv_flops():
    """Multiply-adds of the products, times 2: G V A per Linear layer
    (V out x in_eff, with the bias column), (A W) G per Embedding, a dense
    LayerNorm block's product."""
    total = 0
    for layer, v in inputs:
        if layer["kind"] == "LayerNorm":
            total += 2 * v.size * v.size
        elif layer["kind"] == "Embedding":
            rows, columns = v.shape
            total += 2 * rows * columns * columns + rows * columns
        else:
            rows, columns = v.shape
            total += 2 * rows * rows * columns + 2 * rows * columns * columns
    return total


def gemm_rate():
    """FLOP/s of NumPy's G V A on the largest Linear layer's factors (its
    own OpenBLAS, both cores), best of 5: the kernels' throughput on these
    shapes, so that `flops / rate` is the time any implementation doing
    these products with these kernels needs."""
    layer, v = max(((layer, v) for layer, v in inputs if layer["kind"] == "Linear"), key=lambda lv: lv[1].size)
    G, A = K[f"{layer['name']}.G"], K[f"{layer['name']}.A"]
    rows, columns = v.shape
    seconds, _ = best(lambda: G @ v @ A, 5)
    return (2 * rows * rows * columns + 2 * rows * columns * columns) / seconds


mine_mv, theirs_mv, mine_solve, theirs_solve = [], [], [], []
for _ in range(rounds):
    t, out = lcdb_run(db, "norm(mv(K, g));")
    mine_mv.append((t, last_value(out)))
    theirs_mv.append(best(numpy_mv, 1))
    print(f"round {len(mine_mv)}: mv lcdb {mine_mv[-1][0]:.2f} s, NumPy {theirs_mv[-1][0]:.2f} s", flush=True)
    if os.environ.get("LCDB_BENCH_ONLY") == "mv":  # the solve takes minutes on each side
        continue
    t, out = lcdb_run(db, "norm(solve(K, g, regul=1e-3));")
    mine_solve.append((t, last_value(out)))
    theirs_solve.append(best(numpy_solve, 1))

for label, mine, theirs in [("mv", mine_mv, theirs_mv), ("damped solve", mine_solve, theirs_solve)]:
    if not mine:
        continue
    m, t = min(x[0] for x in mine), min(x[0] for x in theirs)
    agree = abs(mine[0][1] - theirs[0][1]) / abs(theirs[0][1])
    # Each round runs the two sides back to back, so a round's ratio cancels
    # the machine's slow drift; their median is the steadier figure.
    paired = sorted(a[0] / b[0] for a, b in zip(mine, theirs))
    median = paired[len(paired) // 2] if len(paired) % 2 else (paired[len(paired) // 2 - 1] + paired[len(paired) // 2]) / 2
    print(f"GPT-2 small KFAC {label}: lcdb cold process {m:.2f} s, NumPy in memory {t:.2f} s, "
          f"ratio {m / t:.2f} (results agree to {agree:.1e}); per-round ratios median {median:.2f}, "
          f"range {paired[0]:.2f}-{paired[-1]:.2f} over {len(paired)} rounds")
if mine_mv:
    # The floor: these products at the kernels' own throughput, nothing else.
    flops, rate = mv_flops(), gemm_rate()
    floor = flops / rate
    print(f"GPT-2 small KFAC mv floor: {flops / 1e9:.0f} GFLOP at {rate / 1e9:.0f} GFLOP/s "
          f"(NumPy's G V A on the largest layer) = {floor:.2f} s; lcdb's best time {min(x[0] for x in mine_mv) / floor:.2f}x "
          f"of it, NumPy's {min(x[0] for x in theirs_mv) / floor:.2f}x")
print(f"GPT-2 small KFAC stored size: float32 {sizes['K32'] / 1e9:.3f} GB, float64 {sizes['K'] / 1e9:.3f} GB")
