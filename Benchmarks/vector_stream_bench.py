"""Stored vectors streamed a chunk at a time, beside their baselines.

Usage: vector_stream_bench.py LCDB_BINARY [ROUNDS]
A 1.07 GB float32 vector (268 million values, 16 layers) in an lcdb file:
- `norm(g)` in a cold lcdb process (read chunk by chunk, never loaded)
  against Python reading the same vector from the same file with `sqlite3`
  and `numpy.frombuffer` (README's reader: the chunks in order, concatenated)
  and `numpy.linalg.norm` in float64; and against lcdb's own in-memory path
  (`norm(cast(g, float32))` loads it whole first), the previous behaviour;
- `import vector` of the same values from a .npy file, against NumPy reading
  it (`np.load`) and writing it into an SQLite file in 4 MB chunks with
  `sqlite3` (WAL, as lcdb's file; import_bench.py's baseline); `export
  vector` to .npy, against Python reading the chunks with `sqlite3` and
  writing them with `np.save`.
Ratios are lcdb / baseline times (below 1: lcdb faster), best of ROUNDS
alternated rounds; peak RSS of each lcdb run (the point: one 4 MB chunk, not
the vector). The results agree to 1e-12 relative.
"""
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

import numpy as np

lcdb = os.path.abspath(sys.argv[1])
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
work = tempfile.mkdtemp(prefix="lcdb-vector-bench-")
env = dict(os.environ, HOME=work)
db = os.path.join(work, "v.lcdb")
npy = os.path.join(work, "g.npy")
layers = ", ".join(f"l{i} Linear(4095, 4096)" for i in range(16))  # 16 x 4096 x 4096 values
rng = np.random.default_rng(0)
values = rng.standard_normal(16 * 4096 * 4096, dtype=np.float32)
np.save(npy, values)
del values
subprocess.run([lcdb, "--no-init", db, "-c", f"create collection c ({layers}); import vector g over c from '{npy}';"],
               check=True, env=env, capture_output=True)


def lcdb_run(statement):
    start = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-f", "%M", lcdb, "--no-init", "--format", "csv", db, "-c", statement],
                            check=True, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    last = result.stdout.strip().split("\n")[-1]
    return elapsed, int(result.stderr.strip().splitlines()[-1]) * 1024, last


def python_norm():
    connection = sqlite3.connect(db)
    (vector_id,) = connection.execute("SELECT id FROM lcdb_vector WHERE name = 'g'").fetchone()
    rows = connection.execute("SELECT data FROM lcdb_vector_chunk WHERE vector_id = ? ORDER BY position, chunk", (vector_id,))
    g = np.concatenate([np.frombuffer(data, dtype="<f4") for (data,) in rows])
    connection.close()
    return float(np.linalg.norm(g.astype(np.float64)))


def numpy_import():
    target = os.path.join(work, "numpy.sqlite")
    for suffix in ["", "-wal", "-shm"]:
        if os.path.exists(target + suffix):
            os.remove(target + suffix)
    g = np.load(npy)
    connection = sqlite3.connect(target)
    connection.execute("PRAGMA page_size = 65536")
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.execute("CREATE TABLE chunk (position INTEGER PRIMARY KEY, data BLOB)")
    step = (4 << 20) // 4
    with connection:
        for index, start in enumerate(range(0, g.size, step)):
            connection.execute("INSERT INTO chunk VALUES (?, ?)", (index, g[start:start + step].tobytes()))
    connection.close()


def numpy_export():
    connection = sqlite3.connect(db)
    (vector_id,) = connection.execute("SELECT id FROM lcdb_vector WHERE name = 'g'").fetchone()
    rows = connection.execute("SELECT data FROM lcdb_vector_chunk WHERE vector_id = ? ORDER BY position, chunk", (vector_id,))
    np.save(os.path.join(work, "python.npy"), np.concatenate([np.frombuffer(data, dtype="<f4") for (data,) in rows]))
    connection.close()


results = {"streamed": [], "loaded": [], "python": [], "import": [], "export": [], "numpy import": [], "numpy export": []}
peaks = {}
values_seen = {}
for _ in range(rounds):
    for label, statement in [("streamed", "norm(g);"), ("loaded", "norm(cast(g, float32));")]:
        t, peak, value = lcdb_run(statement)
        results[label].append(t)
        peaks[label] = max(peaks.get(label, 0), peak)
        values_seen[label] = float(value)
    start = time.perf_counter()
    values_seen["python"] = python_norm()
    results["python"].append(time.perf_counter() - start)
    t, peak, _ = lcdb_run(f"import vector h over c from '{npy}';")
    results["import"].append(t)
    peaks["import"] = max(peaks.get("import", 0), peak)
    out = os.path.join(work, "h.npy")
    t, peak, _ = lcdb_run(f"export vector h to '{out}';")
    results["export"].append(t)
    peaks["export"] = max(peaks.get("export", 0), peak)
    for label, function in [("numpy import", numpy_import), ("numpy export", numpy_export)]:
        start = time.perf_counter()
        function()
        results[label].append(time.perf_counter() - start)

best = {label: min(times) for label, times in results.items()}
agree = max(abs(values_seen[k] - values_seen["python"]) / values_seen["python"] for k in ("streamed", "loaded"))
size = os.path.getsize(npy)
print(f"norm(g) of a stored {size / 1e9:.2f} GB float32 vector, cold process: streamed {best['streamed']:.2f} s "
      f"(peak RSS {peaks['streamed'] / 1e6:.0f} MB), loaded first {best['loaded']:.2f} s (peak {peaks['loaded'] / 1e6:.0f} MB), "
      f"Python sqlite3 + NumPy {best['python']:.2f} s; ratios {best['streamed'] / best['python']:.2f} against Python, "
      f"{best['streamed'] / best['loaded']:.2f} against loading (results agree to {agree:.1e})")
print(f"import vector of it from .npy: lcdb {best['import']:.2f} s (peak RSS {peaks['import'] / 1e6:.0f} MB), NumPy + sqlite3 "
      f"{best['numpy import']:.2f} s, ratio {best['import'] / best['numpy import']:.2f}; export vector to .npy: lcdb "
      f"{best['export']:.2f} s (peak RSS {peaks['export'] / 1e6:.0f} MB), sqlite3 + NumPy {best['numpy export']:.2f} s, "
      f"ratio {best['export'] / best['numpy export']:.2f}")
shutil.rmtree(work, ignore_errors=True)
