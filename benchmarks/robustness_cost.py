"""What the robustness suite adds to a run, in one measurement on this machine:

- the suite's images (15 corruptions x 10,000 test digits, and the sweeps on 2,000);
- the seconds one model takes to predict them all (sets built beforehand and cached, as after
  the first run on a machine), and its images per second;
- that time against a full-protocol training run of the same stage trained on this CPU model
  (the committed seed runs' training_seconds, whose `sessions` name the CPU): the share of its
  wall time, and the images counted: training passes count three forward passes each
  (forward and backward), validation passes one.

    python benchmarks/robustness_cost.py [reports/cnn_bn]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402  (after the log level)

from mnist_lab.data import fetch_mnist, preprocess_images  # noqa: E402
from mnist_lab.provenance import cpu  # noqa: E402
from mnist_lab.robustness import load_set, suite_sets  # noqa: E402
from mnist_lab.run_dir import load_run  # noqa: E402
from mnist_lab.sweep import stage_seeds  # noqa: E402


def main(run_dir: Path) -> None:
    model = keras.models.load_model(run_dir / "model.keras")
    stage = load_run(run_dir).stage
    (_, _), (images, labels) = fetch_mnist().as_keras_tuple()
    sets = [load_set(s, images, labels) for s in suite_sets()]  # built and cached once per machine
    model.predict(preprocess_images(sets[0][:1024]), batch_size=1024, verbose=0)  # traces the graph
    started = time.perf_counter()
    for images_of_set in sets:
        model.predict(preprocess_images(images_of_set), batch_size=1024, verbose=0).argmax(axis=1)
    seconds = time.perf_counter() - started
    count = sum(len(s) for s in sets)
    here = cpu()["model"]
    print(f"machine: {here} ({', '.join(cpu()['features'])}), {os.cpu_count()} cores")
    print(f"suite: {len(sets)} sets, {count:,} images; {stage}: {seconds:.0f} s ({count / seconds:.0f} images/s)")
    for run in stage_seeds(run_dir.parent, stage):
        machines = {(s["environment"] or {}).get("cpu", {}).get("model") for s in run.metrics.get("sessions") or []}
        if machines != {here}:
            continue  # speeds compare only on one kind of machine
        epochs, sizes = run.metrics["epochs_run"], run.metrics["data"]
        forward = epochs * (3 * sizes["train"] + sizes["validation"])
        print(
            f"  against {stage} seed {run.seed} ({run.metrics['training_seconds'] / 60:.0f} min here): "
            f"{100 * seconds / run.metrics['training_seconds']:.1f}% of its training time; "
            f"{100 * count / forward:.1f}% of its forward-pass images"
        )


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "reports/cnn_bn"))
