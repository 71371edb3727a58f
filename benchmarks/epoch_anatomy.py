"""Where a whole epoch's time goes: the training steps at their steady rate, the waits between
steps, the epoch's start, the validation pass, and what happens after it (callbacks, checkpoint).

    python benchmarks/epoch_anatomy.py [--stage cnn_bn_aug] [--epochs 2] [--subset N]

Trains the stage through mnist_lab.core.train.fit, exactly as a run does (its callbacks and its
per-epoch checkpoint), with one more callback that only takes the time at every hook. The first
epoch also traces the graphs, a cost paid once per run: the figures are the last epoch's. "Steady
steps" is the median step time times the number of steps: what the epoch would cost if every step
ran at the steady rate and nothing else happened.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402  (after the log level)

from mnist_lab.core.data import fetch_mnist, make_splits  # noqa: E402
from mnist_lab.core.models import get_stage  # noqa: E402
from mnist_lab.core.provenance import cpu, environment  # noqa: E402
from mnist_lab.core.train import compile_model, fit, set_seeds  # noqa: E402
from mnist_lab.runs.settings import resolve_config  # noqa: E402


class Clock(keras.callbacks.Callback):
    """The time at every hook of every epoch: {epoch: [(hook, batch, seconds), ...]}."""

    def __init__(self):
        super().__init__()
        self.marks: dict[int, list] = {}
        self.epoch = 0

    def _mark(self, hook, batch=None):
        self.marks.setdefault(self.epoch, []).append((hook, batch, time.perf_counter()))

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self._mark("epoch_begin")

    def on_train_batch_begin(self, batch, logs=None):
        self._mark("batch_begin", batch)

    def on_train_batch_end(self, batch, logs=None):
        self._mark("batch_end", batch)

    def on_test_begin(self, logs=None):
        self._mark("test_begin")

    def on_test_end(self, logs=None):
        self._mark("test_end")

    def on_epoch_end(self, epoch, logs=None):
        self._mark("epoch_end")

    def on_train_end(self, logs=None):
        self._mark("train_end")  # the last epoch's end: after every callback's epoch end, checkpoint included

    def last_epoch(self) -> dict:
        """anatomy() of the last epoch, which ends where training ends."""
        last = max(self.marks)
        return anatomy(self.marks[last], self.marks[last][-1][2])


def anatomy(marks: list, next_begin: float) -> dict:
    """Seconds per part of one epoch, from its marks and the time the next epoch (or fit) began."""
    at = {hook: t for hook, _, t in marks if hook not in ("batch_begin", "batch_end", "train_end")}
    begins = [t for hook, _, t in marks if hook == "batch_begin"]
    ends = [t for hook, _, t in marks if hook == "batch_end"]
    steps = [end - begin for begin, end in zip(begins, ends, strict=True)]
    return {
        "whole epoch (to the next one's start)": next_begin - at["epoch_begin"],
        "steady steps (median step x steps)": statistics.median(steps) * len(steps),
        "steps beyond the steady rate": sum(steps) - statistics.median(steps) * len(steps),
        "between steps": sum(b - e for e, b in zip(ends, begins[1:], strict=False)),
        "start (epoch begin to first step)": begins[0] - at["epoch_begin"],
        "last step to validation": at["test_begin"] - ends[-1],
        "validation pass": at["test_end"] - at["test_begin"],
        "after validation (callbacks, checkpoint)": next_begin - at["test_end"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="cnn_bn_aug")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--subset", type=int, help="train on this many images (default: all 60,000)")
    args = parser.parse_args()
    config = resolve_config(args.stage, "full", epochs=args.epochs, subset=args.subset)
    splits = make_splits(
        fetch_mnist().as_keras_tuple(),
        validation_fraction=config.validation_fraction,
        split_seed=config.split_seed,
        subset=config.subset,
        seed=config.seed,
    )
    set_seeds(config.seed)
    stage = get_stage(args.stage)
    model = compile_model(stage(), config)
    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp:
        fit(
            model,
            splits,
            config,
            Path(tmp),
            augment=stage.augment,
            provenance=environment(),
            verbose=0,
            extra_callbacks=[clock],
        )
    last = max(clock.marks)
    parts = clock.last_epoch()
    machine = cpu()
    print(f"{args.stage}, epoch {last + 1} of {args.epochs}, {len(splits.x_train):,} training images")
    print(f"CPU: {machine['model']} ({', '.join(machine['features'])}), {os.cpu_count()} cores")
    whole = parts["whole epoch (to the next one's start)"]
    for name, seconds in parts.items():
        print(f"{name:>42}: {seconds:8.2f} s  {seconds / whole:6.1%}")
    steady = parts["steady steps (median step x steps)"]
    print(f"whole epoch / steady steps: {whole / steady:.3f}")


if __name__ == "__main__":
    main()
