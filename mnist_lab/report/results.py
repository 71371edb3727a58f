"""What spans stages: the results table, what each step changed, reports/README.md and the
root README's generated section."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mnist_lab.core.config import MNIST_TEST_SIZE
from mnist_lab.core.files import atomic_path
from mnist_lab.core.models import STAGES, previous_stage
from mnist_lab.core.provenance import HOME_BACKEND, backend_label, machine_label, trained_in
from mnist_lab.core.run_dir import Run, learning_rate_cuts, load_run
from mnist_lab.findings.claims import BandFindings, judge_bands
from mnist_lab.findings.precision_check import precision_markdown, precision_result
from mnist_lab.findings.robustness_results import FIGURES as ROBUSTNESS_FIGURES
from mnist_lab.findings.robustness_results import corruption_table, readme_lines, stage_results, summary_rows
from mnist_lab.findings.seed_results import (
    SeedRow,
    ensemble_markdown,
    ensemble_rows,
    seed_markdown,
    seed_rows,
    test_labels,
)
from mnist_lab.findings.selection import choose, chosen_stage, selection_rows, unfinished
from mnist_lab.findings.stats import accuracy_interval, changed_errors, format_p, mcnemar_p
from mnist_lab.report.claims_tables import (
    band_tally,
    claims_table,
    matched_line,
    revision_table,
    smallest_effects_table,
    summary_table,
)
from mnist_lab.runs.layout import BASELINE, all_stage_seeds, candidate_runs, labelled_bands
from mnist_lab.runs.settings import CAMPAIGN_PLAN, CAMPAIGN_SEEDS, CHOSEN_TARGETS, ENSEMBLE_MIN_SEEDS, PRECISION_CHECK

# Figures a stage notebook saves beside its run.
FIGURES = {
    "learning_curves": "learning_curves.png",
    "confusion_matrix": "confusion_matrix.png",
    "misclassified": "misclassified.png",
}
# Figures the comparison notebook saves, relative to the reports folder.
COMPARISON_FIGURES = {
    "accuracy_by_stage": "comparison/accuracy_by_stage.png",
    "validation_curves": "comparison/validation_curves.png",
    "seed_strip": "comparison/seed_strip.png",
    "ensemble_curves": "comparison/ensemble_curves.png",
    "claims_forest": "comparison/claims_forest.png",
    "claims_evidence": "comparison/claims_evidence.png",
    "schedule_ablation": "comparison/schedule_ablation.png",  # only once the ablation has runs
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
README_BEGIN = (
    "<!-- results: written by make reproduce (mnist_lab.report.results.update_readme); do not edit by hand -->"
)
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
        "device": " + ".join(dict.fromkeys(machine_label(env) for env in trained_in(m))),
        "backend": " + ".join(dict.fromkeys(backend_label(env) for env in trained_in(m))),
    }


def markdown_table(rows: list[dict], link_prefix: str | None = None, seeds: dict[str, SeedRow] | None = None) -> str:
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
        + f" {r['test_loss']:.4f} | "
        f"{r['parameters']:,} | {r['epochs_run']} ({r['best_epoch']}) | "
        f"{r['training_minutes']:.1f} min ({r['images_per_second']:,.0f}) | "
        f"{r['train_images']:,} | {r['device']} | {r['backend']} |"
        for r in rows
    ]
    note = []
    if len({r["device"] for r in rows}) > 1 or any(r["device"].startswith("CPU model not recorded") for r in rows):
        note = [
            "",
            "Training times compare only between rows of one machine (the hardware column): a CPU whose "
            "model is not recorded ran before the model was recorded, and two such rows may come from "
            "different machines.",
        ]
    return "\n".join([header, *lines, *note])


def _seed_cell(seeds: dict[str, SeedRow] | None, stage: str) -> str:
    if seeds is None:
        return ""
    row = seeds.get(stage)
    if row is None or row.n < 2:  # one seed has no spread to show
        return " — (1) |" if row else " — |"
    # Three decimals, as in the seeds table: a mean of 99.646% must not read as 99.65% beside a 99.65% target.
    return f" {100 * row.mean:.3f}% ± {100 * row.std:.3f} ({row.n}) |"


def _stage_cell(stage: str, link_prefix: str | None) -> str:
    return f"`{stage}`" if link_prefix is None else f"[`{stage}`]({link_prefix}{stage}/)"


def accuracy_change(before: Run, after: Run) -> str:
    """'98.56% → 99.46%, +0.90 points (144 → 54 test errors: 110 fixed, 20 new; McNemar p < 0.001)'."""
    old, new = before.metrics, after.metrics
    if before.config.get("test_subset") != after.config.get("test_subset"):  # other digits: nothing to pair
        return (
            f"{100 * old['test_accuracy']:.2f}% → {100 * new['test_accuracy']:.2f}%, "
            f"{100 * (new['test_accuracy'] - old['test_accuracy']):+.2f} points (on other test digits: not paired)"
        )
    fixed, broken = changed_errors(before, after)
    return (
        f"{100 * old['test_accuracy']:.2f}% → {100 * new['test_accuracy']:.2f}%, "
        f"{100 * (new['test_accuracy'] - old['test_accuracy']):+.2f} points "
        f"({len(old['misclassified'])} → {len(new['misclassified'])} test errors: {fixed} fixed, "
        f"{broken} new; McNemar {format_p(mcnemar_p(fixed, broken))})"
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


def selection_lines(reports_dir, profile: str, rows: dict[str, dict], ensembles: dict[str, dict]) -> list[str]:
    """Notebook 05's open question: the setting the validation split chose for the augmented model
    and, once every candidate has run, its stage's seeds and ensemble against CHOSEN_TARGETS."""
    runs = candidate_runs(reports_dir, profile)
    if not runs:
        return []
    chosen, not_finished = choose(selection_rows(runs)), unfinished(runs)
    name = f"the {BASELINE}" if chosen["setting"] == BASELINE else f"`{chosen['setting']}`"
    line = (
        f"**A longer budget for augmentation?** On the validation split (notebook 05), the rule "
        f"{'has so far chosen' if not_finished else 'chose'} {name} "
        f"({chosen['validation errors']} validation errors at its kept epoch)"
    )
    if not_finished:
        names = ", ".join(f"`{candidate}`" for candidate in not_finished)
        return [f"{line}; not finished: {names} (`make select`)."]
    stage = chosen_stage(chosen["setting"])
    if chosen["setting"] == BASELINE:
        line += f": no longer budget tried beats the seed's 20 epochs, so `{stage}` stands as trained"
    elif stage is None:
        return [f"{line}; it is not a stage of the ladder yet."]
    else:
        line += f", which stage `{stage}` trains"
    needed = ENSEMBLE_MIN_SEEDS[profile]
    if profile != "full" or stage not in ensembles:  # targets are judged on the full protocol's seeds only
        seeds = rows[stage].n if stage in rows else 0
        ran = f"{seeds} of its {needed} seeds {'has' if seeds == 1 else 'have'} run"
        return [f"{line}; {ran}." if profile == "full" else f"{line}."]

    def judged(value: float, target: float) -> str:
        return f"{100 * value:.3f}%, " + ("**reaches**" if value >= target else "is **below**")

    mean, ensemble = rows[stage].mean, ensembles[stage]["accuracy"]
    return [
        f"{line}. Against issue 14's targets, set by published simple CNNs with this augmentation: the mean of "
        f"its {rows[stage].n} seeds, {judged(mean, CHOSEN_TARGETS['mean'])} {100 * CHOSEN_TARGETS['mean']:.2f}%; "
        f"the ensemble of all of them, {judged(ensemble, CHOSEN_TARGETS['ensemble'])} "
        f"{100 * CHOSEN_TARGETS['ensemble']:.2f}%."
    ]


