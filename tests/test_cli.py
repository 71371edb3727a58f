import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import fake_run

from mnist_lab.core.files import PROJECT_ROOT
from mnist_lab.core.models import STAGES
from mnist_lab.core.run_dir import FolderLock
from mnist_lab.report.cli import build_parser, main
from mnist_lab.runs.settings import resolve_config


def test_stages_lists_every_stage(capsys):
    assert main(["stages"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == list(STAGES)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (
            ["--stage", "lenet"],
            f"unknown stage 'lenet'; valid stages: {', '.join(STAGES)}",
        ),
        (["--stage", "cnn", "--epochs", "0"], "epochs must be an integer >= 1, got 0"),
        (["--stage", "cnn", "--subset", "60001"], "subset must be an integer between 100 and 60,000"),
        (["--stage", "cnn", "--out", "{file}"], "is a file; give a directory"),
        (["--stage", "cnn", "--seed", "-1"], "seed must be an integer between 0 and 4,294,967,295, got -1"),
        (["--stage", "cnn", "--seed", str(2**32)], "seed must be an integer between 0 and 4,294,967,295"),
        (["--stage", "cnn", "--out", "{unwritable}"], "cannot write to the output folder"),
        (["--stage", "dnn", "--epochs", "1", "--data", "{file}", "--out", "{run}"], "is truncated or corrupt"),
        (["--stage", "cnn", "--no-robustness"], "keeps its robustness results: --no-robustness is for a tweak"),
    ],
)
def test_bad_values_fail_in_one_line_before_loading_anything(tmp_path, arguments, message):
    a_file = tmp_path / "a_file"
    a_file.write_text("PK")  # a truncated npz, for --data
    unwritable = "/sys/mnist_lab_run" if os.geteuid() == 0 else "/proc/mnist_lab_run"  # refused even to root
    argv = ["train", *[arg.format(file=a_file, unwritable=unwritable, run=tmp_path / "run") for arg in arguments]]
    # A fresh interpreter, so we can see that neither TensorFlow nor the data were touched;
    # $MNIST_LAB_DATA points nowhere, so loading data would fail with another message.
    probe = (
        "import sys; from mnist_lab.report.cli import main; code = main(sys.argv[1:]); "
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'; sys.exit(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *argv],
        capture_output=True,
        text=True,
        env={"MNIST_LAB_DATA": str(tmp_path / "missing"), "PATH": ""},
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mnist-lab train: error: ") and message in lines[0]
    assert not list(tmp_path.rglob(".partial")) and not (tmp_path / "runs").exists()  # nothing written
    assert not (tmp_path / "run").exists()


def test_robustness_of_a_run_without_a_model_is_refused_before_the_backend_loads(tmp_path):
    run = tmp_path / "run"
    fake_run(run, "dnn", 0.98, 200)
    probe = (
        "import sys; from mnist_lab.report.cli import main; code = main(sys.argv[1:]); "
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'; sys.exit(code)"
    )
    done = subprocess.run([sys.executable, "-c", probe, "robustness", str(run)], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        f"mnist-lab robustness: error: {run} has no model.keras to evaluate (seed runs keep theirs only on the "
        "machine that trained them): retrain it, or restore the model (mnist-lab models)"
    )


def test_data_command_prints_its_source(capsys):
    assert main(["data"]) == 0
    out = capsys.readouterr().out
    assert "MNIST verified" in out and "source: " in out


def test_data_command_reports_bad_path(tmp_path, capsys):
    assert main(["data", "--path", str(tmp_path / "nothing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_train_command_runs_a_stage(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--stage", "cnn_bn_aug", "--epochs", "1", "--subset", "200", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"results: {out}/" in printed and "test accuracy" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stage"] == "cnn_bn_aug" and metrics["augmented"] is True and metrics["epochs_run"] == 1
    assert metrics["robustness_skipped"] is False and (out / "robustness.json").is_file()
    assert "robustness suite v" in printed  # announced before it runs
    assert "trained under another protocol than the cnn_bn_aug band" in printed  # why there is no comparison


def test_a_tweak_can_skip_the_robustness_suite_and_says_so(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--stage", "dnn", "--epochs", "1", "--subset", "200", "--no-robustness", "--out", str(out)]
    assert main(argv) == 0
    assert "robustness suite" not in capsys.readouterr().out
    assert json.loads((out / "metrics.json").read_text())["robustness_skipped"] is True
    assert not (out / "robustness.json").exists()


def cli(*argv, **popen):
    return subprocess.Popen(
        [sys.executable, "-m", "mnist_lab", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        # A shell without job control starts background jobs with SIGINT ignored, and Python
        # keeps it ignored: give the child Ctrl-C back, as a terminal would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        **popen,
    )


def wait_for(path, process, seconds=120):
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.2)


def package_errors(stderr: str) -> list[str]:
    """stderr without TensorFlow's start-up log lines (absl writes them before Python runs)."""
    return [
        line
        for line in stderr.splitlines()
        if line.strip() and not line.startswith(("WARNING: All log", "I0000", "E0000", "W0000"))
    ]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_run_says_so_in_one_line_and_resumes(tmp_path, signum):
    out = tmp_path / "run"
    # A conv stage: on a fast CPU a dense stage's epochs take milliseconds, and early stopping
    # ended the whole run before the signal landed (exit 0, not 130).
    args = ["train", "--stage", "cnn", "--subset", "500", "--epochs", "10", "--out", str(out)]
    first = cli(*args)
    wait_for(out / ".partial" / "checkpoint.npz", first)  # at least one epoch finished
    first.send_signal(signum)
    _, stderr = first.communicate(timeout=60)
    assert first.returncode == 130
    assert package_errors(stderr) == [
        f"mnist-lab train: interrupted; finished epochs are kept in {out}/.partial; "
        "run the same command again to resume"
    ]
    assert not (out / "metrics.json").exists()
    done = subprocess.run([sys.executable, "-m", "mnist_lab", *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "metrics.json").read_text())["resumed_from_epoch"] >= 1


def test_a_second_run_into_the_same_folder_stops_at_once(tmp_path):
    out = tmp_path / "run"
    # A conv stage with no early stopping in sight: the first run surely still holds the folder.
    args = ["train", "--stage", "cnn", "--subset", "1000", "--epochs", "40", "--out", str(out)]
    first = cli(*args)
    try:
        wait_for(out / ".partial" / "checkpoint.npz", first)
        second = subprocess.run([sys.executable, "-m", "mnist_lab", *args], capture_output=True, text=True, timeout=120)
        assert second.returncode == 2
        assert package_errors(second.stderr) == [
            f"mnist-lab train: error: another run (PID {first.pid}) is using "
            f"{out}; wait for it to finish, or stop it, then run this again"
        ]
    finally:
        first.kill()  # a killed run releases its lock with its process
        first.communicate()
    with FolderLock(out):  # the killed run's lock went with its process
        pass


def test_a_tweak_is_refused_in_the_reports_and_goes_to_runs(capsys):
    from mnist_lab.runs.placement import run_dir_for, scratch_dir
    from mnist_lab.runs.settings import reports_root

    assert main(["train", "--stage", "dnn", "--epochs", "1", "--out", "reports/dnn"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "not the full protocol (epochs=1)" in error and "runs/dnn-" in error
    protocol, tweak = resolve_config("dnn"), resolve_config("dnn", epochs=1)
    default = reports_root("full") / "dnn"
    assert run_dir_for(protocol, "full", default) == default  # the protocol reads the committed run
    assert run_dir_for(tweak, "full", default) == scratch_dir(tweak) == scratch_dir(resolve_config("dnn", epochs=1))
    assert scratch_dir(tweak) != scratch_dir(resolve_config("dnn", epochs=2))


@pytest.mark.parametrize(
    "damage, what",
    [
        (lambda p: p.write_text(p.read_text()[:40]), "not JSON"),
        (lambda p: p.write_text("{}"), "non-empty JSON object"),
        (lambda p: p.write_text('{"epochs_run": 3}'), "no best_epoch"),
    ],
    ids=["truncated", "empty", "missing-key"],
)
def test_a_damaged_run_file_is_one_line_and_exit_2(tmp_path, capsys, damage, what):
    from conftest import fake_run

    run = fake_run(tmp_path / "run", "cnn", 0.99, 100)
    damage(run / "metrics.json")
    assert main(["verify", str(run)]) == 2  # never verify's 1, "outside the band"
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f"{run / 'metrics.json'} is damaged" in error and what in error
    assert "git checkout" not in error and f"delete {run} to train the run again" in error  # git has no copy


def test_a_damaged_committed_file_is_restored_from_git_and_named_where_it_is_published(tmp_path):
    from conftest import fake_run

    from mnist_lab.core.files import PROJECT_ROOT
    from mnist_lab.core.run_dir import DamagedRun
    from mnist_lab.report.runner import run_notebook

    committed = DamagedRun(PROJECT_ROOT / "reports" / "dnn" / "metrics.json", "not JSON")
    assert "restore it with `git checkout -- reports/dnn/metrics.json`, or delete reports/dnn" in str(committed)
    run = fake_run(tmp_path / "dnn", "dnn", 0.98, 200)
    (run / "metrics.json").write_text('{"broken')
    with pytest.raises(DamagedRun, match=f"^{run / 'metrics.json'} is damaged"):  # not the staging copy's
        run_notebook("01_dnn", "quick", reports=tmp_path)


def test_damaged_probabilities_name_the_file(tmp_path):
    import numpy as np
    from conftest import fake_run

    from mnist_lab.core.run_dir import DamagedRun, load_run

    run = fake_run(tmp_path / "run", "cnn", 0.99, 100, probabilities=np.full((10, 10), 0.1))
    (run / "test_probabilities.npz").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(DamagedRun, match="test_probabilities.npz is damaged"):
        load_run(run).probabilities()


def test_a_full_disk_while_publishing_is_one_line_and_keeps_nothing_half_written(tmp_path, capsys, monkeypatch):
    import errno

    from mnist_lab.core import train

    out = tmp_path / "run"

    def full(path, payload):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(train, "write_json", full)
    assert main(["train", "--stage", "dnn", "--epochs", "1", "--subset", "200", "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "No space left on device" in error and f"in {out}/" in error
    assert not (out / "metrics.json").exists()  # not taken for finished
    assert (out / ".partial" / "checkpoint.npz").is_file()  # the trained epochs are kept: the same command resumes


def test_notebook_checks_every_name_before_running_any(capsys, monkeypatch):
    from mnist_lab.report import runner

    ran = []
    monkeypatch.setattr(runner, "run_notebook", lambda name, *args, **kwargs: ran.append(name))
    assert main(["notebook", "01_dnn", "99_nope"]) == 2
    assert ran == [] and "unknown notebook '99_nope'" in capsys.readouterr().err
    assert main(["notebook", "01_dnn", "02_cnn", "--profile", "quick"]) == 0
    assert ran == ["01_dnn", "02_cnn"]  # in the order given, in one process


def test_the_command_line_page_names_every_option_of_every_command():
    """docs/cli.md is where a user reads the commands: an option added to the parser but not
    to the page is one a user never learns of (the sweep's --engine was, once)."""
    page = (PROJECT_ROOT / "docs" / "cli.md").read_text()
    commands = next(a for a in build_parser()._actions if a.dest == "command").choices
    missing = [
        f"{name} {option}"
        for name, parser in commands.items()
        for action in parser._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help" and option not in page
    ]
    assert not missing, f"docs/cli.md does not mention: {', '.join(missing)}"
