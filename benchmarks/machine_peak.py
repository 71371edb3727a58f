"""What this machine can do, and what a training step asks of it.

    matmul_peak(dtype)      GFLOP/s of TensorFlow's 4096x4096x4096 matmul: the practical peak
    training_flops(model)   FLOPs per training image, counted from the model's layers

A training step costs about three forward passes (the forward pass, then the gradients with
respect to the activations and to the weights, each about as much), so the count is 3x the
forward multiply-adds x 2. Pooling, BatchNorm, dropout and activations are left out: they
are memory-bound and a small share of the arithmetic.

    python benchmarks/machine_peak.py      prints both, for the seed's model
"""

from __future__ import annotations

import math
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SIZE = 4096


def matmul_peak(dtype: str = "float32", repeats: int = 10) -> float:
    """Best GFLOP/s over `repeats` matmuls of SIZE^3 (after one untimed warm-up)."""
    import tensorflow as tf

    a = tf.random.stateless_uniform((SIZE, SIZE), seed=(1, 2), dtype=tf.float32)
    a = tf.cast(a, dtype)
    tf.linalg.matmul(a, a).numpy()  # warm-up: kernel selection, thread pool start
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        tf.linalg.matmul(a, a).numpy()
        best = min(best, time.perf_counter() - started)
    return 2 * SIZE**3 / best / 1e9


def forward_flops(model) -> int:
    """Multiply-adds x 2 of the Conv2D and Dense layers, per image."""
    from keras import layers

    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            _, height, width, out_channels = layer.output.shape
            kernel_h, kernel_w, in_channels, _ = layer.kernel.shape
            total += 2 * height * width * out_channels * kernel_h * kernel_w * in_channels
        elif isinstance(layer, layers.Dense):
            total += 2 * math.prod(layer.kernel.shape)
    return total


def training_flops(model) -> int:
    return 3 * forward_flops(model)


if __name__ == "__main__":
    from mnist_lab.core.models import STAGES
    from mnist_lab.core.provenance import cpu

    machine = cpu()
    print(f"CPU: {machine['model']} ({', '.join(machine['features']) or 'no AVX2/AVX-512'})")
    for dtype in ("float32", "bfloat16"):
        print(f"matmul {SIZE}^3 {dtype}: {matmul_peak(dtype):.0f} GFLOP/s")
    print(f"cnn_bn: {training_flops(STAGES['cnn_bn']()) / 1e6:.0f} MFLOP per training image")
