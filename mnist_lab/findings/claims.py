"""The seed notebook's claims, one by one: what each predicts, how it is measured, and the rule
that turns the committed runs into a verdict. The measures and thresholds below were fixed
before any comparison they judge was computed.

Verdicts (`judge`):
- **supported**: the 95% interval of the effect excludes zero in the claimed direction;
- **contradicted**: it excludes zero in the other direction;
- **not detectable with these seeds**: it contains zero (the interval bounds the effect);
- **not testable here**: the runs that would test it do not exist (the reason is given).
An effect between two stages is the difference of their means over seeds with Welch's
interval (stats.difference_interval); an effect of one stage is its mean with Student's
interval (stats.mean_interval). "~X%" claims are judged against a band of +-APPROX points.

Measures, per run: findings.measures; robustness: the mean accuracy over the 15 corruptions
(findings.robustness_results).

Bands: runs of different Keras backends are never pooled (a JAX run is another sample of the
experiment, not a copy of a TensorFlow one). Every part is judged once per band
(mnist_lab.runs.layout.bands): `judge_bands` gives one column per band that has runs
on both sides of at least one comparison, each cell with its n; where two bands' verdicts
differ, the table says so and picks neither.

What an undecided part needs (fixed before any of these numbers was computed, issue 42): for a
part that is "not detectable with these seeds", the evidence also gives
- what these seeds rule out: the values outside its 95% interval (a difference below its low
  end or above its high end; for "~X%", a mean outside the interval; for the spread, a ratio of
  variances outside its F interval); and
- the seeds a side that would detect the observed effect with 80% power under the same
  two-sided 5% rule, taking the observed effect and spread as the truth: for a difference
  between two stages, the power of Welch's test itself (stats.welch_power: each side's own
  spread, Welch-Satterthwaite degrees of freedom; issue 49 replaced the pooled Cohen's d, which
  understated what Welch's interval needs when the spreads differ); statsmodels' TTestPower
  (one sample) for one stage's mean against zero or, for "~X%", against the nearest
  edge of its band; and for the ratio of variances, the F test's own power
  (stats.variance_ratio_power), searched for the smallest n. No observed effect, or more than
  stats.MAX_SEEDS, reads "more than 10,000". It is a planning figure, not a verdict: the
  observed effect of a few seeds is itself uncertain; and
- which way the observed effect points, with the claim or against it (Finding.with_claim): the
  seeds needed would detect the observed effect, so for one observed against the claim they
  would contradict it, not confirm it. The tally counts them.

Across seeds, stability is the spread of test accuracy: the ratio of two stages' variances over
seeds with its F interval (stats.variance_ratio_interval), judged on its logarithm, so that zero
means equal spread. This one part was added after the results table had shown each stage's
standard deviation over seeds, so unlike the others it was not fixed blind.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mnist_lab.core.provenance import HOME_BACKEND
from mnist_lab.core.run_dir import Run
from mnist_lab.findings.measures import (
    accuracy_points,
    epochs_to,
    first_epoch_accuracy,
    loss_rise,
    overfitting_gap,
    swing,
)
from mnist_lab.findings.robustness_results import stage_results
from mnist_lab.findings.stats import (
    difference_interval,
    mean_interval,
    seeds_for_difference,
    seeds_for_mean,
    seeds_for_variance_ratio,
    seeds_text,
    variance_ratio_interval,
)
from mnist_lab.runs.layout import all_stage_seeds, labelled_bands, stage_seeds

APPROX = 0.5  # points: "~98%" is read as 97.5-98.5%
SUPPORTED, CONTRADICTED, NOT_DETECTABLE, NOT_TESTABLE = (
    "supported",
    "contradicted",
    "not detectable with these seeds",
    "not testable here",
)


# --- rules


@dataclass(frozen=True)
class Effect:
    estimate: float
    low: float
    high: float
    n: tuple[int, ...]


def between(before: list[float], after: list[float]) -> Effect:
    """after minus before, Welch's 95% interval."""
    difference, low, high = difference_interval(before, after)
    return Effect(difference, low, high, (len(before), len(after)))


