"""Baseline for the core mv benchmark: the same per-block products in NumPy.

Prints one JSON line per case, like lcdb-bench: {"case", "median_s", "bytes"}.
"""
import json
import sys
import time

import numpy as np


def median(values):
    return sorted(values)[len(values) // 2]


def bench_mv(name, layers, side, repetitions):
    rng = np.random.default_rng(1)
    blocks = []
    for _ in range(layers):
        b = rng.uniform(-1, 1, size=(side, side))
        blocks.append((b + b.T) / 2 + side * np.eye(side))
    xs = [rng.standard_normal(side) for _ in range(layers)]
    [b @ x for b, x in zip(blocks, xs)]  # warm-up
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        result = [b @ x for b, x in zip(blocks, xs)]
        times.append(time.perf_counter() - start)
    print(f"checksum {result[0][0]}", file=sys.stderr)
    print(json.dumps({"case": name, "median_s": median(times), "bytes": sum(b.nbytes for b in blocks)}))


cases = sys.argv[1:] or ["mv-large", "mv-small"]
for case in cases:
    if case == "mv-large":
        bench_mv(case, 8, 4096, 10)
    elif case == "mv-small":
        bench_mv(case, 2000, 64, 100)
    else:
        sys.exit(f"unknown case {case}")
