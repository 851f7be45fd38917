"""Alternates lcdb's side and the baseline's side of each case and reports ratios.

A ratio below 1 means lcdb is faster. Each side reports the median of its own
repetitions; the ratio is taken between the medians over rounds.
"""
import json
import subprocess
import sys

bench, rounds = sys.argv[1], int(sys.argv[2])


def run(command):
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return {row["case"]: row for row in map(json.loads, out.splitlines())}


def median(values):
    return sorted(values)[len(values) // 2]


lcdb, numpy = {}, {}
for _ in range(rounds):
    for case, row in run([bench, "mv-large", "mv-small", "memcpy", "stream-read", "cholesky"]).items():
        lcdb.setdefault(case, []).append(row)
    for case, row in run([sys.executable, "Benchmarks/numpy_mv.py", "mv-large", "mv-small"]).items():
        numpy.setdefault(case, []).append(row)

gbps = lambda rows: rows[0]["bytes"] / median([r["median_s"] for r in rows]) / 1e9
print(f"{'case':<12} {'lcdb s':>10} {'numpy s':>10} {'ratio':>7} {'lcdb GB/s':>10}")
for case in ["mv-large", "mv-small"]:
    mine = median([r["median_s"] for r in lcdb[case]])
    theirs = median([r["median_s"] for r in numpy[case]])
    print(f"{case:<12} {mine:>10.5f} {theirs:>10.5f} {mine / theirs:>7.2f} {gbps(lcdb[case]):>10.1f}")
print(f"memory copy (1 GiB memcpy): {gbps(lcdb['memcpy']):.1f} GB/s copied;"
      f" read-only stream (asum): {gbps(lcdb['stream-read']):.1f} GB/s")
effective = gbps(lcdb["mv-large"])
print(f"mv-large: {effective:.1f} GB/s of block data; symv reads the lower triangle only, so"
      f" {effective / 2:.1f} GB/s physically read, {effective / 2 / gbps(lcdb['stream-read']):.0%} of the read stream")
panels = median([r["median_s"] for r in lcdb["cholesky-panels"]])
whole = median([r["median_s"] for r in lcdb["cholesky-potrf"]])
print(f"cholesky 4000 x 4000: interruptible panels {panels:.3f} s, one LAPACK potrf {whole:.3f} s, ratio {panels / whole:.2f}")
panels = median([r["median_s"] for r in lcdb["inverse-panels"]])
whole = median([r["median_s"] for r in lcdb["inverse-potri"]])
print(f"inverse from the factor, 4000 x 4000: panels {panels:.3f} s, one LAPACK potri {whole:.3f} s, ratio {panels / whole:.2f}")
