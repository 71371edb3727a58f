"""Training: plain functions that take what they need.

`run_stage(config, out_dir)` is the whole job: load verified data, split as the seed
did, build the stage's model, fit it with the seed's callbacks, evaluate on the
canonical test set and write the run directory (see mnist_lab.core.run_dir).

Every file is replaced whole, metrics.json last. Until a run finishes, its state lives
in out_dir/.partial/checkpoint.npz, written whole after every epoch; an interrupted run
resumes from there exactly as if it had never stopped, and an older finished run in
out_dir stays intact until the new one is complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import shutil
import sys
import time
from pathlib import Path

import keras
import numpy as np

from mnist_lab.core.adaptation import batchnorm_layers
from mnist_lab.core.config import ConfigError, TrainConfig, same_config
from mnist_lab.core.data import Splits, fetch_mnist, make_splits
from mnist_lab.core.evaluate import evaluate, predict
from mnist_lab.core.files import atomic_path, project_relative, write_json
from mnist_lab.core.models import get_stage
from mnist_lab.core.pipeline import make_dataset, seed_augmentation
from mnist_lab.core.provenance import environment, run_backend
from mnist_lab.core.robustness import (
    SUITE_VERSION,
    evaluate_run,
    evaluate_suite,
    needs_adaptation,
    read_results,
    write_results,
)
from mnist_lab.core.run_dir import (
    CHECKPOINT,
    MODEL,
    PARTIAL_DIR,
    PROBABILITIES,
    REQUIRED_FILES,
    ROBUSTNESS_PREDICTIONS,
    ROBUSTNESS_RESULTS,
    FolderLock,
    Run,
    best_epoch,
    check_writable,
    load_run,
    read_checkpoint_state,
    write_probabilities,
)

# What training computes, as a number: bump it when a change alters any run's results
# (tests/test_golden.py fails until you do, or undo the change). Bumping retrains every stage.
TRAINING_VERSION = 1
ITERATORS_PER_EPOCH = 2  # see fit()


def training_fingerprint(config: TrainConfig) -> str:
    """The config and the training version: equal fingerprints, equal results (on one machine)."""
    return hashlib.sha256(json.dumps([config.to_dict(), TRAINING_VERSION], sort_keys=True).encode()).hexdigest()


def refuse_other_backend(out_dir: Path) -> None:
    """A finished run of another Keras backend is never reused nor replaced: the backend is part of
    a run's identity (its numbers are another sample of the experiment, pooled in its own band)."""
    if not (out_dir / "metrics.json").is_file():
        return
    theirs, mine = run_backend(load_run(out_dir).metrics), keras.config.backend()
    if theirs != mine:
        raise ConfigError(
            f"{out_dir} holds a finished run trained under the {theirs} backend, and this process trains under "
            f"{mine}: a run of one backend is never reused or replaced by another; choose another folder "
            "(mnist-lab puts each backend's runs in a folder of its own)"
        )


def load_finished(config: TrainConfig, out_dir: Path, evaluate_test: bool = True) -> Run | None:
    """The finished run in out_dir if it was trained with this config and this training version
    (and, if `evaluate_test`, was evaluated on the test set). run_stage has already refused a run
    of another backend (refuse_other_backend)."""
    if not all((out_dir / name).is_file() for name in REQUIRED_FILES):
        return None
    run = load_run(out_dir)
    if not same_config(run.config, config) or (evaluate_test and "test_accuracy" not in run.metrics):
        return None
    return run if run.metrics.get("training_version") == TRAINING_VERSION else None


def set_seeds(seed: int) -> None:
    keras.utils.set_random_seed(seed)  # Python's random, NumPy and the backend


@contextlib.contextmanager
def dtype_policy(name: str):
    """Keras' global dtype policy while the models of one run are built; the previous one after."""
    previous, previous_floatx = keras.config.dtype_policy(), keras.config.floatx()
    # float64 (the golden guard's) needs the losses and metrics in float64 too: they follow floatx.
    keras.config.set_floatx("float64" if name == "float64" else "float32")
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
        keras.config.set_floatx(previous_floatx)


def compile_model(model, config: TrainConfig):
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate),
        loss="categorical_crossentropy",
        # The loss without the L2 penalty (Keras adds the penalty to `loss` and `val_loss`).
        metrics=["accuracy", keras.metrics.CategoricalCrossentropy(name="cross_entropy")],
    )
    return model


