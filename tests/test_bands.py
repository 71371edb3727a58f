"""Issue 42: one band per Keras backend, a sweep that trains
several runs at once, and runs that travel to a GPU machine and back."""

import os
import tarfile

import pytest
from conftest import fake_run

from mnist_lab.core.config import ConfigError
from mnist_lab.core.files import write_json
from mnist_lab.core.run_dir import load_run
from mnist_lab.findings import claims, verify
from mnist_lab.report import claims_tables
from mnist_lab.runs.layout import band_label, bands, seed_run_dir, stage_seeds

# --- bands: never pooled, verify against its own

EPOCH = [{"epoch": 1, "accuracy": 0.99, "val_accuracy": 0.99, "loss": 0.05, "val_loss": 0.05, "learning_rate": 1e-3}]


@pytest.fixture
def two_bands(tmp_path):
    for seed, accuracy in ((42, 0.9960), (0, 0.9959), (1, 0.9961)):
        fake_run(seed_run_dir(tmp_path, "cnn_bn", seed), "cnn_bn", accuracy, 40, seed=seed, history=EPOCH)
    for seed, accuracy in ((0, 0.9930), (1, 0.9932), (2, 0.9928)):
        out = seed_run_dir(tmp_path, "cnn_bn", seed, backend="jax")
        assert out == tmp_path / "backends" / "jax" / "seeds" / "cnn_bn" / f"seed_{seed}"
        fake_run(out, "cnn_bn", accuracy, 70, seed=seed, backend="jax", history=EPOCH)
    return tmp_path


def test_each_backend_is_its_own_band(two_bands):
    assert [run.seed for run in stage_seeds(two_bands, "cnn_bn")] == [0, 1, 42]
    assert [run.seed for run in stage_seeds(two_bands, "cnn_bn", backend="jax")] == [0, 1, 2]
    assert list(bands(two_bands)) == ["tensorflow", "jax"]
    assert band_label("jax", stage_seeds(two_bands, "cnn_bn", backend="jax")) == "JAX, CPU"
    # A JAX run placed in the TensorFlow tree is not a TensorFlow seed.
    fake_run(seed_run_dir(two_bands, "cnn_bn", 9), "cnn_bn", 0.5, 5000, seed=9, backend="jax")
    assert 9 not in [run.seed for run in stage_seeds(two_bands, "cnn_bn")]


def test_verify_compares_a_run_with_its_own_backends_band(two_bands, tmp_path_factory):
    mine = tmp_path_factory.mktemp("mine") / "run"
    fake_run(mine, "cnn_bn", 0.9931, 69, seed=7, backend="jax")
    result = verify.check_run(load_run(mine), two_bands)
    assert result.code == verify.INSIDE and "JAX, CPU band" in result.lines[0]  # outside TensorFlow's by far
    tf_run = tmp_path_factory.mktemp("tf") / "run"
    fake_run(tf_run, "cnn_bn", 0.9931, 69, seed=7)
    assert verify.check_run(load_run(tf_run), two_bands).code == verify.OUTSIDE


def test_the_claims_table_has_a_column_per_band_and_says_where_they_disagree(two_bands):
    for seed, accuracy in ((0, 0.9950), (1, 0.9952), (42, 0.9951)):
        fake_run(seed_run_dir(two_bands, "cnn_reg", seed), "cnn_reg", accuracy, 50, seed=seed, history=EPOCH)
    for seed, accuracy in ((0, 0.9960), (1, 0.9962), (2, 0.9961)):
        out = seed_run_dir(two_bands, "cnn_reg", seed, backend="jax")
        fake_run(out, "cnn_reg", accuracy, 40, seed=seed, backend="jax", history=EPOCH)
    banded = claims.judge_bands(two_bands)
    assert list(banded) == ["TensorFlow, CPU", "JAX, CPU"]
    index = next(
        i for i, part in enumerate(claims.PARTS) if part.prediction.startswith("cnn_bn's mean test accuracy is above")
    )
    assert banded["TensorFlow, CPU"].rows[index].verdict == claims.SUPPORTED
    assert banded["JAX, CPU"].rows[index].verdict == claims.CONTRADICTED
    assert claims_tables.disagreement(banded, index)
    table = claims_tables.summary_table(banded)
    assert "| TensorFlow, CPU | JAX, CPU | bands |" in table and "**the bands disagree**" in table


