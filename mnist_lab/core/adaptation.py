"""BatchNorm statistics taken from the test images themselves: does a BatchNorm model fail on
corrupted digits because of its frozen statistics, or because of what its weights learned?

A BatchNormalization layer normalises each channel with a mean and variance estimated on the
clean training digits (its moving statistics). A corruption that shifts every pixel (brightness
adds to the background) moves every activation off them. Schneider et al. (NeurIPS 2020) and
Nado et al. (2020) re-estimate the statistics on the shifted test data itself, without labels.

How the statistics are taken here (`adapt`):
- per suite set (and for the clean test set, adapted on itself, as a control), over the whole
  set: every image of it, not a batch;
- for every BatchNormalization layer, the mean and the (biased, as Keras' training step takes it)
  variance of its input over every axis but the channel axis, each layer's input computed with
  the layers before it already adapted: one pass through the model, layer by layer, in chunks
  of CHUNK images (the exact statistics of what the adapted model computes, in one forward pass);
- gamma, beta and Keras' epsilon (the layer's own, 1e-3) are the trained ones; dropout is off.
`adapted_model` is a copy of the model with those statistics as its moving ones; the trained
model and the run's files are untouched. The pass's last output is that copy's prediction
(tests/test_adaptation.py checks the two agree).

A model without BatchNormalization has nothing to adapt: `adapt` says so and computes nothing.
"""

from __future__ import annotations

import numpy as np

ADAPTATION_VERSION = 1  # bump when the statistics or what is stored change
CHUNK = 1000  # images per call of a layer: bounds memory (5,000 images of 28x28x64 float32 are 1 GB)


def batchnorm_layers(model) -> list:
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]


def _moments(chunks: list, axes: tuple[int, ...], dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean and biased variance over `axes` of all the chunks together, from each chunk's moments
    (computed by the backend, in float32) combined in float64 (Chan et al.'s pairwise update)."""
    from keras import ops

    count, mean, m2 = 0, 0.0, 0.0
    for chunk in chunks:
        chunk_mean, chunk_variance = (np.asarray(v, dtype=np.float64) for v in ops.moments(chunk, axes))
        n = int(np.prod([chunk.shape[a] for a in axes]))
        delta = chunk_mean - mean
        mean = mean + delta * n / (count + n)
        m2 = m2 + chunk_variance * n + delta**2 * count * n / (count + n)
        count += n
    return np.asarray(mean, dtype), np.asarray(m2 / count, dtype)


def adapt(model, images: np.ndarray) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """([(mean, variance) per BatchNorm layer], class probabilities of the adapted model) for the
    preprocessed `images` (N, 28, 28, 1), in one pass through the (Sequential) model. The set
    stays in the backend's tensors, CHUNK images each, between layers."""
    import keras
    from keras import ops

    statistics = []
    dtype = model.dtype_policy.variable_dtype  # float32 (under mixed_bfloat16 too); float64 in the golden guard
    chunks = [ops.convert_to_tensor(images[i : i + CHUNK], dtype) for i in range(0, len(images), CHUNK)]
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            axes = tuple(i for i in range(len(chunks[0].shape)) if i != layer.axis % len(chunks[0].shape))
            mean, variance = _moments(chunks, axes, dtype)
            statistics.append((mean, variance))
            scale = (layer.gamma if layer.scale else 1.0) * ops.rsqrt(variance + layer.epsilon)
            shift = (layer.beta if layer.center else 0.0) - mean * scale
            chunks = [ops.cast(chunk, dtype) * scale + shift for chunk in chunks]
        else:
            chunks = [layer(chunk, training=False) for chunk in chunks]
    return statistics, np.concatenate([np.asarray(chunk, dtype=dtype) for chunk in chunks])


def adapted_model(model, statistics):
    """A copy of `model` whose BatchNorm layers use `statistics` as their moving mean and variance."""
    import keras

    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    for layer, (mean, variance) in zip(batchnorm_layers(copy), statistics, strict=True):
        layer.moving_mean.assign(mean)
        layer.moving_variance.assign(variance)
    return copy
