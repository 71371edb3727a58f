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

Without an address the executor starts a local Ray cluster sized to this machine, its session
files in ray_temp_dir() (removed when the sweep ends, with the cluster); with one (`HOST:PORT`, or
`auto`) it joins a cluster started by hand with `ray start --head` and `ray start --address
HOST:PORT` on the other machines (docs/scaling.md).

What goes wrong ends in one line (a ConfigError) saying what to do, within seconds: an address
where nothing answers (checked before Ray is asked), a cluster that refuses this process (its
token), a node that offers Ray a GPU its backend cannot use (the worker checks before training,
gpu_unusable). A finished run is never thrown away: one that belongs to another band than the
sweep's goes to that band's folder, with a warning, and one that cannot be placed at all is kept
under runs/ray-unplaced/ for `mnist-lab receive`.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import socket
import tarfile
import tempfile
from concurrent.futures import Executor, Future
from pathlib import Path

from mnist_lab.core.config import ConfigError
from mnist_lab.core.files import PROJECT_ROOT, atomic_path
from mnist_lab.core.provenance import environment
from mnist_lab.core.run_dir import FolderLock
from mnist_lab.runs.sweep import RunJob
from mnist_lab.runs.transfer import TRAVELLING_FILES, receive_run

# A run of these models under TensorFlow with memory growth, or JAX without preallocation, holds
# well under 2 GiB of GPU memory: 8 runs fit a 16 GiB GPU, and 8 or 16 at once trained together on
# an 80-141 GiB one (docs/scaling.md). More runs than that per GPU mostly wait for its compute.
DEFAULT_RUNS_PER_GPU = 8
MAX_RETRIES = 3  # a worker that dies is run again this many times before the run is reported failed
SCRATCH = "mnist-lab-ray"  # under the worker machine's temporary folder
CONNECT_SECONDS = 5  # an address that does not accept a connection within this is reported at once
TOKEN_FILE = "~/.ray/auth_token"  # where Ray reads its token (RAY_AUTH_MODE=token), on every machine
UNPLACED = PROJECT_ROOT / "runs" / "ray-unplaced"  # a finished run that could not be placed is kept here
GPU_FIX = 'pip install "tensorflow[and-cuda]" (or "jax[cuda12]" for KERAS_BACKEND=jax)'


class GpuUnusable(ConfigError):
    """A node gave a run a GPU that the run's backend cannot use: found before training, not retried."""


def ray_temp_dir() -> Path:
    """Where a local cluster started by a sweep keeps Ray's session files (logs, sockets) while it
    runs: TMPDIR/mnist-lab-ray/ray-PID (short: Ray's socket paths must stay under 107 characters).
    Removed with the cluster when the sweep ends."""
    return Path(tempfile.gettempdir()) / SCRATCH / f"ray-{os.getpid()}"


def check_reachable(address: str, seconds: float = CONNECT_SECONDS) -> None:
    """Raise a ConfigError in one line if nothing accepts a connection at HOST:PORT within `seconds`
    (Ray itself would retry for minutes)."""
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=seconds).close()
    except OSError as error:
        raise ConfigError(
            f"nothing answers at {address} ({error.strerror or error}): check that `ray start --head --port {port}` "
            f"runs on {host} and that this machine can reach that port (firewall, the address `ray start` printed)"
        ) from None


def join_failure(address: str | None, error: BaseException) -> ConfigError:
    """Why ray.init could not join `address`, as one line saying what to do."""
    text = str(error)
    if address in (None, "auto") and "Could not find any running Ray instance" in text:
        return ConfigError(
            "--address auto found no Ray cluster on this machine: start one with `ray start --head` "
            "(docs/scaling.md), give its HOST:PORT, or leave --address out to start one for this sweep"
        )
    mode = os.environ.get("RAY_AUTH_MODE")
    token_file = os.environ.get("RAY_AUTH_TOKEN_PATH") or TOKEN_FILE
    has_token = Path(token_file).expanduser().is_file() or bool(os.environ.get("RAY_AUTH_TOKEN"))
    here = "this machine" if token_file == TOKEN_FILE else f"{token_file} here"
    if mode != "token":
        fix = f"set RAY_AUTH_MODE=token here and copy the head's {TOKEN_FILE} to {here}"
    elif not has_token:
        fix = f"RAY_AUTH_MODE=token is set but this machine has no {token_file}: copy the head's {TOKEN_FILE} there"
    else:
        fix = f"this machine's {token_file} is not the cluster's: copy the head's {TOKEN_FILE} there"
    return ConfigError(
        f"the Ray cluster at {address} answers but would not let this sweep join, most likely for its token: "
        f"{fix} (`ray get-auth-token` on the head prints it; docs/scaling.md, 'A cluster of your own')"
    )


def gpu_unusable(backend: str) -> str | None:
    """In a worker Ray gave a GPU: None if the backend trains on a GPU here, else the device it would
    use (e.g. 'CPU (2 cores)'), as its run would record it (provenance.environment)."""
    device = environment()["device"]  # imports the backend
    return device if device.startswith("CPU") else None


def scratch_folder(job: RunJob, root: str | None = None) -> Path:
    """Where a job trains on the worker: the same folder for a retry on the same machine, so that it
    resumes from the run's checkpoint."""
    reports_relative = Path(job.out).as_posix().replace("/", "__").strip("_")
    return Path(root or Path(tempfile.gettempdir()) / SCRATCH) / reports_relative


def attempts_file(scratch: Path) -> Path:
    return scratch.parent / f".{scratch.name}.attempts"