def other_bands(reports_dir, profile: str) -> dict[str, dict[str, list[Run]]]:
    """Band label -> stage -> runs, for every backend but the committed runs' (provenance.HOME_BACKEND)."""
    return {
        label: runs
        for label, (backend, runs) in labelled_bands(reports_dir, profile).items()
        if backend != HOME_BACKEND
    }


def short_stage_table(runs: dict[str, Run], seeds: dict[str, dict], others: dict, link_prefix: str) -> str:
    """The README's stage table: the seed-42 run's test accuracy, and each band's mean over seeds."""
    bands_header = "".join(f" {label}: mean ± std (n) |" for label in others)
    lines = [
        f"| stage | seed-42 run | mean ± std over seeds (n) |{bands_header}",
        "| --- | ---: | ---: |" + " ---: |" * len(others),
    ]
    for stage, run in runs.items():
        cells = _seed_cell(seeds, stage) + "".join(_seed_cell(band, stage) for band in others.values())
        lines.append(f"| {_stage_cell(stage, link_prefix)} | {100 * run.metrics['test_accuracy']:.2f}% |{cells}")
    return "\n".join(lines)


# What the claims table is, said once for both READMEs (the rule itself: findings.claims' docstring).
CLAIMS_RULES = (
    "Each part's effect in its unit, with its **95% interval (per part)**: over new seeds *and new test digits* for "
    "the test-accuracy parts (the test set's own sampling error added to the seeds'), over seeds for the others. "
    "The tested parts form **one family**: *p* is each part's own test, *adjusted* its Holm-corrected p (family-wise "
    "5%); **supported** and **contradicted** need an adjusted p below 0.05; **negligible**: its 90% interval lies "
    "within plus or minus its smallest effect of interest (declared with reasons below, with the rules' revision "
    "and before its verdicts were computed); "
    "**not detectable**: none of these, shown with the way it leans, which the tally does not count. *Needed*: the "
    "seeds that would detect the smallest effect of interest with 80% power at the family's level, a planning "
    "figure. These rules were revised (issue 59) after the seed campaign's numbers were known, because the earlier "
    "ones tested 18 parts without a correction, judged one part by a test that could not fail, and analysed a paired "
    "design unpaired; [docs/findings.md](docs/findings.md) keeps each part's earlier verdict beside today's."
)


