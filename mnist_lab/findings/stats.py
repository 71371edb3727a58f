"""Statistics for comparing runs: paired tests on the same test digits, intervals, and the t tests,
equivalence tests, Holm correction and power every verdict takes (TTest, welch, holm).
"""

from __future__ import annotations

from dataclasses import dataclass


def changed_errors(before, after) -> tuple[int, int]:
    """(fixed, new): test digits that run `before` got wrong and `after` right, and the reverse."""
    wrong_before = {index for index, _, _ in before.metrics["misclassified"]}
    wrong_after = {index for index, _, _ in after.metrics["misclassified"]}
    return len(wrong_before - wrong_after), len(wrong_after - wrong_before)


def format_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def mcnemar_p(fixed: int, new: int) -> float:
    """Exact McNemar test: how likely a split at least this uneven is if neither model is better.

    Both models answer the same 10,000 test digits, so only the digits on which they
    disagree carry evidence; under 'no difference' each of those is a fair coin.
    """
    from scipy.stats import binomtest

    return binomtest(fixed, fixed + new, 0.5).pvalue if fixed + new else 1.0


def accuracy_interval(metrics: dict, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson interval of a test accuracy: the test set is a sample of 10,000 digits, not every digit."""
    from scipy.stats import binomtest

    total = sum(map(sum, metrics["confusion_matrix"]))
    correct = total - len(metrics["misclassified"])
    interval = binomtest(correct, total).proportion_ci(confidence, method="wilson")
    return interval.low, interval.high


# --- Seed variance: the same stage trained with several seeds, compared with another stage.

# The rule for a step's verdict, fixed before any seed's result was seen.
VERDICT_RULE = (
    "a step is *real* when the 95% Welch interval of the difference of mean test accuracies "
    "excludes 0; otherwise it is *not detectable* with these seeds, and the interval bounds "
    "how large the difference can be"
)


def seed_summary(accuracies) -> dict:
    """Mean, sample standard deviation, min and max of test accuracies over seeds."""
    import numpy as np

    values = np.asarray(accuracies, dtype=float)
    return {
        "n": len(values),
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        "min": float(values.min()),
        "max": float(values.max()),
    }


def mean_interval(values, confidence: float = 0.95) -> tuple[float, float]:
    """Student-t interval of the mean over seeds (the error bar of a stage's mean)."""
    import numpy as np
    from scipy import stats

    values = np.asarray(values, dtype=float)
    if len(values) < 2 or np.ptp(values) == 0:  # one value, or identical ones: no spread, the interval is the mean
        return float(values.mean()), float(values.mean())
    low, high = stats.t.interval(confidence, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
    return float(low), float(high)


def difference_interval(before, after, confidence: float = 0.95) -> tuple[float, float, float]:
    """mean(after) - mean(before) and its Welch interval (welch: unequal variances, Welch-Satterthwaite
    df; one side without spread rests on the other's alone); nan ends with fewer than two seeds a side."""
    import numpy as np

    if min(len(before), len(after)) < 2:
        return float(np.mean(after) - np.mean(before)), float("nan"), float("nan")
    test = welch(before, after)
    return (test.estimate, *test.interval(confidence))


def variance_ratio_interval(before, after, confidence: float = 0.95) -> tuple[float, float, float]:
    """var(after) / var(before) and its F interval (assumes each sample is roughly normal)."""
    import numpy as np
    from scipy import stats

    before, after = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    if min(len(before), len(after)) < 2 or np.var(before) == 0 or np.var(after) == 0:
        return float("nan"), float("nan"), float("nan")  # a zero variance: the interval collapses to 0 or inf
    ratio = float(np.var(after, ddof=1) / np.var(before, ddof=1))
    tail = (1 - confidence) / 2
    df = (len(after) - 1, len(before) - 1)
    return ratio, ratio / float(stats.f.ppf(1 - tail, *df)), ratio / float(stats.f.ppf(tail, *df))


def probability_of_superiority(before, after) -> float:
    """The chance that a run of `after` beats a run of `before`, over all pairs of seeds (ties count half)."""
    import numpy as np

    before, after = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    wins = (after[:, None] > before[None, :]).sum() + 0.5 * (after[:, None] == before[None, :]).sum()
    return float(wins / (len(before) * len(after)))


def verdict(before, after) -> dict:
    """Apply VERDICT_RULE (welch) to two stages' test accuracies over seeds."""
    difference, low, high = difference_interval(before, after)
    if low != low:  # nan: fewer than two seeds on one side
        word = "not enough seeds"
    elif low > 0 or high < 0:
        word = "real"
    else:
        word = "not detectable"
    return {
        "difference": difference,
        "low": low,
        "high": high,
        "verdict": word,
        "p_superiority": probability_of_superiority(before, after),
        "n_before": len(before),
        "n_after": len(after),
    }


def band_z(accuracy: float, mean: float, std: float, test_size: int = 10_000) -> tuple[float, float]:
    """(z, std used): how many standard deviations a run lies from a band's mean. The std is
    floored at the test set's binomial error, so a band from a few very similar seeds is not
    narrower than the test set can resolve."""
    import math

    floor = math.sqrt(mean * (1 - mean) / test_size)
    used = max(std, floor)
    return (accuracy - mean) / used, used


# --- Ensembles: the average of several runs' test-set probabilities.


def ensemble_errors(probabilities: list, labels) -> set[int]:
    """Indices of the test digits the averaged probabilities get wrong."""
    import numpy as np

    mean = np.mean(np.stack(probabilities), axis=0)
    return set(np.flatnonzero(mean.argmax(axis=1) != np.asarray(labels)).tolist())


def ensemble_curve(probabilities: list, labels, max_subsets: int = 200) -> list[dict]:
    """Ensemble accuracy by number of members k = 1..N, averaged over every subset of size k
    (or `max_subsets` of them, drawn with a fixed seed, where there are more)."""
    import itertools
    import math

    import numpy as np

    labels = np.asarray(labels)
    stacked = np.stack(probabilities)
    rng = np.random.default_rng(0)
    curve = []
    for k in range(1, len(stacked) + 1):
        if math.comb(len(stacked), k) <= max_subsets:
            subsets = list(itertools.combinations(range(len(stacked)), k))
        else:
            subsets = [tuple(rng.choice(len(stacked), k, replace=False)) for _ in range(max_subsets)]
        accuracies = [float(np.mean(stacked[list(s)].mean(axis=0).argmax(axis=1) == labels)) for s in subsets]
        curve.append(
            {
                "members": k,
                "mean": float(np.mean(accuracies)),
                "min": min(accuracies),
                "max": max(accuracies),
                "subsets": len(subsets),
            }
        )
    return curve


# --- Seeds needed: for a part the seeds cannot decide yet, how many would (claims.py fixes the rule).

POWER, ALPHA = 0.8, 0.05  # the verdicts' own two-sided 5% level, and the conventional 80% power
MAX_SEEDS = 10_000  # past this the answer is "more than 10,000": an effect too small to chase with seeds


def _ceil_seeds(n) -> float:
    import math

    n = float(n)
    return math.inf if not math.isfinite(n) or n > MAX_SEEDS else float(math.ceil(n))


def _smallest_n(power) -> float:
    """The smallest n >= 2 at which power(n) (growing with n) reaches POWER; inf past MAX_SEEDS."""
    import math

    low, high = 2, MAX_SEEDS
    if power(low) >= POWER:
        return float(low)
    if power(high) < POWER:
        return math.inf
    while low + 1 < high:
        middle = (low + high) // 2
        low, high = (low, middle) if power(middle) >= POWER else (middle, high)
    return float(high)


# --- One effect, one test: every interval, p-value and equivalence test of the claims derives from a TTest.


@dataclass(frozen=True)
class TTest:
    """An effect, its standard error and degrees of freedom (Welch-Satterthwaite over its variance
    components): the t distribution gives its interval at any level, its two-sided p against zero,
    its equivalence test against a margin (TOST) and its power. se 0 (no spread at all): the effect
    is exact, p is 0 unless it is 0 itself."""

    estimate: float
    se: float
    df: float
    n: tuple[int, ...]

    def interval(self, confidence: float = 0.95) -> tuple[float, float]:
        from scipy.stats import t

        half = 0.0 if self.se == 0 else float(t.ppf(0.5 + confidence / 2, self.df) * self.se)
        return self.estimate - half, self.estimate + half

    @property
    def p(self) -> float:
        """Two-sided p of 'no effect'."""
        from scipy.stats import t

        if self.se == 0:
            return 1.0 if self.estimate == 0 else 0.0
        return float(2 * t.sf(abs(self.estimate) / self.se, self.df))

    def p_above(self, edge: float) -> float:
        """One-sided p of 'the effect is at most `edge`' (small: the effect lies above it)."""
        from scipy.stats import t

        if self.se == 0:
            return 0.0 if self.estimate > edge else 1.0
        return float(t.sf((self.estimate - edge) / self.se, self.df))

    def p_below(self, edge: float) -> float:
        """One-sided p of 'the effect is at least `edge`' (small: the effect lies below it)."""
        from scipy.stats import t

        if self.se == 0:
            return 0.0 if self.estimate < edge else 1.0
        return float(t.cdf((self.estimate - edge) / self.se, self.df))

    def p_within(self, low: float, high: float) -> float:
        """Two one-sided tests (TOST): p of 'the effect lies outside low..high'. Below 0.05 exactly when
        the 90% interval lies inside low..high."""
        return max(self.p_above(low), self.p_below(high))


def satterthwaite(components: list[tuple[float, float]]) -> tuple[float, float]:
    """(se, df) of a sum of independent variance components, each (variance, its df): the
    Welch-Satterthwaite approximation; components without variance drop out."""
    import math

    parts = [(v, df) for v, df in components if v > 0]
    total = sum(v for v, _ in parts)
    if total == 0:
        return 0.0, math.inf
    return math.sqrt(total), total**2 / sum(v**2 / df for v, df in parts)


def digit_component(correct_before, correct_after=None) -> tuple[float, float]:
    """The test set's own sampling error, as a variance component (variance, df): the variance over
    test digits of the per-digit mean correctness (over seeds) of `correct_after` (seeds x digits
    booleans), or of its difference from `correct_before`'s (both stages see the same digits, so
    they are resampled together), divided by the number of digits."""
    import numpy as np

    per_digit = np.asarray(correct_after if correct_after is not None else correct_before, float).mean(axis=0)
    if correct_after is not None:
        per_digit = per_digit - np.asarray(correct_before, float).mean(axis=0)
    digits = per_digit.size
    return float(per_digit.var(ddof=1) / digits), float(digits - 1)


def welch(before, after, extra: tuple[float, float] | None = None) -> TTest:
    """mean(after) - mean(before) over independent seeds: Welch's test (each side its own variance,
    Welch-Satterthwaite df), with an `extra` variance component (digit_component) where the
    test digits are sampled too. The one Welch rule of the repository: the step verdicts, the
    precision check, the robustness steps and the claims all take it from here."""
    import numpy as np

    a, b = np.asarray(before, float), np.asarray(after, float)
    components = [(a.var(ddof=1) / len(a), len(a) - 1), (b.var(ddof=1) / len(b), len(b) - 1)]
    se, df = satterthwaite(components + ([extra] if extra else []))
    return TTest(float(b.mean() - a.mean()), se, df, (len(a), len(b)))


def one_sample(values, against: float = 0.0, extra: tuple[float, float] | None = None) -> TTest:
    """mean(values) - against, Student's test (and an `extra` variance component, as in welch)."""
    import numpy as np

    values = np.asarray(values, float)
    se, df = satterthwaite([(values.var(ddof=1) / len(values), len(values) - 1), *([extra] if extra else [])])
    return TTest(float(values.mean() - against), se, df, (len(values),))


def paired(before, after, extra: tuple[float, float] | None = None) -> TTest:
    """mean(after - before) over seeds both sides share: the paired t test on the differences."""
    import numpy as np

    test = one_sample(np.asarray(after, float) - np.asarray(before, float), extra=extra)
    return TTest(test.estimate, test.se, test.df, (len(before), len(after)))


def holm(pvalues: list[float], alpha: float = ALPHA) -> list[float]:
    """Holm's step-down adjustment of a family of p-values (statsmodels' multipletests)."""
    from statsmodels.stats.multitest import multipletests

    if not pvalues:
        return []
    return [float(p) for p in multipletests(pvalues, alpha=alpha, method="holm")[1]]


def t_power(effect: float, se: float, df: float, alpha: float) -> float:
    """Power of the two-sided level-`alpha` t test when the true effect is `effect` (noncentral t)."""
    import math

    from scipy.stats import nct, t

    if se == 0:
        return 1.0 if effect else 0.0
    critical, shift = t.ppf(1 - alpha / 2, df), abs(effect) / se
    power = nct.sf(critical, df, shift) + nct.cdf(-critical, df, shift)
    return 1.0 if math.isnan(power) else float(power)


def seeds_to_detect(effect: float, seed_variances: list[float], alpha: float, extra=None) -> float:
    """Seeds (a side, for a comparison) at which the two-sided level-`alpha` t test detects a true
    effect of `effect` with POWER, each side's seed-to-seed variance as observed and the `extra`
    component (the test digits') fixed: a planning figure for an effect fixed in advance, never the
    observed one. inf: more than MAX_SEEDS; -inf: no number of seeds (the fixed component alone is too large)."""
    import math

    if not all(map(math.isfinite, seed_variances)):
        return math.inf
    if extra and t_power(effect, math.sqrt(extra[0]), extra[1], alpha) < POWER:
        return -math.inf  # even infinitely many seeds leave the fixed component's error: no number of seeds

    def power(n: int) -> float:
        se, df = satterthwaite([(v / n, n - 1) for v in seed_variances] + ([extra] if extra else []))
        return t_power(effect, se, df, alpha)

    return _smallest_n(power)
