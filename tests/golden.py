"""The golden values: what pins down what training computes (tests/test_golden.py compares them
with golden_training.json).

- structures: for every stage in STAGES, what fixes its computation without training: the model's
  full config (layers, widths, activations, regularisers, dropout rates, dtypes; layer names left
  out, as Keras numbers them per process), the compile config (optimizer, loss, metrics), the
  resolved TrainConfig of the full profile, and the callbacks fit() trains with (their settings,
  and a schedule's learning rate at every epoch of the budget). Seconds, no training.
- runs: tiny deterministic training runs, for what only training shows (the input pipeline,
  augmentation, the optimizer's steps, the exponential schedule of cnn_bn_aug_long), in float64.

    .venv/bin/python tests/golden.py                print the values of the code as it is
    .venv/bin/python tests/golden.py --write        store them all (after a TRAINING_VERSION or GUARD_VERSION bump)
    .venv/bin/python tests/golden.py --add-stages   store the values of stages (or runs) that have none yet

Why float64: two epochs of BatchNorm on 270 images amplify the last bits of a float32 run's
rounding (another CPU's kernels, or oneDNN off) by about 1e5, past any tolerance that still
catches a real change (an Intel Xeon with AMX differed by 3% in cnn_bn_aug's second-epoch loss).
In float64 the same amplification leaves rounding near 1e-11, while every change of what a stage
computes moves the values by 1e-4 or more: one set of values holds on every CPU.
`python benchmarks/golden_margin.py` measures both sides of that margin.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

GOLDEN_PATH = Path(__file__).with_name("golden_training.json")
# dnn: the plain loop; cnn_bn_aug: dropout, L2, BatchNorm and augmentation. Two epochs so that
# the second epoch's reshuffle and fresh augmentation draws are covered.
# cnn_bn_aug_long: the exponential schedule and the val_cross_entropy monitor (its protocol, 2 epochs).
TINY = dict(epochs=2, subset=300, seed=7, precision="float64", test_subset=500)  # 500 test digits: float64 is slow
# Bump when what the guard records changes (not what training computes): `--write` then rewrites it.
GUARD_VERSION = 2  # 2: the tiny runs in float64 on 500 test digits, one set of values for every CPU
GOLDEN_RUNS = {"dnn": TINY, "cnn_bn_aug": TINY, "cnn_bn_aug_long": TINY}


def golden_values(stage: str, work_dir: Path) -> dict:
    import keras

    from mnist_lab.core.train import run_stage
    from mnist_lab.runs.settings import resolve_config

    run = run_stage(
        resolve_config(stage, "full", **GOLDEN_RUNS[stage]), work_dir, verbose=0, reuse=False, robustness=False
    )
    weights = keras.models.load_model(work_dir / "model.keras").get_weights()
    return {
        "history": {
            key: [record[key] for record in run.history] for key in ("loss", "accuracy", "val_loss", "val_accuracy")
        },
        "test_loss": run.metrics["test_loss"],
        "test_accuracy": run.metrics["test_accuracy"],
        # One number per weight array: enough to catch any change, tolerant of float order.
        "weight_abs_sums": [float(np.abs(w.astype(np.float64)).sum()) for w in weights],
    }


def structure(stage: str) -> dict:
    """What fixes `stage`'s computation before training (the module docstring lists it), as JSON."""
    from mnist_lab.core.models import get_stage
    from mnist_lab.core.train import compile_model, dtype_policy, training_callbacks
    from mnist_lab.runs.settings import resolve_config

    config = resolve_config(stage, "full")
    with dtype_policy(config.precision):
        model = compile_model(get_stage(stage)(), config)
    model_config = model.get_config()
    model_config.pop("name")
    for layer in model_config["layers"]:
        layer["config"].pop("name")  # conv2d, conv2d_1, ...: numbered per process
    compiled = model.get_compile_config()
    compiled["optimizer"]["config"].pop("name")  # adam, adam_1, ...: numbered too
    early_stopping, _, lr_callbacks = training_callbacks(config)
    values = {
        "train_config": config.to_dict(),
        "augment": get_stage(stage).augment,
        "parameters": model.count_params(),
        "model": model_config,
        "compile": compiled,
        "callbacks": [describe_callback(callback, config.epochs) for callback in (early_stopping, *lr_callbacks)],
    }
    return json.loads(json.dumps(values))  # tuples as lists, as they come back from the file


