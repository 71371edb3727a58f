"""Training and evaluation: plain functions that take what they need.

`run_stage(config, out_dir)` is the whole job: load verified data, split as the seed
did, build the stage's model, fit it with the seed's callbacks, evaluate on the
canonical test set and write the run directory:

    out_dir/config.json    the resolved TrainConfig
    out_dir/history.json   one record per epoch: loss, accuracy, val_loss, val_accuracy,
                           learning_rate, seconds
    out_dir/model.keras    the trained model (best val_loss weights, no optimizer state)
    out_dir/metrics.json   test metrics, confusion matrix, timings, data source, environment

Every file is replaced whole (write to a temporary file, then rename). Until a run
finishes, its state lives in out_dir/.partial/; an interrupted run resumes from its
last finished epoch there, and an older finished run in out_dir stays intact.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import sys
import time
from pathlib import Path

import keras
import numpy as np

from mnist_lab.config import ConfigError, TrainConfig
from mnist_lab.data import Splits, fetch_mnist, make_splits
from mnist_lab.io import atomic_path, check_out_dir, environment, read_json, sha256_files, write_json
from mnist_lab.models import get_stage
from mnist_lab.pipeline import make_dataset, seed_augmentation
from mnist_lab.reports import RUN_FILES, Run, load_run

PARTIAL_DIR = ".partial"
# The modules that decide a run's result. A finished run whose config and these files are
# unchanged is reused instead of retrained (plots, notebooks and reports do not count).
TRAINING_SOURCES = ("config.py", "data.py", "models.py", "pipeline.py", "train.py")


def training_fingerprint(config: TrainConfig) -> str:
    package = Path(__file__).parent
    code = sha256_files(package / name for name in TRAINING_SOURCES)
    return hashlib.sha256(json.dumps([config.to_dict(), code], sort_keys=True).encode()).hexdigest()


def load_finished(config: TrainConfig, out_dir: Path) -> Run | None:
    """The finished run in out_dir if it was trained with this config and this training code."""
    if not all((out_dir / name).is_file() for name in RUN_FILES):
        return None
    run = load_run(out_dir)
    return run if run.metrics.get("training_fingerprint") == training_fingerprint(config) else None


def set_seeds(seed: int) -> None:
    keras.utils.set_random_seed(seed)  # Python's random, NumPy and the backend (TensorFlow)


def compile_model(model, config: TrainConfig):
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


class EpochRecorder(keras.callbacks.Callback):
    """Writes history.json after every epoch and makes a resumed run continue where it stopped.

    BackupAndRestore restores the weights, the optimizer (Adam's moments, the learning
    rate) and the epoch counter, but not the state of EarlyStopping and
    ReduceLROnPlateau; this callback rebuilds that state from the recorded history and
    the best weights it keeps on disk, so a resumed run makes the decisions an
    uninterrupted one would have made.
    """

    def __init__(self, work_dir: Path, early_stopping, reduce_lr):
        super().__init__()
        self.history_path = work_dir / "history.json"
        self.best_path = work_dir / "best_weights.npz"
        self.early_stopping = early_stopping
        self.reduce_lr = reduce_lr
        self.records = read_json(self.history_path) if self.history_path.is_file() else []
        self.resumed_from = None
        self._first_epoch = True
        self._started = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        if self._first_epoch:
            self._first_epoch = False
            self.records = self.records[:epoch]  # epochs after the restored backup are redone
            if epoch > 0:
                self.resumed_from = epoch
                self._restore_callback_state()
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        record = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}
        record.setdefault("learning_rate", float(np.asarray(self.model.optimizer.learning_rate)))
        record["seconds"] = time.perf_counter() - self._started
        earlier = self.records[:epoch]
        self.records = earlier + [record]
        # A strict improvement, as EarlyStopping counts one: a tie keeps the earlier epoch.
        if record["val_loss"] < min((r["val_loss"] for r in earlier), default=math.inf):
            with atomic_path(self.best_path) as tmp, open(tmp, "wb") as handle:
                np.savez(handle, *self.model.get_weights())
        write_json(self.history_path, self.records)

    def _restore_callback_state(self):
        losses = [r["val_loss"] for r in self.records]
        best_epoch = int(np.argmin(losses))
        stopper = self.early_stopping
        stopper.best, stopper.best_epoch = losses[best_epoch], best_epoch
        stopper.wait = len(losses) - 1 - best_epoch
        with np.load(self.best_path) as saved:
            stopper.best_weights = [saved[f"arr_{i}"] for i in range(len(saved.files))]
        # Replay ReduceLROnPlateau's bookkeeping (cooldown 0) over the recorded losses.
        plateau = self.reduce_lr
        plateau.best, plateau.wait = math.inf, 0
        for loss in losses:
            if loss < plateau.best - plateau.min_delta:
                plateau.best, plateau.wait = loss, 0
            else:
                plateau.wait += 1
                if plateau.wait >= plateau.patience:
                    plateau.wait = 0  # the rate was cut then; the restored optimizer holds it


def fit(model, splits: Splits, config: TrainConfig, work_dir: Path, *, augment: bool,
        verbose: int | str = "auto", extra_callbacks=()):
    """Train `model` (compiled) with the seed's callbacks; return the per-epoch records."""
    augmentation = seed_augmentation(config) if augment else None
    train_data = make_dataset(splits.x_train, splits.y_train, batch_size=config.batch_size,
                              training=True, augmentation=augmentation, seed=config.seed)
    val_data = make_dataset(splits.x_val, splits.y_val, batch_size=config.batch_size)

    reduce_lr = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=config.lr_factor,
                                                  patience=config.lr_patience)
    early_stopping = keras.callbacks.EarlyStopping(monitor="val_loss",
                                                   patience=config.early_stopping_patience,
                                                   restore_best_weights=True)
    recorder = EpochRecorder(work_dir, early_stopping, reduce_lr)
    callbacks = [
        # Order matters: the backup restores the epoch before the recorder reads it, and the
        # recorder writes history before the backup of the same epoch is taken.
        keras.callbacks.BackupAndRestore(str(work_dir / "backup")),
        recorder, reduce_lr, early_stopping, *extra_callbacks,
    ]
    if verbose == "auto":  # a live bar in a terminal or notebook, one line per epoch in logs
        verbose = 1 if sys.stdout.isatty() or "ipykernel" in sys.modules else 2
    model.fit(train_data, validation_data=val_data, epochs=config.epochs,
              callbacks=callbacks, verbose=verbose, shuffle=False)  # train_data shuffles itself
    return recorder.records, recorder.resumed_from


