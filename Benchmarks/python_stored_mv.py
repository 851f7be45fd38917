"""Baseline for the stored mv benchmark: the same product over the same lcdb file
with Python's sqlite3 module and NumPy (numpy.frombuffer on each tile, then
tile @ x, plus the transposed part right of the diagonal square for a tile
of an 'upper' layout, as the README's schema section describes). Prints the 1-norm of M x, like `lcdb -c "norm(mv(M, x), 1);"`.

Usage: python_stored_mv.py DATABASE MATRIX VECTOR
"""
import sqlite3
import sys

import numpy as np

path, matrix, vector = sys.argv[1:4]
db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
# Best pragmas for a sequential read: memory-mapped I/O and a large page cache.
db.execute("PRAGMA mmap_size = 4294967296")
db.execute("PRAGMA cache_size = -262144")

def array(blob, dtype):
    return np.frombuffer(blob, dtype="<f8" if dtype == "float64" else "<f4")

x = {}
for layer, dtype, data in db.execute(
        "SELECT layer, dtype, data FROM vector_chunks WHERE vector = ? ORDER BY position, chunk", (vector,)):
    x.setdefault(layer, []).append(array(data, dtype))
x = {layer: np.concatenate(parts).astype(np.float64) for layer, parts in x.items()}

y = {}
for layer, side, row_start, row_count, col_start, layout, dtype, data in db.execute(
        "SELECT layer, side, row_start, row_count, col_start, layout, dtype, data FROM matrix_tiles "
        "WHERE matrix = ? ORDER BY position, row_start", (matrix,)):
    tile = array(data, dtype).reshape(row_count, side - col_start)
    xs = x[layer].astype(tile.dtype)
    ys = y.setdefault(layer, np.zeros(side, dtype=tile.dtype))
    row_end = row_start + row_count
    ys[row_start:row_end] += tile @ xs[col_start:]
    if layout == "upper" and row_end < side:
        ys[row_end:] += tile[:, row_count:].T @ xs[row_start:row_end]
print(float(sum(np.abs(part).sum() for part in y.values())))