def describe_callback(callback, epochs: int) -> dict:
    """A callback's class and settings (its public plain attributes); a schedule's rate per epoch."""
    plain = (bool, int, float, str, type(None))
    settings = {k: v for k, v in sorted(vars(callback).items()) if not k.startswith("_") and isinstance(v, plain)}
    if hasattr(callback, "schedule"):
        settings["rates"] = [float(callback.schedule(epoch)) for epoch in range(epochs)]
    return {"class": type(callback).__name__, **settings}


def first_difference(got, want, path: str = "") -> str | None:
    """Where two JSON values first differ ('model.layers[3].config.rate: 0.4 != 0.5'), or None."""
    if isinstance(got, dict) and isinstance(want, dict):
        for key in sorted(set(got) | set(want)):
            if key not in got or key not in want:
                return f"{path}.{key}: {'added' if key in got else 'removed'}".lstrip(".")
            if (found := first_difference(got[key], want[key], f"{path}.{key}")) is not None:
                return found
        return None
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        for index, (a, b) in enumerate(zip(got, want, strict=True)):
            if (found := first_difference(a, b, f"{path}[{index}]")) is not None:
                return found
        return None
    return None if got == want else f"{path.lstrip('.')}: {got!r} != {want!r}"


def all_structures() -> dict:
    from mnist_lab.core.models import STAGES

    return {stage: structure(stage) for stage in STAGES}


def all_run_values(stages=GOLDEN_RUNS) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        return {stage: golden_values(stage, Path(tmp) / stage) for stage in stages}


def all_golden_values() -> dict:
    from mnist_lab.core.train import TRAINING_VERSION

    return {
        "training_version": TRAINING_VERSION,
        "guard_version": GUARD_VERSION,
        "structures": all_structures(),
        "runs": all_run_values(),
    }


def add_stages() -> None:
    """Record the values of stages that have none, and leave every recorded one as it is."""
    golden = json.loads(GOLDEN_PATH.read_text())
    structures = golden.setdefault("structures", {})
    added = [stage for stage in all_structures() if stage not in structures]
    structures.update({stage: structure(stage) for stage in added})
    new_runs = [stage for stage in GOLDEN_RUNS if stage not in golden["runs"]]
    golden["runs"].update(all_run_values(new_runs))
    GOLDEN_PATH.write_text(json.dumps(golden, indent=2) + "\n")
    print(f"recorded structures of {added or 'no stage'} and tiny runs of {new_runs or 'no stage'} in {GOLDEN_PATH}")


if __name__ == "__main__":
    try:
        import mnist_lab  # noqa: F401 - installed in the project's environment, not in a system Python
    except ModuleNotFoundError:
        sys.exit(
            "tests/golden.py needs the project's environment: run `.venv/bin/python tests/golden.py` "
            "(`make env` makes it)"
        )
    if "--add-stages" in sys.argv[1:]:
        add_stages()
        sys.exit()
    values = all_golden_values()
    if "--write" in sys.argv[1:]:
        golden = json.loads(GOLDEN_PATH.read_text())
        if (golden["training_version"], golden.get("guard_version")) == (values["training_version"], GUARD_VERSION):
            sys.exit(
                f"{GOLDEN_PATH} already holds training version {values['training_version']} and guard version "
                f"{GUARD_VERSION}: bump mnist_lab.core.train.TRAINING_VERSION first (a change of what training "
                "computes; every stage retrains), or GUARD_VERSION (a change of what the guard records), or use "
                "--add-stages (a new stage)"
            )
        GOLDEN_PATH.write_text(json.dumps(values, indent=2) + "\n")
        print(f"wrote {GOLDEN_PATH}")
    else:
        print(json.dumps(values, indent=2))
