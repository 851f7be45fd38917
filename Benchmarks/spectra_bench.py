"""Spectra and log-determinants (issue "Spectra, log-determinants, real powers
and sampling"), side by side with NumPy.

Usage: spectra_bench.py LCDB_BINARY [ROUNDS] [logdet|select|lanczos|top]   (all by default)
- logdet of the 8 x 4,096 float64 workload matrix (random_spd, stored, 1 GiB
  dense, upper layout) in a cold lcdb process, against NumPy `slogdet` per
  block on the same blocks, exported by lcdb and held in memory before the
  clock starts; and the peak RSS of that lcdb process next to one block's size.
- peak RSS of Lanczos (the 3 largest eigenvalues) over a stored 2.15 GB dense
  block (16,384 x 16,384), against the 300 MB target;
- the selection alone: the 100 largest of the 85 million products of GPT-2
  small's factor spectra (seeded random eigenvalues of its factor sizes),
  `lcdb-bench kronecker-top` against NumPy's outer products and `partition`;
- the 100 largest eigenvalues of GPT-2 small's KFAC (random_kfac, stored,
  float64) in a cold lcdb process, against NumPy: `eigh` of every factor,
  the outer products of their eigenvalues, `partition` (on the same factors,
  in memory).
Ratios are lcdb time / NumPy time (below 1: lcdb is faster); both sides agree
on the result to 1e-9 relative.
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from safetensors.numpy import load_file

from timing import best

lcdb = os.path.abspath(sys.argv[1])
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 1
parts = sys.argv[3:] or ["logdet", "select", "lanczos", "top"]
here = os.path.dirname(os.path.abspath(__file__))
work = tempfile.mkdtemp(prefix="lcdb-spectra-bench-", dir=os.environ.get("LCDB_BENCH_DIR"))
env = dict(os.environ, HOME=work)
samples = os.path.join(here, "..", "samples")


def lcdb_run(db, statements, rss=False):
    command = [lcdb, "--no-init", "--format", "csv", db, "-c", statements]
    if rss:
        command = ["/usr/bin/time", "-f", "%M"] + command
    start = time.perf_counter()
    result = subprocess.run(command, check=True, capture_output=True, text=True, env=env, cwd=samples)
    elapsed = time.perf_counter() - start
    peak = int(result.stderr.strip().splitlines()[-1]) * 1024 if rss else None
    return elapsed, result.stdout, peak


# 1. logdet of the workload matrix.
def logdet_part():
    db = os.path.join(work, "w.lcdb")
    layers = ", ".join(f"l{i} Linear(63, 64)" for i in range(8))  # 8 x 4,096 parameters
    lcdb_run(db, f"create collection w ({layers}); let F = random_spd(w, seed=1); export matrix F to '{work}/F.safetensors';")
    F = load_file(os.path.join(work, "F.safetensors"))
    blocks = [F[f"l{i}"] for i in range(8)]

    def numpy_logdet():
        return sum(np.linalg.slogdet(b)[1] for b in blocks)

    mine, theirs, peaks = [], [], []
    lcdb_run(db, "logdet(F);")  # the file into the page cache
    for _ in range(rounds):
        t, out, peak = lcdb_run(db, "logdet(F);", rss=True)
        mine.append((t, float(out.strip().split("\n")[-1])))
        peaks.append(peak)
        theirs.append(best(numpy_logdet, 1))
    m, t = min(x[0] for x in mine), min(x[0] for x in theirs)
    agree = abs(mine[0][1] - theirs[0][1]) / abs(theirs[0][1])
    block_bytes = 4096 * 4096 * 8
    print(f"logdet of the 8 x 4,096 float64 workload matrix: lcdb cold process {m:.2f} s, NumPy slogdet in memory {t:.2f} s, "
          f"ratio {m / t:.2f} (target <= 1.0; results agree to {agree:.1e}); lcdb peak RSS {max(peaks) / 1e6:.0f} MB, "
          f"one block {block_bytes / 1e6:.0f} MB, the matrix {8 * block_bytes / 1e6:.0f} MB")
    os.remove(db)


def lanczos_part():
    """Memory of Lanczos over a stored 2.15 GB block. A matrix with scattered
    eigenvalues is built as 2 I + diag(d) stored dense (d = exp(3 randn)), so
    the top converges; random_spd's top is too clustered for 300 products."""
    db = os.path.join(work, "big.lcdb")
    lcdb_run(db, "create collection w (p Parameter(16384)); "
                 "let M = to_dense(diag_matrix(2 + exp(3 * randn(w, seed=1))));")
    t, out, peak = lcdb_run(db, "eigvals(M, k=3, method=lanczos);", rss=True)
    values = [line.split(",")[1] for line in out.strip().split("\n")[1:]]
    _, exact, _ = lcdb_run(db, "eigvals(diag_matrix(2 + exp(3 * randn(w, seed=1))), k=3);")
    want = [line.split(",")[1] for line in exact.strip().split("\n")[1:]]
    agree = max(abs(float(a) - float(b)) / abs(float(b)) for a, b in zip(values, want))
    print(f"Lanczos, 3 largest eigenvalues of a stored 16,384 x 16,384 dense block (2.15 GB; its products read "
          f"tile by tile): peak RSS {peak / 1e6:.0f} MB (target < 300 MB) in {t:.0f} s; agree with the exact ones to {agree:.1e}")
    os.remove(db)


