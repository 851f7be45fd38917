"""Real per-example gradients and layer statistics of a small network, for
samples/fisher_from_data.lc (no PyTorch needed: the backward pass is written
out in NumPy).

A two-layer MLP (10 -> 16, tanh, -> 3) is trained for 40 steps of full-batch
gradient descent on a synthetic three-class problem (not to convergence, so the
gradients are not vanishingly small); then, for 300 examples, it writes
- grads_0.safetensors, grads_1.safetensors: per-example gradients of the
  cross-entropy loss, `fc1.weight` (n, 16, 10), `fc1.bias` (n, 16),
  `fc2.weight` (n, 3, 16), `fc2.bias` (n, 3), in two shards (200 + 100);
- stats.safetensors: each layer's inputs and output gradients,
  `fc1.inputs` (n, 10), `fc1.output_grads` (n, 16), `fc2.inputs` (n, 16),
  `fc2.output_grads` (n, 3), what forward and backward hooks record.
Usage: python3 make_gradients.py [FOLDER]
"""
import os
import sys

import numpy as np
from safetensors.numpy import save_file

folder = sys.argv[1] if len(sys.argv) > 1 else "."
rng = np.random.default_rng(0)
n, d, h, c = 300, 10, 16, 3

# Three overlapping Gaussian clusters.
centers = rng.standard_normal((c, d)) * 0.6   # overlapping: the loss stays well above 0
labels = rng.integers(0, c, size=n)
x = centers[labels] + rng.standard_normal((n, d))

w1, b1 = rng.standard_normal((h, d)) / np.sqrt(d), np.zeros(h)
w2, b2 = rng.standard_normal((c, h)) / np.sqrt(h), np.zeros(c)


def forward_backward(x, y):
    """Per-example gradients of the cross-entropy, and the layers' inputs and output gradients."""
    z1 = x @ w1.T + b1
    a1 = np.tanh(z1)
    z2 = a1 @ w2.T + b2
    p = np.exp(z2 - z2.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    dz2 = p - np.eye(c)[y]                 # d loss / d logits, per example
    dz1 = (dz2 @ w2) * (1 - a1 ** 2)       # d loss / d fc1's output
    grads = {"fc1.weight": dz1[:, :, None] * x[:, None, :], "fc1.bias": dz1,
             "fc2.weight": dz2[:, :, None] * a1[:, None, :], "fc2.bias": dz2}
    stats = {"fc1.inputs": x, "fc1.output_grads": dz1, "fc2.inputs": a1, "fc2.output_grads": dz2}
    loss = -np.log(p[np.arange(len(y)), y]).mean()
    return grads, stats, loss


for step in range(40):
    grads, _, loss = forward_backward(x, labels)
    w1 -= 0.5 * grads["fc1.weight"].mean(axis=0)
    b1 -= 0.5 * grads["fc1.bias"].mean(axis=0)
    w2 -= 0.5 * grads["fc2.weight"].mean(axis=0)
    b2 -= 0.5 * grads["fc2.bias"].mean(axis=0)

grads, stats, loss = forward_backward(x, labels)
save_file({k: np.ascontiguousarray(v[:200]) for k, v in grads.items()}, os.path.join(folder, "grads_0.safetensors"))
save_file({k: np.ascontiguousarray(v[200:]) for k, v in grads.items()}, os.path.join(folder, "grads_1.safetensors"))
save_file({k: np.ascontiguousarray(v) for k, v in stats.items()}, os.path.join(folder, "stats.safetensors"))
print(f"trained to loss {loss:.4f}; wrote per-example gradients and layer statistics of {n} examples")
