"""Writes samples/checkpoint.safetensors: a small CNN's state_dict (as PyTorch
would save it: conv, batch norm with its buffers, a classifier), with NumPy and
the safetensors package. Run from the repository root: python3 samples/make_checkpoint.py
"""
import numpy as np
from safetensors.numpy import save_file

rng = np.random.default_rng(2026)
state = {
    "features.0.weight": rng.standard_normal((8, 3, 3, 3)).astype(np.float32) * 0.2,
    "features.0.bias": np.zeros(8, np.float32),
    "features.1.weight": np.ones(8, np.float32),
    "features.1.bias": np.zeros(8, np.float32),
    "features.1.running_mean": np.zeros(8, np.float32),
    "features.1.running_var": np.ones(8, np.float32),
    "features.1.num_batches_tracked": np.array(0, np.int64),
    "features.3.weight": rng.standard_normal((16, 8, 3, 3)).astype(np.float32) * 0.1,
    "features.3.bias": np.zeros(16, np.float32),
    "classifier.weight": rng.standard_normal((10, 16)).astype(np.float32) * 0.25,
    "classifier.bias": np.zeros(10, np.float32),
}
save_file(state, "samples/checkpoint.safetensors", metadata={"format": "pt"})
total = sum(v.size for k, v in state.items() if v.dtype == np.float32 and "running" not in k)
norm = np.sqrt(sum(float((v.astype(np.float64) ** 2).sum()) for k, v in state.items()
                   if v.dtype == np.float32 and "running" not in k))
print(f"parameters {total}, weight norm {norm}")
