"""Execute the notebooks with papermill into reports/, one stage at a time, safely.

`run_notebook("02_cnn", profile="full")`:

1. reads notebooks/02_cnn.py (jupytext) and checks the parameters against the notebook's
   `parameters` cell: an unknown parameter is an error, not papermill's warning;
2. executes it into a staging folder, reports/.staging/cnn/, where an interrupted
   training run also resumes from;
3. on success, writes the executed notebook and its HTML rendering (nbconvert), then
   swaps the staging folder in for reports/cnn/ in one rename;
4. on failure, leaves reports/cnn/ untouched, saves the executed notebook (papermill
   marks the failing cell) as reports/failed/02_cnn.ipynb, and raises an error naming
   the stage.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from mnist_lab.core.config import ConfigError
from mnist_lab.core.files import PROJECT_ROOT, atomic_path, project_relative, read_json, sha256_files, write_json
from mnist_lab.core.models import STAGES, previous_stage
from mnist_lab.core.provenance import machine_label, trained_in
from mnist_lab.core.run_dir import PARTIAL_DIR, ROBUSTNESS_RESULTS, RUN_FILES, FolderLock, check_writable, load_run
from mnist_lab.findings.claims import judge_bands
from mnist_lab.report.quiet import clean
from mnist_lab.report.results import update_findings_doc, update_readme, write_reports_readme
from mnist_lab.runs.layout import ABLATION_DIR, PRECISION_DIR, SEEDS_DIR
from mnist_lab.runs.settings import BASE_STAGE, PROFILES, SELECTION_DIR, check_profile, reports_root, resolve_config

NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"
# The rule that finds the notebooks (notebooks/NN_name.py, run in the order of NN): 00_data
# first; one notebook per stage, named after the stage, numbered 01-89 in ladder order; then the
# study notebooks that read every stage, 90_comparison and 91_robustness. Adding a stage is
# adding its notebook under a free number below 90: nothing is renumbered.
STUDY_NOTEBOOKS = {"data": "00", "comparison": "90", "robustness": "91"}


def find_notebooks(folder=None) -> dict[str, str]:
    """Notebook name -> the report folder it owns (a stage notebook owns its stage's folder),
    from the files in notebooks/ by the rule above; a file that breaks the rule is an error."""
    names = sorted(path.stem for path in Path(folder or NOTEBOOK_DIR).glob("[0-9][0-9]_*.py"))
    found = {}
    for name in names:
        number, _, subject = name.partition("_")
        if subject in STAGES:
            if not 1 <= int(number) < 90:
                raise ConfigError(f"notebooks/{name}.py: a stage's notebook takes a number from 01 to 89")
        elif STUDY_NOTEBOOKS.get(subject) != number:
            raise ConfigError(
                f"notebooks/{name}.py is neither a stage's notebook (NN_STAGE, a name in mnist_lab.core.models.STAGES) "
                f"nor one of {', '.join(f'{n}_{s}' for s, n in STUDY_NOTEBOOKS.items())}"
            )
        found[name] = subject
    missing = [stage for stage in STAGES if stage not in found.values()]
    if missing:
        parent = STAGES[missing[0]].parent
        # The doc's advice: start from the parent's notebook, the stage it changes one ingredient of.
        source = next((f"notebooks/{name}.py" for name, stage in found.items() if stage == parent), None)
        raise ConfigError(
            f"stage {', '.join(missing)} has no notebook: copy "
            + (f"its parent's ({source})" if source else "the closest stage's")
            + f" to notebooks/NN_{missing[0]}.py under a free number below 90, set its stage, then `make sync` "
            "(docs/adding-a-stage.md)"
        )
    return found


try:
    NOTEBOOKS = find_notebooks()
    NOTEBOOK_ERROR: ConfigError | None = None
except ConfigError as err:  # said when a notebook is asked for, not on every import (mnist-lab stages works)
    NOTEBOOKS, NOTEBOOK_ERROR = {}, err
COMPARISON_NOTEBOOK = f"{STUDY_NOTEBOOKS['comparison']}_comparison"
ROBUSTNESS_NOTEBOOK = f"{STUDY_NOTEBOOKS['robustness']}_robustness"


class NotebookFailed(RuntimeError):
    """A notebook raised; the message names it and where its executed copy is."""


def check_notebook(name: str) -> None:
    if NOTEBOOK_ERROR is not None:
        raise NOTEBOOK_ERROR
    if name not in NOTEBOOKS:
        raise ConfigError(f"unknown notebook {name!r}; valid notebooks: {', '.join(NOTEBOOKS)}")


def read_notebook(name: str):
    import jupytext

    check_notebook(name)
    notebook = jupytext.read(NOTEBOOK_DIR / f"{name}.py")
    # papermill needs a kernelspec; the runner always executes with this one.
    notebook.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    return notebook


def notebook_parameters(name: str, profile: str, reports: Path, staging: Path) -> dict:
    """What make passes: the profile and folders. Every training setting comes from the profile."""
    parameters = {"profile": profile}
    folder = NOTEBOOKS[name]
    if folder in STAGES:
        parameters.update(reports_dir=project_relative(reports), run_dir=project_relative(staging))
    elif folder in ("comparison", "robustness"):  # figures go through staging: published whole, or not at all
        parameters.update(reports_dir=project_relative(reports), out_dir=project_relative(staging))
    return parameters


def check_parameters(name: str, notebook_path: Path, parameters: dict) -> None:
    """An unknown parameter is an error here (papermill itself would only warn)."""
    import papermill

    declared = set(papermill.inspect_notebook(str(notebook_path)))
    unknown = sorted(set(parameters) - declared)
    if unknown:
        raise ConfigError(
            f"notebook {name} has no parameter(s) {unknown}; "
            f"its parameters cell declares: {', '.join(sorted(declared))}"
        )


def fingerprint(name: str, profile: str, reports: Path) -> dict:
    """What a notebook's report depends on, by content (mtimes lie in a fresh clone)."""
    inputs = {
        "notebook": sha256_files([NOTEBOOK_DIR / f"{name}.py"]),
        "package": sha256_files((PROJECT_ROOT / "mnist_lab").rglob("*.py")),
        "profile": profile,
        "profile_settings": PROFILES[profile],
    }
    if NOTEBOOKS[name] in STAGES:  # the run the report shows: changed or damaged, the report is stale
        inputs["run"] = run_fingerprint(reports / NOTEBOOKS[name])
    before = previous_stage(NOTEBOOKS[name]) if NOTEBOOKS[name] in STAGES else None
    if before is not None:  # a stage notebook compares itself with the previous stage's results
        previous_metrics = reports / before / "metrics.json"
        inputs["previous_stage"] = sha256_files([previous_metrics]) if previous_metrics.is_file() else None
    if NOTEBOOKS[name] in ("comparison", "robustness"):  # redone when any stage's results change
        inputs["stages"] = {
            stage: sha256_files([reports / stage / "metrics.json"])
            for stage in STAGES
            if (reports / stage / "metrics.json").is_file()
        }
        # and the robustness results the README's lines and the robustness notebook read
        stored = sorted(
            [
                *reports.glob(f"*/{ROBUSTNESS_RESULTS}"),
                *(reports / SEEDS_DIR).glob(f"*/seed_*/{ROBUSTNESS_RESULTS}"),
            ]
        )
        inputs["robustness"] = {str(path.parent.relative_to(reports)): sha256_files([path]) for path in stored}
    if NOTEBOOKS[name] == "comparison":  # redone when any seed's results change
        # the seed sweep, the sweeps in another precision, and the ablations the claims judge
        seeds = sorted(
            [
                *(reports / SEEDS_DIR).glob("*/seed_*/metrics.json"),
                *(reports / PRECISION_DIR).glob("*/*/seed_*/metrics.json"),
                *(reports / ABLATION_DIR).glob("*/*/seed_*/metrics.json"),
            ]
        )
        inputs["seeds"] = {str(path.parent.relative_to(reports)): sha256_files([path]) for path in seeds}
    if NOTEBOOKS[name] in (BASE_STAGE, "comparison"):  # the selection's record, and the answer it gives
        finished = sorted(path.parent for path in (reports / SELECTION_DIR).glob("*/metrics.json"))
        inputs["selection"] = {run.name: sha256_files([run / "metrics.json", run / "history.json"]) for run in finished}
    return inputs


def run_fingerprint(run_dir: Path) -> str | None:
    """The content hash of a run's files (None: no finished run there)."""
    files = [run_dir / name for name in RUN_FILES if name != "model.keras" and (run_dir / name).is_file()]
    return sha256_files(files) if (run_dir / "metrics.json").is_file() else None


def export_html(notebook_path: Path, html_path: Path) -> None:
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(notebook_path, as_version=4))
    with atomic_path(html_path) as tmp:
        tmp.write_text(body, encoding="utf-8")


