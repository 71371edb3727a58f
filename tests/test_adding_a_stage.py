"""Issue 44: a new ingredient is one STAGES entry and one notebook; nothing is renamed.

A throwaway stage, `cnn_wide` (the plain CNN again, compared with `cnn`), is patched into
STAGES; its notebook is a copy in a temporary notebooks/ folder. The runner's rule finds it,
the study notebooks keep their names, and the step verdicts compare it with its parent.
"""

import shutil

import pytest
from conftest import fake_run

from mnist_lab.core import models
from mnist_lab.core.config import ConfigError
from mnist_lab.core.models import STAGES, Stage, previous_stage
from mnist_lab.findings.seed_results import seed_rows, step_verdicts
from mnist_lab.report import runner
from mnist_lab.runs.layout import all_stage_seeds, seed_run_dir


@pytest.fixture
def cnn_wide(monkeypatch):
    monkeypatch.setitem(STAGES, "cnn_wide", Stage("cnn_wide", models.build_cnn, False, "a throwaway", parent="cnn"))
    return "cnn_wide"


def test_every_stage_has_its_notebook_and_every_notebook_follows_the_rule():
    assert runner.NOTEBOOK_ERROR is None, str(runner.NOTEBOOK_ERROR)
    assert set(STAGES) <= set(runner.NOTEBOOKS.values())


def test_a_new_stage_needs_its_notebook_and_renames_nothing(cnn_wide, tmp_path):
    notebooks = tmp_path / "notebooks"
    shutil.copytree(runner.NOTEBOOK_DIR, notebooks, ignore=shutil.ignore_patterns("*.ipynb"))
    with pytest.raises(ConfigError, match=r"stage cnn_wide has no notebook: copy its parent.s \(notebooks/02_cnn.py\)"):
        runner.find_notebooks(notebooks)
    shutil.copy(notebooks / "02_cnn.py", notebooks / "07_cnn_wide.py")
    found = runner.find_notebooks(notebooks)
    assert found["07_cnn_wide"] == "cnn_wide"
    assert {name: folder for name, folder in found.items() if name != "07_cnn_wide"} == runner.NOTEBOOKS
    (notebooks / "95_cnn_wider.py").write_text("")
    with pytest.raises(ConfigError, match="neither a stage's notebook"):
        runner.find_notebooks(notebooks)


def test_a_new_stage_is_compared_with_its_parent_not_the_last_stage(cnn_wide, tmp_path):
    assert previous_stage("cnn_wide") == "cnn"
    for stage, accuracies in (("cnn", (0.9926, 0.9925, 0.9927)), ("cnn_wide", (0.9940, 0.9941, 0.9942))):
        for seed, accuracy in zip((42, 0, 1), accuracies, strict=True):
            fake_run(seed_run_dir(tmp_path, stage, seed), stage, accuracy, round(10_000 * (1 - accuracy)), seed=seed)
    fake_run(tmp_path / "cnn_bn_aug_long", "cnn_bn_aug_long", 0.9970, 30, **STAGES["cnn_bn_aug_long"].protocol)
    steps = {(s["before"], s["after"]): s for s in step_verdicts(seed_rows(all_stage_seeds(tmp_path)))}
    assert steps[("cnn", "cnn_wide")]["verdict"] == "real"
    assert ("cnn_bn_aug_long", "cnn_wide") not in steps


def test_the_docs_seeds_step_trains_only_the_new_stage(cnn_wide, capsys):
    import subprocess

    from mnist_lab.core.files import PROJECT_ROOT
    from mnist_lab.report.cli import main
    from mnist_lab.runs.sweep import sweep_order

    assert sweep_order()[-1] == "cnn_wide"  # a sweep without --stage includes a stage added since
    make = ["make", "-n", "-C", str(PROJECT_ROOT), "seeds", "SEEDS=0-3"]
    assert "--stage cnn_wide" in subprocess.run([*make, "STAGE=cnn_wide"], capture_output=True, text=True).stdout
    assert "--stage" not in subprocess.run(make, capture_output=True, text=True).stdout
    assert main(["sweep", "--stage", "cnn_wide", "--seeds", "0-1", "--plan"]) == 0
    assert capsys.readouterr().out.splitlines() == ["cnn_wide@0 cnn_wide@1", "to train: 2 of 2"]


def test_a_notebook_that_will_train_says_what_it_costs_first(cnn_wide, tmp_path):
    from mnist_lab.runs.settings import reports_root

    line = runner.training_cost("cnn_wide", "full", reports_root("full"), tmp_path)
    assert line.startswith("== cnn_wide: no finished run of this config: the notebook trains it now, up to 20 epochs")
    assert "its parent cnn's" in line and " min on " in line
    assert runner.training_cost("cnn", "full", reports_root("full"), reports_root("full") / "cnn") is None
