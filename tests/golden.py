"""The golden training runs: two tiny deterministic runs whose numbers pin down what training
computes (tests/test_golden.py compares them with golden_training.json).

    python tests/golden.py            print the values of the code as it is
    python tests/golden.py --write    store them in tests/golden_training.json
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


def all_golden_values() -> dict:
    from mnist_lab.train import TRAINING_VERSION

    with tempfile.TemporaryDirectory() as tmp:
        runs = {stage: golden_values(stage, Path(tmp) / stage) for stage in GOLDEN_RUNS}
    return {"training_version": TRAINING_VERSION, "runs": runs}


if __name__ == "__main__":
    values = all_golden_values()
    text = json.dumps(values, indent=2) + "\n"
    if "--write" in sys.argv[1:]:
        GOLDEN_PATH.write_text(text)
        print(f"wrote {GOLDEN_PATH}")
    else:
        print(text)
