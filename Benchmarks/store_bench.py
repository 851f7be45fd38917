"""Store benchmarks (issue 3), each side by side with its baseline in one run.

Usage: store_bench.py LCDB_BINARY LCDB_BENCH_BINARY [ROUNDS]
- stored mv, whole cold process (open, read every tile, multiply, print a checksum)
  on 8 blocks of 4,096 float64 parameters (1 GiB), against python_stored_mv.py
  (sqlite3 module + numpy.frombuffer) on the same file: ratio of medians.
- effective bandwidth of that mv (file in the page cache) next to a plain memcpy.
- peak RSS of a stored mv over a 2.1 GB matrix (one 16,384 x 16,384 block).
- storing 1 GiB (identity blocks) against writing the same bytes to a plain file
  (4 MiB writes, then fsync) on the same disk: throughput ratio.
"""
import json
import os
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


layers = ", ".join(f"l{i} Linear(63, 64)" for i in range(8))  # 8 x 4,096 parameters
db = os.path.join(work, "mv.lcdb")
lcdb_run(db, f"create collection w ({layers}); let F = random_spd(w, seed=1); let x = randn(w, seed=2);")

# 1. Stored mv, cold process, alternating sides.
mine, theirs = [], []
python = [sys.executable, os.path.join(here, "python_stored_mv.py"), db, "F", "x"]
lcdb_mv = [lcdb, "--no-init", "--format", "csv", db, "-c", "norm(mv(F, x), 1);"]
timed(lcdb_mv)  # the file into the page cache
for _ in range(rounds):
    t, out = timed(lcdb_mv)
    mine.append(t)
    lcdb_sum = float(out.splitlines()[1])
    t, out = timed(python)
    theirs.append(t)
    python_sum = float(out)
assert abs(lcdb_sum - python_sum) <= 1e-9 * abs(python_sum), (lcdb_sum, python_sum)
a, b = statistics.median(mine), statistics.median(theirs)
print(f"stored mv, cold process, 1 GiB float64: lcdb {a:.3f} s, Python sqlite3+NumPy {b:.3f} s, ratio {a / b:.2f} (required <= 0.8, goal 0.5)")

# 2. Bandwidth next to memcpy measured now.
memcpy = json.loads(run([bench, "memcpy"]).splitlines()[0])
copy_rate = memcpy["bytes"] / memcpy["median_s"] / 1e9
mv_rate = GiB / a / 1e9
print(f"stored mv effective bandwidth {mv_rate:.2f} GB/s (whole process) vs memcpy {copy_rate:.2f} GB/s: {mv_rate / copy_rate:.0%} (goal >= 50%)")

# 3. Peak RSS over a 2.1 GB matrix.
big = os.path.join(work, "big.lcdb")
lcdb_run(big, "create collection b (p Parameter(16384)); let M = identity(b, scale=2); let x = ones(b);")
rss = subprocess.run(["/usr/bin/time", "-f", "%M", lcdb, "--no-init", big, "-c", "norm(mv(M, x), 1);"],
                     check=True, capture_output=True, text=True, env=env).stderr.strip().splitlines()[-1]
print(f"peak RSS of a stored mv over a 2.15 GB matrix: {int(rss) / 1024:.0f} MB (required < 300 MB)")
os.remove(big)

# 4. Storing 1 GiB against a plain file on the same disk.
store_times, file_times = [], []
for r in range(rounds):
    target = os.path.join(work, f"store{r}.lcdb")
    lcdb_run(target, f"create collection w ({layers});")
    t, _ = lcdb_run(target, "let I = identity(w);")
    store_times.append(t)
    os.remove(target)
    plain = os.path.join(work, "plain.bin")
    chunk = bytes(4 << 20)
    start = time.perf_counter()
    with open(plain, "wb") as f:
        for _ in range(GiB // len(chunk)):
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())
    file_times.append(time.perf_counter() - start)
    os.remove(plain)
s, f = statistics.median(store_times), statistics.median(file_times)
print(f"storing 1 GiB: lcdb {GiB / s / 1e9:.2f} GB/s, plain file {GiB / f / 1e9:.2f} GB/s: {f / s:.0%} of the file's throughput (required >= 50%)")
shutil.rmtree(work)
