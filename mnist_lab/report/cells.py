"""What the notebooks show: each function is one notebook cell's worth of work.

Notebooks call these and nothing else, so no logic lives in two notebooks. Figures are
shown inline and saved beside the run, so the reports have them as PNG files too.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import keras
import numpy as np
from IPython.display import Markdown, display

from mnist_lab.core.config import TrainConfig
from mnist_lab.core.data import fetch_mnist, make_splits, test_indices
from mnist_lab.core.files import project_relative
from mnist_lab.core.models import STAGES, previous_stage
from mnist_lab.core.pipeline import seed_augmentation
from mnist_lab.core.provenance import HOME_BACKEND, machine_label
from mnist_lab.core.run_dir import load_run
from mnist_lab.findings.claims import ClaimRow, judge_bands
from mnist_lab.findings.precision_check import precision_markdown, precision_result
from mnist_lab.findings.robustness_results import (
    adaptation_line,
    adaptation_rows,
    adaptation_table,
    adaptation_test_table,
    adaptation_tests,
    corruption_table,
    curves,
    significant_sets,
    stage_results,
    step_line,
    step_table,
    step_tests,
    summary_line,
    summary_rows,
    without_batchnorm,
)
from mnist_lab.findings.seed_results import ensemble_markdown, ensemble_rows, seed_markdown, seed_rows, test_labels
from mnist_lab.findings.selection import selection_markdown, selection_rows, unfinished
from mnist_lab.findings.stats import accuracy_interval
from mnist_lab.findings.verify import check_run
from mnist_lab.report import plots
from mnist_lab.report.results import (
    COMPARISON_FIGURES,
    FIGURES,
    SEED_REPORTED_ACCURACY,
    accuracy_change,
    budget_table,
    claims_markdown,
    finished_runs,
    markdown_table,
    results_markdown,
    selection_lines,
    summary_row,
)
from mnist_lab.runs.candidates import run_selection
from mnist_lab.runs.layout import all_stage_seeds, candidate_runs
from mnist_lab.runs.placement import is_protocol, run_dir_for, tweaks
from mnist_lab.runs.settings import (
    ENSEMBLE_MIN_SEEDS,
    PRECISION_CHECK,
    QUICK_SWEEP_STAGES,
    SWEEP_SEEDS,
    reports_root,
    resolve_config,
)
from mnist_lab.runs.sweep import run_sweep

# Start TensorFlow and its devices now, so that its start-up notices (C++ logs on stderr)
# land in the notebooks' import cell, which nbval ignores, not in a cell it compares.
keras.ops.convert_to_tensor(0.0)


def _markdown(text: str) -> None:
    display(Markdown(text))


def _show(figure, path: Path | None = None) -> None:
    import matplotlib.pyplot as plt

    if path is not None:
        plots.save_figure(figure, path)
    display(figure)
    plt.close(figure)


def setup(stage: str, profile: str, reports_dir=None, run_dir=None, **overrides) -> tuple[TrainConfig, Path]:
    """Resolve the notebook's parameters into a checked config and its run directory; print both."""
    config = resolve_config(stage, profile, **overrides)
    run_dir = run_dir_for(config, profile, Path(reports_dir or reports_root(profile)) / stage, run_dir)
    print(f"stage {stage!r} ({STAGES[stage].summary}), profile {profile!r}, results in {project_relative(run_dir)}/")
    if not is_protocol(config, profile):
        changed = ", ".join(f"{key}={value!r}" for key, value in tweaks(config, profile).items())
        print(f"a tweak of the {profile} protocol ({changed}): a run of your own, beside the committed one")
    for key, value in config.to_dict().items():
        print(f"  {key:<24} {value}")
    return config, run_dir


def model_summary(stage: str) -> None:
    model = STAGES[stage]()
    model.summary(line_length=90)


def train(config: TrainConfig, run_dir: Path):
    from mnist_lab.core.train import run_stage  # imports TensorFlow

    return run_stage(config, run_dir, verbose=2)  # one line per epoch: readable live and in saved notebooks


def learning_curves(result) -> None:
    _show(
        plots.learning_curves(
            result.history, f"{result.metrics['stage']}: learning curves", result.metrics.get("monitor", "val_loss")
        ),
        result.path / FIGURES["learning_curves"],
    )