# (staging folder, the folder it is published to) of the notebook running now, for its log lines.
_PUBLISHED_AS: list[tuple[str, str]] = []


def _renames(staging: Path, final_dir: Path) -> list[tuple[str, str]]:
    return [
        (str(staging.resolve()), str(final_dir.resolve())),
        (project_relative(staging), project_relative(final_dir)),
    ]


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_DISPLAY_REPR = re.compile(r"<(Figure size \d+x\d+ with \d+ Axes|IPython\.core\.display\.\w+ object)>")


def _shown(record: logging.LogRecord) -> bool:
    """A papermill log record worth printing, without TensorFlow's start-up notices (quiet.clean)
    and naming the staging folder as the folder it is published to."""

    message = _ANSI.sub("", clean(record.getMessage()))  # Keras' summaries colour a terminal, not a log
    # The reprs of what a cell displays (figures, Markdown): the report shows them, the console cannot.
    message = "".join(line for line in message.splitlines(keepends=True) if not _DISPLAY_REPR.match(line.strip()))
    for old, new in _PUBLISHED_AS:
        message = message.replace(old, new)
    message = message.replace(f"{PROJECT_ROOT}/", "")  # paths as a reader of the repository names them
    if not message.strip() or message.startswith(
        ("Executing Cell", "Ending Cell", "Input Notebook", "Output Notebook", "Working directory")
    ):
        return False
    record.msg, record.args = message, ()
    return True


