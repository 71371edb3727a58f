"""The committed full-protocol reports (their models load in plain Keras and reproduce their metrics; the
README shows them) and the functions that write the reports' tables."""

import json
import math
import re

import keras
import numpy as np
import pytest
from conftest import fake_run

from mnist_lab.core.data import fetch_mnist
from mnist_lab.core.files import PROJECT_ROOT
from mnist_lab.core.models import STAGES
from mnist_lab.findings.stats import changed_errors, mcnemar_p
from mnist_lab.report.results import (
    README_BEGIN,
    README_END,
    accuracy_changes,
    campaign_line,
    finished_runs,
    readme_results,
    update_readme,
    write_reports_readme,
)
from mnist_lab.runs.settings import CAMPAIGN_PLAN, CAMPAIGN_SEEDS, reports_root

REPORTS = reports_root("full")
MODEL_BUDGET_BYTES = 40 * 1024 * 1024  # all committed model files together


@pytest.fixture(scope="module")
def restored_models():
    """The stage runs' models, written back from git history (mnist_lab.runs.stored_models)."""
    from mnist_lab.runs.stored_models import restore

    return dict(restore())


@pytest.mark.parametrize("stage", list(STAGES))
def test_committed_model_reproduces_its_test_accuracy(stage, restored_models):
    model_path, metrics_path = REPORTS / stage / "model.keras", REPORTS / stage / "metrics.json"
    if not metrics_path.is_file():
        pytest.skip(f"no full-protocol report for {stage} yet (make reproduce)")
    assert f"reports/{stage}/model.keras" in restored_models, "its model is not recorded in reports/models.json"
    metrics = json.loads(metrics_path.read_text())
    model = keras.models.load_model(model_path)  # plain Keras: no custom objects, no mnist_lab
    _, (x_test, y_test) = fetch_mnist().as_keras_tuple()
    predicted = model.predict(x_test[..., None].astype("float32") / 255.0, batch_size=500, verbose=0).argmax(axis=1)
    assert round(float(np.mean(predicted == y_test)), 4) == round(metrics["test_accuracy"], 4)
    assert model.count_params() == metrics["parameters"]


def test_committed_models_fit_the_size_budget():
    from mnist_lab.runs.stored_models import manifest

    total = sum(entry["bytes"] for entry in manifest().values())
    assert total < MODEL_BUDGET_BYTES, f"committed models take {total / 2**20:.1f} MiB"


def test_what_travels_to_a_gpu_machine_leaves_room_for_the_data_and_wheels():
    # A copy for an offline machine is the tracked files plus data/mnist.npz (11 MB) and wheels
    # (about 2 MB): 40 MiB of tracked files keeps it light, with room for many more runs.
    import subprocess

    listed = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, check=True).stdout
    names = [name for name in listed.decode().split("\0") if name]
    tracked = sum((PROJECT_ROOT / name).stat().st_size for name in names)
    assert tracked < 40 * 2**20, f"tracked files take {tracked / 2**20:.1f} MiB: an offline copy would not stay light"
    assert not any(name.endswith("model.keras") for name in names), "a model is tracked"
    # A checkpoint is resume state for the machine that trains it, never history (DEVELOPERS.md).
    assert not [name for name in names if "/.partial/" in name], "an unfinished run's checkpoint is tracked"


def test_readme_results_are_the_committed_reports():
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme[readme.index(README_BEGIN) + len(README_BEGIN) : readme.index(README_END)]
    assert section.strip() == readme_results(REPORTS), (
        "README.md's results section differs from reports/: run `make reproduce` (the comparison "
        "notebook writes it) and commit README.md"
    )


# --- the report writers, on made-up runs


def _fake_run(reports, stage, accuracy, errors, wrong=None):
    fake_run(reports / stage, stage, accuracy, errors, wrong)


def test_update_readme_rewrites_only_its_section(tmp_path):
    reports = tmp_path / "reports"
    _fake_run(reports, "dnn", 0.98, 200)
    _fake_run(reports, "cnn", 0.99, 100)
    readme = tmp_path / "README.md"
    readme.write_text(f"# intro\n\n{README_BEGIN}\nstale numbers\n{README_END}\n\n## after\n")

    update_readme(readme, reports)
    text = readme.read_text()
    assert text.startswith(f"# intro\n\n{README_BEGIN}\n") and text.endswith(f"{README_END}\n\n## after\n")
    assert "stale numbers" not in text
    row = "| [`cnn`](reports/cnn/) | 99.00% | — (1) |"  # the seed-42 run, and its band's spread over seeds
    assert row in text
    assert "The seed's claims, checked" in text  # the README leads with them
    update_readme(readme, reports)
    assert readme.read_text() == text  # idempotent

    # Each step's verdict, the per-image view and the stages not run yet are in reports/README.md.
    per_image = write_reports_readme(reports, "full").read_text()
    verdict = (  # a step a claim judges points to the claim's verdict: one verdict per question
        "- `dnn` → `cnn` (plain CNN: the seed's conv/pool/dense layers only): +1.000 points over seeds; "
        'its verdict is the claims\' (claim 2, "accuracy improved significantly")'
    )
    assert verdict in per_image
    assert "98.00% → 99.00%, +1.00 points (200 → 100 test errors: 100 fixed, 0 new; McNemar p < 0.001)" in per_image
    assert f"Not run yet: {', '.join(list(STAGES)[2:])}." in per_image