def test_metrics(result) -> None:
    m = result.metrics
    per_class = " · ".join(f"{d}: {100 * a:.2f}%" for d, a in m["per_class_accuracy"].items())
    low, high = accuracy_interval(m)
    _markdown(
        f"**Test accuracy {100 * m['test_accuracy']:.2f}%** (95% interval {100 * low:.2f}-{100 * high:.2f}%: "
        f"the test set is one sample of digits), test loss {m['test_loss']:.4f} "
        f"({len(m['misclassified'])} of {m['data']['test']:,} test digits wrong). "
        f"{m['epochs_run']} epoch{'s' if m['epochs_run'] != 1 else ''}, best {m.get('monitor', 'val_loss')} "
        f"at epoch {m['best_epoch']}; "
        f"{m['training_seconds'] / 60:.1f} min of training at {m['images_per_second']:.0f} images/s "
        f"on {machine_label(m['environment'])}.\n\nPer class: {per_class}"
    )


def confusion_matrix(result) -> None:
    _show(plots.confusion_matrix(result.metrics["confusion_matrix"]), result.path / FIGURES["confusion_matrix"])


def misclassified(result, count: int = 36) -> None:
    """A gallery of wrongly classified test digits, captioned 'true → predicted'."""
    wrong = result.metrics["misclassified"][:count]
    _, (x_test, y_test) = fetch_mnist().as_keras_tuple()
    # The run may have seen a sample of the test digits: map its indices to the 10,000.
    canonical = test_indices(y_test, TrainConfig.from_dict(result.config).test_subset)
    figure = plots.digit_grid(
        [x_test[canonical[i]] for i, _, _ in wrong],
        [f"{t} → {p}" for _, t, p in wrong],
        title=f"misclassified test digits (first {len(wrong)} by index), true → predicted",
    )
    _show(figure, result.path / FIGURES["misclassified"])


def compare_with_previous(result, profile: str, reports_dir=None) -> None:
    stage = result.metrics["stage"]
    before = previous_stage(stage)
    if before is None:
        _markdown("This is the first stage: nothing to compare with yet.")
        return
    root = Path(reports_dir or reports_root(profile))
    try:
        previous = load_run(root / before)
    except FileNotFoundError:
        _markdown(
            f"The previous stage, `{before}`, has no report in {project_relative(root)}/ yet: "
            f"run its notebook (or `make reproduce`) to compare."
        )
        return
    _markdown(
        markdown_table([summary_row(previous), summary_row(result)])
        + f"\n\nTest accuracy, `{before}` → `{stage}`: {accuracy_change(previous, result)}."
    )


def compare_with_committed(result, profile: str, reports_dir=None) -> None:
    """A tweaked run against the committed run of its stage (digit by digit) and its seed band."""

    root = Path(reports_dir or reports_root(profile))
    committed_dir = root / result.stage
    if result.path.resolve() == committed_dir.resolve() or is_protocol(TrainConfig.from_dict(result.config), profile):
        _markdown("This is the protocol's run, the one the reports are rendered from.")
        return
    try:
        committed = load_run(committed_dir)
    except FileNotFoundError:
        _markdown(f"No committed run in {project_relative(committed_dir)}/ to compare this tweak with.")
        return
    band = check_run(result, root)
    _markdown(
        f"**Your run against the committed one**, test accuracy: {accuracy_change(committed, result)}.\n\n"
        + "\n".join(f"- {line}" for line in band.lines)
    )


# --- 00_data


def data_source() -> None:
    print(f"MNIST verified against the canonical SHA-256; source: {fetch_mnist().source}")


def data_overview(profile: str, seed: int | None = None) -> dict:
    config = resolve_config("dnn", profile, **({"seed": seed} if seed is not None else {}))
    raw = fetch_mnist().as_keras_tuple()
    splits = make_splits(
        raw,
        validation_fraction=config.validation_fraction,
        split_seed=config.split_seed,
        subset=config.subset,
        seed=config.seed,
        test_subset=config.test_subset,
    )
    print(f"raw: x_train {raw[0][0].shape} {raw[0][0].dtype}, x_test {raw[1][0].shape} {raw[1][0].dtype}")
    for name, size in splits.sizes().items():
        print(f"{name:<10} {size:>6,} images")
    print(
        f"model input: {splits.x_train.shape[1:]} {splits.x_train.dtype}, "
        f"values in [{splits.x_train.min():.1f}, {splits.x_train.max():.1f}], labels one-hot {splits.y_train.shape[1:]}"
    )
    labels = {"train": splits.y_train.argmax(1), "validation": splits.y_val.argmax(1), "test": splits.y_test.argmax(1)}
    for name, digits in labels.items():
        print(f"{name:<10} class counts {np.bincount(digits, minlength=10).tolist()}")
    return {"raw": raw, "splits": splits, "labels": labels, "config": config}