def test_a_finished_run_of_another_backend_is_neither_reused_nor_replaced(tmp_path):
    from mnist_lab.core.train import run_stage
    from mnist_lab.runs.settings import resolve_config

    out = fake_run(tmp_path / "run", "dnn", 0.98, 200, backend="jax")
    with pytest.raises(ConfigError, match="trained under the jax backend"):
        run_stage(resolve_config("dnn"), out)
    assert load_run(out).metrics["test_accuracy"] == 0.98  # untouched


# --- runs that travel


def test_packed_runs_are_received_only_when_complete_and_under_the_protocol(tmp_path):
    from mnist_lab.core.train import TRAINING_VERSION
    from mnist_lab.runs.settings import resolve_config
    from mnist_lab.runs.transfer import Packer, receive

    device = tmp_path / "device"
    packer = Packer(tmp_path / "out", device)

    def config(**changes):
        return {key: value for key, value in resolve_config("dnn", **changes).to_dict().items() if key != "stage"}

    good = seed_run_dir(device, "dnn", 3, backend="jax")
    fake_run(good, "dnn", 0.98, 200, backend="jax", **config(seed=3))
    tweaked = seed_run_dir(device, "dnn", 4, backend="jax")
    fake_run(tweaked, "dnn", 0.98, 200, backend="jax", **config(seed=4, epochs=2))
    for path in (good, tweaked):
        metrics = load_run(path).metrics
        write_json(path / "metrics.json", {**metrics, "training_version": TRAINING_VERSION})
        for name in ("test_probabilities.npz", "robustness.json", "robustness_predictions.npz"):
            (path / name).write_bytes(b"x")
        packer(load_run(path))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["runs_0.tar", "runs_1.tar"]
    with tarfile.open(tmp_path / "out" / "runs_0.tar") as tar:
        assert "backends/jax/seeds/dnn/seed_3/metrics.json" in tar.getnames()

    here = tmp_path / "here"
    outcomes = {item.name: item.outcome for item in receive(tmp_path / "out", here)}
    assert outcomes["backends/jax/seeds/dnn/seed_3"] == "added"
    assert outcomes["backends/jax/seeds/dnn/seed_4"].startswith("refused: not the full protocol of dnn: epochs 2")
    assert [run.seed for run in stage_seeds(here, "dnn", backend="jax")] == [3]
    again = {item.name: item.outcome for item in receive(tmp_path / "out", here)}
    assert again["backends/jax/seeds/dnn/seed_3"] == "already here"
    with pytest.raises(ConfigError, match="holds no .tar packs"):
        receive(tmp_path / "nothing-here", here)


def test_a_sweep_trains_two_runs_at_once(tmp_path, capsys):
    from mnist_lab.runs.sweep import run_sweep

    runs = run_sweep(["dnn", "constant_lr/dnn"], [0], "quick", tmp_path, jobs=2, log_dir=tmp_path / "logs")
    assert [(run.stage, run.path) for run in runs] == [
        ("dnn", seed_run_dir(tmp_path, "dnn", 0)),
        ("dnn", seed_run_dir(tmp_path, "dnn", 0, ablation="constant_lr")),
    ]
    out = capsys.readouterr().out
    assert out.count("finished ") == 2 and "images/s" in out
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == ["constant_lr-dnn-seed_0.log", "dnn-seed_0.log"]


# --- issue 50: what every run process of a sweep starts with


