"""Issue 43: BatchNorm statistics taken from each suite set's own images."""

import json

import keras
import numpy as np
import pytest

from mnist_lab.core import robustness
from mnist_lab.core.adaptation import ADAPTATION_VERSION, adapt, adapted_model, batchnorm_layers
from mnist_lab.core.models import get_stage
from mnist_lab.report.cli import main


@pytest.fixture(scope="module")
def bn_model():
    keras.utils.set_random_seed(0)
    model = get_stage("cnn_bn")()
    model(np.zeros((1, 28, 28, 1), "float32"))
    rng = np.random.default_rng(0)
    for layer in batchnorm_layers(model):  # moving statistics far from any image's: adaptation must move them
        layer.moving_mean.assign(rng.normal(3.0, 1.0, layer.moving_mean.shape))
        layer.moving_variance.assign(rng.uniform(5.0, 9.0, layer.moving_variance.shape))
    return model


def test_the_statistics_are_each_layers_input_over_the_whole_set(bn_model):
    images = np.random.default_rng(1).uniform(0, 1, (250, 28, 28, 1)).astype("float32")
    statistics, probabilities = adapt(bn_model, images)
    assert len(statistics) == len(batchnorm_layers(bn_model)) == 5
    # The first BatchNorm's input is the first conv's output: its moments over images, rows and columns.
    first = np.asarray(bn_model.layers[0](images))
    mean, variance = statistics[0]
    np.testing.assert_allclose(mean, first.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(variance, first.var(axis=(0, 1, 2)), rtol=1e-3, atol=1e-6)
    # The pass's output is what a copy with those moving statistics predicts; the model is untouched.
    before = [np.asarray(w).copy() for w in bn_model.weights]
    copy = adapted_model(bn_model, statistics)
    np.testing.assert_allclose(copy.predict(images, verbose=0), probabilities, atol=1e-5)
    assert all(np.array_equal(a, np.asarray(b)) for a, b in zip(before, bn_model.weights, strict=True))
    assert not np.allclose(bn_model.predict(images, verbose=0), probabilities, atol=1e-3)


def test_a_model_without_batchnorm_says_so_and_stores_no_number(mnist):
    (_, _), (images, labels) = mnist
    results, predictions = robustness.evaluate_adaptation(get_stage("dnn")(), images, labels, small=True)
    assert results == {"version": ADAPTATION_VERSION, "batchnorm_layers": 0, "note": "no BatchNormalization layer"}
    assert predictions == {}


def test_a_tiny_train_run_stores_its_adapted_results_and_old_results_get_them(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--stage", "cnn_bn", "--epochs", "1", "--subset", "300", "--out", str(out)]) == 0
    results = robustness.read_results(out)
    adaptation = results["adaptation"]
    assert adaptation["version"] == ADAPTATION_VERSION and adaptation["batchnorm_layers"] == 5
    assert set(adaptation["sets"]) == set(results["sets"]) and adaptation["clean_test"]["images"] > 0
    predictions = robustness.read_predictions(out)
    for name, row in adaptation["sets"].items():
        assert len(predictions[f"adapted__{name}"]) == row["images"] == results["sets"][name]["images"]
    corruptions = [adaptation["sets"][name]["accuracy"] for name in robustness.corruption_names()]
    assert adaptation["mean_corruption_accuracy"] == pytest.approx(np.mean(corruptions))

    # Results written before the adaptation existed get it added, the plain ones kept as they were.
    older = {key: value for key, value in results.items() if key != "adaptation"}
    (out / "robustness.json").write_text(json.dumps(older))
    capsys.readouterr()
    assert main(["robustness", str(out)]) == 0
    again = robustness.read_results(out)
    assert again["sets"] == results["sets"] and again["adaptation"]["sets"] == adaptation["sets"]
