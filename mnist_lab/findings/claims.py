"""The seed notebook's claims, one by one: what each predicts, how it is measured, and the rule
that turns the committed runs into a verdict.

The rules were revised (issue 59) after the seed campaign's numbers were known: the family, the
correction, the measures whose earlier test could not fail, the paired analysis and the smallest
effects of interest below. The table in reports/README.md shows each part's verdict under the
earlier rules (VERDICTS_BEFORE) beside today's.

**One family, one correction.** Every tested part (PARTS with `family=True`) gives one p-value;
the parts of a band form one family, and Holm's step-down correction (stats.holm, statsmodels'
multipletests) keeps its family-wise error at ALPHA = 5%. The part on the spread of test
accuracy over seeds was added after its numbers were seen: it is reported, unadjusted, as
exploratory, outside the family, and the tally does not count it.

**Verdicts** (`decide`), for a part with a p-value:
- **supported**: Holm-adjusted p < 0.05 and the effect points the way the claim says;
- **contradicted**: adjusted p < 0.05 and it points the other way;
- **negligible**: not that, and the 90% interval lies inside plus or minus the part's smallest
  effect of interest (SMALLEST_EFFECTS): two one-sided tests at 5% (per part) say that whatever
  the effect is, it is smaller than one worth having;
- **not detectable**: neither; the row shows which way the estimate leans and its p, and the
  tally does not count leans;
- **not testable**: the runs that would test it do not exist (the reason is given).
A "~X%" part asks whether a stage's mean lies within X +- APPROX points: its p is that of the
decision it reaches, the equivalence test (TOST) for "inside" or the one-sided test against the
nearer edge for "outside" (the two nulls are complementary, so the part's error stays at 5%).

**Tests.** Two stages of the ladder: Welch's test (stats.welch). They are trained with matched
seeds (a seed sets the initial weights and the data order of both), but with different
architectures the same seed draws different weights, so a seed's two runs are not a pair by
design; issue 59 found their test accuracies barely correlated on the campaign's stages, and the
evidence shows the correlation over shared seeds (`matched_correlation`) for a reader to check.
The ablation without ReduceLROnPlateau ran the same seeds as `cnn_bn` with the same architecture
by design (the same weights and batches until the plateau first cuts the rate): it uses the
paired t test (stats.paired). One stage's measure: Student's one-sample test.

**Test digits as well as seeds.** A claim about accuracy is about digits the model has not seen,
not about these 10,000: every test-accuracy part adds the test set's own sampling error to the
seeds' (stats.digit_component: per-digit correctness from metrics.json's misclassified digits,
the two stages' digits resampled together, since both see the same ones). Its interval covers
new seeds and new test digits. The other parts' intervals cover seeds only: validation figures
are measured on a fixed split, the corrupted sets are fixed, and a run's last-epoch predictions
(the restore gain) are recorded as an accuracy, not per digit.

**Needed** (an undecided part): the seeds (a side) at which the test would detect the part's
smallest effect of interest with 80% power at 0.05 / (the family's size), the level Holm's first
step asks of a p-value, each side's spread as observed (stats.seeds_to_detect). A planning
figure for an effect fixed in advance, not the observed one.

Measures per run: findings.measures. Bands: runs of different Keras backends are never pooled;
every part is judged once per band (`judge_bands`), each band with its own family.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from mnist_lab.core.provenance import HOME_BACKEND
from mnist_lab.core.run_dir import Run
from mnist_lab.findings.measures import (
    accuracy_points,
    correct_digits,
    epochs_to,
    first_epoch_accuracy,
    log_swing,
    loss_trend,
    overfitting_gap,
)
from mnist_lab.findings.robustness_results import stage_results
from mnist_lab.findings.stats import (
    ALPHA,
    TTest,
    digit_component,
    holm,
    one_sample,
    paired,
    seeds_to_detect,
    variance_ratio_interval,
    welch,
)
from mnist_lab.runs.layout import all_stage_seeds, labelled_bands, stage_seeds
from mnist_lab.runs.settings import CAMPAIGN_NEW_SEEDS, STAGE_RUN_SEED

APPROX = 0.5  # points: "~98%" is read as 97.5-98.5%
SUPPORTED, CONTRADICTED, NEGLIGIBLE, NOT_DETECTABLE, NOT_TESTABLE = (
    "supported",
    "contradicted",
    "negligible",
    "not detectable",
    "not testable",
)
VERDICTS = (SUPPORTED, CONTRADICTED, NEGLIGIBLE, NOT_DETECTABLE, NOT_TESTABLE)


@dataclass(frozen=True)
class Smallest:
    """A smallest effect of interest: its size, in the measure's unit, and why."""

    size: float
    unit: str
    reason: str


