"""What spans stages: the results table, what each step changed, reports/README.md and the
root README's generated section."""

from __future__ import annotations

from pathlib import Path

from mnist_lab.files import atomic_path
from mnist_lab.models import STAGES
from mnist_lab.precision_check import PRECISION_CHECK, precision_line, precision_markdown, precision_result
from mnist_lab.run_dir import Run, learning_rate_cuts, load_run
from mnist_lab.stats import (
    VERDICT_RULE,
    accuracy_interval,
    changed_errors,
    ensemble_curve,
    ensemble_errors,
    mcnemar_p,
    mean_interval,
    seed_summary,
    verdict,
)
from mnist_lab.sweep import ENSEMBLE_MIN_SEEDS, all_stage_seeds

# Figures a stage notebook saves beside its run.
FIGURES = {
    "learning_curves": "learning_curves.png",
    "confusion_matrix": "confusion_matrix.png",
    "misclassified": "misclassified.png",
}
# Figures 06_comparison saves, relative to the reports folder.
COMPARISON_FIGURES = {
    "accuracy_by_stage": "comparison/accuracy_by_stage.png",
    "validation_curves": "comparison/validation_curves.png",
    "seed_strip": "comparison/seed_strip.png",
    "ensemble_curves": "comparison/ensemble_curves.png",
}
# The test accuracy the seed notebook reported for its model, `cnn_bn` here (its augmentation never ran).
SEED_REPORTED_ACCURACY = 0.9945
# The quick profile checks the pipeline in minutes; its numbers must not pass for results.
QUICK_CAVEAT = (
    "> **Quick profile: these numbers check the pipeline, not the science.** Every stage trained "
    "for a few epochs on a small stratified subset, so accuracies are far below the full "
    "protocol's, and the stages with BatchNorm can score near chance: BatchNorm's moving statistics, "
    "used at test time, barely move in so few steps. The full-protocol results are in the "
    "repository's README and reports/README.md."
)
# The root README's generated results section lies between these two lines.
README_BEGIN = "<!-- results: written by make reproduce (mnist_lab.results.update_readme); do not edit by hand -->"
README_END = "<!-- end of results -->"


def finished_runs(reports_dir) -> dict[str, Run]:
    """The finished runs under `reports_dir`, in stage order; unfinished stages are left out."""
    runs = {}
    for name in STAGES:
        try:
            runs[name] = load_run(Path(reports_dir) / name)
        except FileNotFoundError:
            continue
    return runs


def previous_stage(name: str) -> str | None:
    names = list(STAGES)
    index = names.index(name)
    return names[index - 1] if index else None


def summary_row(run: Run) -> dict:
    m = run.metrics
    low, high = accuracy_interval(m)
    return {
        "stage": run.stage,
        "test_accuracy": m["test_accuracy"],
        "accuracy_low": low,
        "accuracy_high": high,
        "test_loss": m["test_loss"],
        "parameters": m["parameters"],
        "epochs_run": m["epochs_run"],
        "best_epoch": m["best_epoch"],
        "training_minutes": m["training_seconds"] / 60,
        "images_per_second": m["images_per_second"],
        "train_images": m["data"]["train"],
        "device": m["environment"].get("device", "?"),
        "backend": _backend(m["environment"]),
    }


def _backend(environment: dict) -> str:
    name = environment.get("backend", "?")
    return f"{name} {environment[name]}" if name in environment else name


def markdown_table(rows: list[dict], link_prefix: str | None = None, seeds: dict[str, dict] | None = None) -> str:
    """One row per stage; with `link_prefix`, each stage name links to link_prefix + stage + '/';
    with `seeds` (from seed_rows), a column of the mean and spread over seeds."""
    # Training speed beside the time: stages trained in different sessions may have had faster or slower machines.
    seed_header = " mean ± std over seeds (n) |" if seeds is not None else ""
    header = (
        f"| stage | test accuracy |{seed_header} test loss | parameters | epochs (best) | training time (images/s) "
        "| training images | hardware | backend |\n| --- | ---: |"
        + (" ---: |" if seeds is not None else "")
        + " ---: | ---: | ---: | ---: | ---: | --- | --- |"
    )
    lines = [
        f"| {_stage_cell(r['stage'], link_prefix)} | {100 * r['test_accuracy']:.2f}% |{_seed_cell(seeds, r['stage'])}"
        f" {r['test_loss']:.4f} | "
        f"{r['parameters']:,} | {r['epochs_run']} ({r['best_epoch']}) | "
        f"{r['training_minutes']:.1f} min ({r['images_per_second']:,.0f}) | "
        f"{r['train_images']:,} | {r['device']} | {r['backend']} |"
        for r in rows
    ]
    return "\n".join([header, *lines])


