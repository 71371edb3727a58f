"""The robustness report: every stage on the suite's sets (mnist_lab.core.robustness), per stage and
per step of the ladder.

Reads what runs stored (robustness.json and the predicted labels); evaluates nothing. A stage's
runs are its seeds under the profile's protocol that have results at the current suite version.
Per step, two kinds of evidence:
- the stages' seed-42 runs, image by image: the change in accuracy on each set, with McNemar's
  exact test on the images exactly one of them gets wrong;
- over seeds, where both stages have at least two with results: the repository's Welch rule on
  the mean accuracy over the 15 corruptions (stats.VERDICT_RULE).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist_lab.core.models import STAGES, previous_stage
from mnist_lab.core.robustness import (
    SIZES,
    SMALL_SIZES,
    SUITE_VERSION,
    corruption_names,
    read_predictions,
    read_results,
    set_indices,
    suite_sets,
)
from mnist_lab.core.run_dir import Run
from mnist_lab.orchestration.stats import format_p, mcnemar_p, mean_interval, verdict
from mnist_lab.orchestration.sweep import HOME_BACKEND, STAGE_RUN_SEED, all_stage_seeds

SWEEP_KINDS = ("rotation", "shift", "zoom")
FIGURES = {
    "gallery": "robustness/gallery.png",
    "mean_corruption_error": "robustness/mean_corruption_error.png",
    "curves": "robustness/curves.png",
    "rotation_curve": "robustness/rotation_curve.png",
}


def stage_results(reports_dir, profile: str = "full", backend: str = HOME_BACKEND) -> dict[str, list[tuple[Run, dict]]]:
    """Per stage, in ladder order: (run, robustness.json) of every seed with current results, in
    one backend's band (default: the committed runs')."""
    found = {}
    for stage, runs in all_stage_seeds(Path(reports_dir), profile, backend).items():
        pairs = [(run, results) for run in runs if (results := read_results(run.path)) is not None]
        pairs = [(run, results) for run, results in pairs if results.get("suite_version") == SUITE_VERSION]
        if pairs:
            found[stage] = pairs
    return found


def stage_run(pairs: list[tuple[Run, dict]]) -> tuple[Run, dict] | None:
    """The stage's own run (seed 42), whose predictions the per-image tests pair."""
    return next(((run, results) for run, results in pairs if run.seed == STAGE_RUN_SEED), None)


def summary_rows(found: dict) -> dict[str, dict]:
    """Per stage: clean test accuracy and mean corruption accuracy, over its seeds with results."""
    rows = {}
    for stage, pairs in found.items():
        corrupted = [results["mean_corruption_accuracy"] for _, results in pairs]
        low, high = mean_interval(corrupted)
        rows[stage] = {
            "n": len(pairs),
            "seeds": [run.seed for run, _ in pairs],
            "clean": float(np.mean([run.metrics["test_accuracy"] for run, _ in pairs])),
            "corruption_accuracies": corrupted,
            "mean_corruption": float(np.mean(corrupted)),
            "low": low,
            "high": high,
            "per_set": {
                name: float(np.mean([results["sets"][name]["accuracy"] for _, results in pairs]))
                for name in pairs[0][1]["sets"]
            },
            "small": any(results["small"] for _, results in pairs),
            "test_digits": max(run.metrics["data"]["test"] for run, _ in pairs),
        }
    return rows


def _seeds(row: dict) -> str:
    return "1 seed" if row["n"] == 1 else f"mean of {row['n']} seeds"


def summary_line(stage: str, row: dict) -> str:
    """One line per stage: clean accuracy beside the mean over the 15 corruptions."""
    low, high = max(row["low"], 0.0), min(row["high"], 1.0)  # few seeds: the t interval can overrun 0-100%
    interval = f"; 95% interval {100 * low:.2f}-{100 * high:.2f}%" if row["n"] > 1 else ""
    return (
        f"- `{stage}`: clean test {100 * row['clean']:.2f}%, mean over the 15 corruptions "
        f"{100 * row['mean_corruption']:.2f}% ({_seeds(row)}{interval})"
    )


