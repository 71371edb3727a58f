"""Figures for the notebooks and reports. Each function returns a matplotlib Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from mnist_lab.core.files import atomic_path
from mnist_lab.core.run_dir import best_epoch, learning_rate_cuts
from mnist_lab.findings.claims import smallest
from mnist_lab.findings.measures import val_cross_entropy
from mnist_lab.findings.seed_results import SeedRow


def save_figure(figure, path) -> None:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=110, bbox_inches="tight")


def learning_curves(history: list[dict], title: str = "", monitor: str = "val_loss"):
    """Loss and accuracy, training vs validation; dotted lines where a plateau cut the learning rate
    (a schedule that lowers it every epoch gets none: they would cover the plot)."""
    epochs = [r["epoch"] for r in history]
    cuts = learning_rate_cuts(history)
    figure, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, key, label in ((loss_ax, "loss", "loss"), (acc_ax, "accuracy", "accuracy")):
        ax.plot(epochs, [r[key] for r in history], "o-", label=f"training {label}")
        ax.plot(epochs, [r[f"val_{key}"] for r in history], "s-", label=f"validation {label}")
        for epoch in cuts if len(cuts) <= 5 else []:
            ax.axvline(epoch + 0.5, color="grey", linestyle=":", linewidth=1)
            # x in epochs, y in the axes' height, so the label stays inside the plot; where the curves
            # leave room late in training: the top for a falling loss, the bottom for a rising accuracy.
            y, va = (0.97, "top") if key == "loss" else (0.03, "bottom")
            ax.text(
                epoch + 0.55,
                y,
                f"lr {history[epoch]['learning_rate']:.1e}",  # history[epoch]: the epoch after the cut
                transform=ax.get_xaxis_transform(),
                fontsize=7,
                color="grey",
                va=va,
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    best = best_epoch(history, monitor)
    loss_ax.axvline(best["epoch"], color="green", alpha=0.3, linewidth=6, label=f"best {monitor} (weights kept)")
    loss_ax.legend(fontsize=8)
    acc_ax.legend(fontsize=8)
    figure.suptitle(title or "learning curves")
    figure.tight_layout()
    return figure


def confusion_matrix(matrix, title: str = "confusion matrix (test set)"):
    matrix = np.asarray(matrix)
    figure, ax = plt.subplots(figsize=(5.2, 4.6))
    shown = matrix.astype(float)
    np.fill_diagonal(shown, np.nan)  # the diagonal dwarfs the errors; print it, colour the errors
    image = ax.imshow(shown, cmap="Reds")
    darkest = np.nanmax(shown) if np.isfinite(shown).any() else 0
    for true in range(10):
        for predicted in range(10):
            value = matrix[true, predicted]
            if value:
                dark = true != predicted and value > darkest / 2  # white reads on the dark half of the scale
                ax.text(
                    predicted,
                    true,
                    str(value),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="navy" if true == predicted else "white" if dark else "black",
                )
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(title)
    bar = figure.colorbar(image, ax=ax, fraction=0.046, label="errors")
    bar.locator = MaxNLocator(integer=True)  # errors are counts: no 0.5 ticks
    bar.update_ticks()
    figure.tight_layout()
    return figure


def digit_grid(images, captions, columns: int = 12, title: str = ""):
    rows = max(1, int(np.ceil(len(images) / columns)))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 0.95, rows * 1.15), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, caption in zip(axes.flat, images, captions, strict=False):  # spare axes stay blank
        ax.imshow(np.squeeze(image), cmap="gray_r", vmin=0, vmax=1 if np.max(image) <= 1 else 255)
        ax.set_title(caption, fontsize=7)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def class_balance(label_sets: dict[str, np.ndarray]):
    """Share of each digit in each split (labels as digits)."""
    figure, ax = plt.subplots(figsize=(8, 3.2))
    width = 0.8 / len(label_sets)
    for i, (name, labels) in enumerate(label_sets.items()):
        counts = np.bincount(labels, minlength=10)
        ax.bar(np.arange(10) + i * width, counts / counts.sum(), width, label=f"{name} ({counts.sum():,})")
    ax.set_xticks(np.arange(10) + width * (len(label_sets) - 1) / 2, range(10))
    ax.set_xlabel("digit")
    ax.set_ylabel("share of split")
    ax.legend(fontsize=8)
    figure.tight_layout()
    return figure


def accuracy_by_stage(rows: list[dict], reference: tuple[float, str] | None = None):
    """Test accuracy per stage with its 95% interval; `reference` (accuracy, label) draws a line."""
    figure, ax = plt.subplots(figsize=(7, 3.4))
    names = [r["stage"] for r in rows]
    accuracies = np.array([100 * r["test_accuracy"] for r in rows])
    # Error bars: how far the accuracy could move on another 10,000 digits (Wilson interval).
    errors = [
        accuracies - [100 * r["accuracy_low"] for r in rows],
        [100 * r["accuracy_high"] for r in rows] - accuracies,
    ]
    bars = ax.bar(names, accuracies, color="steelblue", yerr=errors, capsize=4, ecolor="dimgrey")
    ax.bar_label(bars, [f"{a:.2f}%" for a in accuracies], fontsize=8, padding=2, label_type="center", color="white")
    if reference is not None:
        ax.axhline(100 * reference[0], color="darkorange", linestyle="--", linewidth=1, label=reference[1])
        ax.legend(fontsize=8, loc="upper left")
    ax.set_ylim(min(accuracies) - 0.5, 100)
    ax.tick_params(axis="x", labelrotation=20)  # long stage names would overlap
    plt.setp(ax.get_xticklabels(), ha="right")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("test accuracy per stage (10,000 test images, 95% intervals)")
    figure.tight_layout()
    return figure


def validation_curves(histories: dict[str, list[dict]]):
    figure, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 3.8))
    for name, history in histories.items():
        epochs = [r["epoch"] for r in history]
        loss_ax.plot(epochs, [r["val_loss"] for r in history], "o-", label=name)
        acc_ax.plot(epochs, [r["val_accuracy"] for r in history], "o-", label=name)
    for ax, label in ((loss_ax, "validation loss"), (acc_ax, "validation accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    figure.suptitle("validation curves, all stages")
    figure.tight_layout()
    return figure


def seed_strip(rows: dict[str, SeedRow]):
    """Every seed's test accuracy per stage, with the mean and its 95% interval."""
    figure, ax = plt.subplots(figsize=(7, 3.4))
    rng = np.random.default_rng(0)  # horizontal jitter only, so overlapping seeds stay visible
    for x, row in enumerate(rows.values()):
        accuracies = 100 * np.asarray(row.accuracies)
        ax.scatter(
            x + rng.uniform(-0.12, 0.12, len(accuracies)),
            accuracies,
            s=18,
            color="steelblue",
            alpha=0.8,
            label="one seed" if x == 0 else None,
        )
        ax.errorbar(
            x + 0.28,
            100 * row.mean,
            yerr=[[100 * (row.mean - row.mean_low)], [100 * (row.mean_high - row.mean)]],
            fmt="D",
            color="darkorange",
            capsize=4,
            label="mean, 95% interval" if x == 0 else None,
        )
    ax.set_xticks(range(len(rows)), list(rows), rotation=20, ha="right")  # long stage names would overlap
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("test accuracy over seeds")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    return figure


