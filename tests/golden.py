"""The golden training runs: two tiny deterministic runs whose numbers pin down what training
computes (tests/test_golden.py compares them with golden_training.json).

    python tests/golden.py                print the values of the code as it is
    python tests/golden.py --write        store them as the values for every CPU (after a version bump)
    python tests/golden.py --write-cpu    store them for this CPU only (why: below)

Two epochs of BatchNorm on 270 images amplify the last-digit rounding of the CPU's kernels: on an
Intel Xeon with AMX, cnn_bn_aug's second-epoch loss differs by 3% from the AMD EPYC machines'
(dnn agrees to the bit). Such a CPU keeps its own values under "cpus", keyed by cpu_key().
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
GOLDEN_RUNS = {"dnn": dict(epochs=2, subset=300, seed=7), "cnn_bn_aug": dict(epochs=2, subset=300, seed=7)}


def golden_values(stage: str, work_dir: Path) -> dict:
    import keras

    from mnist_lab.config import TrainConfig
    from mnist_lab.train import run_stage

    run = run_stage(TrainConfig(stage=stage, **GOLDEN_RUNS[stage]), work_dir, verbose=0, reuse=False)
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


def cpu_key() -> str:
    """This CPU's model and features: 'Intel(R) Xeon(R) Processor (avx2, avx512f, ..., amx_tile)'."""
    from mnist_lab.provenance import cpu

    info = cpu()
    return f"{info['model']} ({', '.join(info['features'])})"


def expected_values(golden: dict, stage: str) -> dict:
    """The stage's values for this CPU: its own where it has them, else the shared ones."""
    return golden.get("cpus", {}).get(cpu_key(), {}).get(stage, golden["runs"][stage])


def all_golden_values() -> dict:
    from mnist_lab.train import TRAINING_VERSION

    with tempfile.TemporaryDirectory() as tmp:
        runs = {stage: golden_values(stage, Path(tmp) / stage) for stage in GOLDEN_RUNS}
    return {"training_version": TRAINING_VERSION, "runs": runs}


if __name__ == "__main__":
    values = all_golden_values()
    if "--write" in sys.argv[1:]:  # a new training version: every CPU's own values are stale
        GOLDEN_PATH.write_text(json.dumps(values, indent=2) + "\n")
        print(f"wrote {GOLDEN_PATH}; CPUs that had their own values need `--write-cpu` run on them again")
    elif "--write-cpu" in sys.argv[1:]:
        golden = json.loads(GOLDEN_PATH.read_text())
        if golden["training_version"] != values["training_version"]:
            sys.exit(f"{GOLDEN_PATH} is for training version {golden['training_version']}: --write first")
        golden.setdefault("cpus", {})[cpu_key()] = values["runs"]
        GOLDEN_PATH.write_text(json.dumps(golden, indent=2) + "\n")
        print(f"wrote this CPU's values ({cpu_key()}) into {GOLDEN_PATH}")
    else:
        print(json.dumps(values, indent=2))