def of_one(values: list[float]) -> Effect:
    low, high = mean_interval(values) if len(values) > 1 else (math.nan, math.nan)  # one seed: no interval
    return Effect(float(np.mean(values)), low, high, (len(values),))


def judge(effect: Effect, direction: int) -> str:
    """direction +1: the claim predicts a positive effect; -1: a negative one."""
    if effect.low != effect.low:  # nan: one seed, no interval
        return NOT_TESTABLE
    if direction * effect.low > 0 and direction * effect.high > 0:
        return SUPPORTED
    if direction * effect.low < 0 and direction * effect.high < 0:
        return CONTRADICTED
    return NOT_DETECTABLE


def judge_approx(effect: Effect, target: float) -> str:
    """'~target%': supported when the interval of the mean lies inside target +- APPROX, contradicted
    when it lies outside that band, else not detectable."""
    if effect.low != effect.low:
        return NOT_TESTABLE
    if target - APPROX <= effect.low and effect.high <= target + APPROX:
        return SUPPORTED
    if effect.high < target - APPROX or effect.low > target + APPROX:
        return CONTRADICTED
    return NOT_DETECTABLE


@dataclass(frozen=True)
class Finding:
    """One part's verdict in one band, with the evidence for it."""

    verdict: str
    evidence: str  # the whole evidence (reports/README.md)
    number: str = ""  # the one number that decides it, with its interval (the README's table)
    n: str = ""  # "5 and 7 seeds"
    ruled_out: str = ""  # an undecided part: what these seeds rule out
    seeds_needed: str = ""  # an undecided part: the seeds a side that would detect the observed effect
    # An undecided part: the observed effect points the way the claim says (True) or the other way
    # (False). The seeds needed detect the observed effect, so for False they would contradict the claim.
    with_claim: bool | None = None


def _finding(verdict, evidence, number, n, ruled_out, seeds: Callable[[], str], with_claim: bool) -> Finding:
    """A Finding; what an undecided part needs is worked out (`seeds()`) only when it is undecided."""
    if verdict != NOT_DETECTABLE:
        return Finding(verdict, evidence, number, n)
    return Finding(verdict, evidence, number, n, ruled_out, seeds(), with_claim)


# --- the registry


@dataclass(frozen=True)
class Part:
    """One measurable part of a claim."""

    claim: int  # the number of the claim in the seed's notes (issue 33's list)
    quote: str
    prediction: str  # what it predicts, in measurable terms
    evaluate: Callable  # (evidence: dict) -> Finding


def _runs_measure(runs: dict, stage: str, measure) -> list[float]:
    return [measure(run) for run in runs.get(stage, []) if run.history]  # a run without epochs measures nothing


def _step(runs, before, after, measure, direction, unit, what):
    a, b = _runs_measure(runs, before, measure), _runs_measure(runs, after, measure)
    if len(a) < 2 or len(b) < 2:
        return Finding(
            NOT_TESTABLE, f"{len(a)} and {len(b)} seeds of `{before}` and `{after}`: too few for an interval"
        )
    described = f"{what}: `{before}` {np.mean(a):.{unit}f}, `{after}` {np.mean(b):.{unit}f}; difference"
    return _difference(a, b, direction, unit, described)


def _signed(value: float, digits: int) -> str:
    """`value` with its sign at `digits` decimals, or more where rounding would print a nonzero end
    of an interval as -0.00 or +0.00: which side of 0 it lies on is what its verdict turns on."""
    text = f"{value:+.{digits}f}"
    while value != 0 and float(text) == 0 and digits < 6:
        digits += 1
        text = f"{value:+.{digits}f}"
    return text


