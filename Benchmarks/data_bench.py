"""Curvature from data (issue "Curvature from data"), side by side with NumPy.

Usage: data_bench.py LCDB_BINARY
- a 2.1 GB float32 per-example gradient file (8,000 examples over 16 layers of
  4,096 parameters, Linear(63, 64)), written once;
- fisher(form=diag), fisher(form=quasidiag) and fisher(form=dense) in a cold lcdb process, against
  NumPy loading the file with safetensors.numpy and computing (g**2).mean(0)
  and g.T @ g / n per layer (in float64, as lcdb does; for quasidiag also each
  output's bias with its weights, (w * b[:, :, None]).mean(0)); peak RSS of each;
- fisher(form=dense) as it runs when the blocks do not fit in memory: in
  passes over the file, bands of at most 256 MB (LCDB_FISHER_BAND_BYTES);
- fisher(form=lowrank) (J = G / sqrt(n), 4.3 GB in float64, spilled to a
  temporary file and stored as float32) against NumPy forming J in float64:
  mainly its peak RSS, which must stay bounded whatever J's size;
- kfac from 8,000 examples' inputs and output gradients of the same layers
  (65 MB), and from 2,000 sequences of 64 positions (1.05 GB, K-FAC-expand),
  against NumPy's a.T @ a / n and g.T @ g / n.
Ratios are lcdb time / NumPy time (below 1: lcdb is faster).
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from safetensors.numpy import load_file, save_file

lcdb = os.path.abspath(sys.argv[1])
work = tempfile.mkdtemp(prefix="lcdb-data-bench-", dir=os.environ.get("LCDB_BENCH_DIR"))
env = dict(os.environ, HOME=work)
n, layers = 8000, 16
rng = np.random.default_rng(0)

grads = {}
for i in range(layers):
    grads[f"l{i}.weight"] = rng.standard_normal((n, 64, 63), dtype=np.float32)
    grads[f"l{i}.bias"] = rng.standard_normal((n, 64), dtype=np.float32)
save_file(grads, os.path.join(work, "grads.safetensors"))
stats = {}
for i in range(layers):
    stats[f"l{i}.inputs"] = rng.standard_normal((n, 63), dtype=np.float32)
    stats[f"l{i}.output_grads"] = rng.standard_normal((n, 64), dtype=np.float32)
save_file(stats, os.path.join(work, "stats.safetensors"))
# Sequences: 2,000 examples of 64 positions (1.05 GB), the size at which the
# work, not process start, is what is timed.
seq_n, seq_s = 2000, 64
stats = {}
for i in range(layers):
    stats[f"l{i}.inputs"] = rng.standard_normal((seq_n, seq_s, 63), dtype=np.float32)
    stats[f"l{i}.output_grads"] = rng.standard_normal((seq_n, seq_s, 64), dtype=np.float32)
save_file(stats, os.path.join(work, "stats_seq.safetensors"))
del grads, stats
size = os.path.getsize(os.path.join(work, "grads.safetensors"))


def lcdb_run(statements, extra={}):
    db = os.path.join(work, "d.lcdb")
    for suffix in ["", "-wal", "-shm"]:
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    collection = ", ".join(f"l{i} Linear(63, 64)" for i in range(layers))
    subprocess.run([lcdb, "--no-init", db, "-c", f"create collection c ({collection});"], check=True, env=env, cwd=work)
    start = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-f", "%M", lcdb, "--no-init", db, "-c", statements],
                            check=True, capture_output=True, text=True, env=dict(env, **extra), cwd=work)
    return time.perf_counter() - start, int(result.stderr.strip().splitlines()[-1]) * 1024


def numpy_fisher(dense):
    start = time.perf_counter()
    g = load_file(os.path.join(work, "grads.safetensors"))
    for i in range(layers):
        G = np.concatenate([g[f"l{i}.weight"].reshape(n, -1), g[f"l{i}.bias"]], axis=1).astype(np.float64)
        if dense:
            _ = G.T @ G / n
        else:
            _ = (G ** 2).mean(axis=0)
    return time.perf_counter() - start


def numpy_quasidiag():
    start = time.perf_counter()
    g = load_file(os.path.join(work, "grads.safetensors"))
    for i in range(layers):
        w, b = g[f"l{i}.weight"].astype(np.float64), g[f"l{i}.bias"].astype(np.float64)
        _ = (w ** 2).mean(axis=0), (b ** 2).mean(axis=0), (w * b[:, :, None]).mean(axis=0)
    return time.perf_counter() - start


def numpy_lowrank():
    start = time.perf_counter()
    g = load_file(os.path.join(work, "grads.safetensors"))
    _ = np.concatenate([np.concatenate([g[f"l{i}.weight"].reshape(n, -1), g[f"l{i}.bias"]], axis=1)
                        for i in range(layers)], axis=1).astype(np.float64) / np.sqrt(n)
    return time.perf_counter() - start


def numpy_kfac_positions():
    """K-FAC-expand: every position is an example; A over n S rows, G over n."""
    start = time.perf_counter()
    s = load_file(os.path.join(work, "stats_seq.safetensors"))
    for i in range(layers):
        a = s[f"l{i}.inputs"].reshape(-1, 63)
        a = np.concatenate([a, np.ones((a.shape[0], 1), dtype=np.float32)], axis=1).astype(np.float64)
        g = s[f"l{i}.output_grads"].reshape(-1, 64).astype(np.float64)
        _ = a.T @ a / (seq_n * seq_s), g.T @ g / seq_n
    return time.perf_counter() - start


def numpy_kfac():
    start = time.perf_counter()
    s = load_file(os.path.join(work, "stats.safetensors"))
    for i in range(layers):
        a = np.concatenate([s[f"l{i}.inputs"], np.ones((n, 1), dtype=np.float32)], axis=1).astype(np.float64)
        g = s[f"l{i}.output_grads"].astype(np.float64)
        _ = a.T @ a / n, g.T @ g / n
    return time.perf_counter() - start


subprocess.run(["cat", os.path.join(work, "grads.safetensors")], stdout=subprocess.DEVNULL, check=True)  # page cache
passes = {"LCDB_FISHER_BAND_BYTES": "256000000"}
for label, statement, baseline, *extra in [("diag", "let F = fisher(c, 'grads.safetensors');", lambda: numpy_fisher(False)),
                                   ("quasidiag", "let F = fisher(c, 'grads.safetensors', form=quasidiag);", numpy_quasidiag),
                                   ("dense blocks", "let F = fisher(c, 'grads.safetensors', form=dense);", lambda: numpy_fisher(True)),
                                   ("dense blocks in passes of 256 MB", "let F = fisher(c, 'grads.safetensors', form=dense);",
                                    lambda: numpy_fisher(True), passes),
                                   ("lowrank", "let L = fisher(c, 'grads.safetensors', form=lowrank, dtype=float32);", numpy_lowrank),
                                   ("kfac", "let K = kfac(c, 'stats.safetensors');", numpy_kfac),
                                   ("kfac with positions", "let K = kfac(c, 'stats_seq.safetensors');", numpy_kfac_positions)]:
    if os.environ.get("LCDB_BENCH_ONLY", label) != label:  # one row, when asked
        continue
    mine, peak = lcdb_run(statement, *extra)
    theirs = baseline()
    source = {"kfac": "stats.safetensors", "kfac with positions": "stats_seq.safetensors"}.get(label, "grads.safetensors")
    size = os.path.getsize(os.path.join(work, source))
    print(f"{label} from a {size / 1e9:.2f} GB float32 file: lcdb cold process {mine:.2f} s (peak RSS {peak / 1e6:.0f} MB), "
          f"NumPy (safetensors.numpy, then per layer) {theirs:.2f} s, ratio {mine / theirs:.2f}")
