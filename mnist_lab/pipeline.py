"""The tf.data input pipeline, and the seed's augmentation as Keras preprocessing layers.

The seed meant `ImageDataGenerator(rotation_range=10, zoom_range=0.1,
width_shift_range=0.1, height_shift_range=0.1)` (default fill 'nearest', bilinear
interpolation). The same distributions, as Keras 3 layers:

    rotation   uniform in [-10, 10] degrees     RandomRotation(10 / 360)
    zoom       x and y each uniform in [0.9, 1.1] RandomZoom((-0.1, 0.1), (-0.1, 0.1))
    shift      uniform in [-10%, 10%] per axis  RandomTranslation(0.1, 0.1)

One difference: ImageDataGenerator composes them into one affine warp, these layers
resample three times. They run on whole batches inside `Dataset.map`, in parallel
with training, and only on the training split.
"""

from __future__ import annotations

import numpy as np


def augmentation_layers(rotation_degrees: float, zoom: float, shift: float, seed: int):
    import keras
    from keras import layers

    fill = "nearest"  # ImageDataGenerator's default: repeat the edge pixel (black for MNIST)
    return keras.Sequential(
        [
            layers.RandomRotation(rotation_degrees / 360.0, fill_mode=fill, seed=seed),  # factor: fraction of a turn
            layers.RandomZoom((-zoom, zoom), (-zoom, zoom), fill_mode=fill, seed=seed + 1),
            layers.RandomTranslation(shift, shift, fill_mode=fill, seed=seed + 2),
        ],
        name="augmentation",
    )


def make_dataset(images: np.ndarray, labels: np.ndarray, *, batch_size: int,
                 training: bool = False, augmentation=None, seed: int = 42):
    """Batches of (images, labels). Training batches are reshuffled every epoch and,
    given `augmentation`, transformed; evaluation batches are neither."""
    import tensorflow as tf

    images, labels = tf.constant(images), tf.constant(labels)
    # Shuffle indices, not images: the buffer holds 54,000 integers instead of 170 MB of pixels,
    # so each epoch starts at once; each batch is then one gather.
    indices = tf.data.Dataset.range(len(images))
    if training:
        indices = indices.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    dataset = indices.batch(batch_size).map(lambda i: (tf.gather(images, i), tf.gather(labels, i)))
    if training and augmentation is not None:
        dataset = dataset.map(lambda x, y: (augmentation(x, training=True), y),
                              num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)
