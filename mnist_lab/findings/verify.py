"""Does a run agree with the committed seeds of its stage? The check a reader runs on a clone.

The band of a stage is its committed seeds under the full protocol, the run's own Keras backend
and kind of device (a JAX run is compared with the JAX band, a GPU run with its GPU band): mean and standard
deviation of test accuracy. A run is inside the band when it lies within BAND_Z standard
deviations of the mean, the deviation floored at the test set's binomial error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mnist_lab.core.provenance import run_band
from mnist_lab.core.run_dir import Run, load_run
from mnist_lab.findings.stats import band_z, seed_summary
from mnist_lab.runs.layout import band_label, bands, protocol_of, stage_seeds
from mnist_lab.runs.settings import reports_root

BAND_Z = 3.0
INSIDE, OUTSIDE, INCOMPARABLE = 0, 1, 2  # the exit codes of `mnist-lab verify`


@dataclass(frozen=True)
class Verdict:
    code: int
    lines: list[str]


def check_run(run: Run, reports=None) -> Verdict:
    reports = Path(reports or reports_root("full"))
    stage, backend = run.stage, run_band(run.metrics)  # the run's band: its backend and kind of device
    band = stage_seeds(reports, stage, backend=backend)
    seeds = [seed for seed in band if seed.path.resolve() != run.path.resolve()]
    label = band_label(backend, seeds)
    if len(seeds) < 2:
        others = [
            f"{band_label(name, runs[stage])} ({len(runs[stage])})"
            for name, runs in bands(reports).items()
            if name != backend and stage in runs
        ]
        what = (
            f"{stage} has no committed {label} band: no run of it under the full protocol in {reports}"
            if not seeds
            else f"{stage}'s committed {label} band has one run, and a band needs at least 2"
        )
        return Verdict(
            INCOMPARABLE,
            [
                f"{what}; train its seeds first (mnist-lab sweep --stage {stage} --seeds 0-3). Runs are compared "
                "only with their own backend's band"
                + (f"; other bands of {stage}: {', '.join(others)}" if others else "")
            ],
        )
    band_protocol = protocol_of(seeds[0].config)
    differs = {
        key: (value, band_protocol[key])
        for key, value in protocol_of(run.config).items()
        if value != band_protocol[key]
    }
    if differs:
        what = ", ".join(f"{key} {mine!r} (band: {theirs!r})" for key, (mine, theirs) in differs.items())
        return Verdict(
            INCOMPARABLE,
            [
                f"{run.path}: trained under another protocol than the {stage} band: {what}. "
                "Comparing its accuracy with the band would be meaningless."
            ],
        )
    summary = seed_summary([seed.metrics["test_accuracy"] for seed in seeds])
    accuracy = run.metrics["test_accuracy"]
    z, used = band_z(accuracy, summary["mean"], summary["std"], run.metrics["data"]["test"])
    inside = abs(z) <= BAND_Z
    lines = [
        f"{stage} {label} band: mean {100 * summary['mean']:.3f}%, std {100 * summary['std']:.3f} points over "
        f"{summary['n']} committed seeds (range {100 * summary['min']:.2f}-{100 * summary['max']:.2f}%)",
        f"this run ({run.path}, seed {run.seed}): {100 * accuracy:.2f}%, {abs(z):.1f} standard deviations "
        f"{'above' if z >= 0 else 'below'} the band's mean",
        f"rule: inside when within {BAND_Z:g} standard deviations of the mean; the standard deviation is taken at "
        f"least as large as the test set's own sampling error ({100 * used:.3f} points here), so that a band of a "
        "few very similar seeds does not read as narrower than the test digits can tell",
    ]
    lines.append(
        "INSIDE the band: this run reproduces the repository's result"
        if inside
        else "OUTSIDE the band: this run does not agree with the committed seeds"
    )
    return Verdict(INSIDE if inside else OUTSIDE, lines)


def check_run_dir(path, reports=None) -> Verdict:
    return check_run(load_run(path), reports)