def _show_papermill_log() -> None:
    """papermill logs the notebook's output (one line per training epoch) at INFO: print it."""
    logger = logging.getLogger("papermill")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("   %(message)s"))
        handler.addFilter(_shown)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def training_cost(stage: str, profile: str, reports: Path, run_dir: Path) -> str | None:
    """One line said before a stage's notebook trains it (None when it reuses a finished run): its
    budget, and what that took for its parent's run here, on the machine that run records."""
    from mnist_lab.core.train import load_finished  # imports the backend: only for a stage notebook

    config = resolve_config(stage, profile)
    if load_finished(config, run_dir) is not None:
        return None
    line = f"== {stage}: no finished run of this config: the notebook trains it now, up to {config.epochs} epochs"
    parent = STAGES[stage].parent
    if parent is None or not (reports / parent / "metrics.json").is_file():
        return line + " (no parent run to estimate the time from)"
    metrics = read_json(reports / parent / "metrics.json")
    minutes = metrics["training_seconds"] / metrics["epochs_run"] / 60
    machines = " + ".join(dict.fromkeys(machine_label(env) for env in trained_in(metrics)))
    return (
        line + f": about {minutes * config.epochs:.0f} min if an epoch costs what one of its parent {parent}'s "
        f"did ({minutes:.1f} min on {machines}); a stopped run resumes from its last epoch"
    )