class Checkpoint(keras.callbacks.Callback):
    """Records each epoch and saves everything a resumed run needs, in one file, after every epoch.

    The file holds the model's variables (with the dropout layers' random-generator state),
    the optimizer's (Adam's moments, step and learning rate), the state of EarlyStopping and
    ReduceLROnPlateau (None under a fixed schedule, which needs no state: it reads the epoch),
    and the history. It must come after those callbacks: it restores them after their
    on_train_begin has reset them, and saves them after they have seen the epoch.
    """

    def __init__(self, path: Path, identity: dict, early_stopping, reduce_lr=None):
        super().__init__()
        self.path, self.identity = path, identity
        self.early_stopping, self.reduce_lr = early_stopping, reduce_lr
        self.records: list[dict] = []
        # Where each stretch of epochs trained: [{"from_epoch": 1, "environment": {...}}, ...].
        # A long run resumes across sessions, and the next one may be on another machine.
        self.sessions: list[dict] = []
        self.resumed_from: int | None = None
        self.saved: dict | None = None  # the checkpoint's arrays
        self.state: dict | None = None  # and its JSON part: identity, history, callback state
        self._started = 0.0

    # --- saving and reading the file

    def load(self) -> int:
        """Read the checkpoint if there is one; return the number of finished epochs in it."""
        if not self.path.is_file():
            return 0
        with np.load(self.path) as saved:
            self.saved = {key: saved[key] for key in saved.files}
        self.state = json.loads(str(self.saved["state"]))
        self.records = self.state["history"]
        # A checkpoint written before sessions were recorded: its epochs trained somewhere unrecorded.
        self.sessions = self.state.get("sessions") or [{"from_epoch": 1, "environment": None}]
        self.resumed_from = len(self.records)
        return self.resumed_from

    def start_session(self, environment: dict) -> None:
        """Record that the epochs from here on train in `environment` (provenance.environment())."""
        self.sessions.append({"from_epoch": len(self.records) + 1, "environment": environment})

    def finished(self) -> bool:
        """The checkpointed run had already ended (EarlyStopping fired, or the last epoch ran)."""
        return self.state is not None and self.state["finished"]

    def _arrays(self, prefix: str) -> list:
        count = sum(1 for key in self.saved if key.startswith(prefix))
        return [self.saved[f"{prefix}{i}"] for i in range(count)]

    def restore(self) -> None:
        model, state = self.model, self.state
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        for variable, value in zip(model.variables, self._arrays("model_"), strict=True):
            variable.assign(value)
        for variable, value in zip(model.optimizer.variables, self._arrays("optimizer_"), strict=True):
            variable.assign(value)
        stopper, plateau = self.early_stopping, self.reduce_lr
        stopper.wait, stopper.best, stopper.best_epoch = state["early_stopping"]
        stopper.best_weights = self._arrays("best_") or None
        if plateau is not None:
            plateau.wait, plateau.best, plateau.cooldown_counter = state["reduce_lr"]

    def save(self, finished: bool) -> None:
        stopper, plateau = self.early_stopping, self.reduce_lr
        state = {
            **self.identity,
            "history": self.records,
            "sessions": self.sessions,
            "finished": finished,
            "early_stopping": [stopper.wait, _number(stopper.best), stopper.best_epoch],
            "reduce_lr": None if plateau is None else [plateau.wait, _number(plateau.best), plateau.cooldown_counter],
        }
        arrays = {"state": np.array(json.dumps(state))}
        arrays.update({f"model_{i}": np.asarray(v) for i, v in enumerate(self.model.variables)})
        arrays.update({f"optimizer_{i}": np.asarray(v) for i, v in enumerate(self.model.optimizer.variables)})
        arrays.update({f"best_{i}": w for i, w in enumerate(stopper.best_weights or [])})
        with atomic_path(self.path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **arrays)

    # --- the callback

    def on_train_begin(self, logs=None):
        if self.saved is not None:
            self.restore()

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        record = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}
        record.setdefault("learning_rate", float(np.asarray(self.model.optimizer.learning_rate)))
        record["seconds"] = time.perf_counter() - self._started
        self.records = self.records[:epoch] + [record]
        self.save(finished=bool(self.model.stop_training) or epoch + 1 >= self.params["epochs"])


def _number(value):
    """A callback's 'best' as JSON can hold it (None before the first epoch)."""
    return None if value is None else float(value)