def _difference(a, b, direction, unit, described, points=""):
    """after minus before, judged by Welch's interval, as a Finding; `described` leads its evidence."""
    effect = between(a, b)
    if math.isnan(effect.low):  # neither side varies: a difference, but no interval to judge it by
        return Finding(NOT_TESTABLE, f"{described} {effect.estimate:+.{unit}f}{points} ({_no_spread(effect.n)})")
    interval = f"{_signed(effect.low, unit)} to {_signed(effect.high, unit)}"
    return _finding(
        judge(effect, direction),
        f"{described} {effect.estimate:+.{unit}f}{points} (95% interval {interval}; "
        f"{effect.n[0]} and {effect.n[1]} seeds)",
        f"{effect.estimate:+.{unit}f}{points} ({interval})",
        f"{effect.n[0]} and {effect.n[1]} seeds",
        f"a difference below {_signed(effect.low, unit)} or above {_signed(effect.high, unit)}{points}",
        lambda: seeds_text(seeds_for_difference(a, b), "seeds a side would detect it"),
        direction * effect.estimate > 0,
    )


def _one(runs, stage, measure, direction, unit, what):
    values = _runs_measure(runs, stage, measure)
    if len(values) < 2:
        return Finding(NOT_TESTABLE, f"{len(values)} seed(s) of `{stage}`: too few for an interval")
    effect = of_one(values)
    if math.isnan(effect.low):
        return Finding(NOT_TESTABLE, f"{what} of `{stage}`: mean {effect.estimate:.{unit}f} ({_no_spread(effect.n)})")
    interval = f"{effect.low:.{unit}f} to {effect.high:.{unit}f}"
    return _finding(
        judge(effect, direction),
        f"{what} of `{stage}`: mean {effect.estimate:.{unit}f} (95% interval {interval}; {effect.n[0]} seeds)",
        f"{effect.estimate:.{unit}f} ({interval})",
        f"{effect.n[0]} seeds",
        f"a mean below {effect.low:.{unit}f} or above {effect.high:.{unit}f}",
        lambda: seeds_text(seeds_for_mean(values), "seeds would detect it"),
        direction * effect.estimate > 0,
    )


def _no_spread(n: tuple[int, ...]) -> str:
    seeds = " and ".join(map(str, n))
    return f"{seeds} {'run' if n == (1,) else 'runs'}, no spread between them: no interval"


def _approx(runs, stage, target):
    values = [100 * run.metrics["test_accuracy"] for run in runs.get(stage, [])]
    if len(values) < 2:
        return Finding(NOT_TESTABLE, f"{len(values)} seed(s) of `{stage}`")
    effect = of_one(values)
    if math.isnan(effect.low):
        return Finding(NOT_TESTABLE, f"`{stage}` mean test accuracy {effect.estimate:.3f}% ({_no_spread(effect.n)})")
    low, high = target - APPROX, target + APPROX
    edge = low if abs(effect.estimate - low) < abs(effect.estimate - high) else high
    return _finding(
        judge_approx(effect, target),
        f"`{stage}` mean test accuracy {effect.estimate:.3f}% (95% interval {effect.low:.3f}-{effect.high:.3f}%; "
        f"{effect.n[0]} seeds) against {low:g}-{high:g}%",
        f"{effect.estimate:.3f}% ({effect.low:.3f}-{effect.high:.3f}%) against {low:g}-{high:g}%",
        f"{effect.n[0]} seeds",
        f"a mean below {effect.low:.3f}% or above {effect.high:.3f}%",
        lambda: seeds_text(seeds_for_mean(values, edge), f"seeds would tell the mean from {edge:g}%"),
        low <= effect.estimate <= high,
    )


def _robustness(evidence, before, after):
    a, b = evidence.robustness.get(before, []), evidence.robustness.get(after, [])
    if len(a) < 2 or len(b) < 2:
        return Finding(
            NOT_TESTABLE,
            f"mean corruption accuracy has {len(a)} and {len(b)} seeds with results of `{before}` and `{after}`",
        )
    a, b = [100 * v for v in a], [100 * v for v in b]
    return _difference(a, b, +1, 2, "mean accuracy over the 15 corruptions, difference", " points")