# Declared for issue 59 before any verdict was computed with them; each grounded outside these runs.
SMALLEST_EFFECTS: dict[str, Smallest] = {
    "test accuracy": Smallest(
        0.1,
        "points",
        "10 of the 10,000 test digits. One model's accuracy near 99.5% has a binomial standard error of "
        "0.07 points on 10,000 digits, so a smaller difference is within what the test set itself resolves; "
        "the seed's notes claim gains of 0.3 points and more (98% to 99.1% to 99.4%)",
    ),
    "restore gain": Smallest(
        0.1, "points", "a difference of test accuracy of one run: the same 10 of 10,000 digits as for test accuracy"
    ),
    "validation accuracy": Smallest(
        0.2,
        "points",
        "12 of the 6,000 validation digits: the binomial standard error of an accuracy near 98.5% on 6,000 "
        "digits is 0.16 points",
    ),
    "train-validation gap": Smallest(
        0.2, "points", "measured on the same 6,000 validation digits: their binomial standard error, 0.16 points"
    ),
    "epochs": Smallest(
        1.0, "epochs", "one epoch, the unit in which a run records its progress: less is not visible in any record"
    ),
    "loss trend": Smallest(
        1.0,
        "% of the minimum per epoch",
        "over the 7 epochs the seed's EarlyStopping waits, a trend of 1% an epoch lifts validation loss 7% "
        "above its minimum: the least that reads as a climb on a loss curve",
    ),
    "swing": Smallest(
        1.25,
        "times (ratio)",
        "the swing is a standard deviation of about 18 epoch-to-epoch changes, whose own relative standard "
        "error is 1/sqrt(2 x 17) = 17%: a ratio between 1/1.25 and 1.25 is within one run's measuring error",
    ),
    "MNIST-C": Smallest(
        1.0,
        "points",
        "each corruption is scored on 5,000 digits, where an accuracy near 80% has a binomial standard error "
        "of 0.57 points: 1 point is about two of them",
    ),
}

# Each part's verdict under the rules before issue 59, from the README at commit e221616 (a record:
# those rules are gone, so it cannot be recomputed).
VERDICTS_BEFORE = {
    "dnn ~98%": "not detectable (observed with the claim)",
    "dnn gap": "supported",
    "dnn loss": "supported (a one-sample test of a rise that is >= 0 by construction)",
    "cnn over dnn": "supported",
    "cnn ~99.1%": "supported",
    "cnn_reg loss": "supported (the rise above the minimum)",
    "cnn_reg gap": "supported",
    "cnn_reg weights": "not testable",
    "cnn_bn swing": "not detectable (observed against the claim)",
    "cnn_bn spread": "not detectable (observed against the claim)",
    "cnn_bn epochs": "contradicted",
    "cnn_bn epoch 1": "contradicted",
    "cnn_bn accuracy": "not detectable (observed against the claim)",
    "aug robustness": "contradicted",
    "aug accuracy": "not detectable (observed with the claim)",
    "aug ~99.45%": "supported",
    "plateau": "supported (Welch on seeds the two arms share)",
    "early stopping": "not detectable (observed against the claim; 27 runs, most of which never stopped)",
    "cnn_bn ~99.4%": "supported",
}
# The parts the seed campaign (docs/campaign-2026-12.md) was planned for, before its runs.
CAMPAIGN_PARTS = ("dnn ~98%", "cnn_bn epochs", "aug robustness")


# --- evidence


@dataclass(frozen=True)
class Evidence:
    """What the registry judges in one band: every stage's seeds, their robustness results (seed ->
    the mean accuracy over the corruptions), the ablation's runs."""

    runs: dict[str, list[Run]]
    robustness: dict[str, dict[int, float]] = field(default_factory=dict)
    ablation: list[Run] = field(default_factory=list)

    def only(self, keep: Callable[[str, int], bool]) -> Evidence:
        """The same evidence with only the (stage, seed) runs `keep` accepts (the ablation counts as cnn_bn's)."""
        return Evidence(
            {stage: [r for r in runs if keep(stage, r.seed)] for stage, runs in self.runs.items()},
            {stage: {s: v for s, v in values.items() if keep(stage, s)} for stage, values in self.robustness.items()},
            [run for run in self.ablation if keep("cnn_bn", run.seed)],
        )