def learning_rate_callbacks(config: TrainConfig):
    """(the ReduceLROnPlateau, whose state a checkpoint keeps, or None; the callbacks to pass to fit)."""
    if config.lr_schedule == "plateau":
        plateau = keras.callbacks.ReduceLROnPlateau(
            monitor=config.monitor, factor=config.lr_factor, patience=config.lr_patience
        )
        return plateau, [plateau]
    if config.lr_schedule == "constant":
        return None, []

    def schedule(epoch: int) -> float:  # epoch is absolute, so a resumed run gets the same rates
        if config.lr_schedule == "exponential":
            return config.learning_rate * config.lr_decay**epoch
        return config.learning_rate * 0.5 * (1.0 + math.cos(math.pi * epoch / config.epochs))  # cosine

    return None, [keras.callbacks.LearningRateScheduler(schedule)]


def training_callbacks(config: TrainConfig):
    """(EarlyStopping, the ReduceLROnPlateau or None, the learning-rate callbacks): what fit trains with."""
    # Both infer the direction from the name: val_accuracy up, the losses down.
    early_stopping = keras.callbacks.EarlyStopping(
        monitor=config.monitor, patience=config.early_stopping_patience, restore_best_weights=True
    )
    return early_stopping, *learning_rate_callbacks(config)


def fit(
    model,
    splits: Splits,
    config: TrainConfig,
    work_dir: Path,
    *,
    augment: bool,
    provenance: dict,
    verbose: int | str = "auto",
    extra_callbacks=(),
):
    """Train `model` (compiled) with the seed's callbacks, resuming from work_dir's checkpoint.
    `provenance` (provenance.environment()) is recorded as where the epochs from here on train.

    Returns the per-epoch records, the epoch it resumed from (None: trained from the start) and
    the sessions that trained them (Checkpoint.sessions).
    """
    augmentation = seed_augmentation(config) if augment else None
    train_data = make_dataset(
        splits.x_train,
        splits.y_train,
        batch_size=config.batch_size,
        training=True,
        augmentation=augmentation,
        seed=config.seed,
    )
    val_data = make_dataset(splits.x_val, splits.y_val, batch_size=config.batch_size)

    early_stopping, reduce_lr, schedule = training_callbacks(config)
    identity = {"config": config.to_dict(), "training_version": TRAINING_VERSION}
    checkpoint = Checkpoint(work_dir / CHECKPOINT, identity, early_stopping, reduce_lr)
    done_epochs = checkpoint.load()
    if checkpoint.finished():  # interrupted after the last epoch, before the results were written
        print(
            f"the checkpoint in {project_relative(work_dir)} holds all {done_epochs} epochs of this run: "
            "evaluating it, no training"
        )
        checkpoint.set_model(model)
        checkpoint.restore()
        model.set_weights(early_stopping.best_weights or model.get_weights())
        return checkpoint.records, checkpoint.resumed_from, checkpoint.sessions
    checkpoint.start_session(provenance)
    # Each new iterator of train_data draws a new shuffle order and new augmentation seeds.
    # Keras 3's epoch iterator makes two per epoch (one at its start, and one at its end that
    # the next epoch replaces), so skipping two per finished epoch makes a resumed epoch draw
    # exactly what it would have drawn in an uninterrupted run (the resume tests check this).
    # Without tf.data (JAX), the batches draw from (seed, epoch, batch) and a callback sets the epoch.
    tracker = [train_data.epoch_tracker()] if hasattr(train_data, "epoch_tracker") else []
    for _ in range(0 if tracker else ITERATORS_PER_EPOCH * done_epochs):
        iter(train_data)
    if verbose == "auto":  # a live bar in a terminal or notebook, one line per epoch in logs
        verbose = 1 if sys.stdout.isatty() or "ipykernel" in sys.modules else 2
    model.fit(
        train_data,
        validation_data=val_data,
        epochs=config.epochs,
        initial_epoch=done_epochs,
        callbacks=[*tracker, *schedule, early_stopping, checkpoint, *extra_callbacks],
        verbose=verbose,
        shuffle=False,
    )  # train_data shuffles itself
    return checkpoint.records, checkpoint.resumed_from, checkpoint.sessions


def last_epoch_metrics(model, checkpoint: Path, splits: Splits, probabilities: np.ndarray) -> dict:
    """Test accuracy of the last epoch's weights, before EarlyStopping restored the best epoch's.

    For reporting what restoring is worth (claim 7 of the seed's notes); no choice reads it. The
    checkpoint holds the last epoch's variables; the model keeps the restored ones afterwards.
    When the best epoch was the last, they are the same weights and `probabilities` (the kept
    weights' test predictions) answer without a second pass over the test set.
    """
    with np.load(checkpoint) as saved:
        last = [saved[f"model_{i}"] for i in range(len(model.variables))]
    kept = [np.asarray(variable) for variable in model.variables]
    if all(np.array_equal(a, b) for a, b in zip(kept, last, strict=True)):
        predicted = probabilities.argmax(axis=1)
    else:
        for variable, value in zip(model.variables, last, strict=True):
            variable.assign(value)
        predicted = predict(model, splits.x_test).argmax(axis=1)
        for variable, value in zip(model.variables, kept, strict=True):
            variable.assign(value)
    errors = int((predicted != splits.y_test.argmax(axis=1)).sum())
    return {"last_epoch_test_accuracy": (len(predicted) - errors) / len(predicted), "last_epoch_test_errors": errors}


