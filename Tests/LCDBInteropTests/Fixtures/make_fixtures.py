"""Writes the interop test fixtures with NumPy and the safetensors package.

Run from this folder: python3 make_fixtures.py. The files are committed; the
tests check lcdb's reading of them against the values below, recomputed here
from the same seeds in the tests' own expectations (see InteropFileTests).
"""
import json
import struct

import numpy as np
from safetensors.numpy import save_file

values = np.arange(12, dtype=np.float64).reshape(3, 4) / 8 - 0.5  # exact in every float format

# NPY: every version, both byte orders, Fortran order, half precision, and an object array.
np.save("c_order_f8.npy", values)
np.save("c_order_f4.npy", values.astype(np.float32))
np.save("big_endian_f8.npy", values.astype(">f8"))
np.save("fortran_f8.npy", np.asfortranarray(values))
np.save("half_f2.npy", values.astype(np.float16))
with open("version2_f8.npy", "wb") as f:
    np.lib.format.write_array(f, values, version=(2, 0))
with open("version3_f8.npy", "wb") as f:
    np.lib.format.write_array(f, values, version=(3, 0))
np.save("objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
np.save("flat_f4.npy", np.arange(7, dtype=np.float32))

# A small checkpoint through the safetensors package (its header lists tensors sorted by name).
rng = np.random.default_rng(0)
checkpoint = {
    "conv.weight": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
    "conv.bias": rng.standard_normal(4).astype(np.float32),
    "bn.weight": np.ones(4, np.float32),
    "bn.bias": np.zeros(4, np.float32),
    "bn.running_mean": np.zeros(4, np.float32),
    "bn.running_var": np.ones(4, np.float32),
    "bn.num_batches_tracked": np.array(10, np.int64),
    "fc.weight": rng.standard_normal((2, 4)).astype(np.float32),
    "fc.bias": rng.standard_normal(2).astype(np.float32),
}
save_file(checkpoint, "package_checkpoint.safetensors")

# The same layout written by hand in the header order a model has, with every float dtype.
def write_safetensors(path, tensors, header_order=None):
    header, data, offset = {}, b"", 0
    for name, (dtype, shape, raw) in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        data += raw
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-(8 + len(text)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)

def bf16(array):
    return (np.asarray(array, np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()

write_safetensors("dtypes.safetensors", [
    ("a.weight", ("F64", (3, 4), values.astype("<f8").tobytes())),
    ("b.weight", ("F32", (3, 4), values.astype("<f4").tobytes())),
    ("c.weight", ("F16", (3, 4), values.astype("<f2").tobytes())),
    ("d.weight", ("BF16", (3, 4), bf16(values))),
])