def gather(reports_dir, profile: str = "full", backend: str | None = None) -> Evidence:
    """What the registry judges in one band, all of one Keras backend (default: the committed
    runs', HOME_BACKEND)."""
    backend = backend or HOME_BACKEND
    robustness = stage_results(reports_dir, profile, backend)
    return Evidence(
        runs=all_stage_seeds(reports_dir, profile, backend),
        robustness={
            s: {run.seed: r["mean_corruption_accuracy"] for run, r in pairs} for s, pairs in robustness.items()
        },
        ablation=stage_seeds(reports_dir, "cnn_bn", profile, ablation="constant_lr", backend=backend),
    )


# --- findings


@dataclass(frozen=True)
class Finding:
    """One part's result in one band. `test` is None where the part is not testable; `p_adjusted`
    and `verdict` are set once the band's family is corrected (decide)."""

    evidence: str  # the whole evidence, in words (reports/README.md)
    test: TTest | None = None
    measure: str = ""  # its key in SMALLEST_EFFECTS ("" for a "~X%" part)
    direction: int = +1  # +1: the claim predicts a positive effect; -1: a negative one
    band: tuple[float, float] | None = None  # a "~X%" part: the band the mean must lie in
    covers: str = "seeds"  # what its interval covers: "seeds" or "seeds and test digits"
    needed: float = math.nan  # seeds (a side) that detect the smallest effect of interest (an undecided part)
    p: float = math.nan  # the test's own p
    p_adjusted: float = math.nan  # Holm's, within the band's family
    verdict: str = NOT_TESTABLE
    exploratory: bool = False
    shown: tuple[float, float] | None = None  # an interval that is not the t interval (the F test's), as shown
    counted: str = "seeds"  # what its n counts


def _testable(evidence: str, test: TTest, measure: str, direction: int, **extra) -> Finding:
    return Finding(evidence, test, measure, direction, **extra)


def _untestable(reason: str) -> Finding:
    return Finding(reason)


def smallest(finding: Finding) -> float:
    """The part's smallest effect of interest on the scale its test runs on (the swing's: log)."""
    size = SMALLEST_EFFECTS[finding.measure].size
    return math.log(size) if finding.measure == "swing" else size


def p_value(finding: Finding) -> float:
    """The p the family corrects: the two-sided p against no effect, or for a "~X%" part that of the
    decision it reaches (module docstring)."""
    test = finding.test
    if finding.band is None:
        return test.p
    low, high = finding.band
    inside = test.p_within(low, high)
    outside = min(test.p_below(low), test.p_above(high))
    return min(inside, outside)


def decide(finding: Finding, p_adjusted: float) -> Finding:
    """The verdict of a testable part, given its Holm-adjusted p (module docstring)."""
    test = finding.test
    if finding.band is not None:
        low, high = finding.band
        inside = low <= test.estimate <= high
        verdict = (SUPPORTED if inside else CONTRADICTED) if p_adjusted < ALPHA else NOT_DETECTABLE
    elif p_adjusted < ALPHA:
        verdict = SUPPORTED if finding.direction * test.estimate > 0 else CONTRADICTED
    elif test.p_within(-smallest(finding), smallest(finding)) < ALPHA:
        verdict = NEGLIGIBLE
    else:
        verdict = NOT_DETECTABLE
    return replace(finding, p=p_value(finding), p_adjusted=p_adjusted, verdict=verdict)


def leaning(finding: Finding) -> str:
    """Which way an undecided part's estimate points: 'leans with the claim', 'leans against', or ''."""
    if finding.verdict != NOT_DETECTABLE or finding.test is None:
        return ""
    if finding.band is not None:
        low, high = finding.band
        with_claim = low <= finding.test.estimate <= high
    else:
        with_claim = finding.direction * finding.test.estimate > 0
    return "leans with the claim" if with_claim else "leans against the claim"


# --- the parts' evaluations


