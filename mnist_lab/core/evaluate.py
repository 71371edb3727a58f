"""Test-set evaluation: one prediction pass gives every test metric and the probabilities."""

from __future__ import annotations

import keras
import numpy as np

from mnist_lab.core.data import Splits


def predict(model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    return model.predict(images, batch_size=batch_size, verbose=0)


def evaluate(model, splits: Splits, probabilities: np.ndarray | None = None) -> dict:
    """Test loss and accuracy as `model.evaluate` reports them, per-class accuracy and the
    confusion matrix (rows: true digit), from a single pass over the test set."""
    from sklearn.metrics import accuracy_score, confusion_matrix

    if probabilities is None:
        probabilities = predict(model, splits.x_test)
    predicted, true = probabilities.argmax(axis=1), splits.y_test.argmax(axis=1)
    cross_entropy = keras.losses.CategoricalCrossentropy()(splits.y_test, probabilities)
    penalty = sum(keras.ops.convert_to_numpy(loss) for loss in model.losses)  # L2, as model.evaluate adds it
    matrix = confusion_matrix(true, predicted, labels=range(10))
    return {
        "test_accuracy": float(accuracy_score(true, predicted)),
        "test_loss": float(keras.ops.convert_to_numpy(cross_entropy) + penalty),
        "test_cross_entropy": float(keras.ops.convert_to_numpy(cross_entropy)),  # the rest is the L2 penalty
        "per_class_accuracy": {str(d): float(matrix[d, d] / matrix[d].sum()) for d in range(10)},
        "confusion_matrix": matrix.tolist(),
        # [test index, true digit, predicted digit] of every error, for the gallery and paired tests
        # (the index counts the run's test digits: data.test_indices maps a sample's to the 10,000).
        "misclassified": [[int(i), int(true[i]), int(predicted[i])] for i in np.flatnonzero(true != predicted)],
    }
