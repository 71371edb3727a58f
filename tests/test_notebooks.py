"""The notebooks stay thin, agree with the package on parameters, and the runner is safe."""

import ast
import os
import re
import subprocess

import jupytext
import nbformat
import pytest

from mnist_lab.core.config import ConfigError, TrainConfig
from mnist_lab.core.files import PROJECT_ROOT
from mnist_lab.core.models import STAGES
from mnist_lab.report import runner
from mnist_lab.runs.settings import PROFILES, REPORT_DIRS

NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"
NBVAL_DIR = PROJECT_ROOT / "tests" / "nbval"
STAGE_NOTEBOOKS = [name for name, folder in runner.NOTEBOOKS.items() if folder in STAGES]


def code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def parameters_cell(notebook):
    (cell,) = [c for c in code_cells(notebook) if "parameters" in c.metadata.get("tags", [])]
    return cell


def test_notebooks_are_numbered_in_story_order():
    assert sorted(p.stem for p in NOTEBOOK_DIR.glob("*.py")) == list(runner.NOTEBOOKS)
    assert list(runner.NOTEBOOKS.values()) == ["data", *STAGES, "comparison", "robustness"]


@pytest.mark.parametrize("name", STAGE_NOTEBOOKS)
def test_stage_notebook_parameters_match_the_package(name):
    notebook = jupytext.read(NOTEBOOK_DIR / f"{name}.py")
    namespace = {}
    exec(parameters_cell(notebook).source, namespace)
    assert namespace["stage"] == runner.NOTEBOOKS[name]
    assert namespace["profile"] == "full" and namespace["profile"] in PROFILES
    training = {"epochs", "batch_size", "subset", "seed", "precision"}
    assert training <= set(TrainConfig.__dataclass_fields__)  # the overrides are config fields
    declared = {k for k in namespace if not k.startswith("__")}
    assert declared == {"stage", "profile", "reports_dir", "run_dir", *training}
    assert all(namespace[k] is None for k in training)  # defaults come from the package, not the notebook


def calls_cells_only(statement: ast.stmt) -> bool:
    """`from mnist_lab.report import cells`, or `[names =] cells.something(arguments)` with plain arguments."""
    if isinstance(statement, ast.ImportFrom):
        return statement.module == "mnist_lab.report" and [a.name for a in statement.names] == ["cells"]
    value = statement.value if isinstance(statement, (ast.Expr, ast.Assign)) else None
    if not isinstance(value, ast.Call):
        return False
    function = value.func
    plain = all(isinstance(a, (ast.Name, ast.Constant)) for a in [*value.args, *(k.value for k in value.keywords)])
    return isinstance(function, ast.Attribute) and getattr(function.value, "id", None) == "cells" and plain


@pytest.mark.parametrize("path", sorted(NOTEBOOK_DIR.glob("*.py")), ids=lambda p: p.stem)
def test_notebooks_only_call_the_package(path):
    """No logic in notebooks: code cells are parameters, one import, and calls into mnist_lab.report.cells."""
    notebook = jupytext.read(path)
    assert any(cell.cell_type == "markdown" for cell in notebook.cells)
    for cell in code_cells(notebook):
        if "parameters" in cell.metadata.get("tags", []):
            continue
        for statement in ast.parse(cell.source).body:
            assert calls_cells_only(statement), ast.unparse(statement)


def test_the_notebook_check_rejects_logic():
    for source in ("import numpy", "x = 1 + 2", "for i in range(3):\n    cells.train(i)", "cells.train(config + 1)"):
        assert not all(calls_cells_only(statement) for statement in ast.parse(source).body), source


@pytest.mark.parametrize("path", sorted(NOTEBOOK_DIR.glob("*.py")), ids=lambda p: p.stem)
def test_notebook_pairs_are_in_sync_and_hold_no_outputs(path):
    """Each notebook is a jupytext pair (ipynb,py:percent): the .py for diffs, the .ipynb for
    Jupyter and plain papermill. They must hold the same cells; `make sync` pairs them."""
    assert jupytext.read(path).metadata["jupytext"]["formats"] == "ipynb,py:percent"
    paired = path.with_suffix(".ipynb")
    assert paired.is_file(), f"{paired.name} is missing: run `make sync`"
    text, notebook = jupytext.read(path), nbformat.read(paired, as_version=4)
    assert [(c.cell_type, c.source) for c in notebook.cells] == [(c.cell_type, c.source) for c in text.cells], (
        f"{paired.name} and {path.name} differ: run `make sync`"
    )
    assert not any(c.get("outputs") for c in notebook.cells), f"{paired.name} stores outputs"
    assert notebook.metadata["kernelspec"]["name"] == "python3"