def _values(runs: dict, stage: str, measure) -> list[tuple[int, float]]:
    """(seed, value) of every run of `stage` whose measure is defined (a run without epochs measures nothing)."""
    found = [(run.seed, measure(run)) for run in runs.get(stage, []) if run.history]
    return [(seed, value) for seed, value in found if not math.isnan(value)]


def n_text(n: tuple[int, ...], what: str = "seeds") -> str:
    return f"{' and '.join(map(str, n))} {what}"


def _step(evidence: Evidence, before: str, after: str, measure, key: str, direction: int, what: str) -> Finding:
    """`after` minus `before` of a per-run measure, Welch's test over independent seeds."""
    a, b = (
        [v for _, v in _values(evidence.runs, before, measure)],
        [v for _, v in _values(evidence.runs, after, measure)],
    )
    if len(a) < 2 or len(b) < 2:
        return _untestable(f"{len(a)} and {len(b)} seeds of `{before}` and `{after}` with {what}: too few for a test")
    test = welch(a, b)
    text = f"{what}: `{before}` {np.mean(a):.3f}, `{after}` {np.mean(b):.3f} ({n_text(test.n)})"
    return _testable(text, test, key, direction, needed=_needed(key, [np.var(a, ddof=1), np.var(b, ddof=1)]))


def _swing(evidence: Evidence, before: str, after: str) -> Finding:
    """The swing's ratio, Welch's test on its logarithm (findings.measures.log_swing)."""
    finding = _step(evidence, before, after, log_swing, "swing", -1, "log of the swing")
    if finding.test is None:
        return finding
    a = [math.exp(v) for _, v in _values(evidence.runs, before, log_swing)]
    b = [math.exp(v) for _, v in _values(evidence.runs, after, log_swing)]
    text = (
        f"epoch-to-epoch swing of validation accuracy (points), geometric mean: `{before}` "
        f"{math.exp(np.mean(np.log(a))):.3f}, `{after}` {math.exp(np.mean(np.log(b))):.3f} "
        f"({n_text(finding.test.n)}); judged as a ratio, on the log scale"
    )
    return replace(finding, evidence=text)


def _one(evidence: Evidence, stage: str, measure, key: str, direction: int, what: str) -> Finding:
    """One stage's measure against zero, Student's test over its seeds."""
    values = [v for _, v in _values(evidence.runs, stage, measure)]
    if len(values) < 2:
        return _untestable(f"{len(values)} seed(s) of `{stage}` with {what}: too few for a test")
    test = one_sample(values)
    text = f"{what} of `{stage}`: mean {test.estimate:.3f} ({n_text(test.n)})"
    return _testable(text, test, key, direction, needed=_needed(key, [np.var(values, ddof=1)], one=True))


def _digits(runs: list[Run]) -> np.ndarray:
    return np.array([correct_digits(run) for run in runs])


def _accuracy_step(evidence: Evidence, before: str, after: str) -> Finding:
    """Test accuracy, `after` minus `before`: Welch over seeds plus the test digits' own error."""
    a, b = evidence.runs.get(before, []), evidence.runs.get(after, [])
    if len(a) < 2 or len(b) < 2 or len({run.metrics["data"]["test"] for run in a + b}) != 1:
        return _untestable(f"{len(a)} and {len(b)} seeds of `{before}` and `{after}`: too few for a test")
    digits = _points(digit_component(_digits(a), _digits(b)))
    points = [[accuracy_points(run) for run in side] for side in (a, b)]
    test = welch(*points, digits)
    text = (
        f"test accuracy (%): `{before}` {np.mean(points[0]):.3f}, `{after}` {np.mean(points[1]):.3f} "
        f"({n_text(test.n)}, {a[0].metrics['data']['test']:,} test digits)"
    )
    variances = [np.var(side, ddof=1) for side in points]
    return _testable(
        text,
        test,
        "test accuracy",
        +1,
        covers="seeds and test digits",
        needed=_needed("test accuracy", variances, extra=digits),
    )


def _points(component: tuple[float, float]) -> tuple[float, float]:
    """A variance component of accuracy (fractions of 1) in points squared."""
    return component[0] * 100**2, component[1]


