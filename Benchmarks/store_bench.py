"""Store benchmarks (issue 3), each side by side with its baseline in one run.

Usage: store_bench.py LCDB_BINARY LCDB_BENCH_BINARY [ROUNDS]
- stored mv, whole cold process (open, read every tile, multiply, print a checksum)
  on 8 blocks of 4,096 float64 parameters (1 GiB), against python_stored_mv.py
  (sqlite3 module + numpy.frombuffer) on the same file: ratio of medians.
- effective bandwidth of that mv (file in the page cache) next to a plain memcpy.
- peak RSS of a stored mv over a 2.1 GB matrix (one 16,384 x 16,384 block),
  symmetric (upper layout, 1.07 GB stored) and general (full layout, 2.15 GB).
- storing a 1 GiB matrix against writing its bytes (1 GiB) to a plain file
  (4 MiB writes, then fsync) on the same disk: throughput ratio, for a
  symmetric matrix (identity blocks, upper layout: about half the bytes
  written), the workload's random_spd matrix (its generation included), and
  a general one (`lcdb-bench store-general`, full layout).
Symmetric matrices are stored as one triangle, so both "effective" (matrix
bytes / time) and physical (stored bytes / time) rates are printed.
"""
import json
import os
import sqlite3
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

lcdb, bench = sys.argv[1], sys.argv[2]
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
here = os.path.dirname(os.path.abspath(__file__))
work = tempfile.mkdtemp(prefix="lcdb-store-bench-", dir=os.environ.get("LCDB_BENCH_DIR"))
env = dict(os.environ, HOME=work)
GiB = 1 << 30


def run(command, **kwargs):
    return subprocess.run(command, check=True, capture_output=True, text=True, env=env, **kwargs).stdout


def timed(command):
    start = time.perf_counter()
    out = run(command)
    return time.perf_counter() - start, out


def lcdb_run(db, statements):
    return timed([lcdb, "--no-init", db, "-c", statements])


def stored_bytes(db, matrix):
    with sqlite3.connect(db, timeout=5) as connection:
        return connection.execute("SELECT bytes FROM matrices WHERE name = ?", (matrix,)).fetchone()[0]


layers = ", ".join(f"l{i} Linear(63, 64)" for i in range(8))  # 8 x 4,096 parameters
db = os.path.join(work, "mv.lcdb")
lcdb_run(db, f"create collection w ({layers}); let F = random_spd(w, seed=1); let x = randn(w, seed=2);")

# 1. Stored mv, cold process, alternating sides: the symmetric F (upper layout)
#    and a general G (full layout, whole rows) over the same collection.
run([bench, "store-general", db])


def stored_mv(matrix):
    mine, theirs = [], []
    python = [sys.executable, os.path.join(here, "python_stored_mv.py"), db, matrix, "x"]
    lcdb_mv = [lcdb, "--no-init", "--format", "csv", db, "-c", f"norm(mv({matrix}, x), 1);"]
    timed(lcdb_mv)  # the file into the page cache
    for _ in range(rounds):
        t, out = timed(lcdb_mv)
        mine.append(t)
        lcdb_sum = float(out.splitlines()[1])
        t, out = timed(python)
        theirs.append(t)
        python_sum = float(out)
    assert abs(lcdb_sum - python_sum) <= 1e-9 * abs(python_sum), (lcdb_sum, python_sum)
    return statistics.median(mine), statistics.median(theirs)


a, b = stored_mv("F")
print(f"stored mv, cold process, 1 GiB float64 symmetric (upper layout): lcdb {a:.3f} s, Python sqlite3+NumPy {b:.3f} s, "
      f"ratio {a / b:.2f} (required <= 0.8, goal 0.5)")
general, general_python = stored_mv("G")
print(f"stored mv, cold process, 1 GiB float64 general (full layout): lcdb {general:.3f} s, Python sqlite3+NumPy "
      f"{general_python:.3f} s, ratio {general / general_python:.2f} (required <= 0.8, goal 0.5)")

# 2. Bandwidth next to memcpy measured now.
memcpy = json.loads(run([bench, "memcpy"]).splitlines()[0])
copy_rate = memcpy["bytes"] / memcpy["median_s"] / 1e9
mv_rate = GiB / a / 1e9
physical = stored_bytes(db, "F")
print(f"stored mv effective bandwidth {mv_rate:.2f} GB/s (1 GiB matrix, whole process) vs memcpy {copy_rate:.2f} GB/s: "
      f"{mv_rate / copy_rate:.0%} (goal >= 50%); physically read {physical / 1e9:.2f} GB (upper layout) "
      f"at {physical / a / 1e9:.2f} GB/s: {physical / a / 1e9 / copy_rate:.0%} of memcpy")
print(f"stored mv of the general matrix (1.07 GB read): {GiB / general / 1e9:.2f} GB/s, {GiB / general / 1e9 / copy_rate:.0%} of memcpy")

# 3. Peak RSS over a 2.1 GB matrix, symmetric (upper layout) and general (full layout).
big = os.path.join(work, "big.lcdb")
lcdb_run(big, "create collection w (p Parameter(16384)); let M = identity(w, scale=2); let x = ones(w);")
run([bench, "store-general", big])
for matrix in ["M", "G"]:
    rss = subprocess.run(["/usr/bin/time", "-f", "%M", lcdb, "--no-init", big, "-c", f"norm(mv({matrix}, x), 1);"],
                         check=True, capture_output=True, text=True, env=env).stderr.strip().splitlines()[-1]
    kind = "symmetric, upper layout" if matrix == "M" else "general, full layout"
    print(f"peak RSS of a stored mv over a 2.15 GB matrix ({kind}, {stored_bytes(big, matrix) / 1e9:.2f} GB stored): "
          f"{int(rss) / 1024:.0f} MB (required < 300 MB)")
os.remove(big)

# 4. Storing 1 GiB against a plain file on the same disk, alternating.
def plain_file_time():
    plain = os.path.join(work, "plain.bin")
    chunk = bytes(4 << 20)
    start = time.perf_counter()
    with open(plain, "wb") as f:
        for _ in range(GiB // len(chunk)):
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())
    elapsed = time.perf_counter() - start
    os.remove(plain)
    return elapsed


cases = {"symmetric": ([], "I"), "random_spd": ([], "R"), "general": ([], "G")}
file_times = []
written = {}
for r in range(rounds):
    for case, (times, matrix) in cases.items():
        target = os.path.join(work, f"store{r}.lcdb")
        lcdb_run(target, f"create collection w ({layers});")
        if case == "symmetric":
            t, _ = lcdb_run(target, "let I = identity(w);")
        elif case == "random_spd":
            t, _ = lcdb_run(target, "let R = random_spd(w, seed=1);")  # the workload matrix, generation included
        else:
            t, _ = timed([bench, "store-general", target])
        times.append(t)
        written[case] = stored_bytes(target, matrix)
        for suffix in ["", "-wal", "-shm"]:
            if os.path.exists(target + suffix):
                os.remove(target + suffix)
        file_times.append(plain_file_time())
f = statistics.median(file_times)
for case, (times, _) in cases.items():
    s = statistics.median(times)
    layout = "full layout" if case == "general" else "upper layout"
    print(f"storing a 1 GiB {case} matrix ({layout}, {written[case] / 1e9:.2f} GB written): lcdb {GiB / s / 1e9:.2f} GB/s "
          f"of matrix, plain file {GiB / f / 1e9:.2f} GB/s: {f / s:.0%} of the file's throughput (required >= 50%); "
          f"{written[case] / s / 1e9:.2f} GB/s physically written")
shutil.rmtree(work)
