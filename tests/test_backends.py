"""Keras 3 backends: every stage trains under JAX on a machine without TensorFlow, with the same
augmentation (one affine warp per image, bilinear, nearest fill) drawn without tf.data."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from mnist_lab.core.config import TrainConfig
from mnist_lab.core.models import STAGES
from mnist_lab.core.pipeline import affine_matrices, array_augment, warp

# Run in a fresh interpreter with the JAX backend, where importing TensorFlow fails as it would
# on a machine that has none.
WITHOUT_TENSORFLOW = "import sys; sys.modules['tensorflow'] = None; "


def run_jax(code: str, tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_TENSORFLOW + code],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )


@pytest.mark.parametrize("stage", list(STAGES))
def test_every_stage_trains_under_jax_without_tensorflow(stage, tmp_path):
    out = tmp_path / "run"
    done = run_jax(
        f"from mnist_lab.report.cli import main; sys.exit(main(['train', '--stage', '{stage}', '--subset', "
        f"'200', '--epochs', '1', '--out', r'{out}']))",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["environment"]["backend"] == "jax" and "tensorflow" not in metrics["environment"]
    assert metrics["epochs_run"] == 1 and 0 <= metrics["test_accuracy"] <= 1


def test_the_jax_warp_equals_the_tensorflow_warp(tmp_path):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    images = rng.random((6, 28, 28, 1)).astype("float32")
    params = [
        rng.uniform(-10, 10, 6),
        rng.uniform(-2.8, 2.8, 6),
        rng.uniform(-2.8, 2.8, 6),
        rng.uniform(0.9, 1.1, 6),
        rng.uniform(0.9, 1.1, 6),
    ]
    matrices = affine_matrices(*[p.astype("float32") for p in params], height=28, width=28, xp=np)
    np.save(tmp_path / "images.npy", images)
    np.save(tmp_path / "matrices.npy", matrices)
    done = run_jax(  # the compiled warp that array_augment uses under JAX
        "import keras, numpy as np; from mnist_lab.core.pipeline import array_warp; "
        "out = array_warp()(np.load('images.npy'), np.load('matrices.npy')); "
        "np.save('jax.npy', keras.ops.convert_to_numpy(out))",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    reference = warp(tf.constant(images), tf.constant(matrices)).numpy()
    assert np.abs(np.load(tmp_path / "jax.npy") - reference).max() < 1e-4


def test_array_augment_draws_per_batch_and_repeats_for_the_same_draws():
    config = TrainConfig()
    images = np.random.default_rng(1).random((8, 28, 28, 1)).astype("float32")
    kwargs = dict(rotation_degrees=config.rotation_degrees, zoom=config.zoom, shift=config.shift)
    first = array_augment(images, np.random.default_rng([42, 0, 0]), **kwargs)
    again = array_augment(images, np.random.default_rng([42, 0, 0]), **kwargs)
    other = array_augment(images, np.random.default_rng([42, 1, 0]), **kwargs)
    assert first.shape == images.shape and np.array_equal(first, again)
    assert not np.allclose(first, other) and not np.allclose(first, images)


RESUME_UNDER_JAX = """
import json, keras
from pathlib import Path
from mnist_lab.core.config import TrainConfig
from mnist_lab.core.train import run_stage

class Stop(Exception):
    pass

class StopAt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 2:
            raise Stop

config = TrainConfig(stage="cnn_bn_aug", subset=200, epochs=3, lr_patience=1, seed=5)
whole = run_stage(config, Path("whole"), verbose=0)
try:
    run_stage(config, Path("resumed"), verbose=0, extra_callbacks=[StopAt()])
except Stop:
    pass
resumed = run_stage(config, Path("resumed"), verbose=0)
strip = lambda history: [{k: v for k, v in r.items() if k != "seconds"} for r in history]
print(json.dumps([strip(whole.history) == strip(resumed.history), resumed.metrics["resumed_from_epoch"],
                  whole.metrics["test_loss"] == resumed.metrics["test_loss"]]))
"""


def test_a_resumed_run_equals_the_uninterrupted_run_under_jax(tmp_path):
    done = run_jax(RESUME_UNDER_JAX, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [True, 2, True]