def save_model(model, stage, config: TrainConfig, path: Path) -> None:
    """Save the weights in a freshly compiled copy: loadable by plain Keras, no optimizer state."""
    inference = compile_model(stage(), config)
    inference.set_weights(model.get_weights())
    with atomic_path(path) as tmp:
        inference.save(tmp)


def read_checkpoint_identity(work_dir: Path) -> dict | None:
    state = read_checkpoint_state(work_dir)
    if state is None or not {"config", "training_version"} <= state.keys():
        return None
    return {"config": state["config"], "training_version": state["training_version"]}


def prepare_work_dir(config: TrainConfig, work_dir: Path) -> None:
    """Keep an interrupted run only if it is this config's, trained by this training version."""
    identity = read_checkpoint_identity(work_dir)
    if identity is not None and not same_config(identity["config"], config):
        raise ConfigError(
            f"{work_dir} holds an interrupted run with a different config (seed {identity['config'].get('seed')}, "
            f"epochs {identity['config'].get('epochs')}, subset {identity['config'].get('subset')}); rerun with "
            f"its settings to resume it, or delete {work_dir} to start over"
        )
    if work_dir.is_dir() and (identity is None or identity["training_version"] != TRAINING_VERSION):
        if identity is not None:
            print(f"the training code changed since the interrupted run in {project_relative(work_dir)}: starting over")
        shutil.rmtree(work_dir)  # another version's epochs, or nothing resumable