def run_notebook(name: str, profile: str = "full", reports=None, log_output: bool = True, force: bool = False) -> Path:
    """Execute notebook `name` into its report folder (see the module's docstring).

    Everything is checked before any work starts (the name, the profile, a writable reports
    folder), and one runner at a time works on a report: a second stops at once (RunBusy).
    """
    check_profile(profile)
    check_notebook(name)
    reports = Path(reports or reports_root(profile))
    check_writable(reports)
    with FolderLock(reports / NOTEBOOKS[name]):
        try:
            return _run_locked(name, profile, reports, log_output, force)
        finally:
            _tidy_staging(reports, NOTEBOOKS[name])


def _run_locked(name, profile, reports: Path, log_output: bool, force: bool) -> Path:
    """Run one notebook in its staging folder and swap the finished report in, each concern a step:
    skip it when its inputs are unchanged, stage it, execute it, publish it, write the READMEs."""
    folder = NOTEBOOKS[name]
    final_dir = reports / folder
    inputs = fingerprint(name, profile, reports)
    if not force and _up_to_date(name, final_dir, inputs):
        return final_dir
    staging = reports / ".staging" / folder
    source, executed, parameters = _stage(name, profile, reports, final_dir, staging)
    print(f"== {name}: executing", flush=True)
    if folder in STAGES and (cost := training_cost(folder, profile, reports, staging)):
        print(cost, flush=True)
    _execute(name, source, executed, parameters, reports, final_dir, log_output)
    _publish(name, inputs, executed, staging, final_dir)
    if folder in ("comparison", "robustness"):  # both READMEs show their figures and lines
        _write_readmes(reports, profile)
    (reports / "failed" / f"{name}.ipynb").unlink(missing_ok=True)
    print(f"== {name}: report in {project_relative(final_dir)}", flush=True)
    return final_dir


def _up_to_date(name: str, final_dir: Path, inputs: dict) -> bool:
    """The published report was made from exactly these inputs (runner.fingerprint)."""
    report, inputs_path = final_dir / f"{name}.ipynb", final_dir / f"{name}.inputs.json"
    if not (report.is_file() and inputs_path.is_file() and read_json(inputs_path) == inputs):
        return False
    report.touch()  # tell make it is current
    print(f"== {name}: up to date ({project_relative(report)}; inputs unchanged)", flush=True)
    return True


def _stage(name: str, profile: str, reports: Path, final_dir: Path, staging: Path) -> tuple[Path, Path, dict]:
    """The staging folder made ready: a previous attempt's notebook gone, a stage's finished run
    copied in (for reuse), the notebook written with its parameters checked.
    -> (the notebook to execute, where the executed one goes, its parameters)."""
    import nbformat

    folder = NOTEBOOKS[name]
    notebook = read_notebook(name)  # only now: jupytext and nbformat take seconds to import
    parameters = notebook_parameters(name, profile, reports, staging)
    if folder in STAGES and (final_dir / "metrics.json").is_file():
        load_run(final_dir)  # a damaged run file: one line naming it here, before the kernel starts
    staging.mkdir(parents=True, exist_ok=True)
    for stale in staging.glob("*.ipynb"):  # a previous attempt's notebook; keep .partial/ to resume
        stale.unlink()
    if folder in STAGES:
        # The finished run, if any: run_stage reuses it when its config and training code are
        # unchanged, so a notebook or plotting change re-renders without retraining.
        for run_file in RUN_FILES:
            if (final_dir / run_file).is_file() and not (staging / run_file).exists():
                shutil.copy2(final_dir / run_file, staging / run_file)
    source, executed = staging / f".{name}.source.ipynb", staging / f"{name}.ipynb"
    nbformat.write(notebook, source)
    try:
        check_parameters(name, source, parameters)
    except ConfigError:
        source.unlink()
        raise
    return source, executed, parameters