def samples_per_class(overview: dict, per_class: int = 10) -> None:
    (x_train, y_train), _ = overview["raw"]
    picks = [i for digit in range(10) for i in np.flatnonzero(y_train == digit)[:per_class]]
    _show(
        plots.digit_grid(
            [x_train[i] for i in picks],
            [str(y_train[i]) for i in picks],
            columns=per_class,
            title=f"the first {per_class} training images of each digit",
        )
    )


def class_balance(overview: dict) -> None:
    _show(plots.class_balance(overview["labels"]))


def augmentation_examples(overview: dict, digits: int = 6, variants: int = 7) -> None:
    augment = seed_augmentation(overview["config"])
    originals = overview["splits"].x_train[:digits]
    images, captions = [], []
    for image in originals:
        images.append(image)
        captions.append("original")
        batch = np.repeat(image[None], variants - 1, axis=0)
        images += list(np.asarray(augment(batch, seed=(overview["config"].seed, len(images)))))
        captions += ["augmented"] * (variants - 1)
    _show(
        plots.digit_grid(
            images,
            captions,
            columns=variants,
            title="each row: a training digit, then what the augmentation makes of it",
        )
    )


# --- the comparison notebook


def _comparison_figure(profile: str, reports_dir, out_dir, name: str) -> Path:
    """Where a comparison figure goes: out_dir (the runner's staging folder) or reports/comparison/."""
    root = Path(reports_dir or reports_root(profile))
    path = Path(out_dir) / Path(COMPARISON_FIGURES[name]).name if out_dir else root / COMPARISON_FIGURES[name]
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def comparison(profile: str, reports_dir=None, out_dir=None) -> dict:
    root = Path(reports_dir or reports_root(profile))
    runs = finished_runs(root)
    if not runs:
        raise FileNotFoundError(f"no finished stage under {root}/: run the stage notebooks (make reproduce) first")
    # The table, the stages not run yet, and what each ingredient added; links are relative to
    # reports/comparison/, where this notebook is saved.
    _markdown("\n".join(results_markdown(runs, link_prefix="../")))
    _show(
        plots.accuracy_by_stage(
            [summary_row(run) for run in runs.values()],
            reference=(SEED_REPORTED_ACCURACY, "the seed notebook's reported accuracy"),
        ),
        _comparison_figure(profile, reports_dir, out_dir, "accuracy_by_stage"),
    )
    _show(
        plots.validation_curves({name: run.history for name, run in runs.items()}),
        _comparison_figure(profile, reports_dir, out_dir, "validation_curves"),
    )
    return runs


def budget_evidence(result, profile: str, reports_dir=None) -> None:
    """Notebook 05: the augmented run's training record beside cnn_bn's (the previous stage)."""
    root = Path(reports_dir or reports_root(profile))
    runs = {"this run": result}
    with contextlib.suppress(FileNotFoundError):
        runs = {"`cnn_bn`": load_run(root / "cnn_bn"), "`cnn_bn_aug` (this run)": result}
    _markdown(budget_table(runs))


def train_quick_seeds(profile: str, reports_dir=None) -> None:
    """The quick profile trains one extra seed of its cheapest stages here; the full profile only reads (make seeds)."""
    if profile == "quick":
        run_sweep(list(QUICK_SWEEP_STAGES), SWEEP_SEEDS["quick"], profile, reports_dir, verbose=0)
    else:
        print("full profile: reading the committed seed sweep (`make seeds` trains it)")


def seed_runs(profile: str, reports_dir=None) -> dict:
    """The finished runs of every stage under the profile's protocol, by seed."""
    root = Path(reports_dir or reports_root(profile))
    runs = all_stage_seeds(root, profile)
    width = max(map(len, runs), default=0)
    for stage, stage_runs in runs.items():
        seeds = ", ".join(str(run.seed) for run in stage_runs)
        print(f"{stage:<{width}}  {len(stage_runs)} seed{'s' if len(stage_runs) > 1 else ''}: {seeds}")
    return runs


