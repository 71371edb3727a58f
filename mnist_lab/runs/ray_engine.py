"""The sweep on Ray: the same plan, its runs spread over a Ray cluster's machines and packed onto
their GPUs. Ray schedules, retries and packs; this module only says what one run is.

`RayExecutor` is a concurrent.futures executor that run_sweep hands its jobs (sweep.RunJob) to,
as it hands them to the local process pool:
- each job is one Ray task (`ray.remote`), asking for `1/runs_per_gpu` of a GPU where the cluster
  has GPUs (Ray packs that many runs onto each GPU, and spreads them over every GPU it has), else
  `cpus_per_run` CPUs, with a fresh worker process per run (max_calls=1: no backend state, and
  no GPU memory, outlives a run);
- the worker trains in a scratch folder on its own machine (no shared filesystem is assumed) and
  returns the finished run folder, as the sweep keeps it (without its model), as the task's
  result; the driver places it where the local engine would have written it, through the same
  checks as `mnist-lab receive` (transfer.receive_run: complete, the profile's protocol, backend
  and device recorded, never over another run);
- the backend, its memory settings and the threads per run reach the worker in the task's
  runtime environment (Ray does not pass the driver's environment on);
- the driver holds each run's folder lock from submission to placement, and a run already
  finished there is not submitted at all;
- a worker that dies (killed, out of memory, its machine lost) is retried by Ray (MAX_RETRIES),
  resuming from its checkpoint if it lands on the same machine; a run that fails for a reason of
  its own (a bad config, a NaN) raises, is not retried, and the sweep reports it in one line.

Without an address the executor starts a local Ray cluster sized to this machine and stops it
when the sweep ends; with one (`HOST:PORT`, or `auto`) it joins a cluster started by hand with
`ray start --head` and `ray start --address HOST:PORT` on the other machines (docs/scaling.md).
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile
from concurrent.futures import Executor, Future
from pathlib import Path

from mnist_lab.core.config import ConfigError
from mnist_lab.core.run_dir import FolderLock
from mnist_lab.runs.sweep import RunJob
from mnist_lab.runs.transfer import TRAVELLING_FILES, receive_run

# A run of these models under TensorFlow with memory growth, or JAX without preallocation, holds
# well under 2 GiB of GPU memory: 8 runs fit a 16 GiB GPU, and 8 or 16 at once trained together on
# an 80-141 GiB one (docs/scaling.md). More runs than that per GPU mostly wait for its compute.
DEFAULT_RUNS_PER_GPU = 8
MAX_RETRIES = 3  # a worker that dies is run again this many times before the run is reported failed
SCRATCH = "mnist-lab-ray"  # under the worker machine's temporary folder


def scratch_folder(job: RunJob, root: str | None = None) -> Path:
    """Where a job trains on the worker: the same folder for a retry on the same machine, so that it
    resumes from the run's checkpoint."""
    reports_relative = Path(job.out).as_posix().replace("/", "__").strip("_")
    return Path(root or Path(tempfile.gettempdir()) / SCRATCH) / reports_relative


def attempts_file(scratch: Path) -> Path:
    return scratch.parent / f".{scratch.name}.attempts"


def train_in_scratch(job: RunJob, scratch_root: str | None = None) -> bytes:
    """The Ray task: train `job` in a local scratch folder and return the finished run as a tar
    archive (the files a travelling run keeps). The scratch folder is removed once packed."""
    scratch = scratch_folder(job, scratch_root)
    scratch.parent.mkdir(parents=True, exist_ok=True)
    with open(attempts_file(scratch), "a") as attempts:  # one line per attempt: the process that trains it
        attempts.write(f"{os.getpid()}\n")
    job.at(str(scratch))()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for name in TRAVELLING_FILES:
            if (scratch / name).is_file():
                tar.add(scratch / name, arcname=name)
    shutil.rmtree(scratch, ignore_errors=True)
    return archive.getvalue()