def evaluate(model, splits: Splits, batch_size: int = 256) -> dict:
    """Test loss and accuracy as `model.evaluate` reports them, per-class accuracy and the
    confusion matrix (rows: true digit), from a single pass over the test set."""
    from sklearn.metrics import accuracy_score, confusion_matrix

    probabilities = model.predict(splits.x_test, batch_size=batch_size, verbose=0)
    predicted, true = probabilities.argmax(axis=1), splits.y_test.argmax(axis=1)
    cross_entropy = keras.losses.CategoricalCrossentropy()(splits.y_test, probabilities)
    penalty = sum(keras.ops.convert_to_numpy(loss) for loss in model.losses)  # L2, as model.evaluate adds it
    matrix = confusion_matrix(true, predicted, labels=range(10))
    return {
        "test_accuracy": float(accuracy_score(true, predicted)),
        "test_loss": float(keras.ops.convert_to_numpy(cross_entropy) + penalty),
        "per_class_accuracy": {str(d): float(matrix[d, d] / matrix[d].sum()) for d in range(10)},
        "confusion_matrix": matrix.tolist(),
        # [test index, true digit, predicted digit] of every error, for the notebooks' gallery.
        "misclassified": [[int(i), int(true[i]), int(predicted[i])] for i in np.flatnonzero(true != predicted)],
    }