def _approx(evidence: Evidence, stage: str, target: float) -> Finding:
    """'~target%': the stage's mean test accuracy (seeds and test digits) against target +- APPROX."""
    runs = evidence.runs.get(stage, [])
    if len(runs) < 2:
        return _untestable(f"{len(runs)} seed(s) of `{stage}`: too few for a test")
    values = [accuracy_points(run) for run in runs]
    digits = _points(digit_component(_digits(runs)))
    test = one_sample(values, extra=digits)
    band = (target - APPROX, target + APPROX)
    text = f"`{stage}` mean test accuracy {test.estimate:.3f}% ({n_text(test.n)}) against {band[0]:g}-{band[1]:g}%"
    edge = min(band, key=lambda e: abs(test.estimate - e))
    needed_edge = edge + math.copysign(SMALLEST_EFFECTS["test accuracy"].size, test.estimate - edge)
    needed = _needed_approx(values, digits, needed_edge - edge)
    return Finding(text, test, "test accuracy", +1, band=band, covers="seeds and test digits", needed=needed)


def _robustness(evidence: Evidence, before: str, after: str) -> Finding:
    a, b = evidence.robustness.get(before, {}), evidence.robustness.get(after, {})
    if len(a) < 2 or len(b) < 2:
        return _untestable(
            f"mean corruption accuracy has {len(a)} and {len(b)} seeds with results of `{before}` and `{after}`"
        )
    a, b = [100 * v for v in a.values()], [100 * v for v in b.values()]
    test = welch(a, b)
    text = (
        f"mean accuracy over the 15 corruptions (%): `{before}` {np.mean(a):.2f}, `{after}` {np.mean(b):.2f} "
        f"({n_text(test.n)})"
    )
    return _testable(text, test, "MNIST-C", +1, needed=_needed("MNIST-C", [np.var(a, ddof=1), np.var(b, ddof=1)]))


def _spread(evidence: Evidence, before: str, after: str) -> Finding:
    """Exploratory: the ratio of the two stages' variances of test accuracy over seeds (F test)."""
    from scipy.stats import f

    a = [accuracy_points(run) for run in evidence.runs.get(before, [])]
    b = [accuracy_points(run) for run in evidence.runs.get(after, [])]
    ratio, low, high = variance_ratio_interval(a, b)
    if ratio != ratio:  # nan: too few seeds, or no spread to compare against
        return _untestable(f"{len(a)} and {len(b)} seeds of `{before}` and `{after}`: too few, or no spread to compare")
    df = (len(b) - 1, len(a) - 1)
    p = float(min(1.0, 2 * min(f.cdf(ratio, *df), f.sf(ratio, *df))))
    test = TTest(math.log(ratio), math.nan, math.inf, (len(a), len(b)))  # the estimate and n; p and interval: F's
    text = (
        f"standard deviation of test accuracy over seeds (points): `{before}` {np.std(a, ddof=1):.3f}, "
        f"`{after}` {np.std(b, ddof=1):.3f}; ratio of variances {ratio:.2f} (95% interval {low:.2f} to {high:.2f}; "
        f"{n_text((len(a), len(b)))}). Exploratory: added after its numbers were seen, outside the family"
    )
    verdict = (SUPPORTED if ratio < 1 else CONTRADICTED) if p < ALPHA else NOT_DETECTABLE
    return Finding(text, test, "", -1, p=p, verdict=verdict, exploratory=True, shown=(math.log(low), math.log(high)))


def _ablation(evidence: Evidence, minimum: int = 3) -> Finding:
    """cnn_bn minus cnn_bn without ReduceLROnPlateau on the seeds both ran: the paired t test, with
    the test digits' error (paired over digits too)."""
    runs = {run.seed: run for run in evidence.ablation}
    with_schedule = {run.seed: run for run in evidence.runs.get("cnn_bn", []) if run.seed in runs}
    seeds = sorted(with_schedule)
    if len(seeds) < minimum:
        return _untestable(f"the ablation without ReduceLROnPlateau has {len(seeds)} of its {minimum} seeds")
    before, after = [runs[s] for s in seeds], [with_schedule[s] for s in seeds]
    # Over the same seeds, the per-digit mean of the pairs' differences is the difference of the per-digit means.
    digits = _points(digit_component(_digits(before), _digits(after)))
    test = paired([accuracy_points(r) for r in before], [accuracy_points(r) for r in after], digits)
    diffs = [accuracy_points(b) - accuracy_points(a) for a, b in zip(before, after, strict=True)]
    text = (
        f"test accuracy (%), the same seeds ({', '.join(map(str, seeds))}), with minus without the schedule: "
        f"{', '.join(f'{d:+.2f}' for d in diffs)}; paired"
    )
    needed = _needed_approx(diffs, digits, SMALLEST_EFFECTS["test accuracy"].size)
    return _testable(text, test, "test accuracy", +1, covers="seeds and test digits", needed=needed)


