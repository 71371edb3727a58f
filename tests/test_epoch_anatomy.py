"""The bench's split of an epoch (benchmarks/epoch_anatomy.py): its parts add up to the whole epoch,
and the last epoch ends where training ends. Synthetic hook times; nothing trains."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from epoch_anatomy import Clock, anatomy  # noqa: E402  (benchmarks/ is scripts, not a package)

STEADY = "steady steps (median step x steps)"
WHOLE = "whole epoch (to the next one's start)"


def epoch_marks(begin: float, steps: list[float], gap: float = 0.01) -> list:
    """Hook times of one epoch: a 0.5 s start, the steps with `gap` between them, a 2 s validation."""
    marks, now = [("epoch_begin", None, begin)], begin + 0.5
    for batch, seconds in enumerate(steps):
        marks += [("batch_begin", batch, now), ("batch_end", batch, now + seconds)]
        now += seconds + gap
    marks += [("test_begin", None, now + 0.1), ("test_end", None, now + 2.1), ("epoch_end", None, now + 2.4)]
    return marks


def test_the_parts_add_up_to_the_whole_epoch():
    marks = epoch_marks(10.0, [1.0, 1.0, 3.0, 1.0])
    parts = anatomy(marks, next_begin=marks[-1][2] + 0.2)
    assert parts[STEADY] == pytest.approx(4.0)  # the median step (1 s) times 4 steps
    assert parts["steps beyond the steady rate"] == pytest.approx(2.0)  # the one slow step
    assert parts["validation pass"] == pytest.approx(2.0)
    summed = sum(seconds for name, seconds in parts.items() if name not in (WHOLE, STEADY))
    assert summed + parts[STEADY] == pytest.approx(parts[WHOLE])


def test_the_last_epoch_ends_where_training_ends():
    clock = Clock()
    first = epoch_marks(0.0, [2.0, 2.0])
    second = epoch_marks(first[-1][2] + 0.1, [1.0, 1.0, 1.0])
    clock.marks = {0: first, 1: [*second, ("train_end", None, second[-1][2] + 0.3)]}
    parts = clock.last_epoch()
    assert parts[WHOLE] == pytest.approx(second[-1][2] + 0.3 - second[0][2])
    assert parts[STEADY] == pytest.approx(3.0)
    assert parts["after validation (callbacks, checkpoint)"] == pytest.approx(0.3 + 0.3)
