"""Every committed run's stored predictions reproduce its recorded test accuracy and errors exactly
(issue 59: float16 probabilities can tie two classes, so the predicted class is stored beside them)."""

import subprocess

import numpy as np
import pytest

from mnist_lab.core.files import PROJECT_ROOT
from mnist_lab.core.run_dir import load_run, write_probabilities

COMMITTED = subprocess.run(
    ["git", "ls-files", "reports/*test_probabilities.npz"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
).stdout.split()


def test_every_committed_run_is_checked():
    assert len(COMMITTED) > 50  # the stage runs, the seeds, the precision and ablation runs


@pytest.mark.parametrize("probabilities", COMMITTED)
def test_the_stored_predictions_reproduce_the_recorded_accuracy(probabilities, mnist):
    run = load_run((PROJECT_ROOT / probabilities).parent)
    _, (_, y_test) = mnist
    labels = np.asarray(y_test).argmax(axis=1) if np.ndim(y_test) > 1 else np.asarray(y_test)
    predicted = run.predicted()
    wrong = np.flatnonzero(predicted != labels)
    assert [[int(i), int(labels[i]), int(predicted[i])] for i in wrong] == run.metrics["misclassified"]
    assert 1 - len(wrong) / len(labels) == pytest.approx(run.metrics["test_accuracy"], abs=1e-12)


def test_a_tie_in_float16_does_not_change_the_stored_prediction(tmp_path):
    probabilities = np.zeros((1, 10), np.float32)
    probabilities[0, 2], probabilities[0, 7] = 0.49559, 0.49561  # the model predicts 7
    assert probabilities.astype(np.float16).argmax() == 2  # rounded, the two tie, and argmax takes the first
    write_probabilities(tmp_path / "test_probabilities.npz", probabilities)
    with np.load(tmp_path / "test_probabilities.npz") as saved:
        assert saved["predicted"].tolist() == [7]