def ensemble_curves(rows: dict[str, dict]):
    """Ensemble test accuracy by number of members, per stage: where averaging more seeds stops paying.

    The dense baseline sits a point below the convolutional stages, so it gets a panel of its own
    and the convolutional stages an axis on which their differences show; the legend sits outside.
    """
    dense = {stage: row for stage, row in rows.items() if stage == "dnn"}
    conv = {stage: row for stage, row in rows.items() if stage != "dnn"}
    panels = [group for group in (conv, dense) if group]
    widths = [3, 1][: len(panels)] if len(panels) == 2 else [1]
    figure, axes = plt.subplots(1, len(panels), figsize=(8.5, 3.4), squeeze=False, width_ratios=widths)
    colours = dict(zip(rows, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False))
    for ax, group in zip(axes[0], panels, strict=True):
        for stage, row in group.items():
            members = [p["members"] for p in row["curve"]]
            ax.plot(members, [100 * p["mean"] for p in row["curve"]], "o-", color=colours.get(stage), label=stage)
            ax.fill_between(
                members,
                [100 * p["min"] for p in row["curve"]],
                [100 * p["max"] for p in row["curve"]],
                color=colours.get(stage),
                alpha=0.15,
            )
        ax.set_xlabel("members (seeds averaged)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("test accuracy (%)")
    if len(panels) == 2:
        axes[0, 1].set_title("dense baseline", fontsize=9)
    handles = [h for ax in axes[0] for h in ax.get_legend_handles_labels()[0]]
    labels = [label for ax in axes[0] for label in ax.get_legend_handles_labels()[1]]
    figure.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    figure.suptitle("ensembles of a stage's seeds: mean over subsets (band: min to max)", fontsize=10)
    figure.tight_layout()
    return figure


CONVERGENCE_STAGES = ("cnn_reg", "cnn_bn")  # the stages "converge faster" compares
OVERFITTING_STAGES = ("dnn", "cnn", "cnn_reg")  # the stages the overfitting claims are about


def claims_evidence(runs: dict[str, list], first_epochs: int = 6):
    """The curves behind the convergence and overfitting parts, one thin line per seed and a colour
    per stage: validation accuracy over the first epochs of the two stages "converge faster"
    compares (on an axis their own values set), and validation cross-entropy in % above each run's
    minimum for the stages the overfitting parts judge.

    runs: stage -> its finished runs (mnist_lab.runs.layout.all_stage_seeds).
    """
    figure, (speed_ax, rise_ax) = plt.subplots(1, 2, figsize=(11, 3.8))
    colours = dict(zip(runs, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False))
    speeds, rises = [], []
    for stage, stage_runs in runs.items():
        for number, run in enumerate(r for r in stage_runs if r.history):
            epochs = [record["epoch"] for record in run.history]
            accuracy = [100 * record["val_accuracy"] for record in run.history]
            loss = np.asarray([val_cross_entropy(record) for record in run.history])
            label = stage if number == 0 else None
            style = dict(color=colours[stage], alpha=0.7, linewidth=1)
            if stage in CONVERGENCE_STAGES:
                speed_ax.plot(epochs[:first_epochs], accuracy[:first_epochs], "o-", markersize=3, label=label, **style)
                speeds += accuracy[:first_epochs]
            if stage in OVERFITTING_STAGES:
                rise_ax.plot(epochs, 100 * (loss / loss.min() - 1), label=label, **style)
                rises += list(100 * (loss / loss.min() - 1))
    # The axes follow the bulk of the runs: one seed's dip (or an epoch-1 loss several times the
    # minimum) would otherwise squeeze the differences the claims are about out of sight.
    _clip(speed_ax, speeds, low=True)
    _clip(rise_ax, rises, low=False)
    speed_ax.set_ylabel("validation accuracy (%)")
    compared = " against ".join(CONVERGENCE_STAGES)
    speed_ax.set_title(f"converge faster? {compared}, the first {first_epochs} epochs", fontsize=10)
    rise_ax.set_ylabel("validation loss, % above its minimum")
    rise_ax.set_title("overfitting: does validation loss climb after its best epoch?", fontsize=10)
    rise_ax.legend(fontsize=8)
    return _per_epoch_pair(figure, (speed_ax, rise_ax), "every seed of the stages each claim compares")


VERDICT_COLOURS = {
    "supported": "#1a7f37",
    "contradicted": "#cf222e",
    "negligible": "#8250df",
    "not detectable": "#9a6700",
}


def claims_forest(rows: list) -> plt.Figure:
    """Every tested part of the seed's claims, for a reader who is not a statistician. Above: each
    effect and its 95% interval in units of the part's smallest effect of interest, turned so that
    right is the way the claim says; zero is "no effect", and between the dotted lines an effect is
    too small to matter. Below: the "~X%" parts, each stage's mean test accuracy and its interval
    against the band the claim names (shaded). Colour: the verdict.

    rows: findings.claims.ClaimRow of one band (the parts with a test; the exploratory one left out).
    """
    shown = [row for row in rows if row.finding.test is not None and not row.finding.exploratory]
    effects = [row for row in shown if row.finding.band is None]
    approx = [row for row in shown if row.finding.band is not None]
    figure, (effect_ax, approx_ax) = plt.subplots(
        2, 1, figsize=(11, 0.38 * len(shown) + 2.6), height_ratios=[max(len(effects), 1), max(len(approx), 1) + 0.6]
    )
    for y, row in enumerate(reversed(effects)):
        finding = row.finding
        unit, sign = smallest(finding), finding.direction
        low, high = sorted(sign * v / unit for v in finding.test.interval(0.95))
        _forest_row(effect_ax, y, sign * finding.test.estimate / unit, low, high, finding.verdict)
    effect_ax.set_yticks(range(len(effects)), [_forest_label(row) for row in reversed(effects)], fontsize=8)
    effect_ax.axvline(0, color="black", linewidth=1)
    for edge in (-1, 1):
        effect_ax.axvline(edge, color="grey", linestyle=":", linewidth=1)
    effect_ax.set_xlabel(
        "effect in units of its smallest effect of interest, turned so that right of 0 is the way the claim says "
        "(a lower epoch count plots right);\nbetween the dotted lines (-1 to +1): too small to matter. A bar clear "
        "of 0 can still read 'not detectable': the 18 parts are tested together (Holm)",
        fontsize=8,
    )
    effect_ax.set_title("The seed's claims: each part's effect and its 95% interval", fontsize=10)
    for y, row in enumerate(reversed(approx)):
        finding = row.finding
        approx_ax.axvspan(*finding.band, ymin=(y + 0.15) / len(approx), ymax=(y + 0.85) / len(approx), color="#ddf4e4")
        _forest_row(approx_ax, y, finding.test.estimate, *finding.test.interval(0.95), finding.verdict)
    approx_ax.set_ylim(-0.5, len(approx) - 0.5)
    approx_ax.set_yticks(range(len(approx)), [_forest_label(row) for row in reversed(approx)], fontsize=8)
    approx_ax.set_xlabel("mean test accuracy over seeds (%); shaded: the band the claim names", fontsize=8)
    for ax in (effect_ax, approx_ax):
        ax.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    return figure


def _forest_row(ax, y: float, estimate: float, low: float, high: float, verdict: str) -> None:
    colour = VERDICT_COLOURS.get(verdict, "grey")
    ax.plot([low, high], [y, y], color=colour, linewidth=2.5)
    ax.plot([estimate], [y], "o", color=colour, markersize=6)
    ax.text(1.01, y, verdict, transform=ax.get_yaxis_transform(), va="center", fontsize=8, color=colour)


def _forest_label(row) -> str:
    return f'{row.claim}. "{row.quote}": {row.part.measured or row.prediction}'


def _clip(ax, values: list[float], low: bool) -> None:
    """Limit one side of the y axis to the 5th (low) or 95th percentile of `values`; say how many lie beyond."""
    if not values:
        return
    values = np.asarray(values)
    edge = np.percentile(values, 5 if low else 95)
    span = np.ptp(values[(values >= edge) if low else (values <= edge)]) or 1.0
    beyond = int(np.sum(values < edge - 0.1 * span) if low else np.sum(values > edge + 0.1 * span))
    if not beyond:
        return
    if low:
        ax.set_ylim(bottom=edge - 0.1 * span)
    else:
        ax.set_ylim(top=edge + 0.1 * span)
    where = "below" if low else "above"
    ax.text(
        0.01,
        0.02 if low else 0.97,
        f"{beyond} point(s) {where} the axis",
        transform=ax.transAxes,
        fontsize=7,
        va="bottom" if low else "top",
        color="grey",
    )


def _per_epoch_pair(figure, axes, title: str):
    """Finish a two-panel figure over epochs: integer epochs, a grid, the first panel's legend outside."""
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def schedule_ablation(pairs: dict[int, tuple], from_epoch: int = 6):
    """Claim 6's evidence: each seed of `cnn_bn` (solid) beside the same seed without
    ReduceLROnPlateau (dashed), validation accuracy and learning rate per epoch. A seed's two runs
    start from the same weights and batches: on one kind of CPU they agree until the first cut.

    pairs: seed -> (the cnn_bn run, the constant-learning-rate run). from_epoch: where the accuracy
    panel starts; the claim is about the later epochs, and BatchNorm's early swings (a dip to 87%
    at epoch 3 in one seed) would flatten them.
    """
    figure, (acc_ax, lr_ax) = plt.subplots(1, 2, figsize=(11, 3.8))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for colour, (seed, runs) in zip(colours, sorted(pairs.items()), strict=False):
        for run, style, name in zip(runs, ("-", "--"), ("plateau", "constant"), strict=True):
            later = [record for record in run.history if record["epoch"] >= from_epoch]
            label = f"seed {seed}, {name}"
            acc_ax.plot(
                [r["epoch"] for r in later], [100 * r["val_accuracy"] for r in later], style, color=colour, label=label
            )
            lr_ax.plot(
                [r["epoch"] for r in run.history], [r["learning_rate"] for r in run.history], style, color=colour
            )
    acc_ax.set_ylabel("validation accuracy (%)")
    acc_ax.set_title(f"validation accuracy, the later epochs ({from_epoch} on)", fontsize=10)
    lr_ax.set_yscale("log")
    lr_ax.set_ylabel("learning rate")
    lr_ax.set_title("the learning rate each epoch ran at", fontsize=10)
    return _per_epoch_pair(figure, (acc_ax, lr_ax), "cnn_bn with and without ReduceLROnPlateau, same seeds")


# --- robustness (the robustness notebook)


def corruption_gallery(rows: dict[str, np.ndarray], digits: int):
    """One row per set (its name on the left), the same `digits` test digits in every row."""
    figure, axes = plt.subplots(len(rows), digits, figsize=(digits * 0.62, len(rows) * 0.66))
    for r, (name, images) in enumerate(rows.items()):
        for c in range(digits):
            ax = axes[r, c]
            ax.imshow(images[c], cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(name.replace("_", " "), rotation=0, ha="right", va="center", fontsize=8)
    figure.subplots_adjust(wspace=0.05, hspace=0.08, top=1 - 0.45 / (len(rows) * 0.66))
    figure.suptitle("the robustness suite on the same ten test digits", fontsize=10, y=1 - 0.15 / (len(rows) * 0.66))
    return figure


def mean_corruption_error(rows: dict[str, dict]):
    """MNIST-C's summary per stage: the mean error over the 15 corruptions, beside the clean error."""
    figure, ax = plt.subplots(figsize=(8.5, 3.6))
    x = np.arange(len(rows))
    corrupted = [100 * (1 - row["mean_corruption"]) for row in rows.values()]
    clean = [100 * (1 - row["clean"]) for row in rows.values()]
    bars = ax.bar(x - 0.2, corrupted, 0.4, color="firebrick", label="mean over the 15 corruptions")
    ax.bar(x + 0.2, clean, 0.4, color="steelblue", label="clean test set")
    for bar, row in zip(bars, rows.values(), strict=True):
        if row["n"] > 1:  # the seeds' 95% interval of the mean
            ax.errorbar(
                bar.get_x() + bar.get_width() / 2,
                100 * (1 - row["mean_corruption"]),
                yerr=[[100 * (row["high"] - row["mean_corruption"])], [100 * (row["mean_corruption"] - row["low"])]],
                color="black",
                capsize=3,
            )
    for bar in bars:  # each value at its bar's foot, clear of the error bar around its top
        height, tall = bar.get_height(), bar.get_height() > 0.1 * max(corrupted)
        ax.text(
            bar.get_x() + bar.get_width() / 2,
            0.01 * max(corrupted) if tall else height,
            f"{height:.1f}",
            ha="center",
            va="bottom",
            fontsize=7,
            color="white" if tall else "black",
        )
    ax.set_ylim(0, 1.4 * max(corrupted))  # room above the tallest bar and its error bar for the legend
    ax.set_xticks(x, [f"{stage}\n({row['n']} seed{'s' if row['n'] > 1 else ''})" for stage, row in rows.items()])
    ax.tick_params(axis="x", labelsize=8)
    ax.set_ylabel("test error (%)")
    ax.set_title("mean corruption error per stage (MNIST-C's summary)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", ncol=2)  # above the bars
    figure.tight_layout()
    return figure


def robustness_curves(curves: dict[str, dict], seed_ranges: dict[str, tuple], kinds=("rotation", "shift", "zoom")):
    """Accuracy against each transform's size, one line per stage, the seed's augmentation range shaded."""
    labels = {"rotation": "rotation (degrees)", "shift": "shift in x and y (pixels)", "zoom": "zoom factor"}
    figure, axes = plt.subplots(1, len(kinds), figsize=(4.2 * len(kinds), 3.4), squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=True):
        low, high = seed_ranges[kind]
        ax.axvspan(low, high, color="grey", alpha=0.15, label="the seed's augmentation range")
        for stage, points in curves[kind].items():
            ax.plot([p[0] for p in points], [100 * p[1] for p in points], "o-", ms=3, label=stage)
        ax.set_xlabel(labels[kind])
        ax.set_ylabel("accuracy (%)")
        ax.grid(alpha=0.3)
    handles, names = axes[0, 0].get_legend_handles_labels()
    figure.legend(handles, names, loc="lower center", ncol=min(len(names), 4), fontsize=8, bbox_to_anchor=(0.5, -0.02))
    figure.suptitle("accuracy on transformed test digits (a fixed stratified subset)", fontsize=10)
    figure.tight_layout(rect=(0, 0.1, 1, 1))
    return figure


def adaptation_bars(rows: dict[str, dict], names: list[str]):
    """Per BatchNorm stage, accuracy on each corruption with the trained BatchNorm statistics and
    with statistics taken from the corrupted digits themselves (mnist_lab.core.adaptation)."""
    figure, axes = plt.subplots(len(rows), 1, figsize=(10, 2.6 * len(rows)), squeeze=False, sharex=True)
    x = np.arange(len(names) + 1)
    for ax, (stage, row) in zip(axes[:, 0], rows.items(), strict=True):
        plain = [100 * row["per_set"][name][0] for name in names] + [100 * row["plain"]]
        adapted = [100 * row["per_set"][name][1] for name in names] + [100 * row["adapted"]]
        ax.bar(x - 0.2, plain, 0.4, color="firebrick", label="trained statistics")
        ax.bar(x + 0.2, adapted, 0.4, color="seagreen", label="statistics from the corrupted digits")
        ax.set_ylim(0, 100)
        ax.set_ylabel("accuracy (%)")
        seeds = f"{row['n']} seed{'s' if row['n'] > 1 else ''}"
        ax.set_title(f"{stage} ({seeds})", fontsize=9, loc="left")
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].legend(fontsize=8, loc="lower left", ncol=2)
    labels = [name.replace("_", " ") for name in names] + ["mean of 15"]
    axes[-1, 0].set_xticks(x, labels, rotation=45, ha="right", fontsize=8)
    figure.suptitle("BatchNorm statistics from each corruption's own digits", fontsize=10)
    figure.tight_layout()
    return figure