def test_makefile_report_folders_match_the_package():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert dict(re.findall(r"^REPORTS_(\w+) := (\S+)$", makefile, re.M)) == REPORT_DIRS
    assert set(REPORT_DIRS) == set(PROFILES)


@pytest.mark.parametrize("name", list(runner.NOTEBOOKS))
def test_nbval_references_are_the_current_notebooks(name):
    """tests/nbval/ holds executed copies for nbval; they must not drift from notebooks/."""
    assert (NBVAL_DIR / f"{name}.ipynb").is_file(), (
        f"notebook {name} has no nbval reference: run `make nbval-refresh` (or `mnist-lab nbval-refresh {name}`) "
        "and review tests/nbval/"
    )
    reference = nbformat.read(NBVAL_DIR / f"{name}.ipynb", as_version=4)
    source = jupytext.read(NOTEBOOK_DIR / f"{name}.py")
    kept = [c for c in reference.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    assert [(c.cell_type, c.source) for c in kept] == [(c.cell_type, c.source) for c in source.cells], (
        f"tests/nbval/{name}.ipynb is stale: run `make nbval-refresh`"
    )
    injected = [c for c in reference.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and 'profile = "quick"' in injected[0].source


# --- the runner, on a tiny stand-in notebook

FAKE_NOTEBOOK = """# %% tags=["parameters"]
profile = "full"
reports_dir = None
run_dir = None

# %%
import os, pathlib
pathlib.Path(run_dir).mkdir(parents=True, exist_ok=True)
pathlib.Path(run_dir, "result.txt").write_text(os.environ.get("FAKE_RESULT", "ok"))
assert os.environ.get("FAKE_FAIL") != "1", "asked to fail"
if os.environ.get("FAKE_HANG"):
    pathlib.Path(os.environ["FAKE_HANG"]).write_text("started")
    import time; time.sleep(120)
"""


@pytest.fixture
def fake_notebooks(tmp_path, monkeypatch):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "01_dnn.py").write_text(FAKE_NOTEBOOK)
    monkeypatch.setattr(runner, "NOTEBOOK_DIR", notebooks)
    monkeypatch.setattr(runner, "NOTEBOOKS", {"01_dnn": "dnn"})
    return tmp_path / "reports"


def test_runner_publishes_skips_when_unchanged_and_keeps_reports_on_failure(fake_notebooks, monkeypatch, capsys):
    reports = fake_notebooks
    monkeypatch.setenv("FAKE_RESULT", "first")
    runner.run_notebook("01_dnn", "full", reports, log_output=False)
    published = reports / "dnn"
    assert (published / "result.txt").read_text() == "first"
    assert {p.name for p in published.iterdir()} >= {"01_dnn.ipynb", "01_dnn.html", "01_dnn.inputs.json"}

    monkeypatch.setenv("FAKE_RESULT", "second")
    runner.run_notebook("01_dnn", "full", reports, log_output=False)  # inputs unchanged: not executed
    assert "up to date" in capsys.readouterr().out
    assert (published / "result.txt").read_text() == "first"

    monkeypatch.setenv("FAKE_FAIL", "1")
    with pytest.raises(runner.NotebookFailed, match=r"notebook 01_dnn \(dnn\) failed.*untouched"):
        runner.run_notebook("01_dnn", "full", reports, log_output=False, force=True)
    assert (published / "result.txt").read_text() == "first"  # the previous report is intact
    failed = nbformat.read(reports / "failed" / "01_dnn.ipynb", as_version=4)
    assert any(o.get("ename") == "AssertionError" for c in code_cells(failed) for o in c.get("outputs", []))

    monkeypatch.delenv("FAKE_FAIL")
    runner.run_notebook("01_dnn", "full", reports, log_output=False, force=True)
    assert (published / "result.txt").read_text() == "second"
    assert not (reports / "failed" / "01_dnn.ipynb").exists()


def test_runner_rejects_unknown_parameters_and_profiles(fake_notebooks, monkeypatch):
    (runner.NOTEBOOK_DIR / "01_dnn.py").write_text(FAKE_NOTEBOOK.replace("run_dir = None\n", ""))
    with pytest.raises(ConfigError, match=r"notebook 01_dnn has no parameter\(s\) \['run_dir'\]"):
        runner.run_notebook("01_dnn", "full", fake_notebooks, log_output=False)
    with pytest.raises(ConfigError, match="unknown profile 'fast'"):
        runner.run_notebook("01_dnn", "fast", fake_notebooks, log_output=False)
    with pytest.raises(ConfigError, match="unknown notebook '09_vit'"):
        runner.run_notebook("09_vit", "full", fake_notebooks, log_output=False)


def test_a_stage_report_is_stale_when_the_previous_stage_has_new_results(tmp_path):
    reports = tmp_path / "reports"
    without = runner.fingerprint("03_cnn_reg", "full", reports)
    assert without["previous_stage"] is None
    (reports / "cnn").mkdir(parents=True)
    (reports / "cnn" / "metrics.json").write_text('{"test_accuracy": 0.99}')
    first = runner.fingerprint("03_cnn_reg", "full", reports)
    (reports / "cnn" / "metrics.json").write_text('{"test_accuracy": 0.98}')
    assert len({str(without), str(first), str(runner.fingerprint("03_cnn_reg", "full", reports))}) == 3
    assert "previous_stage" not in runner.fingerprint("01_dnn", "full", reports)  # the first stage has none


def test_the_comparison_is_stale_when_a_seed_another_precision_or_an_ablation_lands(tmp_path):
    reports = tmp_path / "reports"
    seen = {str(runner.fingerprint(runner.COMPARISON_NOTEBOOK, "full", reports))}
    folders = ("seeds/cnn_bn/seed_0", "precision/mixed_bfloat16/cnn_bn/seed_42", "ablation/constant_lr/cnn_bn/seed_0")
    for folder in folders:
        (reports / folder).mkdir(parents=True)
        (reports / folder / "metrics.json").write_text('{"test_accuracy": 0.99}')
        seen.add(str(runner.fingerprint(runner.COMPARISON_NOTEBOOK, "full", reports)))
    assert len(seen) == 1 + len(folders)


def test_a_finished_selection_candidate_redoes_notebook_05_and_the_comparison_only(tmp_path):
    reports = tmp_path / "reports"
    names = ("05_cnn_bn_aug", runner.COMPARISON_NOTEBOOK, "04_cnn_bn")
    before = {name: runner.fingerprint(name, "full", reports) for name in names}
    (reports / "selection" / "exponential_50").mkdir(parents=True)
    for run_file in ("metrics.json", "history.json"):
        (reports / "selection" / "exponential_50" / run_file).write_text("{}")
    after = {name: runner.fingerprint(name, "full", reports) for name in names}
    assert [before[name] != after[name] for name in names] == [True, True, False]


def test_an_interrupted_notebook_stops_its_kernel_and_publishes_nothing(fake_notebooks, monkeypatch, tmp_path):
    """Ctrl-C (SIGINT) or SIGTERM reach the runner, not the kernel (Jupyter gives kernels their own
    session): the runner stops the kernel and reports an interrupt, the old report stays."""
    import os
    import signal
    import threading
    import time

    reports = fake_notebooks
    runner.run_notebook("01_dnn", "full", reports, log_output=False)
    before = (reports / "dnn" / "result.txt").read_text()
    started = tmp_path / "started"
    monkeypatch.setenv("FAKE_HANG", str(started))
    monkeypatch.setenv("FAKE_RESULT", "never published")

    def press_ctrl_c():
        while not started.exists():
            time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=press_ctrl_c, daemon=True).start()
    began = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        runner.run_notebook("01_dnn", "full", reports, log_output=False, force=True)
    assert time.monotonic() - began < 60  # the kernel was stopped, not waited for
    assert (reports / "dnn" / "result.txt").read_text() == before
    assert not (reports / ".staging").exists() and not (reports / "failed").exists()


