import json

import keras
import numpy as np
import pytest

from mnist_lab.config import ConfigError, TrainConfig
from mnist_lab.data import Splits, fetch_mnist
from mnist_lab.models import STAGES
from mnist_lab.train import PARTIAL_DIR, EpochRecorder, compile_model, evaluate, run_stage

QUICK = dict(stage="dnn", subset=500, batch_size=32)


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
    assert files == ["config.json", "history.json", "metrics.json", "model.keras"]
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
    for key in ("keras", "backend", "device", "python", "numpy"):
        assert metrics["environment"][key]

    # Plain Keras loads it, it reproduces the recorded accuracy, and it holds no optimizer
    # state: about one float32 copy of the weights, where Adam's moments would triple it.
    reloaded = keras.models.load_model(tmp_path / "run/model.keras")
    _, (x_test, y_test) = fetch_mnist().as_keras_tuple()
    predicted = reloaded.predict(x_test[..., None] / np.float32(255), verbose=0).argmax(axis=1)
    assert np.mean(predicted == y_test) == pytest.approx(metrics["test_accuracy"], abs=5e-5)
    assert (tmp_path / "run/model.keras").stat().st_size < 1.2 * 669_706 * 4


def test_evaluate_matches_keras_evaluate(small_splits):
    model = compile_model(STAGES["cnn_reg"](), TrainConfig())  # has an L2 penalty, which evaluate adds
    model.fit(small_splits.x_train[:64], small_splits.y_train[:64], epochs=1, verbose=0)
    few = Splits(*(getattr(small_splits, k) for k in ("x_train", "y_train", "x_val", "y_val")),
                 small_splits.x_test[:300], small_splits.y_test[:300])
    ours = evaluate(model, few)
    loss, accuracy = model.evaluate(few.x_test, few.y_test, verbose=0)
    assert ours["test_loss"] == pytest.approx(loss, rel=1e-4)
    assert ours["test_accuracy"] == pytest.approx(accuracy, abs=1e-6)


def test_interrupted_run_resumes_from_last_finished_epoch(tmp_path):
    config = TrainConfig(epochs=3, **QUICK)
    out = tmp_path / "run"
    with pytest.raises(Interrupt):
        run_stage(config, out, verbose=0, extra_callbacks=[InterruptAt(2)])
    assert not (out / "metrics.json").exists()
    before = json.loads((out / PARTIAL_DIR / "history.json").read_text())
    assert [r["epoch"] for r in before] == [1, 2]

    result = run_stage(config, out, verbose=0)
    assert result.metrics["resumed_from_epoch"] == 2
    assert [r["epoch"] for r in result.history] == [1, 2, 3]
    assert result.history[:2] == before  # the finished epochs were kept, not redone
    assert not (out / PARTIAL_DIR).exists()


def test_interrupted_run_from_older_training_code_starts_over(tmp_path, capsys, monkeypatch):
    import mnist_lab.train as train_module

    config = TrainConfig(epochs=2, **QUICK)
    out = tmp_path / "run"
    with pytest.raises(Interrupt):
        run_stage(config, out, verbose=0, extra_callbacks=[InterruptAt(1)])
    monkeypatch.setattr(train_module, "training_fingerprint", lambda config: "changed code")
    capsys.readouterr()
    result = run_stage(config, out, verbose=0)
    assert "training code changed since the interrupted run" in capsys.readouterr().out
    assert result.metrics["resumed_from_epoch"] is None  # both epochs trained by the new code
    assert result.metrics["training_fingerprint"] == "changed code" and len(result.history) == 2


def test_interrupted_rerun_keeps_the_finished_results(tmp_path):
    out = tmp_path / "run"
    run_stage(TrainConfig(epochs=1, **QUICK), out, verbose=0)
    finished = {name: (out / name).read_bytes() for name in ("metrics.json", "history.json", "model.keras")}
    with pytest.raises(Interrupt):
        run_stage(TrainConfig(epochs=2, **QUICK), out, verbose=0, extra_callbacks=[InterruptAt(1)])
    assert {name: (out / name).read_bytes() for name in finished} == finished
    with pytest.raises(ConfigError, match="interrupted run with a different config"):
        run_stage(TrainConfig(epochs=3, **QUICK), out, verbose=0)


def test_resume_rebuilds_early_stopping_and_plateau_state(tmp_path):
    model = compile_model(STAGES["dnn"](), TrainConfig())
    weights = [np.full(w.shape, i, w.dtype) for i, w in enumerate(model.get_weights())]
    with open(tmp_path / "best_weights.npz", "wb") as handle:
        np.savez(handle, *weights)
    losses = [1.0, 0.5, 0.6, 0.7, 0.8, 0.9]  # best at epoch 2, then 4 epochs without improvement
    (tmp_path / "history.json").write_text(json.dumps([{"epoch": i + 1, "val_loss": v} for i, v in enumerate(losses)]))
    stopper = keras.callbacks.EarlyStopping(patience=7, restore_best_weights=True)
    plateau = keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=3)
    recorder = EpochRecorder(tmp_path, stopper, plateau)
    recorder.set_model(model)
    recorder.on_epoch_begin(5)  # the backup held 5 finished epochs: the 6th record is dropped

    assert len(recorder.records) == 5 and recorder.resumed_from == 5
    assert (stopper.best, stopper.best_epoch, stopper.wait) == (0.5, 1, 3)
    assert all(np.array_equal(a, b) for a, b in zip(stopper.best_weights, weights))
    assert (plateau.best, plateau.wait) == (0.5, 0)  # 3 bad epochs hit patience 3: the rate was cut, wait reset


def test_finished_run_is_reused_only_with_the_same_config_and_code(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    first = run_stage(TrainConfig(epochs=1, **QUICK), out, verbose=0)
    capsys.readouterr()
    again = run_stage(TrainConfig(epochs=1, **QUICK), out, verbose=0)
    assert "reusing the finished run" in capsys.readouterr().out
    assert again.metrics == first.metrics and again.history == first.history

    # Another config, or a change to the training code, trains again.
    import mnist_lab.train as train_module

    monkeypatch.setattr(train_module, "training_fingerprint", lambda config: "changed code")
    retrained = run_stage(TrainConfig(epochs=1, **QUICK), out, verbose=0)
    assert "reusing" not in capsys.readouterr().out
    assert retrained.metrics["training_fingerprint"] == "changed code"
    assert run_stage(TrainConfig(epochs=1, **QUICK), out, verbose=0, reuse=False).metrics["training_seconds"] > 0
