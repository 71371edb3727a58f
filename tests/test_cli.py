import json
import subprocess
import sys

import pytest

from mnist_lab.cli import main


def test_stages_lists_every_stage(capsys):
    assert main(["stages"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == ["dnn", "cnn", "cnn_reg", "cnn_bn", "cnn_bn_aug"]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--stage", "lenet"], "unknown stage 'lenet'; valid stages: dnn, cnn, cnn_reg, cnn_bn, cnn_bn_aug"),
        (["--stage", "cnn", "--epochs", "0"], "epochs must be an integer >= 1, got 0"),
        (["--stage", "cnn", "--subset", "60001"], "subset must be an integer between 100 and 60,000"),
        (["--stage", "cnn", "--out", "{file}"], "is a file; give a directory"),
    ],
)
def test_bad_values_fail_in_one_line_before_loading_anything(tmp_path, arguments, message):
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    argv = ["train", *[arg.format(file=a_file) for arg in arguments]]
    # A fresh interpreter, so we can see that neither TensorFlow nor the data were touched;
    # $MNIST_LAB_DATA points nowhere, so loading data would fail with another message.
    probe = (
        "import sys; from mnist_lab.cli import main; code = main(sys.argv[1:]); "
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'; sys.exit(code)"
    )
    done = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True,
                          env={"MNIST_LAB_DATA": str(tmp_path / "missing"), "PATH": ""}, timeout=60)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mnist-lab train: error: ") and message in lines[0]


def test_data_command_prints_its_source(capsys):
    assert main(["data"]) == 0
    out = capsys.readouterr().out
    assert "MNIST verified" in out and "source: " in out


def test_data_command_reports_bad_path(tmp_path, capsys):
    assert main(["data", "--path", str(tmp_path / "nothing")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_train_command_runs_a_stage(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--stage", "cnn_bn_aug", "--epochs", "1", "--subset", "200", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"results: {out}/" in printed and "test accuracy" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stage"] == "cnn_bn_aug" and metrics["augmented"] is True and metrics["epochs_run"] == 1