CLAIMS_RULES_SHORT = (
    "95% intervals per part, over seeds *and test digits* for accuracy, over seeds otherwise. One family: "
    "**supported** or **contradicted** needs a Holm-adjusted p below 0.05; **negligible**: the 90% interval lies "
    "within the smallest effect of interest; else **not detectable** (its lean shown, not counted). *Needed*: "
    "seeds to detect that smallest effect."
)


def claims_markdown(banded: dict[str, BandFindings], evidence: bool, link_prefix: str = "") -> list[str]:
    """The claims as judged once (claims.judge_bands): the tally, the rules in a paragraph, one
    verdict column per band (claims_tables.summary_table); with `evidence`, each band's whole
    evidence and the smallest effects of interest below it, else the short table (the README's)."""
    if not banded:
        return ["No band has runs on both sides of any comparison yet."]
    parts = [band_tally(banded), "", CLAIMS_RULES if evidence else CLAIMS_RULES_SHORT, ""]
    forest = f"{link_prefix}{COMPARISON_FIGURES['claims_forest']}"
    parts += [f"![Each part's effect and its 95% interval]({forest})", ""]
    parts += [summary_table(banded, short=not evidence), ""]
    if evidence:
        for label, band in banded.items():
            parts += [f"### The evidence: {label}", "", claims_table(band), "", matched_line(band), ""]
        parts += [
            "### Smallest effects of interest (declared with the rules' revision, before its verdicts were computed)",
            "",
            smallest_effects_table(),
            "",
        ]
    return parts


def test_digits_line(runs: dict[str, Run]) -> str:
    """What the test metrics were measured on, from the runs themselves (the quick profile's sample)."""
    sizes = sorted({run.metrics["data"]["test"] for run in runs.values()})
    if not sizes:
        return ""
    if sizes == [MNIST_TEST_SIZE]:
        return f"Test metrics are on the canonical {MNIST_TEST_SIZE:,}-image test set."
    return (
        f"Test metrics are on a fixed stratified {' or '.join(f'{n:,}' for n in sizes)} of the canonical "
        f"{MNIST_TEST_SIZE:,} test digits (the same digits for every run)."
    )


