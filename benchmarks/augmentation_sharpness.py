"""How much each way of augmenting blurs the digits, against the originals.

    original            the training digits as they are (the test digits look like these)
    seed                ImageDataGenerator(...).random_transform: what the seed meant to use
    ours                mnist_lab.core.pipeline.seed_augmentation: one affine warp per image
    three_layers        Keras RandomRotation -> RandomZoom -> RandomTranslation, same ranges:
                        the same draws, but three bilinear resamplings

Sharpness is the mean squared difference between neighbouring pixels (gradient
energy); each bilinear resampling at a fractional offset averages neighbours and
lowers it. Also printed: the share of near-saturated pixels (> 0.9), which blurring
thins out. Runs on the first --count training digits, in a few seconds.

    python benchmarks/augmentation_sharpness.py [--count 1000]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from keras import Sequential, layers  # noqa: E402
from tensorflow.keras.preprocessing.image import ImageDataGenerator  # noqa: E402  (the seed's import)

from mnist_lab.core.config import TrainConfig  # noqa: E402
from mnist_lab.core.data import fetch_mnist  # noqa: E402
from mnist_lab.core.pipeline import seed_augmentation  # noqa: E402


def gradient_energy(images: np.ndarray) -> float:
    """Mean squared difference between horizontal and vertical neighbours, images (n, h, w, 1)."""
    return float(np.mean(np.diff(images, axis=2) ** 2) + np.mean(np.diff(images, axis=1) ** 2))


def augmented_versions(images: np.ndarray, config: TrainConfig) -> dict[str, np.ndarray]:
    datagen = ImageDataGenerator(
        rotation_range=config.rotation_degrees,
        zoom_range=config.zoom,
        width_shift_range=config.shift,
        height_shift_range=config.shift,
    )
    three_layers = Sequential(
        [
            layers.RandomRotation(config.rotation_degrees / 360, fill_mode="nearest", seed=config.seed),
            layers.RandomZoom(
                (-config.zoom, config.zoom), (-config.zoom, config.zoom), fill_mode="nearest", seed=config.seed + 1
            ),
            layers.RandomTranslation(config.shift, config.shift, fill_mode="nearest", seed=config.seed + 2),
        ]
    )
    return {
        "original": images,
        "seed": np.stack([datagen.random_transform(image, seed=i) for i, image in enumerate(images)]),
        "ours": np.asarray(seed_augmentation(config)(images, seed=(config.seed, 0))),
        "three_layers": np.asarray(three_layers(images, training=True)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="training digits to augment")
    args = parser.parse_args()
    config = TrainConfig()
    (x_train, _), _ = fetch_mnist().as_keras_tuple()
    images = x_train[: args.count, ..., None].astype("float32") / 255.0  # (n, 28, 28, 1) in [0, 1], as trained
    versions = augmented_versions(images, config)
    baseline = gradient_energy(images)
    print(f"{'augmentation':14s} {'gradient energy':>16s} {'vs original':>12s} {'pixels > 0.9':>13s}")
    for name, version in versions.items():
        energy = gradient_energy(version)
        print(f"{name:14s} {energy:16.5f} {energy / baseline:12.0%} {np.mean(version > 0.9):13.4f}")


if __name__ == "__main__":
    main()
