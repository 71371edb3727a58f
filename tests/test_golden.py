"""What training computes, pinned: a change that alters any run's numbers must bump
mnist_lab.core.train.TRAINING_VERSION (which retrains every stage), or be undone.

The reference values are in golden_training.json (`python tests/golden.py --write` after an
intended change and a version bump). The tiny runs train in float64, so one set of values holds
on every CPU: their rounding stays orders of magnitude below the tolerance, and every change of
the computation lands orders of magnitude above it (tests/golden.py explains;
benchmarks/golden_margin.py measures both). `make test` runs them twice, the second time with
oneDNN's kernels off (TF_ENABLE_ONEDNN_OPTS=0), to show they do not depend on the kernels.
"""

import json

import numpy as np
import pytest
from golden import (
    GOLDEN_PATH,
    GOLDEN_RUNS,
    first_difference,
    golden_values,
    structure,
)

from mnist_lab.core.models import STAGES
from mnist_lab.core.train import TRAINING_VERSION

MESSAGE = (
    "training results changed: bump the training version (mnist_lab.core.train.TRAINING_VERSION; this "
    "retrains every stage) and run `python tests/golden.py --write`, or undo the change"
)
GOLDEN = json.loads(GOLDEN_PATH.read_text())


def test_golden_values_belong_to_this_training_version():
    assert GOLDEN["training_version"] == TRAINING_VERSION, MESSAGE


def structure_failure(stage: str, golden: dict) -> str | None:
    """Why `stage`'s model, protocol or callbacks differ from its recorded ones (None: they agree)."""
    recorded = golden.get("structures", {}).get(stage)
    if recorded is None:
        return (
            f"stage {stage!r} has no golden values: record them with `python tests/golden.py --add-stages` "
            "(it leaves every other stage's as they are) and commit tests/golden_training.json"
        )
    found = first_difference(structure(stage), recorded)
    return None if found is None else f"{MESSAGE} ({stage}: {found})"


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_builds_and_trains_with_what_it_did(stage):
    failure = structure_failure(stage, GOLDEN)
    assert failure is None, failure


def test_a_stage_without_golden_values_says_how_to_record_them():
    assert "--add-stages" in structure_failure("dnn", {"structures": {}})
    assert structure_failure("dnn", GOLDEN) is None


def test_the_structure_ignores_what_keras_numbers_per_process():
    assert first_difference(structure("cnn_reg"), structure("cnn_reg")) is None  # layer names differ between builds


def test_first_difference_names_the_path():
    assert first_difference({"a": [1, {"b": 2}]}, {"a": [1, {"b": 3}]}) == "a[1].b: 2 != 3"
    assert first_difference({"a": 1}, {"a": 1, "c": 0}) == "c: removed"
    assert first_difference([1, 2], [1]) == ": [1, 2] != [1]"


# float64 runs: other kernels or threads moved these values by 1e-13 at most, the smallest change
# of the computation by 1e-4 or more (benchmarks/golden_margin.py): the tolerance sits between, far
# from both. An accuracy may still differ by one example if a prediction sits on a tie.
RTOL = 1e-8
ONE_EXAMPLE = {"accuracy": 1 / 270, "val_accuracy": 1 / 30, "test_accuracy": 1 / 500}


@pytest.mark.parametrize("stage", GOLDEN_RUNS)
def test_training_computes_what_it_computed(stage, tmp_path):
    values, expected = golden_values(stage, tmp_path / stage), GOLDEN["runs"][stage]
    pairs = [(k, values["history"][k], expected["history"][k]) for k in expected["history"]]
    pairs += [(key, values[key], expected[key]) for key in ("test_loss", "test_accuracy", "weight_abs_sums")]
    for name, got, want in pairs:
        close = (
            np.allclose(got, want, rtol=0, atol=ONE_EXAMPLE[name] + 1e-9)
            if name in ONE_EXAMPLE
            else np.allclose(got, want, rtol=RTOL, atol=0)
        )
        assert np.shape(got) == np.shape(want) and close, f"{MESSAGE} ({stage}, {name}: {got} != {want})"