def early_stopping_runs(evidence: Evidence) -> list[Run]:
    """The seed-protocol runs in which early stopping acted: stopped before their budget, and kept a
    best epoch that was not their last (so restoring it changed the weights)."""
    stages = ("dnn", "cnn", "cnn_reg", "cnn_bn", "cnn_bn_aug")
    return [
        run
        for stage in stages
        for run in evidence.runs.get(stage, [])
        if run.metrics["epochs_run"] < run.config.get("epochs", 20)
        and run.metrics["best_epoch"] != run.metrics["epochs_run"]
        and "last_epoch_test_accuracy" in run.metrics
    ]


def _early_stopping(evidence: Evidence) -> Finding:
    acted = early_stopping_runs(evidence)
    per_stage = {}
    for run in acted:
        per_stage[run.stage] = per_stage.get(run.stage, 0) + 1
    counted = ", ".join(f"`{stage}` {n}" for stage, n in per_stage.items()) or "none"
    if len(acted) < 2:
        return _untestable(f"early stopping acted (stopped early, best epoch not the last) in {len(acted)} runs")
    gains = [accuracy_points(run) - 100 * run.metrics["last_epoch_test_accuracy"] for run in acted]
    test = one_sample(gains)
    text = (
        f"restored minus last-epoch test accuracy (points), in the runs where early stopping acted "
        f"(stopped before the budget, best epoch not the last): seeds per stage {counted}"
    )
    needed = _needed("restore gain", [np.var(gains, ddof=1)], one=True)
    return _testable(text, test, "restore gain", +1, needed=needed, counted="runs")


def _needed(key: str, variances: list[float], one: bool = False, extra=None) -> float:
    """Seeds a side (or runs, for one stage) that detect the part's smallest effect of interest
    with 80% power at 0.05 / FAMILY_SIZE (Holm's first step)."""
    size = SMALLEST_EFFECTS[key].size
    size = math.log(size) if key == "swing" else size
    return seeds_to_detect(size, variances[:1] if one else variances, ALPHA / FAMILY_SIZE, extra)


def _needed_approx(values, extra, size: float) -> float:
    return seeds_to_detect(abs(size), [float(np.var(values, ddof=1))], ALPHA / FAMILY_SIZE, extra)


# --- the registry


@dataclass(frozen=True)
class Part:
    """One measurable part of a claim: what it predicts, and how its finding reads."""

    claim: int  # the number of the claim in the seed's notes (issue 33's list)
    key: str  # a short name, stable across renders
    quote: str
    prediction: str
    evaluate: Callable[[Evidence], Finding]
    measured: str = ""  # what the effect is, in its unit ("epochs to 99% validation accuracy")
    words: tuple[str, str] = ("higher", "lower")  # what a positive and a negative effect mean
    family: bool = True
    compares: tuple[str, str] | None = None  # a test-accuracy step of the ladder (before, after) it judges