def test_parallel_runs_share_a_gpu_and_the_cores(monkeypatch):
    from mnist_lab.runs.sweep import run_environment

    monkeypatch.setattr("os.cpu_count", lambda: 16)
    shared = run_environment(8, backend="tensorflow")
    assert shared["KERAS_BACKEND"] == "tensorflow"  # stated: a worker elsewhere does not inherit it
    assert shared["TF_FORCE_GPU_ALLOW_GROWTH"] == "true" and shared["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    assert shared["TF_NUM_INTRAOP_THREADS"] == shared["TF_NUM_INTEROP_THREADS"] == "2"  # 16 cores / 8 runs
    assert run_environment(2, threads=3, backend="jax")["TF_NUM_INTRAOP_THREADS"] == "3"
    assert run_environment(1, backend="jax") == {"KERAS_BACKEND": "jax"}  # one run alone: the backend's defaults


def test_local_runs_spread_over_a_machines_gpus(tmp_path, monkeypatch):
    from mnist_lab.runs.devices import least_busy_gpu, visible_gpus

    fake = tmp_path / "nvidia-smi"  # two GPUs listed, as nvidia-smi -L lists them
    fake.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA H100 (UUID: GPU-a)'\necho 'GPU 1: NVIDIA H100 (UUID: GPU-b)'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert visible_gpus() == ["0", "1"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,3")  # the user's choice is kept
    assert visible_gpus() == ["1", "3"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert visible_gpus() == []
    busy: list[str] = []
    for _ in range(5):  # five runs start: 0, 1, 0, 1, 0
        busy.append(least_busy_gpu(["0", "1"], busy))
    assert busy == ["0", "1", "0", "1", "0"]
    busy.remove("1")  # a run on GPU 1 finished: the next goes there
    assert least_busy_gpu(["0", "1"], busy) == "1"


def test_a_run_process_sets_its_environment_before_its_backend_loads(tmp_path, monkeypatch):
    from mnist_lab.runs.sweep import RunJob, train_one

    monkeypatch.setenv("TF_FORCE_GPU_ALLOW_GROWTH", "unset")
    job = RunJob(
        "dnn",
        0,
        "no_such_profile",
        None,
        None,
        str(tmp_path),
        str(tmp_path / "x"),
        {"TF_FORCE_GPU_ALLOW_GROWTH": "true"},
        log=str(tmp_path / "log"),
    )
    with pytest.raises(ConfigError):
        train_one(job)  # the profile is refused, after the environment was set
    import os

    assert os.environ["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"


def test_a_gpu_run_is_a_band_of_its_own(tmp_path):
    from mnist_lab.core.provenance import run_band

    assert run_band({"environment": {"backend": "tensorflow", "device": "CPU (2 cores)"}}) == "tensorflow"
    assert run_band({"environment": {"backend": "tensorflow", "device": "NVIDIA H200"}}) == "tensorflow-gpu"
    assert run_band({}) == "tensorflow"  # runs that predate the record: the committed CPU runs
    # A TensorFlow GPU run sitting among the CPU seeds is not pooled with them, and its own band has it.
    cpu = fake_run(seed_run_dir(tmp_path, "dnn", 0), "dnn", 0.98, 200, seed=0)
    gpu = fake_run(seed_run_dir(tmp_path, "dnn", 1), "dnn", 0.98, 200, seed=1)
    metrics = gpu / "metrics.json"
    import json

    values = json.loads(metrics.read_text())
    values["environment"]["device"] = "NVIDIA H200"
    metrics.write_text(json.dumps(values))
    assert [run.seed for run in stage_seeds(tmp_path, "dnn")] == [0]
    assert cpu.name == "seed_0" and band_label("tensorflow-gpu") == "TensorFlow, GPU"
    assert (
        seed_run_dir(tmp_path, "dnn", 3, backend="tensorflow-gpu")
        == tmp_path / "backends" / "tensorflow-gpu" / "seeds" / "dnn" / "seed_3"
    )