def _execute(name, source: Path, executed: Path, parameters: dict, reports: Path, final_dir: Path, log_output: bool):
    """papermill runs the staged notebook; a failure keeps the executed notebook in reports/failed/
    and leaves the published report untouched; an interrupt stops the kernel."""
    import papermill

    _PUBLISHED_AS[:] = _renames(source.parent, final_dir)
    if log_output:
        _show_papermill_log()
    try:
        with _stop_kernel_on_interrupt() as interrupt:
            papermill.execute_notebook(
                str(source),
                str(executed),
                parameters=parameters,
                kernel_name="python3",
                cwd=str(PROJECT_ROOT),
                log_output=log_output,
                progress_bar=False,
            )
        if interrupt["signal"]:
            raise KeyboardInterrupt
    except Exception as err:  # PapermillExecutionError, a dead kernel
        if interrupt["signal"]:  # we stopped the kernel ourselves: an interrupt, not a failure
            raise KeyboardInterrupt from None
        failed = reports / "failed" / f"{name}.ipynb"
        failed.parent.mkdir(parents=True, exist_ok=True)
        if executed.is_file():
            shutil.copyfile(executed, failed)
        where = f"; the executed notebook is {failed}" if failed.is_file() else ""
        raise NotebookFailed(
            f"notebook {name} ({NOTEBOOKS[name]}) failed: {type(err).__name__}: "
            f"{str(err).strip().splitlines()[-1] if str(err).strip() else ''}{where}. "
            f"The previous report in {final_dir} is untouched."
        ) from err
    finally:
        source.unlink(missing_ok=True)


def _publish(name: str, inputs: dict, executed: Path, staging: Path, final_dir: Path) -> None:
    """The executed notebook made publishable, its HTML and inputs written, the folder swapped in whole."""
    publishable(executed, staging, final_dir)
    export_html(executed, staging / f"{name}.html")
    if NOTEBOOKS[name] in STAGES:  # the run as the notebook left it (trained, or reused unchanged)
        inputs = {**inputs, "run": run_fingerprint(staging)}
    write_json(staging / f"{name}.inputs.json", inputs)
    executed.touch()  # newest file in the folder: make's target
    _swap_in(staging, final_dir)


def _write_readmes(reports: Path, profile: str) -> None:
    """reports/README.md and, for the repository's own full reports, the README's generated section,
    both from one judgement of every band."""
    claims = judge_bands(reports, profile)
    write_reports_readme(reports, profile, claims)
    if profile == "full" and reports.resolve() == reports_root("full").resolve():
        update_readme(PROJECT_ROOT / "README.md", reports, claims=claims)  # the repository's own results only
        update_findings_doc(PROJECT_ROOT / "docs" / "findings.md", claims)


def publishable(executed: Path, staging: Path, final_dir: Path) -> None:
    """The executed notebook as a reader should see it: the staging folder it ran in named as the
    folder it is published to, TensorFlow's start-up notices dropped from its stderr outputs
    (mnist_lab.report.quiet), and papermill's record of this machine's paths and clock left out."""
    import nbformat

    notebook = nbformat.read(executed, as_version=4)
    renames = _renames(staging, final_dir)

    def published(text: str) -> str:
        for old, new in renames:
            text = text.replace(old, new)
        return text

    for cell in notebook.cells:
        cell.source = published(cell.source)
        outputs = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                output["text"] = published(clean(output["text"]) if output.get("name") == "stderr" else output["text"])
                if not output["text"]:
                    continue
            for key, value in (output.get("data") or {}).items():
                if key.startswith("text/") and isinstance(value, str):
                    output["data"][key] = published(value)
            outputs.append(output)
        if "outputs" in cell:
            cell.outputs = outputs
    # A re-render of the same content must change no byte: no clock times, and cell ids by position
    # (jupytext draws new random ones on every read).
    for index, cell in enumerate(notebook.cells):
        cell.id = f"cell-{index}"
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
    record = notebook.metadata.get("papermill", {})
    for key in ("input_path", "output_path", "start_time", "end_time", "duration"):
        record.pop(key, None)
    for key, value in record.get("parameters", {}).items():
        if isinstance(value, str):
            record["parameters"][key] = published(value)
    nbformat.write(notebook, executed)


