"""Measures of one run, each a plain function of its run folder (history.json: one record per
epoch; metrics.json). The claims (findings.claims) compare them over seeds.

- `overfitting_gap`: training accuracy minus validation accuracy, in points, at the last
  epoch. Keras measures training accuracy with dropout active, which understates the gap of
  the stages with dropout; `loss_rise` does not depend on it.
- `loss_rise`: validation cross-entropy at the last epoch minus its minimum over the run (0
  when the last epoch is the best): how far validation loss climbed after its best epoch.
- `epochs_to(threshold)`: the first epoch whose validation accuracy reaches the threshold
  (THRESHOLDS: 98% and 99%, round figures below every convolutional stage's final accuracy;
  a run that never reaches it counts as its budget + 1); `first_epoch_accuracy`: validation
  accuracy after epoch 1.
- `swing`: the standard deviation of the epoch-to-epoch change in validation accuracy from
  epoch 2 on, in points: how much validation accuracy jumps within a run.
"""

from __future__ import annotations

import math

import numpy as np

from mnist_lab.core.run_dir import Run

THRESHOLDS = (0.98, 0.99)  # validation accuracy a run must reach to have "converged" this far


def val_cross_entropy(record: dict) -> float:
    return record.get("val_cross_entropy", record["val_loss"])  # runs before the metric: val_loss


def overfitting_gap(run: Run) -> float:
    last = run.history[-1]
    return 100 * (last["accuracy"] - last["val_accuracy"])


def loss_rise(run: Run) -> float:
    values = [val_cross_entropy(record) for record in run.history]
    return values[-1] - min(values)


def epochs_to(run: Run, threshold: float) -> int:
    for record in run.history:
        if record["val_accuracy"] >= threshold:
            return record["epoch"]
    return run.config.get("epochs", len(run.history)) + 1


def first_epoch_accuracy(run: Run) -> float:
    return 100 * run.history[0]["val_accuracy"]


def swing(run: Run) -> float:
    accuracies = np.array([record["val_accuracy"] for record in run.history])
    return float(100 * np.std(np.diff(accuracies), ddof=1)) if len(accuracies) > 2 else math.nan


def accuracy_points(run: Run) -> float:
    return 100 * run.metrics["test_accuracy"]


def loss_trend(run: Run) -> float:
    """How fast validation cross-entropy moves over the second half of the epochs the run ran
    (epochs n//2 + 1 to n): the least-squares slope, per epoch, in % of the run's lowest validation
    cross-entropy. Flat noise gives about 0, a falling loss a negative trend, a climbing one a
    positive trend, wherever the run's best epoch lies: unlike the rise above the minimum (>= 0 by
    construction), its test can fail. nan: fewer than 3 epochs in that half (a run of under 6)."""
    values = np.array([val_cross_entropy(record) for record in run.history])
    half = values[len(values) // 2 :]
    if len(half) < 3:
        return math.nan
    slope = np.polyfit(np.arange(len(half)), half, 1)[0]
    return float(100 * slope / values.min())


def log_swing(run: Run) -> float:
    """The swing on the logarithmic scale: a standard deviation is skewed and bounded below by 0,
    and a few runs swing several times more than the rest; on the log scale a difference of means
    is a ratio of geometric means, and Welch's normal approximation holds far better."""
    value = swing(run)
    return math.log(value) if value > 0 else math.nan


def correct_digits(run: Run) -> np.ndarray:
    """Which test digits the run got right (booleans, in the order of its test set), from the
    misclassified digits metrics.json records exactly (the stored probabilities are float16)."""
    correct = np.ones(run.metrics["data"]["test"], dtype=bool)
    correct[[index for index, _, _ in run.metrics["misclassified"]]] = False
    return correct
