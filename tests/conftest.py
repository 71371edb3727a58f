import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of test logs

import pytest

from mnist_lab.core.data import fetch_mnist, make_splits

# -- Progress per notebook under nbval: a notebook's cells run for minutes without a line of output,
# so each notebook says when it starts (with its place in the run) and how long it took.
_notebooks = {"config": None, "names": [], "current": None, "started": 0.0}


def pytest_configure(config):
    _notebooks["config"] = config


def pytest_collection_finish(session):
    names = [item.nodeid.split("::")[0] for item in session.items if item.nodeid.split("::")[0].endswith(".ipynb")]
    _notebooks["names"] = list(dict.fromkeys(names))


def _say(line: str) -> None:
    reporter = _notebooks["config"].pluginmanager.get_plugin("terminalreporter") if _notebooks["config"] else None
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_line(line)


def _notebook_done() -> None:
    if _notebooks["current"] is not None:
        _say(f"== {_notebooks['current']}: done in {time.monotonic() - _notebooks['started']:.0f} s")
        _notebooks["current"] = None


@pytest.hookimpl(tryfirst=True)  # before the terminal's own line for the file
def pytest_runtest_logstart(nodeid, location):
    path = nodeid.split("::")[0]
    if path == _notebooks["current"]:
        return
    _notebook_done()
    if path.endswith(".ipynb"):
        names = _notebooks["names"]
        place = f" ({names.index(path) + 1} of {len(names)})" if path in names else ""
        _say(f"== {path}{place}: executing its cells (nbval; a training cell takes minutes)")
        _notebooks.update(current=path, started=time.monotonic())


def pytest_sessionfinish(session, exitstatus):
    _notebook_done()


@pytest.fixture(scope="session")
def mnist():
    """Verified canonical MNIST, `(x_train, y_train), (x_test, y_test)` (fetched once per test run)."""
    return fetch_mnist().as_keras_tuple()


@pytest.fixture(scope="session")
def small_splits(mnist):
    """A stratified 500-image sample split 90/10, and the full test set."""
    return make_splits(mnist, validation_fraction=0.1, split_seed=42, subset=500, seed=42)


def without_timings(history):
    """A run's records without their wall times, which no two runs share."""
    return [{k: v for k, v in record.items() if k != "seconds"} for record in history]


def fake_run(path, stage, accuracy, errors, wrong=None, probabilities=None, history=(), backend="tensorflow", **config):
    """A finished run folder that got the test digits `wrong` (default: the first `errors`) wrong,
    as 7 -> 1, without training anything. `config` overrides TrainConfig fields (e.g. seed)."""
    import numpy as np

    from mnist_lab.core.files import write_json
    from mnist_lab.core.run_dir import write_probabilities

    wrong = list(range(errors)) if wrong is None else wrong
    matrix = np.diag([1000] * 10)
    matrix[7, 7], matrix[7, 1] = 1000 - len(wrong), len(wrong)
    path.mkdir(parents=True)
    write_json(path / "config.json", {"stage": stage, **config})
    write_json(path / "history.json", list(history))
    if probabilities is not None:
        write_probabilities(path / "test_probabilities.npz", probabilities)
    write_json(
        path / "metrics.json",
        {
            "test_accuracy": accuracy,
            "test_loss": 0.05,
            "parameters": 10,
            "epochs_run": 3,
            "best_epoch": 2,
            "training_seconds": 60.0,
            "images_per_second": 150.0,
            "data": {"train": 54000, "test": 10000},
            "misclassified": [[i, 7, 1] for i in wrong],
            "confusion_matrix": matrix.tolist(),
            "environment": {
                "device": "CPU (2 cores)",
                "backend": backend,
                backend: "2.21.0" if backend == "tensorflow" else "0.11.2",
            },
        },
    )
    return path