def _spread(runs, before, after):
    a, b = _runs_measure(runs, before, accuracy_points), _runs_measure(runs, after, accuracy_points)
    ratio, low, high = variance_ratio_interval(a, b)
    if ratio != ratio:  # nan: too few seeds, or no spread to compare against
        return Finding(
            NOT_TESTABLE, f"{len(a)} and {len(b)} seeds of `{before}` and `{after}`: too few, or no spread to compare"
        )
    effect = Effect(math.log(ratio), math.log(low), math.log(high), (len(a), len(b)))
    return _finding(
        judge(effect, -1),
        f"standard deviation of test accuracy over seeds (points): `{before}` {np.std(a, ddof=1):.3f}, "
        f"`{after}` {np.std(b, ddof=1):.3f}; ratio of variances {ratio:.2f} (95% interval {low:.2f} to {high:.2f}; "
        f"{len(a)} and {len(b)} seeds)",
        f"ratio {ratio:.2f} ({low:.2f} to {high:.2f})",
        f"{len(a)} and {len(b)} seeds",
        f"a ratio of variances below {low:.2f} or above {high:.2f}",
        lambda: seeds_text(seeds_for_variance_ratio(a, b), "seeds a side would detect it"),
        ratio < 1,
    )


def _ablation(evidence, minimum: int = 3):
    runs = evidence.ablation
    if len(runs) < minimum:
        return Finding(NOT_TESTABLE, f"the ablation without ReduceLROnPlateau has {len(runs)} of its {minimum} seeds")
    seeds = {run.seed for run in runs}
    paired = {"constant_lr": runs, "cnn_bn": [run for run in evidence.runs.get("cnn_bn", []) if run.seed in seeds]}
    return _step(paired, "constant_lr", "cnn_bn", accuracy_points, +1, 3, "test accuracy (%), the same seeds")


def _early_stopping(evidence):
    runs = [run for stage in ("dnn", "cnn", "cnn_reg", "cnn_bn", "cnn_bn_aug") for run in evidence.runs.get(stage, [])]
    stopped = [run for run in runs if run.metrics["epochs_run"] < run.config.get("epochs", 20)]
    restored = [run for run in runs if "last_epoch_test_accuracy" in run.metrics]
    text = f"it stopped {len(stopped)} of {len(runs)} seed-protocol runs before their 20 epochs"
    if stopped:
        at = sorted(run.metrics["epochs_run"] for run in stopped)
        text += f" (at epochs {at[0]}-{at[-1]})"
        rises = [loss_rise(run) for run in stopped if run.history]
        if rises:
            text += f", where validation cross-entropy stood on average {np.mean(rises):.4f} above its minimum"
    if len(restored) < 2:
        return Finding(
            NOT_TESTABLE,
            f"{text}; the effect of restoring the best epoch is recorded only by newer runs ({len(restored)} so far)",
        )
    gains = [accuracy_points(run) - 100 * run.metrics["last_epoch_test_accuracy"] for run in restored]
    effect = of_one(gains)
    if math.isnan(effect.low):
        return Finding(
            NOT_TESTABLE,
            f"{text}; restored minus last-epoch test accuracy {effect.estimate:+.3f} points ({_no_spread(effect.n)})",
        )
    interval = f"{_signed(effect.low, 3)} to {_signed(effect.high, 3)}"
    return _finding(
        judge(effect, +1),
        f"{text}; restored minus last-epoch test accuracy {effect.estimate:+.3f} points (95% interval "
        f"{interval}; {effect.n[0]} runs that record both)",
        f"{effect.estimate:+.3f} points ({interval})",
        f"{effect.n[0]} runs",
        f"a gain below {_signed(effect.low, 3)} or above {_signed(effect.high, 3)} points",
        lambda: seeds_text(seeds_for_mean(gains), "runs would detect it"),
        effect.estimate > 0,
    )


