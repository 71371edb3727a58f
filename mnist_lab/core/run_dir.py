"""A run directory: what a finished run holds, reading it back, and one run per folder at a time.

config.json              the resolved TrainConfig
history.json             one record per epoch
metrics.json             test metrics, timings, provenance (written last: its presence means done)
test_probabilities.npz   the model's class probabilities for the 10,000 test digits (float16), and the
                         class it predicted for each (`predicted`: float16 can tie two classes)
model.keras              the trained model (git ignores the seed runs' for size)
robustness.json          accuracy on every set of the robustness suite (and its predictions' .npz)
"""

from __future__ import annotations

import errno
import fcntl
import itertools
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_lab.core.config import ConfigError, TrainConfig
from mnist_lab.core.files import atomic_path, project_relative, read_json

REQUIRED_FILES = ("config.json", "history.json", "metrics.json")
PROBABILITIES = "test_probabilities.npz"
MODEL = "model.keras"
PARTIAL_DIR = ".partial"  # an unfinished run's checkpoint
CHECKPOINT = "checkpoint.npz"  # in PARTIAL_DIR, written whole after every epoch (mnist_lab.core.train.Checkpoint)
# The robustness suite's results (mnist_lab.core.robustness), beside the test metrics.
ROBUSTNESS_RESULTS = "robustness.json"
ROBUSTNESS_PREDICTIONS = "robustness_predictions.npz"
RUN_FILES = (*REQUIRED_FILES, PROBABILITIES, MODEL, ROBUSTNESS_RESULTS, ROBUSTNESS_PREDICTIONS)


@dataclass(frozen=True)
class Run:
    """A finished run directory: config.json, history.json and metrics.json."""

    path: Path
    config: dict
    history: list
    metrics: dict

    @property
    def stage(self) -> str:
        return self.config["stage"]

    @property
    def seed(self) -> int:
        return self.config.get("seed", TrainConfig.seed)  # configs may predate a field: its default held

    def probabilities(self) -> np.ndarray:
        """(10000, 10) float32 test-set probabilities."""
        return self._stored("probabilities").astype(np.float32)

    def predicted(self) -> np.ndarray:
        """The class the run predicted for each test digit, exactly (not the argmax of the rounded probabilities)."""
        return self._stored("predicted")

    def _stored(self, name: str) -> np.ndarray:
        path = self.path / PROBABILITIES
        try:
            with np.load(path) as saved:
                return saved[name]
        except FileNotFoundError:
            raise
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:  # a truncated or foreign .npz
            raise DamagedRun(path, f"unreadable ({type(err).__name__})") from None


class DamagedRun(ConfigError):
    """A run file that cannot be read as what it should hold: one line naming it, and the way out."""

    def __init__(self, path: Path, what: str):
        shown = project_relative(path)
        restore = f"restore it with `git checkout -- {shown}`, or " if _tracked(Path(path)) else ""
        super().__init__(f"{shown} is damaged ({what}): {restore}delete {Path(shown).parent} to train the run again")


def _tracked(path: Path) -> bool:
    """Whether git tracks `path` (a committed run's file): only then can `git checkout` restore it."""
    import subprocess

    try:
        listed = subprocess.run(
            ["git", "ls-files", "--error-unmatch", path.name],
            cwd=path.parent,
            capture_output=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return listed.returncode == 0


# What every finished run's files hold at the least (older runs hold more, never less).
REQUIRED_KEYS = {"config.json": ("stage",), "metrics.json": ("epochs_run", "best_epoch")}


def _read_run_file(path: Path):
    try:
        value = read_json(path)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DamagedRun(path, f"not JSON: {err.__class__.__name__} at byte {getattr(err, 'pos', '?')}") from None
    if path.name == "history.json":
        if not isinstance(value, list):
            raise DamagedRun(path, "expected a JSON list, one record per epoch")
        return value
    if not isinstance(value, dict) or not value:
        raise DamagedRun(path, "expected a non-empty JSON object")
    missing = [key for key in REQUIRED_KEYS.get(path.name, ()) if key not in value]
    if missing:
        raise DamagedRun(path, f"no {', '.join(missing)}")
    return value


def read_checkpoint_state(work_dir) -> dict | None:
    """The JSON part of an unfinished run's checkpoint (config, training version, history, callback
    state) without its arrays or TensorFlow; None when there is none or it cannot be read."""
    path = Path(work_dir) / CHECKPOINT
    if not path.is_file():
        return None
    try:
        with np.load(path) as saved:
            return json.loads(str(saved["state"]))
    except (OSError, ValueError, KeyError):  # unreadable: nothing to resume
        return None


def load_run(path) -> Run:
    path = Path(path)
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{path} is not a finished run: no {', '.join(missing)}")
    return Run(path, *(_read_run_file(path / name) for name in ("config.json", "history.json", "metrics.json")))


def best_epoch(history: list[dict], monitor: str) -> dict:
    """The epoch whose weights EarlyStopping restored: the first best value of `monitor`."""
    if monitor == "val_accuracy":
        return max(history, key=lambda r: r[monitor])
    return min(history, key=lambda r: r[monitor])


def learning_rate_cuts(history: list[dict]) -> list[int]:
    """Epochs after which the learning rate was lowered (the next epoch ran at a lower one)."""
    return [a["epoch"] for a, b in itertools.pairwise(history) if b["learning_rate"] < a["learning_rate"]]


def write_probabilities(path: Path, probabilities: np.ndarray, predicted: np.ndarray | None = None) -> None:
    """The test probabilities in float16 (3 significant digits: plenty for averaging an ensemble, a
    fifth of the size) and the predicted classes, taken before rounding: rounded to float16, two
    classes can tie (cnn_bn_aug seed 7, digit 659: 0.4956 both), and argmax would then pick one
    the model did not."""
    predicted = probabilities.argmax(axis=1) if predicted is None else predicted
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(
            handle, probabilities=probabilities.astype(np.float16), predicted=np.asarray(predicted, dtype=np.uint8)
        )


def check_writable(out_dir: Path) -> None:
    """Create out_dir if needed and prove a file can be written there, before any work starts."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"output path {out_dir} is a file; give a directory (it is created if missing)")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as err:
        raise ConfigError(
            f"cannot write to the output folder {out_dir} ({err.strerror or err}); choose a writable folder"
        ) from None


class RunBusy(ConfigError):
    """Another process is running into the same folder."""


class FolderLock:
    """An exclusive OS lock on a folder, held for one run: a second run into it stops at once.

    The lock file sits beside the folder (.NAME.lock), so the folder itself can be renamed or
    replaced while locked. flock is released by the OS when the process dies, so a killed run
    never blocks the next one.
    """

    def __init__(self, folder: Path):
        folder = Path(folder)
        self.path = folder.parent / f".{folder.name}.lock"
        self.folder = folder
        self._handle = None

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise RunBusy(
                f"another run (PID {holder}) is using {self.folder}; wait for it to finish, "
                f"or stop it, then run this again"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc):
        fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()
        self._handle = None