def train_in_scratch(job: RunJob, scratch_root: str | None = None, gpu: bool = False) -> dict:
    """The Ray task: train `job` in a local scratch folder and return the finished run as a tar
    archive (the files a travelling run keeps), {"archive": bytes, "attempts": [PID, ...]}. With
    `gpu` (Ray gave the task a GPU), first check that the backend can use it (GpuUnusable, not
    retried). Once packed, the scratch folder, its lock and its attempts file are removed."""
    scratch = scratch_folder(job, scratch_root)
    scratch.parent.mkdir(parents=True, exist_ok=True)
    with open(attempts_file(scratch), "a") as attempts:  # one line per attempt: the process that trains it
        attempts.write(f"{os.getpid()}\n")
    backend = job.env.get("KERAS_BACKEND", "tensorflow")
    if gpu and (device := gpu_unusable(backend)):
        import ray

        node = ray.get_runtime_context().get_node_id()
        address = next((n["NodeManagerAddress"] for n in ray.nodes() if n["NodeID"] == node), "?")
        raise GpuUnusable(
            f"node {socket.gethostname()} ({address}) offers Ray a GPU that {backend} cannot use there (it sees only "
            f"{device}): {GPU_FIX} on that node, or restart it with `ray start ... --num-gpus 0`"
        )
    job.at(str(scratch))()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for name in TRAVELLING_FILES:
            if (scratch / name).is_file():
                tar.add(scratch / name, arcname=name)
    pids = [int(pid) for pid in attempts_file(scratch).read_text().split()]
    shutil.rmtree(scratch, ignore_errors=True)
    for leftover in (attempts_file(scratch), FolderLock(scratch).path):
        leftover.unlink(missing_ok=True)
    return {"archive": archive.getvalue(), "attempts": pids}


def place(archive: bytes, job: RunJob) -> str:
    """Unpack a run the cluster sent back and bring it to job.out through receive's checks. A run
    that recorded another band than the sweep's (a node whose device was not what Ray said) goes
    to its own band's folder, with a warning; one that cannot be placed at all is kept in
    runs/ray-unplaced/ and the error says so. Returns the folder the run is in."""
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        received = receive_run(Path(tmp), Path(job.out).name, Path(job.reports), job.profile)
    if received.outcome in ("added", "already here") and received.destination is not None:
        if Path(received.destination).resolve() != Path(job.out).resolve():
            print(
                f"warning: the run trained for {job.out} recorded another device than its node offered Ray; "
                f"placed in its own band's folder {received.destination}",
                flush=True,
            )
        return str(received.destination)
    UNPLACED.mkdir(parents=True, exist_ok=True)
    kept = UNPLACED / f"{scratch_folder(job, '/').name}.tar"
    with atomic_path(kept) as tmp:
        Path(tmp).write_bytes(archive)
    raise ConfigError(
        f"the run trained for {job.out} could not be placed ({received.outcome}); it is kept in {kept}: "
        f"`mnist-lab receive {UNPLACED}` brings it in once that is fixed"
    )


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
        if runs_per_gpu is not None and runs_per_gpu < 1:
            raise ConfigError(f"--runs-per-gpu must be an integer >= 1, got {runs_per_gpu}")
        if cpus_per_run < 1:
            raise ConfigError(f"CPUs per run must be an integer >= 1, got {cpus_per_run}")
        if address not in (None, "auto"):
            check_reachable(address)  # seconds, where Ray would retry for minutes
        import ray

        self._ray = ray
        self._started_here = not ray.is_initialized()
        self.temp_dir = None
        self.attempts: dict[str, list[int]] = {}  # run folder -> the PIDs that trained it (more than one: retried)
        if self._started_here:
            # No address: a local cluster sized to this machine, on 127.0.0.1 only, its session files
            # in ray_temp_dir(), all of it stopped and removed at the end. Ray's own log lines stay
            # in its session folder; the sweep prints one line per run.
            local = {}
            if address is None:
                self.temp_dir = ray_temp_dir()
                local = {"_node_ip_address": "127.0.0.1", "_temp_dir": str(self.temp_dir)}
            try:
                ray.init(
                    address=address, log_to_driver=False, include_dashboard=False, configure_logging=False, **local
                )
            except (ConnectionError, RuntimeError, ray.exceptions.AuthenticationError) as error:
                if address is None:
                    raise
                raise join_failure(address, error) from None
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
        self.address = address

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
        task = self._task.options(**self.options, runtime_env={"env_vars": env})
        inner = task.remote(job, self.scratch_root, bool(self.gpus)).future()

        def placed(done: Future) -> None:
            try:
                result = done.result()
                self.attempts[job.out] = result["attempts"]
                outer.set_result(place(result["archive"], job))
            except BaseException as error:  # noqa: BLE001 - handed to the sweep through the future
                outer.set_exception(_one_line(error))
            finally:
                lock.__exit__(None, None, None)

        inner.add_done_callback(placed)
        return outer

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if self._started_here and self._ray.is_initialized():
            self._ray.shutdown()
        if self.temp_dir is not None:  # the local cluster's session files: it has stopped
            shutil.rmtree(self.temp_dir, ignore_errors=True)
            with contextlib.suppress(OSError):  # TMPDIR/mnist-lab-ray itself, once no other sweep uses it
                self.temp_dir.parent.rmdir()


def _threads(count: int) -> dict[str, str]:
    return {"TF_NUM_INTRAOP_THREADS": str(count), "TF_NUM_INTEROP_THREADS": str(count)}


def _one_line(error: BaseException) -> BaseException:
    """A task's own error, as the sweep reports it: Ray wraps it in a RayTaskError whose text holds
    the remote traceback; its cause is the error itself (ConfigError, a NaN's, ...)."""
    cause = getattr(error, "cause", None)
    return cause if isinstance(cause, BaseException) else error