def place(archive: bytes, job: RunJob) -> str:
    """Unpack a run the cluster sent back and bring it to job.out through receive's checks."""
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        received = receive_run(Path(tmp), Path(job.out).name, Path(job.reports), job.profile)
    if received.outcome not in ("added", "already here"):
        raise ConfigError(f"the run trained for {job.out} could not be placed: {received.outcome}")
    if received.destination is None or Path(received.destination).resolve() != Path(job.out).resolve():
        raise ConfigError(f"the run trained for {job.out} belongs in {received.destination}: not placed")
    return job.out


class RayExecutor(Executor):
    """Runs sweep jobs as Ray tasks (the module docstring says how). `capacity`: runs the cluster
    trains at once, which the sweep keeps in flight."""

    def __init__(
        self,
        address: str | None = None,
        runs_per_gpu: int | None = None,
        cpus_per_run: int = 1,
        scratch_root: str | None = None,
    ):
        import ray

        if runs_per_gpu is not None and runs_per_gpu < 1:
            raise ConfigError(f"--runs-per-gpu must be an integer >= 1, got {runs_per_gpu}")
        if cpus_per_run < 1:
            raise ConfigError(f"CPUs per run must be an integer >= 1, got {cpus_per_run}")
        self._ray = ray
        self._started_here = not ray.is_initialized()
        if self._started_here:
            # No address: a local cluster sized to this machine, stopped at the end. Ray's own log
            # lines stay in its session folder; the sweep prints one line per run.
            local = {"_node_ip_address": "127.0.0.1"} if address is None else {}  # a one-machine cluster stays on it
            ray.init(address=address, log_to_driver=False, include_dashboard=False, configure_logging=False, **local)
        resources = ray.cluster_resources()
        self.gpus = int(resources.get("GPU", 0))
        self.gpu = self.gpus > 0  # the runs' kind of device, and so their band (sweep.current_band)
        self.cpus_per_run = cpus_per_run
        if self.gpus:
            per_gpu = runs_per_gpu or DEFAULT_RUNS_PER_GPU
            self.options = {"num_gpus": 1 / per_gpu, "num_cpus": 1}
            self.capacity = self.gpus * per_gpu
        else:
            self.options = {"num_cpus": cpus_per_run}
            self.capacity = max(1, int(resources.get("CPU", 1)) // cpus_per_run)
        self.scratch_root = scratch_root
        self._task = ray.remote(max_calls=1, max_retries=MAX_RETRIES, retry_exceptions=False)(train_in_scratch)

    def describe(self) -> str:
        where = f"{self.gpus} GPU(s), {self.capacity} runs at once" if self.gpus else f"{self.capacity} runs at once"
        return f"Ray cluster of {len(self._ray.nodes())} node(s): {where}"

    def submit(self, job, /, *args, **kwargs) -> Future:
        if not isinstance(job, RunJob) or args or kwargs:
            raise TypeError("RayExecutor runs sweep jobs (sweep.RunJob) only")
        lock = FolderLock(Path(job.out))
        lock.__enter__()  # held until the run is placed (or has failed): raises RunBusy if taken
        outer: Future = Future()
        if job.finished():  # nothing to train: no task
            lock.__exit__(None, None, None)
            outer.set_result(job.out)
            return outer
        env = {**job.env, **({} if self.gpus else _threads(self.cpus_per_run))}
        remote = self._task.options(**self.options, runtime_env={"env_vars": env}).remote(job, self.scratch_root)
        inner = remote.future()

        def placed(done: Future) -> None:
            try:
                outer.set_result(place(done.result(), job))
            except BaseException as error:  # noqa: BLE001 - handed to the sweep through the future
                outer.set_exception(_one_line(error))
            finally:
                lock.__exit__(None, None, None)

        inner.add_done_callback(placed)
        return outer

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if self._started_here and self._ray.is_initialized():
            self._ray.shutdown()


def _threads(count: int) -> dict[str, str]:
    return {"TF_NUM_INTRAOP_THREADS": str(count), "TF_NUM_INTEROP_THREADS": str(count)}


def _one_line(error: BaseException) -> BaseException:
    """A task's own error, as the sweep reports it: Ray wraps it in a RayTaskError whose text holds
    the remote traceback; its cause is the error itself (ConfigError, a NaN's, ...)."""
    cause = getattr(error, "cause", None)
    return cause if isinstance(cause, BaseException) else error