PARTS = (
    Part(1, "~98% accuracy", "dnn's mean test accuracy is 97.5-98.5%", lambda e: _approx(e.runs, "dnn", 98.0)),
    Part(
        1,
        "noticed overfitting",
        "dnn's training accuracy ends above its validation accuracy",
        lambda e: _one(
            e.runs, "dnn", overfitting_gap, +1, 2, "train minus validation accuracy at the last epoch (points)"
        ),
    ),
    Part(
        1,
        "noticed overfitting",
        "dnn's validation loss climbs after its best epoch",
        lambda e: _one(e.runs, "dnn", loss_rise, +1, 4, "validation cross-entropy rise after its minimum"),
    ),
    Part(
        2,
        "accuracy improved significantly",
        "cnn's mean test accuracy is above dnn's",
        lambda e: _step(e.runs, "dnn", "cnn", accuracy_points, +1, 3, "test accuracy (%)"),
    ),
    Part(2, "~99.1%", "cnn's mean test accuracy is 98.6-99.6%", lambda e: _approx(e.runs, "cnn", 99.1)),
    Part(
        3,
        "to reduce overfitting",
        "cnn_reg's validation loss climbs less after its best epoch than cnn's",
        lambda e: _step(e.runs, "cnn", "cnn_reg", loss_rise, -1, 4, "validation cross-entropy rise"),
    ),
    Part(
        3,
        "to reduce overfitting",
        "cnn_reg's train-validation gap is smaller than cnn's (Keras measures training accuracy with dropout on, "
        "which understates cnn_reg's gap)",
        lambda e: _step(e.runs, "cnn", "cnn_reg", overfitting_gap, -1, 2, "train minus validation accuracy (points)"),
    ),
    Part(
        3,
        "to penalize large weights",
        "cnn_reg's dense weights are smaller than cnn's",
        lambda e: Finding(
            NOT_TESTABLE, "weight norms need the models, and only the seed-42 runs keep theirs: one seed a stage"
        ),
    ),
    Part(
        4,
        "to stabilize training",
        "cnn_bn's validation accuracy jumps less from epoch to epoch than cnn_reg's",
        lambda e: _step(
            e.runs, "cnn_reg", "cnn_bn", swing, -1, 3, "epoch-to-epoch swing of validation accuracy (points)"
        ),
    ),
    Part(
        4,
        "to stabilize training",
        "cnn_bn's test accuracy varies less across seeds than cnn_reg's",
        lambda e: _spread(e.runs, "cnn_reg", "cnn_bn"),
    ),
    Part(
        4,
        "converge faster",
        "cnn_bn reaches 99% validation accuracy in fewer epochs than cnn_reg",
        lambda e: _step(
            e.runs, "cnn_reg", "cnn_bn", lambda r: epochs_to(r, 0.99), -1, 2, "epochs to 99% validation accuracy"
        ),
    ),
    Part(
        4,
        "converge faster",
        "cnn_bn's validation accuracy after epoch 1 is above cnn_reg's",
        lambda e: _step(
            e.runs, "cnn_reg", "cnn_bn", first_epoch_accuracy, +1, 2, "validation accuracy after epoch 1 (%)"
        ),
    ),
    Part(
        4,
        "improved accuracy",
        "cnn_bn's mean test accuracy is above cnn_reg's",
        lambda e: _step(e.runs, "cnn_reg", "cnn_bn", accuracy_points, +1, 3, "test accuracy (%)"),
    ),
    Part(
        5,
        "improved robustness",
        "cnn_bn_aug's mean accuracy over MNIST-C's corruptions is above cnn_bn's",
        lambda e: _robustness(e, "cnn_bn", "cnn_bn_aug"),
    ),
    Part(
        5,
        "and generalization",
        "cnn_bn_aug's mean test accuracy is above cnn_bn's",
        lambda e: _step(e.runs, "cnn_bn", "cnn_bn_aug", accuracy_points, +1, 3, "test accuracy (%)"),
    ),
    Part(
        5,
        "~99.4-99.5% accuracy",
        "cnn_bn_aug's mean test accuracy is 98.95-99.95%",
        lambda e: _approx(e.runs, "cnn_bn_aug", 99.45),
    ),
    Part(6, "helped in fine-tuning", "cnn_bn beats cnn_bn without ReduceLROnPlateau, same seeds", _ablation),
    Part(
        7,
        "prevented overfitting by stopping training",
        "restoring the best epoch beats the last epoch's weights",
        _early_stopping,
    ),
    Part(
        8,
        "~99.4% without ensembles",
        "cnn_bn's mean test accuracy is 98.9-99.9%",
        lambda e: _approx(e.runs, "cnn_bn", 99.4),
    ),
)


