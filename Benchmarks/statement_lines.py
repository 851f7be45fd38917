"""Collecting statements: time per line of a statement written over many lines,
beside the same statement on one line, in one run (issue: quadratic splitting).

Usage: statement_lines.py LCDB_BINARY [ROUNDS]. Cases:
- a 10,000-layer `create collection` with one layer per line, against the same
  statement on one line (target: at most 1.5x);
- a 20,000-statement script, one statement per line, against the same
  statements all on one line.
Each side runs ROUNDS times alternately in a fresh in-memory database; medians.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

lcdb = sys.argv[1]
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
folder = tempfile.mkdtemp()
env = dict(os.environ, HOME=folder)


def write(name, text):
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write(text)
    return path


layers = [f"l{i} Linear(4, 4)" for i in range(10_000)]
many_lines = write("lines.lc", "create collection big (\n" + ",\n".join("    " + l for l in layers) + "\n);\n")
one_line = write("line.lc", "create collection big (" + ", ".join(layers) + ");\n")
statements = ["create collection c (a Linear(2, 2));"] + [f"numel(c);" for _ in range(20_000)]
script_lines = write("script.lc", "\n".join(statements) + "\n")
script_line = write("script1.lc", " ".join(statements) + "\n")


def once(path):
    start = time.perf_counter()
    subprocess.run([lcdb, "--no-init", ":memory:", path], stdout=subprocess.DEVNULL, env=env, check=True)
    return time.perf_counter() - start


for label, lines, line, count in [("10,000-line statement", many_lines, one_line, 10_002),
                                  ("20,000-statement script", script_lines, script_line, 20_001)]:
    a, b = [], []
    for _ in range(rounds):
        a.append(once(lines))
        b.append(once(line))
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"{label}: {ma:.3f} s over {count} lines ({ma / count * 1e6:.1f} us per line), "
          f"one line {mb:.3f} s, ratio {ma / mb:.2f} (target at most 1.5)")