@contextlib.contextmanager
def _stop_kernel_on_interrupt():
    """Ctrl-C or SIGTERM while a notebook runs stops its kernel, and the run reports an interrupt.

    Jupyter starts kernels in a session of their own, so the terminal's Ctrl-C never reaches
    them: without this, training would go on and the report would be published anyway. The
    kernel's checkpoint is written whole after every epoch, so stopping it loses at most the
    epoch in progress.
    """
    import psutil

    state = {"signal": None}

    def stop(signum, frame):
        state["signal"] = signum
        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                child.terminate()

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield state
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _tidy_staging(reports: Path, folder: str) -> None:
    """Leave no clutter: a staging folder holding no interrupted training goes, and so does
    .staging/ once empty. (Safe: the caller holds this report's lock.)"""
    staging_root = reports / ".staging"
    staging = staging_root / folder
    if staging.is_dir() and not (staging / PARTIAL_DIR).is_dir():
        shutil.rmtree(staging)
    if not staging.is_dir():
        (staging_root / f".{folder}.lock").unlink(missing_ok=True)  # run_stage's lock, beside the folder
    with contextlib.suppress(OSError):
        staging_root.rmdir()  # only if empty


def _swap_in(staging: Path, final_dir: Path) -> None:
    """Replace final_dir by staging: the old report is kept until the new one is in place."""
    if final_dir.exists():
        retired = Path(tempfile.mkdtemp(dir=final_dir.parent, prefix=f".{final_dir.name}.old."))
        os.replace(final_dir, retired / final_dir.name)
        os.replace(staging, final_dir)
        shutil.rmtree(retired)
    else:
        os.replace(staging, final_dir)


# --- nbval references: executed copies of the notebooks that `make test` re-runs and compares.

NBVAL_DIR = PROJECT_ROOT / "tests" / "nbval"


def strip_for_nbval(notebook) -> None:
    """Keep what nbval compares, drop the rest: outputs of cells tagged nbval-ignore-output,
    image data (nbval does not compare images), and papermill's timing metadata."""
    for cell in notebook.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        if "nbval-ignore-output" in cell.metadata.get("tags", []):
            cell.outputs = []
            continue
        for output in cell.outputs:
            for mime in [m for m in output.get("data", {}) if m.startswith("image/")]:
                del output["data"][mime]
    notebook.metadata.pop("papermill", None)


def refresh_nbval(names=None) -> list[Path]:
    """Execute notebooks with the quick profile and store them in tests/nbval/.

    Only `profile` is injected: the notebooks then find their folders themselves
    (reports-quick/), so the references hold no machine-specific path.
    """
    import nbformat
    import papermill

    written = []
    for name in names or ["00_data"]:  # every name checked (and the notebooks' rule) before any runs
        check_notebook(name)
    NBVAL_DIR.mkdir(parents=True, exist_ok=True)
    for name in names or NOTEBOOKS:
        with tempfile.TemporaryDirectory() as tmp:
            source, executed = Path(tmp) / f"{name}.ipynb", Path(tmp) / f"{name}.out.ipynb"
            nbformat.write(read_notebook(name), source)
            print(f"== {name}: executing for nbval (profile quick)", flush=True)
            papermill.execute_notebook(
                str(source),
                str(executed),
                parameters={"profile": "quick"},
                kernel_name="python3",
                cwd=str(NBVAL_DIR),
                progress_bar=False,
            )
            notebook = nbformat.read(executed, as_version=4)
        strip_for_nbval(notebook)
        target = NBVAL_DIR / f"{name}.ipynb"
        with atomic_path(target) as tmp_target:
            nbformat.write(notebook, tmp_target)
        written.append(target)
    return written
