"""Issue 50: the sweep on a Ray cluster. One local cluster (2 CPUs) serves the module: Ray's start-up
stays out of every other test. The runs are quick-profile dnn runs (seconds each)."""

import os
import signal
import stat
import time

import pytest

from mnist_lab.core.config import ConfigError
from mnist_lab.runs.layout import seed_run_dir
from mnist_lab.runs.sweep import RunJob, run_sweep

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    ray.init(
        num_cpus=2,
        log_to_driver=False,
        include_dashboard=False,
        configure_logging=False,
        _node_ip_address="127.0.0.1",
        _temp_dir=str(tmp_path_factory.mktemp("ray")),  # not /tmp/ray: its session files go with the test's
    )
    yield
    ray.shutdown()


@pytest.fixture
def executor(cluster, tmp_path):
    from mnist_lab.runs.ray_engine import RayExecutor

    return RayExecutor(cpus_per_run=1, scratch_root=str(tmp_path / "scratch"))


def numbers(run):
    return run.metrics["test_accuracy"], run.metrics["test_loss"], [r["val_loss"] for r in run.history]


@pytest.fixture(scope="module")
def local_runs(tmp_path_factory):
    """Seeds 0 and 1 by the local engine, two at once (one thread each, as each Ray run here)."""
    reports = tmp_path_factory.mktemp("local")
    return run_sweep(["dnn"], [0, 1], "quick", reports, jobs=2, log_dir=reports / "logs")


def test_ray_runs_land_where_the_local_engine_puts_them_with_its_numbers(executor, local_runs, tmp_path, capsys):
    reports = tmp_path / "reports"
    runs = run_sweep(["dnn"], [0, 1], "quick", reports, jobs=executor.capacity, executor=executor)
    assert [run.path for run in runs] == [seed_run_dir(reports, "dnn", seed) for seed in (0, 1)]
    assert [numbers(run) for run in runs] == [numbers(run) for run in local_runs]
    assert not (reports / "seeds" / "dnn" / "seed_0" / "model.keras").exists()  # travels without its model
    mode = [stat.S_IMODE(run.path.stat().st_mode) for run in runs]
    assert mode == [stat.S_IMODE(run.path.stat().st_mode) for run in local_runs]  # as a local run's, not 0700
    assert list((tmp_path / "scratch").iterdir()) == []  # no scratch folder, lock or attempts file left
    assert sorted(executor.attempts) == [str(run.path) for run in runs]
    from mnist_lab.runs.ray_engine import RayExecutor

    twice = RayExecutor(cpus_per_run=1, scratch_root=executor.scratch_root)
    again = run_sweep(["dnn"], [0, 1], "quick", reports, jobs=2, executor=twice)
    assert [run.metrics for run in again] == [run.metrics for run in runs]
    assert twice.attempts == {} and again.reused == list(again)  # nothing was submitted: nothing trained
    assert capsys.readouterr().out.count("reused ") == 2


def dnn_job(reports, backend: str) -> RunJob:
    """Seed 0 of dnn under the quick profile, into `reports`, under `backend`."""
    return RunJob(
        "dnn", 0, "quick", None, None, str(reports), str(seed_run_dir(reports, "dnn", 0)), {"KERAS_BACKEND": backend}
    )


def test_a_killed_worker_is_retried_and_its_run_completes(executor, local_runs, tmp_path):
    from mnist_lab.runs.ray_engine import attempts_file, scratch_folder

    reports = tmp_path / "reports"
    job = dnn_job(reports, "tensorflow")
    future = executor.submit(job)
    attempts = attempts_file(scratch_folder(job, executor.scratch_root))
    deadline = time.monotonic() + 120
    while not attempts.is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    os.kill(int(attempts.read_text().split()[0]), signal.SIGKILL)  # mid-run: its backend is still loading
    from mnist_lab.core.run_dir import load_run

    run = load_run(future.result(timeout=300))
    assert len(executor.attempts[job.out]) == 2  # killed once, retried once
    assert numbers(run) == numbers(local_runs[0])
    assert not attempts.exists() and list(attempts.parent.iterdir()) == []  # its scratch is gone once placed


def test_a_run_that_fails_for_its_own_reason_is_not_retried(executor, tmp_path):
    from mnist_lab.runs.ray_engine import attempts_file, scratch_folder

    reports = tmp_path / "reports"
    job = dnn_job(reports, "no_such_backend")
    with pytest.raises(Exception, match="no_such_backend"):
        executor.submit(job).result(timeout=300)
    assert len(attempts_file(scratch_folder(job, executor.scratch_root)).read_text().split()) == 1
    assert not seed_run_dir(reports, "dnn", 0).exists()  # nothing placed


def test_the_engine_flags_belong_to_ray():
    from mnist_lab.report.cli import main

    assert main(["sweep", "--stage", "dnn", "--seeds", "0", "--address", "auto"]) == 2


def test_a_ray_executor_runs_sweep_jobs_only(executor):
    with pytest.raises(TypeError, match="sweep jobs"):
        executor.submit(print, "hello")
    with pytest.raises(ConfigError, match="runs-per-gpu"):
        type(executor)(runs_per_gpu=0)
