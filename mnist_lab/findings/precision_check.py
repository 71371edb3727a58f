"""Does training in another precision change a stage's result? bfloat16 against float32, same seeds.

Runs in another precision are another protocol (mnist_lab.runs.sweep keeps them in reports/precision/);
this compares them with the float32 runs of the seeds both have, by a rule fixed before the runs.
"""

from __future__ import annotations

from mnist_lab.core.run_dir import Run
from mnist_lab.findings.stats import verdict
from mnist_lab.runs.layout import stage_seeds
from mnist_lab.runs.settings import PRECISION_CHECK, PRECISION_MIN_SEEDS

PRECISION_RULE = (
    "a precision other than the seed's float32 may be used, as a recorded option, only if over the same "
    "seeds (at least 3) the 95% interval of the difference of mean test accuracy contains 0"
)


def precision_comparison(reference: list[Run], other: list[Run]) -> dict:
    """The same stage over the seeds both precisions have: accuracies, speeds and the verdict."""
    seeds = sorted({run.seed for run in reference} & {run.seed for run in other})
    pick = {  # in seed order, so that the two lists pair up run by run
        name: sorted((run for run in runs if run.seed in seeds), key=lambda run: run.seed)
        for name, runs in (("ref", reference), ("other", other))
    }
    accuracy = {name: [run.metrics["test_accuracy"] for run in runs] for name, runs in pick.items()}
    result = verdict(accuracy["ref"], accuracy["other"]) if seeds else {"verdict": "not enough seeds"}
    allowed = len(seeds) >= PRECISION_MIN_SEEDS and result["verdict"] == "not detectable"
    # A speed ratio only means something between runs on one CPU model: keep the seeds whose
    # two runs were (runs from before the CPU model was recorded are left out).
    speed: dict[str, list[float]] = {"ref": [], "other": []}
    cpus = set()
    for ref, other in zip(pick["ref"], pick["other"], strict=True):
        model = _cpu_model(ref)
        if model is not None and model == _cpu_model(other):
            speed["ref"].append(ref.metrics["images_per_second"])
            speed["other"].append(other.metrics["images_per_second"])
            cpus.add(model)
    return {**result, "seeds": seeds, "accuracy": accuracy, "speed": speed, "allowed": allowed, "cpus": sorted(cpus)}


def _seeds(count: int) -> str:
    return f"{count} seed{'' if count == 1 else 's'}"


def _cpu_model(run: Run) -> str | None:
    return run.metrics["environment"].get("cpu", {}).get("model")


def precision_result(reports_dir, profile: str) -> dict:
    """PRECISION_CHECK's stage in its precision against its float32 seeds, from the reports folder."""
    stage, precision = PRECISION_CHECK
    return precision_comparison(
        stage_seeds(reports_dir, stage, profile), stage_seeds(reports_dir, stage, profile, precision)
    )


def precision_line(stage: str, precision: str, check: dict) -> str:
    """The verdict: the difference of means over the shared seeds, its interval, and what it allows."""
    if not check["seeds"]:
        return (
            f"No `{stage}` run in {precision} shares a seed with the float32 ones yet "
            f"(`mnist-lab sweep --stage {stage} --seeds 0-2 --precision {precision}`)."
        )
    mean = {name: sum(values) / len(values) for name, values in check["accuracy"].items()}
    head = (
        f"`{stage}` in {precision} against float32 over the same {_seeds(len(check['seeds']))} "
        f"({', '.join(map(str, check['seeds']))}): mean test accuracy {100 * mean['other']:.3f}% against "
        f"{100 * mean['ref']:.3f}%, difference {100 * check['difference']:+.3f} points"
    )
    if check["low"] != check["low"]:  # nan: one seed, no interval
        body = "; too few seeds for an interval"
    else:
        body = f" (95% interval {100 * check['low']:+.3f} to {100 * check['high']:+.3f})"
    decision = (
        "**inside the seed noise**: sweeps may use it as a recorded option"
        if check["allowed"]
        else "**not shown to be harmless**: sweeps stay in float32"
    )
    return f"- {head}{body}: {decision}."


def precision_markdown(stage: str, precision: str, check: dict) -> list[str]:
    """The rule, the verdict and the speed ratio over the same runs."""
    parts = [f"Rule, fixed before the runs: {PRECISION_RULE}.", "", precision_line(stage, precision, check)]
    pairs = len(check["speed"]["ref"])
    if pairs:
        speed = sum(check["speed"]["other"]) / sum(check["speed"]["ref"])
        parts.append(
            f"- Training speed, {precision} / float32, over the {_seeds(pairs)} whose two runs had the same "
            f"CPU model ({'; '.join(check['cpus'])}): {speed:.2f}x."
        )
    elif check["seeds"]:
        parts.append(f"- No seed has both runs on one CPU model yet: no speed ratio ({precision} / float32).")
    return [*parts, ""]
