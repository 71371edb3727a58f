"""Statistics for comparing runs: paired tests on the same test digits, and intervals."""

from __future__ import annotations


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
    """mean(after) - mean(before) and its Welch interval (unequal variances, Welch-Satterthwaite df)."""
    import numpy as np
    from scipy import stats

    before, after = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    difference = float(after.mean() - before.mean())
    if min(len(before), len(after)) < 2:
        return difference, float("nan"), float("nan")
    if np.ptp(before) == 0 and np.ptp(after) == 0:  # identical runs: no spread to test against
        return difference, difference, difference
    if np.ptp(before) == 0 or np.ptp(after) == 0:
        # One side without spread: Welch's interval rests on the other side's alone (df = its n - 1).
        # Written out because scipy's moments warn of "catastrophic cancellation" on such a sample.
        spread = after if np.ptp(before) == 0 else before
        half = float(stats.t.ppf(0.5 + confidence / 2, len(spread) - 1) * stats.sem(spread))
        return difference, difference - half, difference + half
    interval = stats.ttest_ind(after, before, equal_var=False).confidence_interval(confidence)
    return difference, float(interval.low), float(interval.high)


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
    """Apply VERDICT_RULE to two stages' test accuracies over seeds."""
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


def welch_power(difference: float, variance_before: float, variance_after: float, n: int) -> float:
    """Power of the two-sided 5% Welch t test with n runs a side, when the true difference of means
    and the two variances are the given ones: the statistic is noncentral t with the
    Welch-Satterthwaite degrees of freedom and noncentrality difference / its standard error."""
    import math

    from scipy.stats import nct, t

    a, b = variance_before / n, variance_after / n
    error = math.sqrt(a + b)
    if error == 0:
        return 1.0 if difference else 0.0
    df = (a + b) ** 2 / (a**2 / (n - 1) + b**2 / (n - 1))
    critical, shift = t.ppf(1 - ALPHA / 2, df), abs(difference) / error
    power = nct.sf(critical, df, shift) + nct.cdf(-critical, df, shift)
    return 1.0 if math.isnan(power) else float(power)  # scipy's nct gives nan far out in the tail: power 1


def seeds_for_difference(before, after) -> float:
    """Seeds a side at which the two-sided 5% Welch t test (the verdicts' own interval) detects the
    observed difference of means with 80% power, if the observed difference and each side's own
    spread were the truth: welch_power searched for the smallest n. A pooled-variance figure
    (Cohen's d) understates what Welch's interval needs when the two spreads differ. inf: no
    difference observed, or more than MAX_SEEDS."""
    import math

    import numpy as np

    a, b = np.asarray(before, float), np.asarray(after, float)
    difference = float(b.mean() - a.mean())
    variances = float(a.var(ddof=1)), float(b.var(ddof=1))
    if difference == 0 or not all(map(math.isfinite, variances)):
        return math.inf
    return _smallest_n(lambda n: welch_power(difference, *variances, n))


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


def _solve(analysis, effect: float, **options) -> float:
    """statsmodels' solve_power for the number of seeds. Its root finder gives up (nan, and a
    warning it forces through) when even 2 seeds exceed the power, so that case is answered
    first by its own power()."""
    import math
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        power = analysis.power(effect, 2, ALPHA, alternative="two-sided", **options)
        # scipy's noncentral t gives nan for effects of dozens of standard deviations: power 1, in effect.
        if math.isnan(power) or power >= POWER:
            return 2.0
        try:
            n = analysis.solve_power(effect_size=effect, alpha=ALPHA, power=POWER, alternative="two-sided", **options)
        except (ValueError, RuntimeError):
            n = math.inf
    return _ceil_seeds(n)


def seeds_for_mean(values, against: float = 0.0) -> float:
    """Seeds (runs) at which a two-sided 5% one-sample t test tells the mean from `against` with
    80% power, if the observed mean and spread were the truth (statsmodels' TTestPower)."""
    import math

    import numpy as np
    from statsmodels.stats.power import TTestPower

    values = np.asarray(values, float)
    spread = values.std(ddof=1)
    if spread == 0 or values.mean() == against:
        return math.inf
    return _solve(TTestPower(), abs(values.mean() - against) / spread)


def variance_ratio_power(ratio: float, n: int) -> float:
    """Power of the two-sided 5% F test of equal variances, n runs a side, when the true ratio of
    variances is `ratio`: the sample ratio is `ratio` times an F(n-1, n-1) variable (scipy)."""
    from scipy.stats import f

    df = n - 1
    low, high = f.ppf(ALPHA / 2, df, df), f.ppf(1 - ALPHA / 2, df, df)
    return float(f.cdf(low / ratio, df, df) + f.sf(high / ratio, df, df))


def seeds_for_variance_ratio(before, after) -> float:
    """Seeds a side at which the F test of equal variances detects the observed ratio of variances
    with 80% power, if it were the truth. statsmodels has no power for this test, so the F
    distribution's power (variance_ratio_power) is searched for the smallest n."""
    import math

    import numpy as np

    a, b = np.var(before, ddof=1), np.var(after, ddof=1)
    if a == 0 or b == 0 or a == b:
        return math.inf
    ratio = float(b / a)
    return _smallest_n(lambda n: variance_ratio_power(ratio, n))


def seeds_text(n: float, what: str = "seeds a side") -> str:
    return f"more than {MAX_SEEDS:,} {what}" if n == float("inf") else f"{int(n)} {what}"
