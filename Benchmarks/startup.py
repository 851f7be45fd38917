"""Start-up: `lcdb -c help` against `sqlite3 :memory: .help`, alternating, medians.

Usage: startup.py LCDB_BINARY [RUNS]. Target (issue 4): at most 5x.
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

lcdb = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 50
sqlite = shutil.which("sqlite3")
home = tempfile.mkdtemp()
env = dict(os.environ, HOME=home)


def once(command):
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
    return time.perf_counter() - start


mine, theirs = [], []
for _ in range(runs):
    mine.append(once([lcdb, "-c", "help"]))
    theirs.append(once([sqlite, ":memory:", ".help"]))
a, b = statistics.median(mine), statistics.median(theirs)
print(f"start-up: lcdb -c help {a * 1e3:.2f} ms, sqlite3 :memory: .help {b * 1e3:.2f} ms, ratio {a / b:.1f} (target at most 5)")