def _seed_cell(seeds: dict[str, dict] | None, stage: str) -> str:
    if seeds is None:
        return ""
    row = seeds.get(stage)
    if row is None or row["n"] < 2:  # one seed has no spread to show
        return " — (1) |" if row else " — |"
    return f" {100 * row['mean']:.2f}% ± {100 * row['std']:.2f} ({row['n']}) |"


def _stage_cell(stage: str, link_prefix: str | None) -> str:
    return f"`{stage}`" if link_prefix is None else f"[`{stage}`]({link_prefix}{stage}/)"


def _p_value(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def accuracy_change(before: Run, after: Run) -> str:
    """'98.56% → 99.46%, +0.90 points (144 → 54 test errors: 110 fixed, 20 new; McNemar p < 0.001)'."""
    old, new = before.metrics, after.metrics
    fixed, broken = changed_errors(before, after)
    return (
        f"{100 * old['test_accuracy']:.2f}% → {100 * new['test_accuracy']:.2f}%, "
        f"{100 * (new['test_accuracy'] - old['test_accuracy']):+.2f} points "
        f"({len(old['misclassified'])} → {len(new['misclassified'])} test errors: {fixed} fixed, "
        f"{broken} new; McNemar {_p_value(mcnemar_p(fixed, broken))})"
    )


def accuracy_changes(runs: dict[str, Run]) -> list[str]:
    """What each ingredient changed: one line per stage whose previous stage has also finished."""
    lines = []
    for name, run in runs.items():
        before = runs.get(previous_stage(name))
        if before is None:
            continue
        lines.append(f"- `{name}` ({STAGES[name].summary}): {accuracy_change(before, run)}")
    if "cnn_bn" in runs:
        metrics = runs["cnn_bn"].metrics
        low, high = accuracy_interval(metrics)
        lines.append(
            f"- The seed's model (`cnn_bn`) trained as the seed's code trained it, without augmentation: "
            f"{100 * metrics['test_accuracy']:.2f}% (95% interval {100 * low:.2f}-{100 * high:.2f}%); "
            f"the seed notebook reported {100 * SEED_REPORTED_ACCURACY:.2f}%."
        )
    return lines


def results_markdown(
    runs: dict[str, Run], link_prefix: str, seed_runs: dict[str, list[Run]] | None = None
) -> list[str]:
    """The table, the stages not run yet, the verdict of each step over seeds and what each
    step changed between the single runs, as markdown lines."""
    if not runs:
        return ["No stage has finished yet.", ""]
    seeds = seed_rows(seed_runs) if seed_runs is not None else None
    parts = [markdown_table([summary_row(run) for run in runs.values()], link_prefix=link_prefix, seeds=seeds), ""]
    missing = [name for name in STAGES if name not in runs]
    if missing:
        parts += [f"Not run yet: {', '.join(missing)}.", ""]
    if seed_runs:
        parts += ["**Is each step real?**", "", *seed_markdown(seed_runs)]
    changes = accuracy_changes(runs)
    if changes:
        parts += [
            "Per image, between the seed-42 runs: test accuracy gained by each step on the canonical 10,000 "
            "test images. *Fixed* and *new* "
            "count the digits that only the earlier or only the later model gets wrong; McNemar's exact test "
            "gives the chance of a split at least that uneven between two equally good models.",
            "",
            *changes,
            "",
        ]
    return parts


def write_reports_readme(reports_dir, profile: str) -> Path:
    """reports_dir/README.md: the results table and figures, readable on a code-hosting page."""
    reports_dir = Path(reports_dir)
    runs, seed_runs = finished_runs(reports_dir), all_stage_seeds(reports_dir, profile)
    parts = [
        f"# Results ({profile} profile)",
        "",
        "Written by `make reproduce" + ("" if profile == "full" else f" PROFILE={profile}") + "`; "
        "every number and figure comes from the runs in the folders below. Test metrics are on "
        "the canonical 10,000-image test set.",
        "",
        *([QUICK_CAVEAT, ""] if profile == "quick" else []),
        *results_markdown(runs, link_prefix="", seed_runs=seed_runs),
        "## Ensembles",
        "",
        *ensemble_markdown(
            ensemble_rows(seed_runs, test_labels(), ENSEMBLE_MIN_SEEDS[profile]), ENSEMBLE_MIN_SEEDS[profile]
        ),
        "## Mixed precision",
        "",
        *precision_markdown(*PRECISION_CHECK, precision_result(reports_dir, profile)),
    ]
    figures = [
        ("Test accuracy per stage", COMPARISON_FIGURES["accuracy_by_stage"]),
        ("Test accuracy over seeds", COMPARISON_FIGURES["seed_strip"]),
        ("Ensemble accuracy by number of members", COMPARISON_FIGURES["ensemble_curves"]),
        ("Validation curves of every stage", COMPARISON_FIGURES["validation_curves"]),
    ]
    figures += [(f"Learning curves: {name}", f"{name}/{FIGURES['learning_curves']}") for name in runs]
    for caption, relative in figures:
        if (reports_dir / relative).is_file():
            parts += [f"## {caption}", "", f"![{caption}]({relative})", ""]
    path = reports_dir / "README.md"
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(parts))
    return path