def test_two_runners_on_one_report_do_not_collide(fake_notebooks):
    from mnist_lab.core.run_dir import FolderLock, RunBusy

    with FolderLock(fake_notebooks / "dnn"):  # another runner holds this report
        with pytest.raises(RunBusy, match="another run \\(PID"):
            runner.run_notebook("01_dnn", "full", fake_notebooks, log_output=False)
    runner.run_notebook("01_dnn", "full", fake_notebooks, log_output=False)  # free again


def make_dry_run(reports, target, *extra):
    """What `make -n TARGET` would run for the quick profile with its reports in `reports`."""
    done = subprocess.run(
        ["make", "-n", "--no-print-directory", target, "PROFILE=quick", f"REPORTS_quick={reports}", *extra],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def touch(path, mtime):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}")
    os.utime(path, (mtime, mtime))


FUTURE = 4_000_000_000  # newer than every source


def test_make_leaves_staleness_to_the_runner_and_passes_force(tmp_path):
    """A notebook's make target always asks the runner, which decides by content (a report newer
    than every file is not current when a seed run it reads was added); FORCE=1 adds --force."""
    touch(tmp_path / "dnn" / "01_dnn.ipynb", FUTURE)
    assert make_dry_run(tmp_path, "01_dnn").split()[-4:] == ["notebook", "01_dnn", "--profile", "quick"]
    assert "mnist-lab notebook 01_dnn --profile quick --force" in make_dry_run(tmp_path, "01_dnn", "FORCE=1")
    comparison = runner.COMPARISON_NOTEBOOK
    assert f"mnist-lab notebook {comparison} --profile quick" in make_dry_run(tmp_path, comparison)