def seed_variance(runs: dict, profile: str, reports_dir=None, out_dir=None) -> None:
    _markdown("\n".join(seed_markdown(runs)))
    if runs:
        _show(plots.seed_strip(seed_rows(runs)), _comparison_figure(profile, reports_dir, out_dir, "seed_strip"))


def ensembles(runs: dict, profile: str, reports_dir=None, out_dir=None) -> dict:
    """Every stage with enough seeds, as an ensemble of all of them, and its accuracy by size."""
    rows = ensemble_rows(runs, test_labels(profile), ENSEMBLE_MIN_SEEDS[profile])
    _markdown("\n".join(ensemble_markdown(rows, ENSEMBLE_MIN_SEEDS[profile])))
    if rows:
        _show(plots.ensemble_curves(rows), _comparison_figure(profile, reports_dir, out_dir, "ensemble_curves"))
    return rows


def selection_answer(runs: dict, ensembles: dict, profile: str, reports_dir=None) -> None:
    """The setting chosen on validation for the augmented model, and its stage against issue 14's targets."""
    root = Path(reports_dir or reports_root(profile))
    lines = selection_lines(root, profile, seed_rows(runs), ensembles)
    _markdown("\n".join(lines or ["No selection candidate has run yet: notebook 05 and `make select` train them."]))


def precision_check(profile: str, reports_dir=None) -> None:
    """The stage trained in bfloat16 against its float32 runs of the same seeds."""
    root = Path(reports_dir or reports_root(profile))
    _markdown("\n".join(precision_markdown(*PRECISION_CHECK, precision_result(root, profile))))


def selection_record(profile: str, reports_dir=None) -> list[dict]:
    """The longer-budget candidates' validation figures and the rule's choice. The quick profile
    trains its tiny candidates here; the full profile only reads them (`make select`)."""

    root = Path(reports_dir or reports_root(profile))
    if profile == "quick":
        run_selection(profile, root, verbose=0)
    runs = candidate_runs(root, profile)
    rows = selection_rows(runs)
    _markdown("\n".join(selection_markdown(rows, unfinished(runs))))
    return rows


def claims(runs: dict, profile: str, reports_dir=None, out_dir=None) -> list[ClaimRow]:
    """Every claim of the seed's notes with its verdict (mnist_lab.findings.claims), every band judged
    once; the curves behind the convergence and overfitting verdicts, and, once the ablation has
    runs, the schedule's (the committed runs' band)."""
    root = Path(reports_dir or reports_root(profile))
    banded = judge_bands(root, profile)
    _markdown("\n".join(claims_markdown(banded, evidence=True)))
    home = next((band for band in banded.values() if band.backend == HOME_BACKEND), None)
    if home is not None:
        _show(plots.claims_forest(home.rows), _comparison_figure(profile, reports_dir, out_dir, "claims_forest"))
    if runs:
        _show(plots.claims_evidence(runs), _comparison_figure(profile, reports_dir, out_dir, "claims_evidence"))
    if home is None:
        return []
    with_schedule = {run.seed: run for run in home.evidence.runs.get("cnn_bn", [])}
    pairs = {run.seed: (with_schedule[run.seed], run) for run in home.evidence.ablation if run.seed in with_schedule}
    if pairs:
        _show(plots.schedule_ablation(pairs), _comparison_figure(profile, reports_dir, out_dir, "schedule_ablation"))
    return home.rows


# --- the robustness notebook


def _robustness_out(profile: str, reports_dir, out_dir) -> Path:
    out = Path(out_dir) if out_dir else Path(reports_dir or reports_root(profile)) / "robustness"
    out.mkdir(parents=True, exist_ok=True)
    return out


