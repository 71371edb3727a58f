"""What the robustness suite adds to a full-protocol run, as one ratio measured in one process:

- the suite: the seconds `mnist_lab.core.robustness.evaluate_suite` takes for the committed model of
  the stage (its sets built beforehand and cached, as after the first run on a machine), and
  its images per second;
- a run: the second epoch of `run_stage` for the same stage (training, validation pass,
  callbacks and checkpoint; the first epoch also traces the graphs) on a stratified --subset,
  scaled to the full split's images and to the epochs the stage's committed runs trained;
- the suite's share of that run's wall time, which issue 32 keeps under 5%;
- the BatchNorm adaptation (issue 43, mnist_lab.core.adaptation) that follows the suite in the
  same call: its seconds, against the suite's and against the run's.

    python benchmarks/robustness_cost.py [--stage cnn_bn] [--subset 10000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402  (after the log level)

from mnist_lab.core.config import MNIST_TRAIN_SIZE, TrainConfig  # noqa: E402
from mnist_lab.core.data import fetch_mnist  # noqa: E402
from mnist_lab.core.files import PROJECT_ROOT  # noqa: E402
from mnist_lab.core.provenance import cpu  # noqa: E402
from mnist_lab.core.robustness import evaluate_suite, load_set, suite_sets  # noqa: E402
from mnist_lab.core.train import run_stage  # noqa: E402
from mnist_lab.runs.layout import stage_seeds  # noqa: E402
from mnist_lab.runs.stored_models import restore  # noqa: E402

BUDGET = 0.05  # issue 32: the suite adds under 5% to a full-protocol run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="cnn_bn", help="a stage with a committed model (default cnn_bn)")
    parser.add_argument("--subset", type=int, default=10_000, help="images the timed epochs train on")
    args = parser.parse_args()
    reports = PROJECT_ROOT / "reports"

    (_, _), (images, labels) = fetch_mnist().as_keras_tuple()
    for suite_set in suite_sets():
        load_set(suite_set, images, labels)  # built and cached once per machine: not what a run pays
    restore([f"reports/{args.stage}/model.keras"])  # kept in git history (make models)
    model = keras.models.load_model(reports / args.stage / "model.keras")
    results, _ = evaluate_suite(model, images, labels)
    count = sum(s["images"] for s in results["sets"].values())

    with tempfile.TemporaryDirectory() as tmp:
        config = TrainConfig(stage=args.stage, epochs=2, subset=args.subset)
        run = run_stage(config, tmp, verbose=0, keep_model=False, evaluate_test=False)
    epoch = run.history[1]["seconds"] * MNIST_TRAIN_SIZE / args.subset  # the split scales with the subset
    epochs = statistics.mean(r.metrics["epochs_run"] for r in stage_seeds(reports, args.stage))
    share = results["seconds"] / (epoch * epochs)

    seconds, minutes = results["seconds"], epoch * epochs / 60
    verdict = "within" if share < BUDGET else "over"
    print(f"machine: {cpu()['model']} ({', '.join(cpu()['features'])}), {os.cpu_count()} cores")
    print(f"suite: {len(results['sets'])} sets, {count:,} images, {seconds:.0f} s ({count / seconds:.0f} images/s)")
    print(f"{args.stage}: {epoch:.0f} s per full epoch x {epochs:.1f} epochs (its committed seeds) = {minutes:.0f} min")
    print(f"the suite adds {100 * share:.1f}% to a full-protocol {args.stage} run ({verdict} the {BUDGET:.0%} budget)")
    adaptation = results["adaptation"]
    if adaptation["batchnorm_layers"]:
        extra = adaptation["seconds"]
        print(
            f"BatchNorm adaptation: {adaptation['batchnorm_layers']} layers, {len(adaptation['sets'])} sets and the "
            f"{adaptation['clean_test']['images']:,} clean test digits in {extra:.0f} s: {extra / seconds:.2f} times "
            f"the suite's time, {100 * extra / (epoch * epochs):.1f}% of the run's"
        )
    else:
        print(f"BatchNorm adaptation: {args.stage} has no BatchNormalization layer, nothing to adapt")


if __name__ == "__main__":
    main()