def readme_results(reports_dir, link_prefix: str = "reports/") -> str:
    """The root README's results section: the table, each step's verdict over seeds, the seed's
    model against its reported accuracy, and the headline figures (the rest is in reports/README.md)."""
    reports_dir = Path(reports_dir)
    runs = finished_runs(reports_dir)
    if not runs:
        return "No stage has finished yet."
    seed_runs = all_stage_seeds(reports_dir, "full")
    rows = seed_rows(seed_runs)
    parts = [markdown_table([summary_row(run) for run in runs.values()], link_prefix=link_prefix, seeds=rows), ""]
    steps = step_verdicts(rows)
    if steps:
        parts += [
            f"**Is each step real?** Over seeds, by a rule fixed before the runs: {VERDICT_RULE}.",
            "",
            *map(verdict_line, steps),
            "",
        ]
    parts += [line for line in accuracy_changes(runs) if line.startswith("- The seed's model")] + [""]
    ensembles = ensemble_rows(seed_runs, test_labels(), ENSEMBLE_MIN_SEEDS["full"])
    parts += [ensemble_line(stage, row) for stage, row in ensembles.items()] + ([""] if ensembles else [])
    check = precision_result(reports_dir, "full")
    if check["seeds"]:  # its verdict line; the rule and the speeds are in reports/README.md
        parts += [precision_line(*PRECISION_CHECK, check), ""]
    headline = [
        ("Test accuracy over seeds", COMPARISON_FIGURES["seed_strip"]),
        ("Ensemble accuracy by number of members", COMPARISON_FIGURES["ensemble_curves"]),
        ("Test accuracy per stage", COMPARISON_FIGURES["accuracy_by_stage"]),
    ]
    last = list(runs)[-1]  # the final stage once every stage has run
    headline.append((f"Learning curves of `{last}`", f"{last}/{FIGURES['learning_curves']}"))
    for caption, relative in headline:
        if (reports_dir / relative).is_file():
            parts += [f"**{caption}**", "", f"![{caption}]({link_prefix}{relative})", ""]
    return "\n".join(parts).strip()


def update_readme(readme, reports_dir, link_prefix: str = "reports/") -> Path:
    """Replace the text between README_BEGIN and README_END in `readme` by readme_results()."""
    readme = Path(readme)
    text = readme.read_text()
    begin, end = text.find(README_BEGIN), text.find(README_END)
    if begin < 0 or end < begin:
        raise ValueError(
            f"{readme} has no results section to update: put the lines\n{README_BEGIN}\n"
            f"{README_END}\nwhere the results should go, then run make reproduce again"
        )
    updated = text[: begin + len(README_BEGIN)] + "\n" + readme_results(reports_dir, link_prefix) + "\n" + text[end:]
    if updated != text:
        with atomic_path(readme) as tmp:
            tmp.write_text(updated)
    return readme


