"""Issue 60: the Ray sweep when something is wrong ends in one line saying what to do, quickly,
and throws no finished run away. Every cluster here is local (127.0.0.1), started by the test
and stopped by it; the runs are quick-profile dnn runs (seconds each)."""

import io
import socket
import tarfile
import time

import pytest

from mnist_lab.core.config import ConfigError
from mnist_lab.core.run_dir import load_run
from mnist_lab.runs.layout import seed_run_dir
from mnist_lab.runs.sweep import RunJob, run_sweep
from mnist_lab.runs.transfer import TRAVELLING_FILES

ray = pytest.importorskip("ray")


def free_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """Seed 0 of dnn, quick profile, trained by the local engine into a reports folder of its own."""
    reports = tmp_path_factory.mktemp("reports")
    (run,) = run_sweep(["dnn"], [0], "quick", reports, verbose=0)
    return reports, run


def sweep(*options):
    return ["sweep", "--engine", "ray", "--profile", "quick", "--stage", "dnn", "--seeds", "0", *options]


def test_a_dead_address_is_one_line_within_seconds(capsys):
    from mnist_lab.report.cli import main

    address = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    assert main(sweep("--address", address)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"nothing answers at {address}" in err[0] and "ray start --head" in err[0]
    assert time.monotonic() - started < 30  # the bound: Ray alone retried for minutes
    assert not ray.is_initialized()


@pytest.mark.parametrize(
    "options, says",
    [
        (("--runs-per-gpu", "0"), "--runs-per-gpu must be an integer >= 1"),
        (("--jobs", "0"), "--jobs must be an integer >= 1"),
        (("--threads", "0"), "--threads must be an integer >= 1"),
        (("--address", "nowhere"), "--address must be HOST:PORT"),
        (("--ablation", "nope"), "nope"),
    ],
)
def test_every_argument_is_checked_before_ray_starts(options, says, capsys):
    from mnist_lab.report.cli import main

    assert main(sweep(*options)) == 2
    assert says in capsys.readouterr().err
    assert not ray.is_initialized()  # refused before any cluster was started or joined


def test_a_ray_sweep_with_nothing_to_train_starts_no_cluster(finished, monkeypatch, capsys):
    from mnist_lab.report import cli

    reports, run = finished
    monkeypatch.setattr(cli, "reports_root", lambda profile: reports)
    assert cli.main(sweep()) == 0
    out = capsys.readouterr().out
    assert "no cluster started" in out and "reused   dnn" in out
    assert "sweep: 0 runs trained, 1 reused" in out
    assert not ray.is_initialized()


def test_a_run_that_recorded_another_band_is_placed_in_its_own_not_lost(finished, tmp_path, capsys):
    from mnist_lab.runs.ray_engine import place

    _, run = finished
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for name in TRAVELLING_FILES:
            tar.add(run.path / name, arcname=name)
    reports = tmp_path / "reports"
    meant = seed_run_dir(reports, "dnn", 0, backend="tensorflow-gpu")  # where a GPU node's run would go
    job = RunJob("dnn", 0, "quick", None, None, str(reports), str(meant))
    placed = place(archive.getvalue(), job)
    assert placed == str(seed_run_dir(reports, "dnn", 0)) and load_run(placed).metrics == run.metrics
    assert "warning:" in capsys.readouterr().out and not meant.exists()


@pytest.fixture(scope="module")
def gpu_cluster(tmp_path_factory):
    """A local cluster that offers Ray one GPU on this CPU machine (a logical GPU, as
    `ray start --num-gpus 1` makes one); skipped where the backend does see a GPU."""
    from mnist_lab.runs.devices import gpu_visible

    if gpu_visible():
        pytest.skip("this machine has a GPU: the case is a GPU the backend cannot use")
    ray.init(
        num_cpus=1,
        num_gpus=1,
        log_to_driver=False,
        include_dashboard=False,
        configure_logging=False,
        _node_ip_address="127.0.0.1",
        _temp_dir=str(tmp_path_factory.mktemp("ray")),  # not /tmp/ray: its session files go with the test's,
    )
    yield
    ray.shutdown()


def test_a_gpu_the_backend_cannot_use_is_found_before_training(gpu_cluster, tmp_path):
    from mnist_lab.runs.ray_engine import GpuUnusable, RayExecutor

    executor = RayExecutor(scratch_root=str(tmp_path / "scratch"))
    assert executor.gpu  # Ray offers the runs a GPU
    reports = tmp_path / "reports"
    with pytest.raises(GpuUnusable) as error:
        run_sweep(["dnn"], [0], "quick", reports, jobs=1, executor=executor)
    line = str(error.value)
    assert (
        "\n" not in line
        and f"node {socket.gethostname()} (" in line
        and "tensorflow[and-cuda]" in line
        and "--num-gpus 0" in line
    )
    assert not reports.exists() or not any(reports.rglob("metrics.json"))  # nothing trained, nothing half-placed
    with pytest.raises(ConfigError):  # a ConfigError: the CLI prints it as one line, exit 2
        raise error.value
