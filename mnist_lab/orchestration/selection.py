"""Choosing a longer training budget for the augmented model, on the validation split only.

Notebook 05 leaves a question open: within the seed's 20 epochs augmentation adds nothing, but
its run was still improving at epoch 19, and its callbacks watch val_loss, which is mostly the
dense layer's L2 penalty. Each candidate below is a set of TrainConfig fields over cnn_bn_aug's
protocol, trained once (seed 42) into reports/selection/NAME/ without the test set ever being
evaluated. SELECTION_RULE was fixed before any candidate ran; the chosen setting becomes a
stage, and only that stage's runs see the test set.
"""

from __future__ import annotations

from pathlib import Path

from mnist_lab.core.config import ConfigError, TrainConfig, same_config
from mnist_lab.core.models import STAGES
from mnist_lab.core.run_dir import PARTIAL_DIR, Run, best_epoch, load_run, read_checkpoint_state
from mnist_lab.orchestration.profiles import PROFILES, check_profile, reports_root, resolve_config

BASE_STAGE = "cnn_bn_aug"
SELECTION_DIR = "selection"
BASELINE = "seed protocol"  # the base stage's own run, reports/cnn_bn_aug/ (its validation figures only)
CANDIDATES: dict[str, dict] = {
    # The seed's plateau callbacks, watching the loss without the L2 penalty, with room to go on.
    "plateau_ce_50": dict(epochs=50, monitor="val_cross_entropy", early_stopping_patience=10),
    # Deotte's schedule (times 0.95 per epoch), never stopping early: the best epoch is kept.
    "exponential_50": dict(
        epochs=50, lr_schedule="exponential", lr_decay=0.95, monitor="val_cross_entropy", early_stopping_patience=50
    ),
}
# Not tried, to spend the CPU hours on seeds instead: a cosine schedule (TrainConfig supports it),
# and watching val_accuracy, which on 6,000 images moves in steps of one digit and ties often.
# An exponential schedule's rate at an epoch does not depend on the budget, so the first N
# epochs of exponential_50 are exactly the run with epochs=N: one run shows three budgets.
SHORTER_BUDGETS = {"exponential_50": (30, 40)}
SELECTION_RULE = (
    "fewest validation errors at the epoch whose weights the run keeps; a tie goes to the lower "
    "validation cross-entropy, then to the shorter budget. One seed each: a difference of a few "
    "validation digits is within noise, which the chosen stage's seeds then test on the test set."
)

# Issue 14's targets for the protocol the selection chooses, from published simple CNNs trained with
# this augmentation (Deotte's, on Kaggle): a mean of 99.641% for one CNN over 1,500 runs, and 99.745%
# for 15 of them averaged. Judged on at least ENSEMBLE_MIN_SEEDS["full"] seeds of the chosen stage.
CHOSEN_TARGETS = {"mean": 0.9965, "ensemble": 0.9975}


def candidate_config(name: str, profile: str = "full") -> TrainConfig:
    """A candidate's config; the profile's settings win over the candidate's (quick: 2 epochs on a subset)."""
    if name not in CANDIDATES:
        raise ConfigError(f"unknown candidate {name!r}; candidates: {', '.join(CANDIDATES)}")
    check_profile(profile)
    return resolve_config(BASE_STAGE, profile, **{**CANDIDATES[name], **PROFILES[profile]})


def setting_protocol(name: str) -> dict:
    """The TrainConfig fields of a row of the selection table ('exponential_50@30': the 30-epoch prefix)."""
    candidate, _, budget = name.partition("@")
    if candidate == BASELINE:
        return {}
    fields = dict(CANDIDATES[candidate])
    if budget:  # trained to the end of the budget, like the candidate it is a prefix of
        fields.update(epochs=int(budget), early_stopping_patience=int(budget))
    return fields


def run_selection(profile: str = "full", reports=None, *, verbose="auto") -> dict[str, Run]:
    """Train every candidate not finished yet (validation only), one after the other."""
    check_profile(profile)
    from mnist_lab.core.train import run_stage  # imports TensorFlow

    reports = Path(reports or reports_root(profile))
    runs = {}
    for number, name in enumerate(CANDIDATES, start=1):
        out = reports / SELECTION_DIR / name
        print(f"== candidate {number}/{len(CANDIDATES)}: {name} -> {out}", flush=True)
        config = candidate_config(name, profile)
        runs[name] = run_stage(config, out, verbose=verbose, keep_model=False, evaluate_test=False)
    return runs


def candidate_runs(reports, profile: str = "full") -> dict[str, Run]:
    """The finished candidates under the profile's protocol (and the baseline, if it has a run)."""
    reports = Path(reports)
    runs = {}
    for name in CANDIDATES:
        try:
            run = load_run(reports / SELECTION_DIR / name)
        except FileNotFoundError:
            continue
        if TrainConfig.from_dict(run.config) == candidate_config(name, profile):
            runs[name] = run
    try:
        baseline = load_run(reports / BASE_STAGE)
        if TrainConfig.from_dict(baseline.config) == resolve_config(BASE_STAGE, profile):
            runs[BASELINE] = baseline
    except FileNotFoundError:
        pass
    return runs