def write_reports_readme(reports_dir, profile: str, claims: dict[str, BandFindings] | None = None) -> Path:
    """reports_dir/README.md: the results table and figures, readable on a code-hosting page."""
    reports_dir = Path(reports_dir)
    runs, seed_runs = finished_runs(reports_dir), all_stage_seeds(reports_dir, profile)
    ensembles = ensemble_rows(seed_runs, test_labels(profile), ENSEMBLE_MIN_SEEDS[profile])
    parts = [
        f"# Results ({profile} profile)",
        "",
        "Written by `make reproduce" + ("" if profile == "full" else f" PROFILE={profile}") + "`; "
        "every number and figure comes from the runs in the folders below. " + test_digits_line(runs),
        "",
        *([QUICK_CAVEAT, ""] if profile == "quick" else []),
        "## The seed's claims, checked",
        "",
        "One verdict column per band: runs of different Keras backends are never pooled "
        "(`mnist_lab/findings/claims.py` fixes each part's measure and rule).",
        "",
        *claims_markdown(judge_bands(reports_dir, profile) if claims is None else claims, evidence=True),
        "## Every stage",
        "",
        *results_markdown(runs, link_prefix="", seed_runs=seed_runs),  # its seed section says which means fall short
        "",
    ]
    for label, band_runs in other_bands(reports_dir, profile).items():
        parts += [f"## The {label} band", "", "Its own seeds, never pooled with another band's.", ""]
        parts += [*seed_markdown(band_runs), ""]
    parts += [
        "## Ensembles",
        "",
        *ensemble_markdown(ensembles, ENSEMBLE_MIN_SEEDS[profile]),
        *selection_lines(reports_dir, profile, seed_rows(seed_runs), ensembles),
        "",
        "## Mixed precision",
        "",
        *precision_markdown(*PRECISION_CHECK, precision_result(reports_dir, profile)),
    ]
    robustness = summary_rows(stage_results(reports_dir, profile))
    if robustness:
        parts += ["", "## Robustness", "", *readme_lines(reports_dir, profile), "", corruption_table(robustness), ""]
    figures = [
        ("Test accuracy per stage", COMPARISON_FIGURES["accuracy_by_stage"]),
        ("Test accuracy over seeds", COMPARISON_FIGURES["seed_strip"]),
        ("Ensemble accuracy by number of members", COMPARISON_FIGURES["ensemble_curves"]),
        ("Validation curves of every stage", COMPARISON_FIGURES["validation_curves"]),
        ("The seed's claims: convergence and overfitting, every seed", COMPARISON_FIGURES["claims_evidence"]),
        ("The seed's claims: the learning-rate schedule, same seeds", COMPARISON_FIGURES["schedule_ablation"]),
        ("Mean corruption error per stage", ROBUSTNESS_FIGURES["mean_corruption_error"]),
        ("Accuracy on rotated, shifted and zoomed digits", ROBUSTNESS_FIGURES["curves"]),
        ("BatchNorm statistics from the corrupted digits themselves", ROBUSTNESS_FIGURES["adaptation"]),
        ("The robustness suite", ROBUSTNESS_FIGURES["gallery"]),
    ]
    figures += [(f"Learning curves: {name}", f"{name}/{FIGURES['learning_curves']}") for name in runs]
    for caption, relative in figures:
        if (reports_dir / relative).is_file():
            parts += [f"## {caption}", "", f"![{caption}]({relative})", ""]
    path = reports_dir / "README.md"
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(parts))
    return path


