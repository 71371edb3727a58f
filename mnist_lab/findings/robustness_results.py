"""The robustness report: every stage on the suite's sets (mnist_lab.core.robustness), per stage and
per step of the ladder.

Reads what runs stored (robustness.json and the predicted labels); evaluates nothing. A stage's
runs are its seeds under the profile's protocol that have results at the current suite version.
Per step, two kinds of evidence:
- the stages' seed-42 runs, image by image: the change in accuracy on each set, with McNemar's
  exact test on the images exactly one of them gets wrong;
- over seeds, where both stages have at least two with results: the repository's Welch rule on
  the mean accuracy over the 15 corruptions (stats.VERDICT_RULE).

BatchNorm adaptation (mnist_lab.core.adaptation): per stage with BatchNorm layers, its runs'
accuracy with each set's own BatchNorm statistics beside the plain one. Image by image, the
seed-42 run's plain and adapted predictions on the same images, with McNemar's exact test; over
seeds, the mean gain in mean corruption accuracy with its Student interval (each seed is its own
pair: the same model, plain and adapted).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist_lab.core.adaptation import ADAPTATION_VERSION
from mnist_lab.core.models import STAGES, previous_stage
from mnist_lab.core.provenance import HOME_BACKEND
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
from mnist_lab.findings.stats import format_p, mcnemar_p, mean_interval, verdict
from mnist_lab.runs.layout import all_stage_seeds
from mnist_lab.runs.settings import STAGE_RUN_SEED

SWEEP_KINDS = ("rotation", "shift", "zoom")
FIGURES = {
    "gallery": "robustness/gallery.png",
    "mean_corruption_error": "robustness/mean_corruption_error.png",
    "curves": "robustness/curves.png",
    "rotation_curve": "robustness/rotation_curve.png",
    "adaptation": "robustness/adaptation.png",
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


def _adapted(results: dict) -> dict | None:
    """A run's BatchNorm adaptation results at this version, if its model has BatchNorm layers."""
    adaptation = results.get("adaptation") or {}
    return (
        adaptation if adaptation.get("version") == ADAPTATION_VERSION and adaptation.get("batchnorm_layers") else None
    )


def adaptation_rows(found: dict) -> dict[str, dict]:
    """Per stage whose runs have adaptation results: plain and adapted accuracy per set and on
    average over its seeds, and the gain in mean corruption accuracy with its interval over seeds."""
    rows = {}
    for stage, pairs in found.items():
        adapted = [(run, results, _adapted(results)) for run, results in pairs if _adapted(results)]
        if not adapted:
            continue
        plain = [results["mean_corruption_accuracy"] for _, results, _ in adapted]
        after = [adaptation["mean_corruption_accuracy"] for _, _, adaptation in adapted]
        gains = [b - a for a, b in zip(plain, after, strict=True)]
        low, high = mean_interval(gains) if len(gains) > 1 else (float("nan"), float("nan"))
        rows[stage] = {
            "n": len(adapted),
            "seeds": [run.seed for run, _, _ in adapted],
            "plain": float(np.mean(plain)),
            "adapted": float(np.mean(after)),
            "gain": float(np.mean(gains)),
            "low": low,
            "high": high,
            "per_set": {
                name: (
                    float(np.mean([results["sets"][name]["accuracy"] for _, results, _ in adapted])),
                    float(np.mean([adaptation["sets"][name]["accuracy"] for _, _, adaptation in adapted])),
                )
                for name in adapted[0][1]["sets"]
            },
            "clean": float(np.mean([run.metrics["test_accuracy"] for run, _, _ in adapted])),
            "clean_adapted": float(np.mean([adaptation["clean_test"]["accuracy"] for _, _, adaptation in adapted])),
            "seconds": float(np.mean([adaptation["seconds"] for _, _, adaptation in adapted])),
        }
    return rows


def without_batchnorm(found: dict) -> list[str]:
    """The stages whose runs record that they have no BatchNorm layer to adapt."""
    return [
        stage
        for stage, pairs in found.items()
        if any((results.get("adaptation") or {}).get("batchnorm_layers") == 0 for _, results in pairs)
    ]


def adaptation_table(rows: dict[str, dict]) -> str:
    """Corruptions by stage: plain and adapted accuracy (%), over each stage's seeds with results."""
    stages = list(rows)
    header = ["corruption", *(f"`{stage}` {kind}" for stage in stages for kind in ("plain", "adapted"))]
    lines = ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
    for name in corruption_names():
        cells = [f"{100 * value:.1f}" for stage in stages for value in rows[stage]["per_set"][name]]
        lines.append(f"| {name.replace('_', ' ')} | " + " | ".join(cells) + " |")
    means = [f"**{100 * rows[stage][key]:.2f}**" for stage in stages for key in ("plain", "adapted")]
    lines.append("| **mean of the 15** | " + " | ".join(means) + " |")
    clean = [f"{100 * rows[stage][key]:.2f}" for stage in stages for key in ("clean", "clean_adapted")]
    lines.append("| clean test digits (control) | " + " | ".join(clean) + " |")
    lines.append("| seeds | " + " | ".join(str(rows[stage]["n"]) for stage in stages for _ in range(2)) + " |")
    return "\n".join(lines)


