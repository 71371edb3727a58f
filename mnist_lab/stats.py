"""Statistics for comparing runs: paired tests on the same test digits, and intervals."""

from __future__ import annotations


def changed_errors(before, after) -> tuple[int, int]:
    """(fixed, new): test digits that run `before` got wrong and `after` right, and the reverse."""
    wrong_before = {index for index, _, _ in before.metrics["misclassified"]}
    wrong_after = {index for index, _, _ in after.metrics["misclassified"]}
    return len(wrong_before - wrong_after), len(wrong_after - wrong_before)


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