def corruption_table(rows: dict[str, dict]) -> str:
    """Stages by corruption: accuracy (%), the clean test set first, the mean over the 15 last."""
    names = corruption_names()
    header = ["stage", "seeds", "clean", *(name.replace("_", " ") for name in names), "mean", "mean error"]
    lines = ["| " + " | ".join(header) + " |", "| --- | ---: |" + " ---: |" * (len(header) - 2)]
    for stage, row in rows.items():
        cells = [f"`{stage}`", str(row["n"]), f"{100 * row['clean']:.2f}"]
        cells += [f"{100 * row['per_set'][name]:.1f}" for name in names]
        cells += [f"{100 * row['mean_corruption']:.2f}", f"{100 * (1 - row['mean_corruption']):.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def curves(rows: dict[str, dict]) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """Per sweep kind, per stage: [(level, accuracy)], the untouched subset at rotation 0, shift 0, zoom 1."""
    levels = {s.name: (s.kind, s.level) for s in suite_sets()}
    neutral = {"rotation": 0, "shift": 0, "zoom": 1.0}
    out = {kind: {} for kind in SWEEP_KINDS}
    for stage, row in rows.items():
        for kind in SWEEP_KINDS:
            points = [(neutral[kind], row["per_set"]["sweep_clean"])]
            points += [(level, row["per_set"][name]) for name, (k, level) in levels.items() if k == kind]
            out[kind][stage] = sorted(points)
    return out


def step_tests(found: dict, labels: np.ndarray) -> list[dict]:
    """Per step of the ladder with seed-42 results on both sides: per set, the change and McNemar's p."""
    steps = []
    for stage in found:
        before_stage = previous_stage(stage)
        pairs = [(before_stage, stage)] + [(other, stage) for other in STAGES[stage].also_against]
        for before, after in pairs:
            if before not in found or stage_run(found[before]) is None or stage_run(found[stage]) is None:
                continue
            (run_a, results_a), (run_b, results_b) = stage_run(found[before]), stage_run(found[stage])
            predictions_a, predictions_b = read_predictions(run_a.path), read_predictions(run_b.path)
            small = results_a["small"] or results_b["small"]
            sets = {}
            for suite_set in suite_sets():
                truth = labels[set_indices(suite_set, labels, small)]
                wrong_a = set(np.flatnonzero(predictions_a[suite_set.name] != truth))
                wrong_b = set(np.flatnonzero(predictions_b[suite_set.name] != truth))
                fixed, new = len(wrong_a - wrong_b), len(wrong_b - wrong_a)
                sets[suite_set.name] = {
                    "change": (len(wrong_a) - len(wrong_b)) / len(truth),
                    "fixed": fixed,
                    "new": new,
                    "p": mcnemar_p(fixed, new),
                }
            steps.append({"before": before, "after": after, "sets": sets, **_over_seeds(found[before], found[stage])})
    return steps


def _over_seeds(before: list, after: list) -> dict:
    """The Welch rule on the mean corruption accuracy, over each side's seeds with results."""
    a = [results["mean_corruption_accuracy"] for _, results in before]
    b = [results["mean_corruption_accuracy"] for _, results in after]
    return {"over_seeds": verdict(a, b)}


def step_table(step: dict) -> str:
    """One step's per-corruption change in accuracy (points) with McNemar's p on the paired images."""
    lines = ["| set | change (points) | fixed | new | McNemar p |", "| --- | ---: | ---: | ---: | ---: |"]
    for name in corruption_names():
        s = step["sets"][name]
        lines.append(
            f"| {name.replace('_', ' ')} | {100 * s['change']:+.2f} | {s['fixed']} | {s['new']} | {format_p(s['p'])} |"
        )
    return "\n".join(lines)


def step_line(step: dict) -> str:
    """A step's verdict over seeds on the mean corruption accuracy, or why there is none."""
    v = step["over_seeds"]
    head = f"- `{step['before']}` → `{step['after']}`, mean corruption accuracy over seeds"
    if v["verdict"] == "not enough seeds":
        return f"{head}: {v['n_before']} and {v['n_after']} seeds with results, no verdict (one seed is no spread)"
    word = {"real": "**real**" if v["difference"] > 0 else "**real loss**", "not detectable": "**not detectable**"}
    return (
        f"{head}: {100 * v['difference']:+.2f} points (95% interval {100 * v['low']:+.2f} to "
        f"{100 * v['high']:+.2f}; {v['n_before']} and {v['n_after']} seeds): {word[v['verdict']]}"
    )


def significant_sets(step: dict, alpha: float = 0.05) -> tuple[list[str], list[str]]:
    """(corruptions the later stage does better on, worse on), by McNemar at `alpha`."""
    better = [n for n in corruption_names() if step["sets"][n]["p"] < alpha and step["sets"][n]["change"] > 0]
    worse = [n for n in corruption_names() if step["sets"][n]["p"] < alpha and step["sets"][n]["change"] < 0]
    return better, worse


def readme_lines(reports_dir, profile: str = "full") -> list[str]:
    """The README's robustness lines: one per stage, clean beside mean corruption accuracy."""
    rows = summary_rows(stage_results(reports_dir, profile))
    if not rows:
        return []
    sizes = SMALL_SIZES if any(row["small"] for row in rows.values()) else SIZES
    digits = max(row["test_digits"] for row in rows.values())
    return [
        "**Robustness** (MNIST-C's 15 corruptions, regenerated from their definitions, notebook 08): "
        f"clean test accuracy (on the {digits:,} test digits) beside the mean accuracy over the "
        f"corruptions (each on a fixed stratified {sizes['corruption']:,} of them).",
        "",
        *(summary_line(stage, row) for stage, row in rows.items()),
    ]
