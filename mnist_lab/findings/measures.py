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
