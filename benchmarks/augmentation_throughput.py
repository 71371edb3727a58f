"""Training throughput of cnn_bn_aug with four input pipelines, in one run:

    seed        ImageDataGenerator(...).flow(x, y, batch_size=64): what the seed meant to use
    ours        mnist_lab.pipeline: ImageDataGenerator's affine warp on whole batches in tf.data
    no_aug      the same tf.data pipeline without augmentation (the ceiling for ours)
    seed_arrays model.fit on the NumPy arrays, no augmentation: what the seed actually ran

Each measurement runs in a fresh process: once ImageDataGenerator's pipeline has trained
in a process, later training in that process ran 10-40% slower here, so sharing one
would handicap whichever pipeline runs after it. A measurement trains a fresh cnn_bn
model for --warmup + --steps steps in one fit call and times only the last --steps
(tracing and the iterator's start are not timed). The pipelines take turns for --rounds
rounds, so a machine whose speed drifts affects them alike; medians are reported.

    python benchmarks/augmentation_throughput.py [--steps 60] [--warmup 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402  (after the log level)
from tensorflow.keras.preprocessing.image import ImageDataGenerator  # noqa: E402  (the seed's import)

from mnist_lab.config import TrainConfig  # noqa: E402
from mnist_lab.data import fetch_mnist, make_splits  # noqa: E402
from mnist_lab.provenance import environment  # noqa: E402
from mnist_lab.models import STAGES  # noqa: E402
from mnist_lab.pipeline import make_dataset, seed_augmentation  # noqa: E402
from mnist_lab.train import compile_model, set_seeds  # noqa: E402


def seed_pipeline(splits, config):
    datagen = ImageDataGenerator(rotation_range=config.rotation_degrees, zoom_range=config.zoom,
                                 width_shift_range=config.shift, height_shift_range=config.shift)
    return datagen.flow(splits.x_train, splits.y_train, batch_size=config.batch_size, seed=config.seed)


def our_pipeline(splits, config, augment=True):
    augmentation = seed_augmentation(config) if augment else None
    return make_dataset(splits.x_train, splits.y_train, batch_size=config.batch_size, training=True,
                        augmentation=augmentation, seed=config.seed).repeat()


class StepTimer(keras.callbacks.Callback):
    """Times the steps after the first `warmup` inside one fit call: no tracing, no iterator start."""

    def __init__(self, warmup: int):
        super().__init__()
        self.warmup, self.started, self.ended = warmup, None, None

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.warmup - 1:
            self.started = time.perf_counter()
        self.ended = time.perf_counter()


def images_per_second(data, config, steps: int, warmup: int) -> float:
    set_seeds(config.seed)
    model = compile_model(STAGES["cnn_bn_aug"](), config)
    timer = StepTimer(warmup)
    if isinstance(data, tuple):  # NumPy arrays, batched by Keras as in the seed's fit call
        size = (warmup + steps) * config.batch_size
        model.fit(data[0][:size], data[1][:size], batch_size=config.batch_size, epochs=1, verbose=0,
                  callbacks=[timer])
    else:
        model.fit(data, steps_per_epoch=warmup + steps, epochs=1, verbose=0, callbacks=[timer])
    return steps * config.batch_size / (timer.ended - timer.started)


PIPELINES = ("seed", "ours", "no_aug", "seed_arrays")


def measure(name: str, steps: int, warmup: int) -> float:
    config = TrainConfig(stage="cnn_bn_aug")
    splits = make_splits(fetch_mnist().as_keras_tuple(), validation_fraction=config.validation_fraction,
                         split_seed=config.split_seed)
    data = {
        "seed": lambda: seed_pipeline(splits, config),
        "ours": lambda: our_pipeline(splits, config),
        "no_aug": lambda: our_pipeline(splits, config, augment=False),
        "seed_arrays": lambda: (splits.x_train, splits.y_train),
    }[name]()
    return images_per_second(data, config, steps, warmup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="timed training steps per measurement")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps first")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per pipeline, interleaved")
    parser.add_argument("--only", choices=PIPELINES, help=argparse.SUPPRESS)  # one measurement (child process)
    args = parser.parse_args()
    if args.only:
        print(measure(args.only, args.steps, args.warmup))
        return

    env = environment()
    print(f"cnn_bn_aug, batch {TrainConfig.batch_size}, {args.rounds} rounds of {args.steps} timed steps "
          f"after {args.warmup} warm-up, one process per measurement; {env['device']}, "
          f"TensorFlow {env.get('tensorflow')}, Keras {env['keras']}", flush=True)
    rates = {name: [] for name in PIPELINES}
    for round_number in range(1, args.rounds + 1):
        for name in PIPELINES:
            child = subprocess.run(
                [sys.executable, __file__, "--only", name, "--steps", str(args.steps), "--warmup", str(args.warmup)],
                capture_output=True, text=True, check=True,
            )
            rates[name].append(float(child.stdout.strip().splitlines()[-1]))
        print(f"round {round_number}: " + ", ".join(f"{n} {r[-1]:.1f}" for n, r in rates.items()), flush=True)
    median = {name: statistics.median(values) for name, values in rates.items()}
    for name, rate in median.items():
        print(f"{name:>12}: {rate:7.1f} images/s (median)")
    print(f"ours / seed: {median['ours'] / median['seed']:.2f}x   "
          f"ours / no_aug: {median['ours'] / median['no_aug']:.2f}x   "
          f"seed / seed_arrays: {median['seed'] / median['seed_arrays']:.2f}x")


if __name__ == "__main__":
    main()
