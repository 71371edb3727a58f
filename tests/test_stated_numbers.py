"""Every result the repository states comes from a run: hand-written text holds none.

Notebook markdown and the hand-written parts of the README and docs/ may state protocol
constants (20 epochs, dropout 0.25, 10 degrees) and the seed notebook's own claims (its
reported 99.45%, its notes' approximate "~99.1%"), but no result a rerun could contradict:
accuracies, p-values, error counts, losses. Those are rendered from the runs (between the
generated-section markers, or by notebook cells).
"""

import re

import jupytext
import pytest

from mnist_lab.core.files import PROJECT_ROOT
from mnist_lab.report.results import SEED_REPORTED_ACCURACY

RESULT_NUMBER = re.compile(
    r"(?<![~\w.–-])\d+\.\d+\s?%"  # an accuracy such as 99.62% (a quoted approximation "~99.5%" is the seed's)
    r"|\bp\s?[=<]\s?[01]?\.\d"  # a p-value
    r"|\b\d+ (?:test )?errors\b|\bdisagree on \d+"  # error counts
    r"|(?<![\w.])0\.0\d{2,}"  # a loss such as 0.066
)
ALLOWED = {f"{100 * SEED_REPORTED_ACCURACY:.2f}%"}  # what the seed notebook reported: a fact about the seed
GENERATED = re.compile(r"<!-- results:.*?<!-- end of results -->|<!-- generated:.*?<!-- end of generated -->", re.S)


def result_numbers(text: str) -> list[str]:
    return [m.group(0) for m in RESULT_NUMBER.finditer(text) if m.group(0).strip() not in ALLOWED]


def hand_written_documents():
    return [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("path", sorted((PROJECT_ROOT / "notebooks").glob("*.py")), ids=lambda p: p.stem)
def test_notebook_markdown_states_no_result(path):
    for cell in jupytext.read(path).cells:
        if cell.cell_type == "markdown":
            assert not result_numbers(cell.source), f"{path.name}: {result_numbers(cell.source)} in:\n{cell.source}"


@pytest.mark.parametrize("path", hand_written_documents(), ids=lambda p: p.name)
def test_hand_written_documents_state_no_result(path):
    hand_written = GENERATED.sub("", path.read_text())
    assert not result_numbers(hand_written), f"{path.name} types results by hand: {result_numbers(hand_written)}"


def test_the_check_catches_results_and_spares_protocol_constants():
    assert result_numbers("99.62% against 99.63%, 38 test errors (McNemar p = 1.0); 0.066 of 0.080") == [
        "99.62%",
        "99.63%",
        "38 test errors",
        "p = 1.0",
        "0.066",
        "0.080",
    ]
    assert (
        result_numbers(
            "the seed reported 99.45%; its notes say ~99.1% and ~99.4–99.5%; dropout 0.25, "
            "L2 1e-3, 20 epochs, ±10%, the 10 digits, 10,000 test digits"
        )
        == []
    )