def run_stage(
    config: TrainConfig,
    out_dir: Path,
    *,
    data_path=None,
    verbose: int | str = "auto",
    extra_callbacks=(),
    reuse: bool = True,
    keep_model: bool = True,
    evaluate_test: bool = True,
    robustness: bool = True,
) -> Run:
    """Train and evaluate one stage into out_dir; with `reuse`, return an identical finished run.

    With `evaluate_test=False` the test set is never looked at (for choosing settings on the
    validation split): metrics.json holds validation figures only and no probabilities are written.
    With `robustness=False` the robustness suite is not evaluated (the golden guard's tiny runs,
    which pin training, not the suite): the run has no robustness results.

    Checks the stage and the folder before any data is loaded, and holds the folder's lock
    for the whole run (a second run into it stops at once with RunBusy).
    """
    out_dir = Path(out_dir)
    stage = get_stage(config.stage)
    check_writable(out_dir)
    with FolderLock(out_dir), dtype_policy(config.precision):
        refuse_other_backend(out_dir)
        finished = load_finished(config, out_dir, evaluate_test) if reuse else None
        if finished is not None:
            print(
                f"reusing the finished run in {project_relative(out_dir)} (same config and training version; "
                f"trained {finished.metrics['epochs_run']} epoch{'s' if finished.metrics['epochs_run'] != 1 else ''} "
                f"in {finished.metrics['training_seconds'] / 60:.1f} min)"
            )
            stale = read_checkpoint_identity(out_dir / PARTIAL_DIR)
            if stale is None or same_config(stale["config"], config):  # an interrupted retrain of this very run
                shutil.rmtree(out_dir / PARTIAL_DIR, ignore_errors=True)
            results = read_results(out_dir)
            if evaluate_test and (out_dir / MODEL).is_file() and (results or {}).get("suite_version") != SUITE_VERSION:
                print(f"evaluating the robustness suite v{SUITE_VERSION} on the finished run (it has no results)")
                evaluate_run(out_dir, data_path=data_path, force=True)
            elif evaluate_test and (out_dir / MODEL).is_file() and needs_adaptation(results):
                print("evaluating the BatchNorm adaptation on the finished run (its results lack it)")
                evaluate_run(out_dir, data_path=data_path)
            return finished
        work_dir = out_dir / PARTIAL_DIR
        prepare_work_dir(config, work_dir)
        loaded = fetch_mnist(data_path)
        splits = make_splits(
            loaded.as_keras_tuple(),
            validation_fraction=config.validation_fraction,
            split_seed=config.split_seed,
            subset=config.subset,
            seed=config.seed,
            test_subset=config.test_subset,
        )
        work_dir.mkdir(parents=True, exist_ok=True)
        set_seeds(config.seed)
        model = compile_model(stage(), config)

        provenance = environment()  # read before training: the commit the run was trained at
        started = time.perf_counter()
        history, resumed_from, sessions = fit(
            model,
            splits,
            config,
            work_dir,
            augment=stage.augment,
            provenance=provenance,
            verbose=verbose,
            extra_callbacks=extra_callbacks,
        )
        wall_seconds = time.perf_counter() - started
        training_seconds = sum(r["seconds"] for r in history)  # includes epochs done before a resume

        probabilities = predict(model, splits.x_test) if evaluate_test else None
        # The test digits corrupted and transformed (mnist_lab.core.robustness); a run on a subset
        # evaluates the suite's small version, so that quick runs and tests stay fast.
        (_, _), (test_images, test_labels) = loaded.as_keras_tuple()
        skipped_suite = evaluate_test and not robustness  # recorded: a reader must not take it for a failure
        if evaluate_test and robustness:
            print(
                f"robustness suite v{SUITE_VERSION}{' (small)' if config.subset is not None else ''}: "
                "MNIST-C's 15 corruptions and the transforms of the test digits"
                + (", then the BatchNorm adaptation" if batchnorm_layers(model) else "")
                + " (minutes on a CPU; a tweak skips it with --no-robustness)",
                flush=True,
            )
        robustness = (
            evaluate_suite(model, test_images, test_labels, small=config.subset is not None)
            if evaluate_test and robustness
            else None
        )
        if robustness is not None:
            print(
                f"robustness suite: mean over the corruptions {100 * robustness[0]['mean_corruption_accuracy']:.2f}% "
                f"({robustness[0]['seconds'] + robustness[0].get('adaptation', {}).get('seconds', 0):.0f} s)",
                flush=True,
            )
        best = best_epoch(history, config.monitor)
        metrics = {
            "stage": config.stage,
            **(evaluate(model, splits, probabilities) if evaluate_test else {}),
            **(last_epoch_metrics(model, work_dir / CHECKPOINT, splits, probabilities) if evaluate_test else {}),
            "parameters": int(model.count_params()),
            "epochs_run": len(history),
            "monitor": config.monitor,
            "best_epoch": best["epoch"],
            "best_val_loss": best["val_loss"],
            "best_val_accuracy": best["val_accuracy"],
            "best_val_cross_entropy": best.get("val_cross_entropy"),  # val_loss without the L2 penalty
            "training_seconds": training_seconds,
            "wall_seconds_this_session": wall_seconds,
            "robustness_seconds": robustness[0]["seconds"] if robustness else None,
            "robustness_skipped": skipped_suite,  # asked not to evaluate the suite (a tweak's --no-robustness)
            # The BatchNorm adaptation after the suite (mnist_lab.core.adaptation); None without BatchNorm.
            "adaptation_seconds": robustness[0]["adaptation"].get("seconds") if robustness else None,
            "resumed_from_epoch": resumed_from,
            # Training images per second, validation passes included in the time.
            "images_per_second": len(splits.x_train) * len(history) / max(training_seconds, 1e-9),
            "augmented": stage.augment,
            "training_version": TRAINING_VERSION,
            "training_fingerprint": training_fingerprint(config),
            "data": {"source": loaded.source, **splits.sizes()},
            "environment": provenance,  # this session's; `sessions` says where every epoch trained
            "sessions": sessions,
        }
        # Finished: publish everything, metrics.json last (its presence means done). An older
        # run's metrics.json goes first, so a half-published folder never passes for finished;
        # the checkpoint stays until the end, so a rerun publishes again without training.
        (out_dir / "metrics.json").unlink(missing_ok=True)
        write_json(out_dir / "config.json", config.to_dict())
        write_json(out_dir / "history.json", history)
        if evaluate_test:
            write_probabilities(out_dir / PROBABILITIES, probabilities)
        if robustness is not None:
            write_results(out_dir, *robustness)
        else:
            for name in (ROBUSTNESS_RESULTS, ROBUSTNESS_PREDICTIONS):
                (out_dir / name).unlink(missing_ok=True)
        if not evaluate_test:
            (out_dir / PROBABILITIES).unlink(missing_ok=True)
        if keep_model:
            save_model(model, stage, config, out_dir / MODEL)
        else:
            (out_dir / MODEL).unlink(missing_ok=True)  # a stale model must not pass for this run's
        write_json(out_dir / "metrics.json", metrics)
        shutil.rmtree(work_dir)
        return load_run(out_dir)