def test_update_readme_without_its_markers_says_how_to_fix_and_changes_nothing(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# a README someone rewrote\n")
    with pytest.raises(ValueError, match="(?s)has no generated section to update.*then run make reproduce again"):
        update_readme(readme, tmp_path / "reports")
    assert readme.read_text() == "# a README someone rewrote\n"


def test_the_seed_model_is_compared_with_what_the_seed_reported(tmp_path):
    _fake_run(tmp_path, "cnn_reg", 0.9930, 70)
    _fake_run(tmp_path, "cnn_bn", 0.9950, 50)
    lines = accuracy_changes(finished_runs(tmp_path))
    assert lines[0].startswith("- `cnn_bn` (cnn_reg + BatchNorm")
    assert "+0.20 points (70 → 50 test errors: 20 fixed, 0 new; McNemar p < 0.001)" in lines[0]
    # Wilson interval of 9,950 right out of 10,000: (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)
    n, p, z = 10_000, 0.995, 1.959964
    centre, spread = p + z**2 / (2 * n), z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    low, high = (centre - spread) / (1 + z**2 / n), (centre + spread) / (1 + z**2 / n)
    assert lines[1].endswith(
        f"99.50% (95% interval {100 * low:.2f}-{100 * high:.2f}%); the seed notebook reported 99.45%."
    )
    assert f"{100 * low:.2f}-{100 * high:.2f}" == "99.34-99.62"


def test_mcnemar_counts_only_the_digits_the_two_models_disagree_on(tmp_path):
    # 20 digits both get wrong, 10 only the first gets wrong, 3 only the second.
    both, first_only, second_only = list(range(20)), list(range(100, 110)), list(range(200, 203))
    _fake_run(tmp_path, "cnn", 0.9970, 30, wrong=both + first_only)
    _fake_run(tmp_path, "cnn_reg", 0.9977, 23, wrong=both + second_only)
    runs = finished_runs(tmp_path)
    assert changed_errors(runs["cnn"], runs["cnn_reg"]) == (10, 3)
    # Two-sided exact binomial test of 10 heads in 13 fair tosses: 2 * P(X >= 10).
    expected = 2 * sum(math.comb(13, k) for k in range(10, 14)) / 2**13
    assert mcnemar_p(10, 3) == pytest.approx(expected)
    assert f"(30 → 23 test errors: 10 fixed, 3 new; McNemar p = {expected:.3f})" in accuracy_changes(runs)[0]
    assert mcnemar_p(0, 0) == 1.0  # identical errors: no evidence either way


def test_runs_on_different_test_digits_are_not_paired(tmp_path):
    from mnist_lab.report.results import accuracy_change

    _fake_run(tmp_path, "cnn", 0.9970, 30)
    fake_run(tmp_path / "cnn_reg", "cnn_reg", 0.9977, 23, test_subset=1000)  # the quick profile's sample
    runs = finished_runs(tmp_path)
    line = accuracy_change(runs["cnn"], runs["cnn_reg"])
    assert "not paired" in line and "McNemar" not in line


def test_the_readme_reads_in_two_minutes():
    # Words a reader reads: a table's bars and dashes are not words.
    words = len([w for w in (PROJECT_ROOT / "README.md").read_text().split() if re.search(r"[A-Za-z0-9]", w)])
    assert words <= 1000, f"README.md has {words} words; keep it at most 1,000 (details go to docs/ or reports/)"


def test_the_readme_says_while_the_campaign_is_under_way_and_when_it_is_done():
    done = dict(CAMPAIGN_SEEDS)
    assert "complete" in campaign_line(done)
    under_way = campaign_line({**done, "cnn_bn": 9})
    assert "interim" in under_way and "`cnn_bn` 9/11" in under_way and "`dnn`" not in under_way


def test_the_campaign_data_is_the_plan_as_written():
    """The plan's table ('seeds afterwards') and the data the README reads must not drift apart."""
    table = re.findall(r"^\| `(\w+)` \| [^|]+ \| (\d+) \|", (PROJECT_ROOT / CAMPAIGN_PLAN).read_text(), re.M)
    assert {arm: int(n) for arm, n in table} == CAMPAIGN_SEEDS