def select_part():
    bench = os.path.join(os.path.dirname(lcdb), "lcdb-bench")
    import json
    mine = json.loads(subprocess.run([bench, "kronecker-top"], check=True, capture_output=True, text=True).stdout)["median_s"]
    rng = np.random.default_rng(7)
    sizes = [(50257, 768), (1024, 768)] + [(2304, 769), (768, 769), (3072, 769), (768, 3073)] * 12
    spectra = [(rng.random(a) + 0.01, rng.random(b) + 0.01) for a, b in sizes]

    def numpy_select():
        every = np.concatenate([np.outer(a, b).ravel() for a, b in spectra])
        return np.partition(every, len(every) - 100)[len(every) - 100:]

    theirs, _ = best(numpy_select, 3)
    print(f"top 100 of GPT-2 small's 85 million KFAC eigenvalue products, from the factor spectra: lcdb {mine * 1e3:.0f} ms, "
          f"NumPy outer + partition {theirs * 1e3:.0f} ms, ratio {mine / theirs:.3f} (target: well under a second)")


if "logdet" in parts:
    logdet_part()
if "select" in parts:
    select_part()
if "lanczos" in parts:
    lanczos_part()
if "top" not in parts:
    sys.exit(0)

# 2. The top 100 eigenvalues of GPT-2 small's KFAC.
db = os.path.join(work, "kfac.lcdb")
lcdb_run(db, f".read gpt2.lc\nlet K = random_kfac(gpt2, seed=1);\nexport matrix K to '{work}/K.safetensors';\n"
             f"export collection gpt2 to '{work}/gpt2.json';")
K = load_file(os.path.join(work, "K.safetensors"))
import json
described = json.load(open(os.path.join(work, "gpt2.json")))["layers"]


def numpy_top(k=100):
    values = []
    for layer in described:
        name = layer["name"]
        if layer["kind"] == "LayerNorm":
            values.append(np.linalg.eigh(K[name])[0])
            continue
        factors = []
        for side in ["A", "G"]:
            f = K[f"{name}.{side}"]
            factors.append(f if f.ndim == 1 else np.linalg.eigh(f)[0])
        values.append(np.outer(factors[0], factors[1]).ravel())
    every = np.concatenate(values)
    top = np.partition(every, len(every) - k)[len(every) - k:]
    return np.sort(top)[::-1]


mine, theirs = [], []
lcdb_run(db, "eigvals(K, k=1);")
for _ in range(rounds):
    t, out, _ = lcdb_run(db, "eigvals(K, k=100);")
    mine.append((t, np.array([float(line.split(",")[1]) for line in out.strip().split("\n")[1:]])))
    theirs.append(best(numpy_top, 1))
m, t = min(x[0] for x in mine), min(x[0] for x in theirs)
agree = np.abs(mine[0][1] - theirs[0][1]).max() / np.abs(theirs[0][1]).max()
print(f"top 100 eigenvalues of GPT-2 small's KFAC (85 million products): lcdb cold process {m:.2f} s, "
      f"NumPy (eigh of each factor, outer products, partition) {t:.2f} s, ratio {m / t:.2f} "
      f"(target <= 1.0; results agree to {agree:.1e})")
