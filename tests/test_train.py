import json
import os

import keras
import numpy as np
import pytest
from conftest import without_timings

from mnist_lab.core.config import ConfigError, TrainConfig
from mnist_lab.core.data import Splits, fetch_mnist
from mnist_lab.core.models import STAGES
from mnist_lab.core.run_dir import PARTIAL_DIR, FolderLock, RunBusy
from mnist_lab.core.train import compile_model, evaluate, run_stage

QUICK = dict(stage="dnn", subset=500, batch_size=32)
# Dropout, BatchNorm and augmentation all draw random numbers; the short patiences make the
# learning-rate cut and early stopping decide something within a few epochs.
RANDOM_EVERYWHERE = dict(stage="cnn_bn_aug", subset=300, epochs=4, lr_patience=1, early_stopping_patience=2, seed=3)


class Interrupt(Exception):
    pass


class InterruptAt(keras.callbacks.Callback):
    """Stands in for a killed process: raises when epoch `epoch` (0-based) is about to start."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise Interrupt


def test_run_writes_whole_run_directory(tmp_path):
    config = TrainConfig(epochs=2, **QUICK)
    result = run_stage(config, tmp_path / "run", verbose=0)
    files = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert files == [
        *("config.json", "history.json", "metrics.json", "model.keras"),
        *("robustness.json", "robustness_predictions.npz", "test_probabilities.npz"),
    ]
    assert TrainConfig.from_dict(json.loads((tmp_path / "run/config.json").read_text())) == config

    history = json.loads((tmp_path / "run/history.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds"):
        assert all(np.isfinite(r[key]) for r in history), key

    metrics = result.metrics
    assert metrics["epochs_run"] == 2 and metrics["best_epoch"] in (1, 2)
    assert metrics["parameters"] == 669_706
    assert metrics["data"]["train"] == 450 and metrics["data"]["test"] == 10000
    matrix = np.array(metrics["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == 10000
    assert metrics["test_accuracy"] == pytest.approx(np.trace(matrix) / 10000)
    assert metrics["test_accuracy"] > 0.5  # 450 images, 2 epochs: far above chance, honestly low
    assert set(metrics["per_class_accuracy"]) == {str(d) for d in range(10)}
    assert metrics["images_per_second"] > 0 and metrics["training_seconds"] > 0
    for key in ("keras", "backend", "device", "python", "numpy", "cpu"):
        assert metrics["environment"][key]
    assert metrics["training_version"] >= 1

    # The stored probabilities give the recorded predictions.
    probabilities = result.probabilities()
    assert probabilities.shape == (10000, 10) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-2)
    wrong = {i for i, _, _ in metrics["misclassified"]}
    _, (x_test, y_test) = fetch_mnist().as_keras_tuple()
    assert set(np.flatnonzero(probabilities.argmax(axis=1) != y_test)) == wrong

    # Plain Keras loads the model, it reproduces the recorded accuracy, and it holds no optimizer
    # state: about one float32 copy of the weights, where Adam's moments would triple it.
    reloaded = keras.models.load_model(tmp_path / "run/model.keras")
    predicted = reloaded.predict(x_test[..., None] / np.float32(255), verbose=0).argmax(axis=1)
    assert np.mean(predicted == y_test) == pytest.approx(metrics["test_accuracy"], abs=5e-5)
    assert (tmp_path / "run/model.keras").stat().st_size < 1.2 * 669_706 * 4


def test_evaluate_matches_keras_evaluate(small_splits):
    model = compile_model(STAGES["cnn_reg"](), TrainConfig())  # has an L2 penalty, which evaluate adds
    model.fit(small_splits.x_train[:64], small_splits.y_train[:64], epochs=1, verbose=0)
    few = Splits(
        *(getattr(small_splits, k) for k in ("x_train", "y_train", "x_val", "y_val")),
        small_splits.x_test[:300],
        small_splits.y_test[:300],
    )
    ours = evaluate(model, few)
    loss, accuracy, cross_entropy = model.evaluate(few.x_test, few.y_test, verbose=0)
    assert ours["test_loss"] == pytest.approx(loss, rel=1e-4)
    assert ours["test_accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert ours["test_cross_entropy"] == pytest.approx(cross_entropy, rel=1e-4)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    return run_stage(TrainConfig(**RANDOM_EVERYWHERE), tmp_path_factory.mktemp("whole") / "run", verbose=0)


@pytest.mark.parametrize("stop_before_epoch", [1, 2])
def test_a_resumed_run_equals_the_uninterrupted_run(tmp_path, uninterrupted, stop_before_epoch):
    """Shuffling, augmentation draws, dropout masks, Adam, the learning-rate cut and early
    stopping all continue as if the run had never stopped."""
    config, out = TrainConfig(**RANDOM_EVERYWHERE), tmp_path / "run"
    with pytest.raises(Interrupt):
        run_stage(config, out, verbose=0, extra_callbacks=[InterruptAt(stop_before_epoch)])
    assert not (out / "metrics.json").exists() and (out / PARTIAL_DIR).is_dir()

    resumed = run_stage(config, out, verbose=0)
    assert resumed.metrics["resumed_from_epoch"] == stop_before_epoch
    # Each session's machine is recorded with the epoch it started from.
    assert [s["from_epoch"] for s in resumed.metrics["sessions"]] == [1, stop_before_epoch + 1]
    assert all(s["environment"]["cpu"] for s in resumed.metrics["sessions"])
    assert [s["from_epoch"] for s in uninterrupted.metrics["sessions"]] == [1]
    assert without_timings(resumed.history) == without_timings(uninterrupted.history)
    for key in ("test_accuracy", "test_loss", "misclassified", "best_epoch", "epochs_run"):
        assert resumed.metrics[key] == uninterrupted.metrics[key], key
    assert np.array_equal(resumed.probabilities(), uninterrupted.probabilities())
    assert not (out / PARTIAL_DIR).exists()


# A fixed schedule and the monitor without the L2 penalty.
SCHEDULED = dict(RANDOM_EVERYWHERE, lr_schedule="exponential", lr_decay=0.5, monitor="val_cross_entropy")


def test_a_scheduled_run_resumes_exactly_and_follows_its_schedule(tmp_path):
    config = TrainConfig(**SCHEDULED)
    whole = run_stage(config, tmp_path / "whole", verbose=0)
    rates = [record["learning_rate"] for record in whole.history]
    assert rates == pytest.approx([1e-3 * 0.5**e for e in range(len(rates))])
    best = min(whole.history, key=lambda r: r["val_cross_entropy"])
    assert whole.metrics["best_epoch"] == best["epoch"] and whole.metrics["monitor"] == "val_cross_entropy"
    for record in whole.history:  # the cross-entropy metric is the loss without the L2 penalty
        assert record["val_cross_entropy"] < record["val_loss"]

    with pytest.raises(Interrupt):
        run_stage(config, tmp_path / "run", verbose=0, extra_callbacks=[InterruptAt(1)])
    resumed = run_stage(config, tmp_path / "run", verbose=0)
    assert resumed.metrics["resumed_from_epoch"] == 1
    assert without_timings(resumed.history) == without_timings(whole.history)
    assert np.array_equal(resumed.probabilities(), whole.probabilities())


def test_cosine_schedule_reaches_zero_at_the_last_epoch():
    from mnist_lab.core.train import learning_rate_callbacks

    plateau, (scheduler,) = learning_rate_callbacks(TrainConfig(lr_schedule="cosine", epochs=4))
    assert plateau is None
    assert [scheduler.schedule(e) for e in range(5)] == pytest.approx([1e-3, 8.5355e-4, 5e-4, 1.4645e-4, 0], abs=1e-8)


def test_an_accuracy_monitor_picks_the_highest_epoch():
    from mnist_lab.core.run_dir import best_epoch

    history = [
        {"epoch": 1, "val_accuracy": 0.9},
        {"epoch": 2, "val_accuracy": 0.95},
        {"epoch": 3, "val_accuracy": 0.95},
    ]
    assert best_epoch(history, "val_accuracy")["epoch"] == 2  # the first best, as EarlyStopping keeps it


def test_a_run_interrupted_while_publishing_publishes_without_training(tmp_path, monkeypatch):
    import mnist_lab.core.train as train_module

    config, out = TrainConfig(epochs=2, **QUICK), tmp_path / "run"
    real = train_module.write_probabilities

    def fail_once(*args):
        monkeypatch.setattr(train_module, "write_probabilities", real)
        raise Interrupt

    monkeypatch.setattr(train_module, "write_probabilities", fail_once)
    with pytest.raises(Interrupt):
        run_stage(config, out, verbose=0)
    assert not (out / "metrics.json").exists()
    result = run_stage(config, out, verbose=0)
    assert result.metrics["resumed_from_epoch"] == 2 and len(result.history) == 2
    assert [s["from_epoch"] for s in result.metrics["sessions"]] == [1]  # publishing trains nothing


def test_interrupted_run_from_another_training_version_starts_over(tmp_path, capsys, monkeypatch):
    import mnist_lab.core.train as train_module

    config = TrainConfig(epochs=2, **QUICK)
    out = tmp_path / "run"
    with pytest.raises(Interrupt):
        run_stage(config, out, verbose=0, extra_callbacks=[InterruptAt(1)])
    monkeypatch.setattr(train_module, "TRAINING_VERSION", train_module.TRAINING_VERSION + 1)
    capsys.readouterr()
    result = run_stage(config, out, verbose=0)
    assert "training code changed since the interrupted run" in capsys.readouterr().out
    assert result.metrics["resumed_from_epoch"] is None  # both epochs trained by the new code
    assert result.metrics["training_version"] == train_module.TRAINING_VERSION and len(result.history) == 2


def test_interrupted_rerun_keeps_the_finished_results(tmp_path):
    out = tmp_path / "run"
    run_stage(TrainConfig(epochs=1, **QUICK), out, verbose=0)
    finished = {name: (out / name).read_bytes() for name in ("metrics.json", "history.json", "model.keras")}
    with pytest.raises(Interrupt):
        run_stage(TrainConfig(epochs=2, **QUICK), out, verbose=0, extra_callbacks=[InterruptAt(1)])
    assert {name: (out / name).read_bytes() for name in finished} == finished
    with pytest.raises(ConfigError, match="interrupted run with a different config"):
        run_stage(TrainConfig(epochs=3, **QUICK), out, verbose=0)


def test_an_interrupted_retrain_does_not_linger(tmp_path, capsys):
    out = tmp_path / "run"
    run_stage(TrainConfig(epochs=2, **QUICK), out, verbose=0)
    with pytest.raises(Interrupt):
        run_stage(TrainConfig(epochs=2, **QUICK), out, verbose=0, reuse=False, extra_callbacks=[InterruptAt(1)])
    assert (out / PARTIAL_DIR).is_dir()
    run_stage(TrainConfig(epochs=2, **QUICK), out, verbose=0)  # reuses the finished run: the retrain is moot
    assert "reusing the finished run" in capsys.readouterr().out
    assert not (out / PARTIAL_DIR).exists()


def test_finished_run_is_reused_only_with_the_same_config_and_version(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    first = run_stage(TrainConfig(epochs=1, **QUICK), out, verbose=0)
    capsys.readouterr()
    again = run_stage(TrainConfig(epochs=1, **QUICK), out, verbose=0)
    assert "reusing the finished run" in capsys.readouterr().out
    assert again.metrics == first.metrics and again.history == first.history

    # Another training version trains again; so does reuse=False.
    import mnist_lab.core.train as train_module

    monkeypatch.setattr(train_module, "TRAINING_VERSION", train_module.TRAINING_VERSION + 1)
    retrained = run_stage(TrainConfig(epochs=1, **QUICK), out, verbose=0)
    assert "reusing" not in capsys.readouterr().out
    assert retrained.metrics["training_version"] == train_module.TRAINING_VERSION
    assert run_stage(TrainConfig(epochs=1, **QUICK), out, verbose=0, reuse=False).metrics["training_seconds"] > 0


def test_a_second_run_into_a_busy_folder_stops_at_once_naming_the_holder(tmp_path):
    out = tmp_path / "run"
    with FolderLock(out):
        with pytest.raises(RunBusy, match=f"another run \\(PID {os.getpid()}\\) is using {out}"):
            run_stage(TrainConfig(epochs=1, **QUICK), out, verbose=0)
    assert not out.exists() or not any(out.iterdir())  # nothing was started


def test_an_unwritable_output_folder_is_reported_before_anything_starts(tmp_path):
    if os.geteuid() == 0:  # root writes through file modes; sysfs refuses even root
        target = "/sys/mnist_lab_run"
    else:
        locked = tmp_path / "read_only"
        locked.mkdir(mode=0o555)
        target = locked / "run"
    with pytest.raises(ConfigError, match=f"cannot write to the output folder {target}"):
        run_stage(TrainConfig(epochs=1, **QUICK), target, data_path=tmp_path / "no_data_needed", verbose=0)


def test_the_last_epochs_accuracy_is_measured_on_its_own_weights(tmp_path, small_splits, monkeypatch):
    from mnist_lab.core import train

    model = compile_model(STAGES["dnn"](), TrainConfig())
    few = Splits(
        *(getattr(small_splits, k) for k in ("x_train", "y_train", "x_val", "y_val")),
        *(getattr(small_splits, k)[:200] for k in ("x_test", "y_test")),
    )
    kept = model.predict(few.x_test, verbose=0)
    checkpoint = tmp_path / "checkpoint.npz"
    np.savez(checkpoint, **{f"model_{i}": np.asarray(v) for i, v in enumerate(model.variables)})
    monkeypatch.setattr(train, "predict", lambda *a, **k: pytest.fail("the same weights need no second pass"))
    same = train.last_epoch_metrics(model, checkpoint, few, kept)
    assert same["last_epoch_test_errors"] == int((kept.argmax(1) != few.y_test.argmax(1)).sum())

    monkeypatch.undo()  # other weights in the checkpoint: predicted with them, and the kept ones come back
    np.savez(checkpoint, **{f"model_{i}": np.zeros_like(v) for i, v in enumerate(model.variables)})
    before = [np.asarray(v).copy() for v in model.variables]
    other = train.last_epoch_metrics(model, checkpoint, few, kept)
    assert other["last_epoch_test_errors"] == int((few.y_test.argmax(1) != 0).sum())  # zero weights: all ties, class 0
    assert all(np.array_equal(a, np.asarray(b)) for a, b in zip(before, model.variables, strict=True))