PARTS = (
    Part(
        1,
        "dnn ~98%",
        "~98% accuracy",
        "dnn's mean test accuracy is 97.5-98.5%",
        lambda e: _approx(e, "dnn", 98.0),
        "mean test accuracy, %",
    ),
    Part(
        1,
        "dnn gap",
        "noticed overfitting",
        "dnn's training accuracy ends above its validation accuracy",
        lambda e: _one(
            e,
            "dnn",
            overfitting_gap,
            "train-validation gap",
            +1,
            "train minus validation accuracy at the last epoch (points)",
        ),
        "points of train-validation gap",
        ("training above validation", "validation above training"),
    ),
    Part(
        1,
        "dnn loss",
        "noticed overfitting",
        "dnn's validation loss climbs over the second half of its epochs",
        lambda e: _one(
            e,
            "dnn",
            loss_trend,
            "loss trend",
            +1,
            "trend of validation cross-entropy, second half (% of its minimum per epoch)",
        ),
        "%/epoch, trend of validation loss",
        ("climbing", "falling"),
    ),
    Part(
        2,
        "cnn over dnn",
        "accuracy improved significantly",
        "cnn's mean test accuracy is above dnn's",
        lambda e: _accuracy_step(e, "dnn", "cnn"),
        "points of test accuracy",
        compares=("dnn", "cnn"),
    ),
    Part(
        2,
        "cnn ~99.1%",
        "~99.1%",
        "cnn's mean test accuracy is 98.6-99.6%",
        lambda e: _approx(e, "cnn", 99.1),
        "mean test accuracy, %",
    ),
    Part(
        3,
        "cnn_reg loss",
        "to reduce overfitting",
        "cnn_reg's validation loss climbs less over the second half of its epochs than cnn's",
        lambda e: _step(
            e,
            "cnn",
            "cnn_reg",
            loss_trend,
            "loss trend",
            -1,
            "trend of validation cross-entropy, second half (% of its minimum per epoch)",
        ),
        "%/epoch, trend of validation loss",
        ("climbs more", "climbs less"),
    ),
    Part(
        3,
        "cnn_reg gap",
        "to reduce overfitting",
        "cnn_reg's train-validation gap is smaller than cnn's (Keras measures training accuracy with dropout on, "
        "which understates cnn_reg's gap)",
        lambda e: _step(
            e, "cnn", "cnn_reg", overfitting_gap, "train-validation gap", -1, "train minus validation accuracy (points)"
        ),
        "points of train-validation gap",
        ("larger gap", "smaller gap"),
    ),
    Part(
        3,
        "cnn_reg weights",
        "to penalize large weights",
        "cnn_reg's dense weights are smaller than cnn's",
        lambda e: _untestable("weight norms need the models, and only the seed-42 runs keep theirs: one seed a stage"),
    ),
    Part(
        4,
        "cnn_bn swing",
        "to stabilize training",
        "cnn_bn's validation accuracy jumps less from epoch to epoch than cnn_reg's",
        lambda e: _swing(e, "cnn_reg", "cnn_bn"),
        "× the swing of validation accuracy",
        ("jumps more", "jumps less"),
    ),
    Part(
        4,
        "cnn_bn spread",
        "to stabilize training",
        "cnn_bn's test accuracy varies less across seeds than cnn_reg's",
        lambda e: _spread(e, "cnn_reg", "cnn_bn"),
        "× the variance over seeds",
        ("varies more", "varies less"),
        family=False,
    ),
    Part(
        4,
        "cnn_bn epochs",
        "converge faster",
        "cnn_bn reaches 99% validation accuracy in fewer epochs than cnn_reg",
        lambda e: _step(
            e, "cnn_reg", "cnn_bn", lambda r: epochs_to(r, 0.99), "epochs", -1, "epochs to 99% validation accuracy"
        ),
        "epochs to 99% validation accuracy",
        ("slower", "faster"),
    ),
    Part(
        4,
        "cnn_bn epoch 1",
        "converge faster",
        "cnn_bn's validation accuracy after epoch 1 is above cnn_reg's",
        lambda e: _step(
            e,
            "cnn_reg",
            "cnn_bn",
            first_epoch_accuracy,
            "validation accuracy",
            +1,
            "validation accuracy after epoch 1 (%)",
        ),
        "points of epoch-1 validation accuracy",
    ),
    Part(
        4,
        "cnn_bn accuracy",
        "improved accuracy",
        "cnn_bn's mean test accuracy is above cnn_reg's",
        lambda e: _accuracy_step(e, "cnn_reg", "cnn_bn"),
        "points of test accuracy",
        compares=("cnn_reg", "cnn_bn"),
    ),
    Part(
        5,
        "aug robustness",
        "improved robustness",
        "cnn_bn_aug's mean accuracy over MNIST-C's corruptions is above cnn_bn's",
        lambda e: _robustness(e, "cnn_bn", "cnn_bn_aug"),
        "points of MNIST-C accuracy",
    ),
    Part(
        5,
        "aug accuracy",
        "and generalization",
        "cnn_bn_aug's mean test accuracy is above cnn_bn's",
        lambda e: _accuracy_step(e, "cnn_bn", "cnn_bn_aug"),
        "points of test accuracy",
        compares=("cnn_bn", "cnn_bn_aug"),
    ),
    Part(
        5,
        "aug ~99.45%",
        "~99.4-99.5% accuracy",
        "cnn_bn_aug's mean test accuracy is 98.95-99.95%",
        lambda e: _approx(e, "cnn_bn_aug", 99.45),
        "mean test accuracy, %",
    ),
    Part(
        6,
        "plateau",
        "helped in fine-tuning",
        "cnn_bn beats cnn_bn without ReduceLROnPlateau, same seeds",
        _ablation,
        "points of test accuracy, with the schedule",
    ),
    Part(
        7,
        "early stopping",
        "prevented overfitting by stopping training",
        "where early stopping acted, restoring the best epoch beats the last epoch's weights",
        _early_stopping,
        "points of test accuracy, best over last epoch",
    ),
    Part(
        8,
        "cnn_bn ~99.4%",
        "~99.4% without ensembles",
        "cnn_bn's mean test accuracy is 98.9-99.9%",
        lambda e: _approx(e, "cnn_bn", 99.4),
        "mean test accuracy, %",
    ),
)
FAMILY_SIZE = sum(part.family for part in PARTS)
# The ladder's steps a claim judges on test accuracy: the step tables point to the claim's verdict (one per question).
CLAIMED_STEPS = {
    part.compares: part for part in PARTS if part.compares
}  # every family part, testable or not: the planning level