def adaptation_line(stage: str, row: dict) -> str:
    """A stage's mean corruption accuracy, plain and adapted, and the gain over its seeds."""
    interval = (
        f"; 95% interval of the gain over seeds {100 * row['low']:+.2f} to {100 * row['high']:+.2f}"
        if row["n"] > 1
        else ""
    )
    return (
        f"- `{stage}`: mean over the 15 corruptions {100 * row['plain']:.2f}% plain, {100 * row['adapted']:.2f}% with "
        f"each set's own BatchNorm statistics ({100 * row['gain']:+.2f} points, {_seeds(row)}{interval}); clean "
        f"test digits {100 * row['clean']:.2f}% plain, {100 * row['clean_adapted']:.2f}% adapted on themselves"
    )


def adaptation_tests(found: dict, labels: np.ndarray) -> dict[str, dict]:
    """Per stage with a seed-42 run with adaptation results: per set, plain against adapted
    predictions of that run on the same images (fixed, new, McNemar's p)."""
    out = {}
    for stage, pairs in found.items():
        own = stage_run(pairs)
        if own is None or not _adapted(own[1]):
            continue
        run, results = own
        predictions = read_predictions(run.path)
        sets = {}
        for suite_set in suite_sets():
            truth = labels[set_indices(suite_set, labels, results["small"])]
            sets[suite_set.name] = {
                "plain": results["sets"][suite_set.name]["accuracy"],
                "adapted": results["adaptation"]["sets"][suite_set.name]["accuracy"],
                **paired(predictions[suite_set.name], predictions[f"adapted__{suite_set.name}"], truth),
            }
        out[stage] = sets
    return out


def adaptation_test_table(sets: dict) -> str:
    """One seed-42 run, per corruption: plain and adapted accuracy and McNemar on the same images."""
    lines = [
        "| corruption | plain (%) | adapted (%) | fixed | new | McNemar p |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in corruption_names():
        s = sets[name]
        lines.append(
            f"| {name.replace('_', ' ')} | {100 * s['plain']:.2f} | {100 * s['adapted']:.2f} | {s['fixed']} | "
            f"{s['new']} | {format_p(s['p'])} |"
        )
    return "\n".join(lines)


def _seeds(row: dict) -> str:
    return "1 seed" if row["n"] == 1 else f"mean of {row['n']} seeds"


def summary_line(stage: str, row: dict, adapted: dict | None = None, short: bool = False) -> str:
    """One line per stage: clean accuracy beside the mean over the 15 corruptions, and, for a
    BatchNorm stage with adaptation results (adaptation_rows), the mean with adapted statistics.
    `short`: 'clean' and 'corrupted', for the READMEs, whose lead line says what they count."""
    low, high = max(row["low"], 0.0), min(row["high"], 1.0)  # few seeds: the t interval can overrun 0-100%
    interval = f"; 95% interval {100 * low:.2f}-{100 * high:.2f}%" if row["n"] > 1 else ""
    clean, corrupted = ("clean", "corrupted") if short else ("clean test", "mean over the 15 corruptions")
    line = (
        f"- `{stage}`: {clean} {100 * row['clean']:.2f}%, {corrupted} "
        f"{100 * row['mean_corruption']:.2f}% ({_seeds(row)}{interval})"
    )
    if adapted is not None:
        same = "seed" if adapted["n"] == 1 else f"{adapted['n']} seeds"
        line += f"; adapted {100 * adapted['adapted']:.2f}% against {100 * adapted['plain']:.2f}% on the same {same}"
    return line


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


def paired(before: np.ndarray, after: np.ndarray, truth: np.ndarray) -> dict:
    """Two sets of predicted labels for the same images: the change in accuracy, the images only
    `before` gets wrong (fixed) and only `after` gets wrong (new), and McNemar's p on those."""
    wrong_before, wrong_after = set(np.flatnonzero(before != truth)), set(np.flatnonzero(after != truth))
    fixed, new = len(wrong_before - wrong_after), len(wrong_after - wrong_before)
    return {
        "change": (len(wrong_before) - len(wrong_after)) / len(truth),
        "fixed": fixed,
        "new": new,
        "p": mcnemar_p(fixed, new),
    }


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
                sets[suite_set.name] = paired(predictions_a[suite_set.name], predictions_b[suite_set.name], truth)
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
    found = stage_results(reports_dir, profile)
    rows, adapted = summary_rows(found), adaptation_rows(found)
    if not rows:
        return []
    sizes = SMALL_SIZES if any(row["small"] for row in rows.values()) else SIZES
    digits = max(row["test_digits"] for row in rows.values())
    return [
        f"**Robustness** (MNIST-C): *clean*: accuracy on the {digits:,} test digits; *corrupted*: the mean over "
        f"the 15 corruptions, each on a stratified {sizes['corruption']:,} of them; *adapted*: with BatchNorm "
        "statistics from each corrupted set.",
        "",
        *(summary_line(stage, row, adapted.get(stage), short=True) for stage, row in rows.items()),
    ]
