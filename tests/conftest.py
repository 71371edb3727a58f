import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of test logs

import pytest

from mnist_lab.data import fetch_mnist, make_splits


@pytest.fixture(scope="session")
def mnist():
    """Verified canonical MNIST, `(x_train, y_train), (x_test, y_test)` (fetched once per test run)."""
    return fetch_mnist().as_keras_tuple()


@pytest.fixture(scope="session")
def small_splits(mnist):
    """A stratified 500-image sample split 90/10, and the full test set."""
    return make_splits(mnist, validation_fraction=0.1, split_seed=42, subset=500, seed=42)