def matched_correlation(evidence: Evidence, before: str, after: str) -> tuple[float, int]:
    """(Pearson's r, n) of test accuracy between the runs of two stages that share a seed: how much
    pairing them by seed would gain (nan with fewer than 3 shared seeds)."""
    a = {run.seed: accuracy_points(run) for run in evidence.runs.get(before, [])}
    b = {run.seed: accuracy_points(run) for run in evidence.runs.get(after, [])}
    shared = sorted(set(a) & set(b))
    if len(shared) < 3:
        return math.nan, len(shared)
    return float(np.corrcoef([a[s] for s in shared], [b[s] for s in shared])[0, 1]), len(shared)


# --- judging a band


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


def verdicts(evidence: Evidence, parts=PARTS) -> list[ClaimRow]:
    """Every part judged on `evidence`, the family's p-values corrected together (Holm)."""
    findings = [part.evaluate(evidence) for part in parts]
    family = [i for i, (part, f) in enumerate(zip(parts, findings, strict=True)) if part.family and f.test is not None]
    adjusted = holm([p_value(findings[i]) for i in family])
    for i, p in zip(family, adjusted, strict=True):
        findings[i] = decide(findings[i], p)
    return [ClaimRow(part, finding) for part, finding in zip(parts, findings, strict=True)]


@dataclass(frozen=True)
class BandFindings:
    """One band's evidence and every part judged on it, computed once and shown by the notebook
    cell, reports/README.md and the README alike; with the same family judged without the seed-42
    runs (trained at earlier commits), and the campaign's parts on the campaign's seeds alone."""

    label: str  # 'TensorFlow, CPU'
    backend: str  # its band name (provenance.band_name)
    evidence: Evidence
    rows: list[ClaimRow]
    without_seed_42: list[ClaimRow] = field(default_factory=list)
    campaign_only: list[ClaimRow] = field(default_factory=list)


def judge_band(label: str, backend: str, evidence: Evidence) -> BandFindings:
    without = verdicts(evidence.only(lambda stage, seed: seed != STAGE_RUN_SEED))
    campaign = [part for part in PARTS if part.key in CAMPAIGN_PARTS]
    planned = evidence.only(lambda stage, seed: seed in CAMPAIGN_NEW_SEEDS.get(stage, ()))
    return BandFindings(label, backend, evidence, verdicts(evidence), without, verdicts(planned, campaign))


def judge_bands(reports_dir, profile: str = "full") -> dict[str, BandFindings]:
    """Band label ('TensorFlow, CPU') -> its findings, for every band with runs on both sides of at
    least one comparison (a band where every part is 'not testable' judges nothing). Each band is
    read and judged once here; every view of the claims takes this."""
    out = {}
    for label, (backend, _) in labelled_bands(reports_dir, profile).items():
        evidence = gather(reports_dir, profile, backend)
        band = judge_band(label, backend, evidence)
        if any(row.verdict != NOT_TESTABLE for row in band.rows):
            out[label] = band
    return out