def budget_table(runs: dict[str, Run]) -> str:
    """Whether each run's budget ran out while it was still improving (notebook 05)."""
    rows = {
        "best epoch / epochs run": lambda r: f"{r.metrics['best_epoch']} / {r.metrics['epochs_run']}",
        "epochs with training accuracy below validation": lambda r: (
            f"{sum(e['accuracy'] < e['val_accuracy'] for e in r.history)} of {len(r.history)}"
        ),
        "learning-rate cuts (after epoch)": lambda r: ", ".join(map(str, learning_rate_cuts(r.history))) or "none",
        "best validation accuracy": lambda r: f"{100 * r.metrics['best_val_accuracy']:.2f}%",
        "test loss: cross-entropy": lambda r: _maybe(r.metrics.get("test_cross_entropy")),
        "test loss: L2 penalty": lambda r: _maybe(r.metrics.get("test_cross_entropy"), r.metrics["test_loss"]),
    }
    lines = ["| | " + " | ".join(runs) + " |", "| --- |" + " ---: |" * len(runs)]
    lines += [f"| {name} | " + " | ".join(cell(run) for run in runs.values()) + " |" for name, cell in rows.items()]
    return "\n".join(lines)


def _maybe(cross_entropy: float | None, total: float | None = None) -> str:
    """The cross-entropy (or, given the total test loss, the L2 penalty); runs from before the
    split was recorded show a dash."""
    if cross_entropy is None:
        return "—"
    return f"{(total - cross_entropy if total is not None else cross_entropy):.4f}"


# --- Seed variance: every stage over several seeds, and a verdict for every step.


def seed_rows(seed_runs: dict[str, list[Run]]) -> dict[str, dict]:
    """Per stage: the seeds' test accuracies and errors summarised."""
    rows = {}
    for stage, runs in seed_runs.items():
        accuracies = [run.metrics["test_accuracy"] for run in runs]
        errors = [len(run.metrics["misclassified"]) for run in runs]
        low, high = mean_interval(accuracies)
        rows[stage] = {
            **seed_summary(accuracies),
            "mean_low": low,
            "mean_high": high,
            "seeds": [run.seed for run in runs],
            "accuracies": accuracies,
            "errors_mean": sum(errors) / len(errors),
            "errors_min": min(errors),
            "errors_max": max(errors),
            "backends": sorted({_backend(run.metrics["environment"]) for run in runs}),
        }
    return rows


def seed_table(rows: dict[str, dict]) -> str:
    header = (
        "| stage | seeds | mean test accuracy (95% interval) | std | min - max | test errors, mean (min - max) |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: |"
    )
    lines = [
        f"| `{stage}` | {r['n']} | {100 * r['mean']:.3f}% ({100 * r['mean_low']:.2f}-{100 * r['mean_high']:.2f}%) "
        f"| {100 * r['std']:.3f} | {100 * r['min']:.2f}-{100 * r['max']:.2f}% "
        f"| {r['errors_mean']:.1f} ({r['errors_min']}-{r['errors_max']}) |"
        for stage, r in rows.items()
    ]
    return "\n".join([header, *lines])


def step_verdicts(rows: dict[str, dict]) -> list[dict]:
    """One verdict per ladder step whose two stages both have seeds."""
    steps = []
    for stage in rows:
        before = previous_stage(stage)
        if before in rows:
            steps.append(
                {"before": before, "after": stage, **verdict(rows[before]["accuracies"], rows[stage]["accuracies"])}
            )
    return steps