def readme_results(reports_dir, link_prefix: str = "reports/", claims: dict[str, BandFindings] | None = None) -> str:
    """The root README's results section, short enough to read in two minutes: the seed's claims
    checked (a verdict per band and the number that decides it), the results table, the robustness
    lines and two figures. The claims' whole evidence, every step's verdict, the targets, the
    ensembles and the bfloat16 check are in reports/README.md."""
    reports_dir = Path(reports_dir)
    runs = finished_runs(reports_dir)
    if not runs:
        return "No stage has finished yet."
    rows = seed_rows(all_stage_seeds(reports_dir, "full"))
    others = {label: seed_rows(band_runs) for label, band_runs in other_bands(reports_dir, "full").items()}
    parts = [
        "**The seed's claims, checked**: a verdict column per band of runs (bands are never pooled). Evidence: "
        f"[{link_prefix}README.md]({link_prefix}README.md); reasoning: [docs/findings.md](docs/findings.md).",
        "",
        campaign_line({stage: len(row.seeds) for stage, row in rows.items()}),
        "",
        *claims_markdown(judge_bands(reports_dir, "full") if claims is None else claims, False, link_prefix),
        "**Every stage** (parameters, epochs, training time and hardware: "
        f"[{link_prefix}README.md]({link_prefix}README.md)):",
        "",
        short_stage_table(runs, rows, others, link_prefix),
        "",
    ]
    parts += [line for line in accuracy_changes(runs) if line.startswith("- The seed's model")] + [""]
    robustness = readme_lines(reports_dir, "full")
    parts += [*robustness, ""] if robustness else []
    headline = [
        ("Test accuracy over seeds", COMPARISON_FIGURES["seed_strip"]),
        ("Accuracy on rotated digits", ROBUSTNESS_FIGURES["rotation_curve"]),
    ]
    for caption, relative in headline:
        if (reports_dir / relative).is_file():
            parts += [f"**{caption}**", "", f"![{caption}]({link_prefix}{relative})", ""]
    return "\n".join(parts).strip()


def update_readme(
    readme, reports_dir, link_prefix: str = "reports/", claims: dict[str, BandFindings] | None = None
) -> Path:
    """Replace the text between README_BEGIN and README_END in `readme` by readme_results()."""
    return replace_section(readme, README_BEGIN, README_END, lambda: readme_results(reports_dir, link_prefix, claims))


FINDINGS_BEGIN = (
    "<!-- generated: written by make reproduce (mnist_lab.report.results.update_findings_doc); do not edit by hand -->"
)
FINDINGS_END = "<!-- end of generated -->"


def update_findings_doc(doc, claims: dict[str, BandFindings]) -> Path:
    """docs/findings.md's record of the rules' revision: each part's verdict under the earlier rules
    beside today's, without the seed-42 runs, and on the campaign's own seeds (the committed band)."""
    return replace_section(doc, FINDINGS_BEGIN, FINDINGS_END, lambda: revision_table(claims))


def replace_section(path, begin_marker: str, end_marker: str, text: Callable[[], str]) -> Path:
    """Rewrite what lies between two marker lines of a hand-written file, whole or not at all."""
    path = Path(path)
    old = path.read_text()
    begin, end = old.find(begin_marker), old.find(end_marker)
    if begin < 0 or end < begin:
        raise ValueError(
            f"{path} has no generated section to update: put the lines\n{begin_marker}\n"
            f"{end_marker}\nwhere it should go, then run make reproduce again"
        )
    updated = old[: begin + len(begin_marker)] + "\n" + text() + "\n" + old[end:]
    if updated != old:
        with atomic_path(path) as tmp:
            tmp.write_text(updated)
    return path


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


def campaign_line(seed_counts: dict[str, int]) -> str:
    """One line for the README: the arms short of their planned seeds (settings.CAMPAIGN_SEEDS), or that none is."""
    short = {arm: n for arm, n in CAMPAIGN_SEEDS.items() if seed_counts.get(arm, 0) < n}
    if not short:
        return f"The seed campaign ([plan]({CAMPAIGN_PLAN})) is complete: every arm has its planned seeds."
    so_far = ", ".join(f"`{arm}` {seed_counts.get(arm, 0)}/{n}" for arm, n in short.items())
    return (
        f"**Seed campaign under way** ([plan]({CAMPAIGN_PLAN})): seeds {so_far}; verdicts resting on them are interim."
    )
