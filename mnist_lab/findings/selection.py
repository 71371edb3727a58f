"""Choosing a longer training budget for the augmented model, on the validation split only
(the candidates: runs.settings.CANDIDATES; their training: runs.candidates).

Notebook 05 leaves a question open: within the seed's 20 epochs augmentation adds nothing, but
its run was still improving at epoch 19, and its callbacks watch val_loss, which is mostly the
dense layer's L2 penalty. Each candidate below is a set of TrainConfig fields over cnn_bn_aug's
protocol, trained once (seed 42) into reports/selection/NAME/ without the test set ever being
evaluated. SELECTION_RULE was fixed before any candidate ran; the chosen setting becomes a
stage, and only that stage's runs see the test set.
"""

from __future__ import annotations

from mnist_lab.core.config import ConfigError, TrainConfig
from mnist_lab.core.models import STAGES
from mnist_lab.core.run_dir import Run, best_epoch
from mnist_lab.runs.layout import BASELINE
from mnist_lab.runs.settings import BASE_STAGE, CANDIDATES, SHORTER_BUDGETS

SELECTION_RULE = (
    "fewest validation errors at the epoch whose weights the run keeps; a tie goes to the lower "
    "validation cross-entropy, then to the shorter budget. One seed each: a difference of a few "
    "validation digits is within noise, which the chosen stage's seeds then test on the test set."
)


def setting_protocol(name: str) -> dict:
    """The TrainConfig fields of a row of the selection table ('exponential_50@30': the 30-epoch prefix)."""
    candidate, _, budget = name.partition("@")
    if candidate == BASELINE:
        return {}
    fields = dict(CANDIDATES[candidate])
    if budget:  # trained to the end of the budget, like the candidate it is a prefix of
        fields.update(epochs=int(budget), early_stopping_patience=int(budget))
    return fields


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