@dataclass(frozen=True)
class Evidence:
    """What the registry judges in one band: every stage's seeds, their robustness results (the
    mean accuracy over the corruptions, per seed), the ablation's runs."""

    runs: dict[str, list[Run]]
    robustness: dict[str, list[float]] = field(default_factory=dict)
    ablation: list[Run] = field(default_factory=list)


@dataclass(frozen=True)
class ClaimRow:
    """One part of a claim with its finding in one band."""

    part: Part
    finding: Finding

    @property
    def claim(self) -> int:
        return self.part.claim

    @property
    def quote(self) -> str:
        return self.part.quote

    @property
    def prediction(self) -> str:
        return self.part.prediction

    @property
    def verdict(self) -> str:
        return self.finding.verdict

    @property
    def evidence(self) -> str:
        return self.finding.evidence


@dataclass(frozen=True)
class BandFindings:
    """One band's evidence and every part judged on it: computed once, shown by the notebook cell,
    reports/README.md and the README alike."""

    label: str  # 'TensorFlow, CPU'
    backend: str  # its band name (provenance.band_name)
    evidence: Evidence
    rows: list[ClaimRow]


def gather(reports_dir, profile: str = "full", backend: str | None = None) -> Evidence:
    """What the registry judges in one band, all of one Keras backend (default: the committed
    runs', HOME_BACKEND)."""
    backend = backend or HOME_BACKEND
    robustness = stage_results(reports_dir, profile, backend)
    return Evidence(
        runs=all_stage_seeds(reports_dir, profile, backend),
        robustness={stage: [r["mean_corruption_accuracy"] for _, r in pairs] for stage, pairs in robustness.items()},
        ablation=stage_seeds(reports_dir, "cnn_bn", profile, ablation="constant_lr", backend=backend),
    )


def verdicts(evidence: Evidence) -> list[ClaimRow]:
    return [ClaimRow(part, part.evaluate(evidence)) for part in PARTS]


def judge_bands(reports_dir, profile: str = "full") -> dict[str, BandFindings]:
    """Band label ('TensorFlow, CPU') -> its findings, for every band with runs on both sides of at
    least one comparison (a band where every part is 'not testable' judges nothing). Each band is
    read and judged once here; every view of the claims takes this."""
    out = {}
    for label, (backend, _) in labelled_bands(reports_dir, profile).items():
        evidence = gather(reports_dir, profile, backend)
        rows = verdicts(evidence)
        if any(row.verdict != NOT_TESTABLE for row in rows):
            out[label] = BandFindings(label, backend, evidence, rows)
    return out


def leaning(finding: Finding) -> str:
    """Which way an undecided part's observed effect points: 'with the claim', 'against the claim', or ''."""
    if finding.with_claim is None:
        return ""
    return "with the claim" if finding.with_claim else "against the claim"