def save_model(model, stage, config: TrainConfig, path: Path) -> None:
    """Save the weights in a freshly compiled copy: loadable by plain Keras, no optimizer state."""
    inference = compile_model(stage(), config)
    inference.set_weights(model.get_weights())
    with atomic_path(path) as tmp:
        inference.save(tmp)


def run_stage(config: TrainConfig, out_dir: Path, *, data_path=None, verbose: int | str = "auto",
              extra_callbacks=(), reuse: bool = True) -> Run:
    """Train and evaluate one stage into out_dir; with `reuse`, return an identical finished run."""
    out_dir = Path(out_dir)
    check_out_dir(out_dir)
    finished = load_finished(config, out_dir) if reuse else None
    if finished is not None:
        print(f"reusing the finished run in {out_dir} (same config and training code; "
              f"trained {finished.metrics['epochs_run']} epochs in {finished.metrics['training_seconds'] / 60:.1f} min)")
        return finished
    fingerprint = training_fingerprint(config)  # of the code as it is now, before hours of training
    work_dir = out_dir / PARTIAL_DIR
    saved_config, saved_fingerprint = work_dir / "config.json", work_dir / "fingerprint.json"
    if saved_config.is_file() and read_json(saved_config) != config.to_dict():
        raise ConfigError(
            f"{work_dir} holds an interrupted run with a different config; rerun with the settings in "
            f"{saved_config} to resume it, or delete {work_dir} to start over"
        )
    if work_dir.is_dir() and (not saved_fingerprint.is_file() or read_json(saved_fingerprint) != fingerprint):
        # Resuming would mix epochs trained by two versions of the code: start over.
        print(f"the training code changed since the interrupted run in {work_dir}: starting over")
        shutil.rmtree(work_dir)
    stage = get_stage(config.stage)
    loaded = fetch_mnist(data_path)
    splits = make_splits(loaded.as_keras_tuple(), validation_fraction=config.validation_fraction,
                         split_seed=config.split_seed, subset=config.subset, seed=config.seed)

    work_dir.mkdir(parents=True, exist_ok=True)
    write_json(saved_config, config.to_dict())
    write_json(saved_fingerprint, fingerprint)
    set_seeds(config.seed)
    model = compile_model(stage(), config)

    started = time.perf_counter()
    history, resumed_from = fit(model, splits, config, work_dir, augment=stage.augment,
                                verbose=verbose, extra_callbacks=extra_callbacks)
    wall_seconds = time.perf_counter() - started
    training_seconds = sum(r["seconds"] for r in history)  # includes epochs done before a resume

    best = min(history, key=lambda r: r["val_loss"])
    metrics = {
        "stage": config.stage,
        **evaluate(model, splits),
        "parameters": int(model.count_params()),
        "epochs_run": len(history),
        "best_epoch": best["epoch"],
        "best_val_loss": best["val_loss"],
        "best_val_accuracy": best["val_accuracy"],
        "training_seconds": training_seconds,
        "wall_seconds_this_session": wall_seconds,
        "resumed_from_epoch": resumed_from,
        # Training images per second, validation passes included in the time.
        "images_per_second": len(splits.x_train) * len(history) / training_seconds,
        "augmented": stage.augment,
        "training_fingerprint": fingerprint,
        "data": {"source": loaded.source, **splits.sizes()},
        "environment": environment(),
    }
    # Finished: publish config, history and model, metrics.json last (its presence means done).
    write_json(out_dir / "config.json", config.to_dict())
    write_json(out_dir / "history.json", history)
    save_model(model, stage, config, out_dir / "model.keras")
    write_json(out_dir / "metrics.json", metrics)
    shutil.rmtree(work_dir)
    return load_run(out_dir)
