"""Reading finished runs and writing what spans stages: the comparison table and reports/README.md."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mnist_lab.io import atomic_path, read_json
from mnist_lab.models import STAGES

# What a finished run directory holds (mnist_lab.train.run_stage writes them, metrics.json last).
RUN_FILES = ("config.json", "history.json", "model.keras", "metrics.json")
# Figures a stage notebook saves beside its run.
FIGURES = {
    "learning_curves": "learning_curves.png",
    "confusion_matrix": "confusion_matrix.png",
    "misclassified": "misclassified.png",
}


@dataclass(frozen=True)
class Run:
    """A finished run directory: config.json, history.json and metrics.json."""

    path: Path
    config: dict
    history: list
    metrics: dict

    @property
    def stage(self) -> str:
        return self.config["stage"]


def load_run(path) -> Run:
    path = Path(path)
    missing = [name for name in ("config.json", "history.json", "metrics.json") if not (path / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{path} is not a finished run: no {', '.join(missing)}")
    return Run(path, read_json(path / "config.json"), read_json(path / "history.json"),
               read_json(path / "metrics.json"))


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
    return {
        "stage": run.stage,
        "test_accuracy": m["test_accuracy"],
        "test_loss": m["test_loss"],
        "parameters": m["parameters"],
        "epochs_run": m["epochs_run"],
        "best_epoch": m["best_epoch"],
        "training_minutes": m["training_seconds"] / 60,
        "train_images": m["data"]["train"],
        "device": m["environment"].get("device", "?"),
    }


def markdown_table(rows: list[dict], link_prefix: str | None = None) -> str:
    """One row per stage; with `link_prefix`, each stage name links to link_prefix + stage + '/'."""
    header = ("| stage | test accuracy | test loss | parameters | epochs (best) | training time "
              "| training images | hardware |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    lines = [
        f"| {_stage_cell(r['stage'], link_prefix)} | {100 * r['test_accuracy']:.2f}% | {r['test_loss']:.4f} | "
        f"{r['parameters']:,} | {r['epochs_run']} ({r['best_epoch']}) | {r['training_minutes']:.1f} min | "
        f"{r['train_images']:,} | {r['device']} |"
        for r in rows
    ]
    return "\n".join([header, *lines])


def _stage_cell(stage: str, link_prefix: str | None) -> str:
    return f"`{stage}`" if link_prefix is None else f"[`{stage}`]({link_prefix}{stage}/)"


def write_reports_readme(reports_dir, profile: str) -> Path:
    """reports_dir/README.md: the results table and figures, readable on a code-hosting page."""
    reports_dir = Path(reports_dir)
    rows = [summary_row(run) for run in finished_runs(reports_dir).values()]
    missing = [name for name in STAGES if name not in {r["stage"] for r in rows}]
    parts = [
        f"# Results ({profile} profile)",
        "",
        "Written by `make reproduce" + ("" if profile == "full" else f" PROFILE={profile}") + "`; "
        "every number and figure comes from the runs in the folders below. Test metrics are on "
        "the canonical 10,000-image test set.",
        "",
        markdown_table(rows, link_prefix="") if rows else "No stage has finished yet.",
        "",
    ]
    if missing:
        parts += [f"Not run yet: {', '.join(missing)}.", ""]
    figures = [("Test accuracy per stage", "comparison/accuracy_by_stage.png"),
               ("Validation curves of every stage", "comparison/validation_curves.png")]
    figures += [(f"Learning curves: {r['stage']}", f"{r['stage']}/{FIGURES['learning_curves']}") for r in rows]
    for caption, relative in figures:
        if (reports_dir / relative).is_file():
            parts += [f"## {caption}", "", f"![{caption}]({relative})", ""]
    path = reports_dir / "README.md"
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(parts))
    return path