def robustness_gallery(profile: str, reports_dir=None, out_dir=None) -> None:
    """Every corruption, and the sweeps' largest sizes, on the first test digit of each class."""
    from mnist_lab.core.robustness import build_images, suite_sets

    (_, _), (images, labels) = fetch_mnist().as_keras_tuple()
    digits = np.array([np.flatnonzero(labels == d)[0] for d in range(10)])
    rows = {"clean": images[digits]}
    largest = {"rotation_45", "shift_6", "zoom_0.6", "zoom_1.4"}
    for suite_set in suite_sets():
        if suite_set.kind == "corruption" or suite_set.name in largest:
            rows[suite_set.name] = build_images(suite_set, images, digits)
    _show(plots.corruption_gallery(rows, len(digits)), _robustness_out(profile, reports_dir, out_dir) / "gallery.png")


def robustness_runs(profile: str, reports_dir=None) -> dict:
    """The runs with robustness results at this suite version, per stage."""
    from mnist_lab.core.robustness import SUITE_VERSION

    found = stage_results(Path(reports_dir or reports_root(profile)), profile)
    print(f"robustness suite v{SUITE_VERSION}; runs with results:")
    for stage in STAGES:
        seeds = [str(run.seed) for run, _ in found.get(stage, [])]
        print(f"  {stage:<16} {', '.join(seeds) if seeds else 'none (mnist-lab robustness RUN_DIR evaluates one)'}")
    return found


def robustness_table(found: dict, profile: str, reports_dir=None, out_dir=None) -> dict:
    """Stages by corruption, and MNIST-C's summary: the mean corruption error per stage."""

    rows = summary_rows(found)
    if not rows:
        _markdown("No run has robustness results yet: `mnist-lab robustness reports/STAGE` evaluates one.")
        return rows
    _markdown("\n".join([corruption_table(rows), "", *(summary_line(stage, row) for stage, row in rows.items())]))
    out = _robustness_out(profile, reports_dir, out_dir)
    _show(plots.mean_corruption_error(rows), out / "mean_corruption_error.png")
    return rows


def robustness_curves(rows: dict, profile: str, reports_dir=None, out_dir=None) -> None:
    """Accuracy against rotation, shift and zoom, the seed's augmentation ranges shaded."""
    from mnist_lab.core.robustness import SEED_RANGES

    if not rows:
        return
    out, points = _robustness_out(profile, reports_dir, out_dir), curves(rows)
    _show(plots.robustness_curves(points, SEED_RANGES), out / "curves.png")
    _show(plots.robustness_curves(points, SEED_RANGES, kinds=("rotation",)), out / "rotation_curve.png")


def robustness_steps(found: dict) -> None:
    """Each step of the ladder per corruption (seed-42 runs, McNemar) and over seeds (Welch)."""

    steps = step_tests(found, test_labels())
    if not steps:
        _markdown("No step has robustness results on both sides yet.")
    for step in steps:
        better, worse = significant_sets(step)
        _markdown(
            "\n".join(
                [
                    f"### `{step['before']}` → `{step['after']}`",
                    "",
                    step_table(step),
                    "",
                    f"Seed-42 runs, McNemar p < 0.05: better on {', '.join(better) or 'none'}; "
                    f"worse on {', '.join(worse) or 'none'}.",
                    "",
                    step_line(step),
                ]
            )
        )


def robustness_adaptation(found: dict, profile: str, reports_dir=None, out_dir=None) -> None:
    """The BatchNorm stages with each set's own BatchNorm statistics beside the trained ones: per
    corruption, the seed-42 run image by image (McNemar), and the gain over seeds. Returns nothing:
    the cell ends the notebook, and a returned dict would print as its last output."""
    from mnist_lab.core.robustness import corruption_names

    rows = adaptation_rows(found)
    none = without_batchnorm(found)
    if not rows:
        _markdown("No BatchNorm stage has adaptation results yet: `mnist-lab robustness reports/STAGE` adds them.")
        return
    parts = [adaptation_table(rows), "", *(adaptation_line(stage, row) for stage, row in rows.items())]
    if none:
        parts += ["", f"No BatchNorm layer to adapt, so no adapted figure: {', '.join(f'`{s}`' for s in none)}."]
    _markdown("\n".join(parts))
    _show(
        plots.adaptation_bars(rows, corruption_names()),
        _robustness_out(profile, reports_dir, out_dir) / "adaptation.png",
    )
    for stage, sets in adaptation_tests(found, test_labels()).items():
        _markdown(
            "\n".join(
                [
                    f"### `{stage}`, seed 42: trained statistics against adapted, on the same images",
                    "",
                    adaptation_test_table(sets),
                ]
            )
        )