def progress_lines(reports, profile: str = "full") -> list[str]:
    """The unfinished candidates' epochs so far, read from their checkpoints: a shorter budget whose
    epochs have all run is already final (an exponential schedule's prefix does not depend on the rest)."""
    lines = []
    for name in CANDIDATES:
        config = candidate_config(name, profile)
        state = read_checkpoint_state(Path(reports) / SELECTION_DIR / name / PARTIAL_DIR)
        if state is None or not same_config(state.get("config"), config):
            continue
        records = state["history"]
        line = f"in progress: {name}, {len(records)} of {config.epochs} epochs run"
        for budget in SHORTER_BUDGETS.get(name, ()):
            if len(records) >= budget:
                kept = best_epoch(records[:budget], config.monitor)
                line += (
                    f"; {name}@{budget} has run all its epochs: kept epoch {kept['epoch']}, "
                    f"validation accuracy {100 * kept['val_accuracy']:.2f}%"
                )
        lines.append(line)
    return lines


def selection_row(name: str, run: Run, budget: int | None = None) -> dict:
    """Validation figures of a run, or of its first `budget` epochs; nothing from the test set."""
    history = run.history[:budget] if budget else run.history
    config = TrainConfig.from_dict(run.config)
    kept = best_epoch(history, config.monitor)
    validation = run.metrics["data"]["validation"]
    return {
        "setting": f"{name}@{budget}" if budget else name,
        "schedule": config.lr_schedule,
        "monitor": config.monitor,
        "budget": budget or config.epochs,
        "epochs run": len(history),
        "kept epoch": kept["epoch"],
        "validation errors": round((1.0 - kept["val_accuracy"]) * validation),
        "validation accuracy": kept["val_accuracy"],
        "validation cross-entropy": kept.get("val_cross_entropy"),  # runs before the metric existed: None
        "minutes": sum(record["seconds"] for record in history) / 60,
    }


def unfinished(runs: dict[str, Run]) -> list[str]:
    """The candidates without a finished run: while any is left, the choice is provisional."""
    return [name for name in CANDIDATES if name not in runs]


def selection_rows(runs: dict[str, Run]) -> list[dict]:
    rows = []
    for name, run in runs.items():
        rows.append(selection_row(name, run))
        for budget in SHORTER_BUDGETS.get(name, ()):
            if len(run.history) >= budget:  # (a quick profile's two epochs have no 30-epoch prefix)
                rows.append(selection_row(name, run, budget))
    return rows


def choose(rows: list[dict]) -> dict:
    """The row SELECTION_RULE picks."""
    if not rows:
        raise ConfigError("no finished candidates to choose from; run `make select` first")

    def key(row):
        cross_entropy = row["validation cross-entropy"]
        return (row["validation errors"], float("inf") if cross_entropy is None else cross_entropy, row["budget"])

    return min(rows, key=key)


def chosen_stage(setting: str) -> str | None:
    """The stage that trains a setting of the table: the base stage for the seed protocol, else a stage
    of the same model whose protocol is the setting's (None until one is added to the ladder)."""
    if setting == BASELINE:
        return BASE_STAGE
    base, fields = STAGES[BASE_STAGE], setting_protocol(setting)
    matches = (s for s in STAGES.values() if (s.build, s.augment, s.protocol) == (base.build, base.augment, fields))
    return next((stage.name for stage in matches), None)


def selection_markdown(rows: list[dict], not_finished: list[str] = ()) -> list[str]:
    """The selection record: the rule, every setting's validation figures, and the choice."""
    if not rows:
        return ["No candidate has finished yet: `make select` trains them (hours; the test set is never evaluated)."]
    chosen = choose(rows)
    header = (
        "| setting | schedule | monitor | budget | epochs run | kept epoch | validation errors | "
        "validation accuracy | validation cross-entropy | minutes |\n"
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )
    lines = [
        f"| {'**' if r is chosen else ''}`{r['setting']}`{'**' if r is chosen else ''} | {r['schedule']} "
        f"| {r['monitor']} | {r['budget']} | {r['epochs run']} | {r['kept epoch']} | {r['validation errors']} "
        f"| {100 * r['validation accuracy']:.2f}% | "
        f"{'—' if r['validation cross-entropy'] is None else format(r['validation cross-entropy'], '.4f')} "
        f"| {r['minutes']:.0f} |"
        for r in rows
    ]
    if not_finished:
        verdict = (
            f"Chosen so far: **`{chosen['setting']}`**, with {chosen['validation errors']} validation errors at its "
            f"kept epoch. Not finished yet: {', '.join(f'`{name}`' for name in not_finished)} (`make select` trains "
            "and resumes them), so the choice is provisional."
        )
    elif chosen["setting"] == BASELINE:
        verdict = (
            f"Chosen: **the {BASELINE}** ({chosen['validation errors']} validation errors at its kept epoch). "
            "No longer budget tried beats the seed's 20 epochs on the validation split, so no stage is added: "
            f"`{BASE_STAGE}`'s seeds are the evidence for what augmentation is worth."
        )
    else:
        verdict = (
            f"Chosen: **`{chosen['setting']}`**, with {chosen['validation errors']} validation errors at its kept "
            "epoch. It becomes a stage of its own, and only that stage's runs see the test set."
        )
    return [f"Rule, fixed before any candidate ran: {SELECTION_RULE}", "", header, *lines, "", verdict]