def tally(rows: list[ClaimRow]) -> str:
    """One line a reader can take in first: how many parts got each verdict, and of the undecided
    ones how many were observed pointing against the claim."""
    counts = [
        f"{sum(row.verdict == v for row in rows)} {v}" for v in (SUPPORTED, CONTRADICTED, NOT_DETECTABLE, NOT_TESTABLE)
    ]
    undecided = [leaning(row.finding) for row in rows if row.verdict == NOT_DETECTABLE]
    if any(undecided):
        counts[2] += f" ({undecided.count('against the claim')} of them observed against the claim)"
    numbered = len({row.claim for row in rows})
    return f"The seed's {numbered} claims, in {len(rows)} measurable parts: " + ", ".join(counts) + "."


def band_tally(banded: dict[str, BandFindings]) -> str:
    """tally() for each band, one sentence each."""
    if len(banded) == 1:
        ((label, band),) = banded.items()
        return f"{tally(band.rows)} (band: {label})"
    return " ".join(f"{label}: {tally(band.rows)}" for label, band in banded.items())


def disagreement(banded: dict[str, BandFindings], index: int) -> bool:
    """The bands' verdicts on part `index` differ (bands with nothing to judge it on aside)."""
    found = {band.rows[index].verdict for band in banded.values() if band.rows[index].verdict != NOT_TESTABLE}
    return len(found) > 1


def _needs(finding: Finding) -> str:
    if not finding.ruled_out:
        return ""
    return f"; observed {leaning(finding)}; rules out {finding.ruled_out}; {finding.seeds_needed}"


SHORT_VERDICTS = {NOT_DETECTABLE: "not detectable", NOT_TESTABLE: "not testable"}


def _cell(finding: Finding, short: bool) -> str:
    if finding.verdict == NOT_TESTABLE:
        return f"*{SHORT_VERDICTS.get(finding.verdict, finding.verdict) if short else finding.verdict}*"
    if short:  # the interval is what these seeds rule out beyond; "needed" as a count
        needed = f"; needed: {finding.seeds_needed.split(' would ')[0]}" if finding.seeds_needed else ""
        lean = f", observed {leaning(finding)}" if leaning(finding) else ""
        verdict = SHORT_VERDICTS.get(finding.verdict, finding.verdict)
        return f"**{verdict}**{lean}: {finding.number}; {finding.n}{needed}"
    return f"**{finding.verdict}**: {finding.number}, {finding.n}{_needs(finding)}"


def summary_table(banded: dict[str, BandFindings], short: bool = False) -> str:
    """One row per part, its verdict in each band with the number that decides it and its n; for an
    undecided part, what is ruled out and the seeds a side it needs. `short` (the README's): the
    quote without the prediction, the interval standing for what is ruled out."""
    labels = list(banded)
    several = len(labels) > 1
    header = ["#", "the seed's notes", *([] if short else ["predicts"]), *labels, *(["bands"] if several else [])]
    lines = ["| " + " | ".join(header) + " |", "| ---: | " + " | ".join("---" for _ in header[1:]) + " |"]
    first = banded[labels[0]].rows
    for index, row in enumerate(first):
        cells = [_cell(banded[label].rows[index].finding, short) for label in labels]
        agree = ["**the bands disagree**" if disagreement(banded, index) else "agree"] if several else []
        quote = f'"{row.quote}"' + ("" if short else f" | {row.prediction}")
        lines.append(f"| {row.claim} | {quote} | " + " | ".join([*cells, *agree]) + " |")
    return "\n".join(lines)


def claims_table(rows: list[ClaimRow]) -> str:
    """The seed's claims, checked in one band: one row per measurable part, the whole evidence."""
    lines = ["| # | the seed's notes | predicts | evidence | verdict |", "| ---: | --- | --- | --- | --- |"]
    for row in rows:
        finding = row.finding
        extra = (
            f". Observed {leaning(finding)}. Rules out {finding.ruled_out}; {finding.seeds_needed}."
            if finding.ruled_out
            else ""
        )
        evidence = row.evidence + extra
        lines.append(f'| {row.claim} | "{row.quote}" | {row.prediction} | {evidence} | **{row.verdict}** |')
    return "\n".join(lines)
