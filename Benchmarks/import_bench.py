"""Import benchmark (issue 5): a 90 MB float32 safetensors checkpoint imported as
a collection and a vector by lcdb, against NumPy reading the same tensors from the
file (numpy.frombuffer over the header's offsets) and writing them into an SQLite
file with the sqlite3 module, alternating, medians. Target: at most 1.5x.

Usage: import_bench.py LCDB_BINARY [ROUNDS]
"""
import json
import os
import shutil
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np
from safetensors.numpy import save_file

lcdb = sys.argv[1]
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
work = tempfile.mkdtemp(prefix="lcdb-import-bench-")
checkpoint = os.path.join(work, "model.safetensors")
rng = np.random.default_rng(0)
state = {}
for i in range(21):  # 21 x (1024 x 1024 + 1024) float32 = 88 MB
    state[f"blocks.{i}.weight"] = rng.standard_normal((1024, 1024), dtype=np.float32)
    state[f"blocks.{i}.bias"] = rng.standard_normal(1024, dtype=np.float32)
save_file(state, checkpoint)
size = os.path.getsize(checkpoint)


def numpy_side(db_path):
    with open(checkpoint, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("CREATE TABLE tensors (name TEXT PRIMARY KEY, shape TEXT, data BLOB)")
    with db:
        for name, info in header.items():
            if name == "__metadata__":
                continue
            begin, end = info["data_offsets"]
            array = np.frombuffer(data, dtype="<f4", count=(end - begin) // 4, offset=8 + n + begin)
            db.execute("INSERT INTO tensors VALUES (?, ?, ?)", (name, json.dumps(info["shape"]), array.tobytes()))
    db.close()


mine, theirs = [], []
for r in range(rounds):
    target = os.path.join(work, f"lcdb{r}.lcdb")
    start = time.perf_counter()
    subprocess.run([lcdb, "--no-init", target, "-c",
                    f"import collection m from '{checkpoint}'; import vector w over m from '{checkpoint}';"],
                   check=True, stdout=subprocess.DEVNULL, env=dict(os.environ, HOME=work))
    mine.append(time.perf_counter() - start)
    baseline = os.path.join(work, f"numpy{r}.db")
    start = time.perf_counter()
    numpy_side(baseline)
    theirs.append(time.perf_counter() - start)
    os.remove(target)
    os.remove(baseline)
a, b = statistics.median(mine), statistics.median(theirs)
print(f"import of a {size / 1e6:.0f} MB float32 checkpoint (collection + vector): lcdb {a:.2f} s, NumPy + sqlite3 {b:.2f} s, ratio {a / b:.2f} (target at most 1.5)")
shutil.rmtree(work)