def verdict_line(step: dict) -> str:
    head = (
        f"`{step['before']}` → `{step['after']}` ({STAGES[step['after']].summary}): "
        f"{100 * step['difference']:+.3f} points"
    )
    if step["verdict"] == "not enough seeds":
        return f"- {head}; **not enough seeds** ({step['n_before']} and {step['n_after']}) for an interval"
    interval = f"95% interval {100 * step['low']:+.3f} to {100 * step['high']:+.3f}"
    odds = f"a run of `{step['after']}` beats one of `{step['before']}` in {100 * step['p_superiority']:.0f}% of pairs"
    if step["verdict"] == "real":
        word = "**real gain**" if step["difference"] > 0 else "**real loss**"
        return f"- {head} ({interval}; {odds}): {word}"
    bound = 100 * max(abs(step["low"]), abs(step["high"]))
    return (
        f"- {head} ({interval}; {odds}): **not detectable** with {step['n_before']} and {step['n_after']} "
        f"seeds; the difference is smaller than {bound:.2f} points"
    )


def seed_markdown(seed_runs: dict[str, list[Run]]) -> list[str]:
    """The seed-variance table and the step verdicts, with the rule stated first."""
    if not seed_runs:
        return ["No seed sweep has finished yet (`make seeds`)."]
    rows = seed_rows(seed_runs)
    parts = [
        f"Over seeds (only the training seed varies; the split is the seed notebook's). Rule, fixed before "
        f"the runs: {VERDICT_RULE}. Welch's interval, since the stages' spreads differ.",
        "",
        seed_table(rows),
        "",
    ]
    steps = step_verdicts(rows)
    if steps:
        parts += [*map(verdict_line, steps), ""]
    return parts


# --- Ensembles of a stage's seeds (all of them, fixed in advance: never chosen on the test set).


def ensemble_rows(seed_runs: dict[str, list[Run]], labels, min_seeds: int) -> dict[str, dict]:
    """Per stage with at least `min_seeds` seeds: the average of all its seeds' test probabilities,
    compared digit by digit with the stage's best single run."""
    rows = {}
    for stage, runs in seed_runs.items():
        if len(runs) < min_seeds:
            continue
        probabilities = [run.probabilities() for run in runs]
        wrong = ensemble_errors(probabilities, labels)
        best = max(runs, key=lambda run: run.metrics["test_accuracy"])
        best_wrong = {index for index, _, _ in best.metrics["misclassified"]}
        fixed, new = len(best_wrong - wrong), len(wrong - best_wrong)
        rows[stage] = {
            "members": len(runs),
            "accuracy": 1 - len(wrong) / len(labels),
            "errors": len(wrong),
            "best_seed": best.seed,
            "best_accuracy": best.metrics["test_accuracy"],
            "best_errors": len(best_wrong),
            "fixed": fixed,
            "new": new,
            "p": mcnemar_p(fixed, new),
            "curve": ensemble_curve(probabilities, labels),
        }
    return rows


def ensemble_line(stage: str, row: dict) -> str:
    return (
        f"- Ensemble of all {row['members']} `{stage}` seeds (their averaged test probabilities): "
        f"{100 * row['accuracy']:.2f}% ({row['errors']} test errors), against {100 * row['best_accuracy']:.2f}% "
        f"for its best single run: {row['fixed']} digits fixed, {row['new']} new, McNemar {_p_value(row['p'])}."
    )


def test_labels():
    from mnist_lab.data import fetch_mnist

    return fetch_mnist().as_keras_tuple()[1][1]


def ensemble_markdown(rows: dict[str, dict], min_seeds: int) -> list[str]:
    if not rows:
        return [f"No stage has {min_seeds} seeds yet: no ensemble."]
    header = (
        "| stage | members | ensemble test accuracy (errors) | best single run (seed) | fixed / new | McNemar |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: |"
    )
    lines = [
        f"| `{stage}` | {r['members']} | {100 * r['accuracy']:.2f}% ({r['errors']}) | "
        f"{100 * r['best_accuracy']:.2f}% ({r['best_seed']}) | {r['fixed']} / {r['new']} | {_p_value(r['p'])} |"
        for stage, r in rows.items()
    ]
    curve = [
        f"- `{stage}`: " + ", ".join(f"{p['members']}: {100 * p['mean']:.3f}%" for p in r["curve"])
        for stage, r in rows.items()
    ]
    return [
        "Each ensemble averages the test probabilities of all of its stage's seeds (fixed in advance). "
        "*Fixed* and *new* compare it digit by digit with the stage's best single run.",
        "",
        header,
        *lines,
        "",
        "Mean ensemble accuracy by number of members (over every subset of that size):",
        "",
        *curve,
        "",
    ]