def test_plain_papermill_rejects_a_bad_parameter_naming_it(tmp_path):
    """`papermill notebooks/02_cnn.ipynb out.ipynb -p epochs 0` stops in the setup cell, naming epochs."""
    import papermill

    with pytest.raises(papermill.PapermillExecutionError, match="epochs must be an integer >= 1, got 0"):
        papermill.execute_notebook(
            str(NOTEBOOK_DIR / "02_cnn.ipynb"),
            str(tmp_path / "out.ipynb"),
            parameters={"epochs": 0},
            cwd=str(PROJECT_ROOT),
            progress_bar=False,
        )


def test_a_tweaked_notebook_run_leaves_the_reports_byte_identical(tmp_path):
    """Executing a stage notebook with a parameter changed trains into runs/, compares itself with
    the committed run, and writes nothing under reports/."""
    import hashlib
    import shutil

    import papermill

    from mnist_lab.runs.placement import scratch_dir
    from mnist_lab.runs.settings import resolve_config

    def snapshot():
        return {
            p: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((PROJECT_ROOT / "reports").rglob("*"))
            if p.is_file()
        }

    before = snapshot()
    tweak = resolve_config("dnn", "full", epochs=1, subset=300)
    shutil.rmtree(scratch_dir(tweak), ignore_errors=True)
    try:
        executed = papermill.execute_notebook(
            str(NOTEBOOK_DIR / "01_dnn.ipynb"),
            str(tmp_path / "out.ipynb"),
            parameters={"epochs": 1, "subset": 300},
            cwd=str(PROJECT_ROOT),
            progress_bar=False,
        )
        assert (scratch_dir(tweak) / "metrics.json").is_file()
        assert (scratch_dir(tweak) / "learning_curves.png").is_file()  # its figures stay with it
        text = "".join(
            output.get("text", "") + str(output.get("data", {}).get("text/markdown", ""))
            for cell in executed.cells
            for output in cell.get("outputs", [])
        )
        assert f"results in {scratch_dir(tweak).relative_to(PROJECT_ROOT)}/" in text
        assert "Your run against the committed one" in text and "McNemar" in text
    finally:
        shutil.rmtree(scratch_dir(tweak), ignore_errors=True)
    assert snapshot() == before


def test_a_rerender_of_the_same_content_changes_no_byte(tmp_path):
    """Issue 51: two executions of one notebook differ in cell ids and clock times only; published,
    they are the same bytes, so a diff of reports/ shows only what changed."""
    import nbformat

    from mnist_lab.report.runner import publishable

    def executed(name: str, clock: str):
        notebook = nbformat.v4.new_notebook()
        notebook.cells = [nbformat.v4.new_markdown_cell("# A"), nbformat.v4.new_code_cell("print(1)")]
        for cell in notebook.cells:  # new_*_cell draws a random id, as jupytext does on every read
            cell.metadata["papermill"] = {"start_time": clock, "end_time": clock, "duration": 0.1}
            cell.metadata["execution"] = {"iopub.execute_input": clock}
        notebook.metadata["papermill"] = {"start_time": clock, "end_time": clock, "duration": 1.0, "parameters": {}}
        path = tmp_path / name
        nbformat.write(notebook, path)
        return path

    first, second = executed("a.ipynb", "2026-12-05T09:00:00"), executed("b.ipynb", "2026-12-05T10:00:00")
    for path in (first, second):
        publishable(path, tmp_path / "staging", tmp_path / "final")
    assert first.read_bytes() == second.read_bytes()


def test_the_console_log_of_a_notebook_is_plain_text_with_repository_paths():
    import logging

    from mnist_lab.core.files import PROJECT_ROOT
    from mnist_lab.report.runner import _shown

    text = (
        "\x1b[1m Total params: \x1b[0m\x1b[38;5;34m669,706\x1b[0m (2.55 MB)\n"
        "<Figure size 1100x380 with 2 Axes>\n<IPython.core.display.Markdown object>\n"
        f"reusing the finished run in {PROJECT_ROOT}/reports/dnn\n"
    )
    record = logging.LogRecord("papermill", logging.INFO, __file__, 1, text, (), None)
    assert _shown(record)
    assert record.getMessage() == " Total params: 669,706 (2.55 MB)\nreusing the finished run in reports/dnn\n"
    only_figures = logging.LogRecord("papermill", logging.INFO, __file__, 1, "<Figure size 5x5 with 1 Axes>", (), None)
    assert not _shown(only_figures)
