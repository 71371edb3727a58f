"""Seed sweeps: one run per (stage, seed) under a profile's protocol, and reading them back.

Only the training seed varies (initialisation, shuffling, dropout, augmentation draws); the
split stays the seed notebook's (`split_seed` 42). A stage's committed run in reports/STAGE/
(seed 42) counts as one of its seeds; the others live in reports/seeds/STAGE/seed_N/ and keep
config.json, history.json, metrics.json and the test probabilities, but no model (size).
Each run is its own unit: locked, resumable, reused when finished. Runs in another precision
than the seed's float32 are another protocol: they live in reports/precision/PRECISION/STAGE/seed_N/
(seed 42 included) and are never mixed into a stage's seeds. So do the ablations off the
ladder (ABLATIONS: one protocol field changed), in reports/ablation/NAME/STAGE/seed_N/.

A sweep keeps each run's model.keras on disk for `mnist-lab robustness`; git ignores the seed
runs' models (7 MB each) and keeps their robustness results.

Bands: the Keras backend and the kind of device (CPU or GPU) are part of a run's identity. The
committed TensorFlow CPU runs (HOME_BACKEND) live in reports/ as above; every other band's runs
live in the same layout under reports/backends/BAND/ (`jax`, `jax-gpu`, `tensorflow-gpu`:
provenance.band_name), and every function that pools seeds takes one band (its `backend`
argument is a band name) and reads only the runs that recorded it (metrics.json's environment:
provenance.run_band), so no two bands are ever pooled.

`run_sweep(..., jobs=N)` trains up to N runs at once, each in a fresh process (a
concurrent.futures pool); every run is still its own locked, resumable unit, and each finished
one prints a line. The processes share the machine: each gets its share of the CPU threads, and
none takes a whole GPU's memory at start (run_environment).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import multiprocessing
import os
import re
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from mnist_lab.core.config import MAX_SEED, ConfigError, TrainConfig
from mnist_lab.core.files import PROJECT_ROOT
from mnist_lab.core.models import STAGES, get_stage
from mnist_lab.core.provenance import HOME_BACKEND, band_name, run_band  # HOME_BACKEND's runs live in reports/ itself
from mnist_lab.core.run_dir import Run, load_run
from mnist_lab.orchestration.profiles import check_profile, reports_root, resolve_config

SEEDS_DIR = "seeds"
BACKENDS_DIR = "backends"
BACKEND_NAMES = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}
PRECISION_DIR = "precision"
ABLATION_DIR = "ablation"
# Protocols off the ladder, each one TrainConfig change against the stage's own protocol.
# constant_lr: the seed's ReduceLROnPlateau removed (Adam at 1e-3 throughout), for claim 6 of its notes.
ABLATIONS: dict[str, dict] = {"constant_lr": {"lr_schedule": "constant"}}
STAGE_RUN_SEED = TrainConfig.seed  # the stage notebook's run, reports/STAGE/, is this seed
# Seeds each profile's sweep adds to the stage run. Quick: one more of the two cheapest stages,
# trained by the comparison notebook itself (seconds: enough for one step's verdict over seeds);
# full: `make seeds` trains them for every stage (hours), the notebook only reads them.
SWEEP_SEEDS = {"full": (0, 1, 2, 3), "quick": (0,)}
QUICK_SWEEP_STAGES = ("dnn", "cnn")
# Every planned seed: the stage run's and the sweep's (full: 5, quick: 2). An ensemble averages a stage's
# seeds, and a target for its mean is judged, only once it has this many.
ENSEMBLE_MIN_SEEDS = {profile: 1 + len(seeds) for profile, seeds in SWEEP_SEEDS.items()}
# `make seeds` trains the steps whose single-seed results were a few digits apart first.
SWEEP_ORDER = ("cnn_reg", "cnn_bn", "cnn_bn_aug", "cnn_bn_aug_long", "dnn", "cnn")


def sweep_order() -> list[str]:
    """Every stage, in the order a sweep without --stage trains them: SWEEP_ORDER's first, then any
    stage added since (models.STAGES), in the order it was added."""
    return list(SWEEP_ORDER) + [name for name in STAGES if name not in SWEEP_ORDER]


def parse_seeds(text: str) -> list[int]:
    """'0-4' -> [0, 1, 2, 3, 4]; '0,3,7' and '0-2,9' work too."""
    seeds = []
    for part in str(text).split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not match:
            raise ConfigError(f"seeds must look like 0-4 or 0,3,7 (integers 0 to {MAX_SEED}), got {text!r}")
        low, high = int(match[1]), int(match[2] or match[1])
        if high < low or high > MAX_SEED:
            raise ConfigError(f"seed range {part.strip()!r} must run upwards within 0 to {MAX_SEED}")
        seeds += range(low, high + 1)
    return sorted(set(seeds))


def check_ablation(ablation: str | None) -> None:
    if ablation is not None and ablation not in ABLATIONS:
        raise ConfigError(f"unknown ablation {ablation!r}; valid ablations: {', '.join(ABLATIONS)}")


def current_backend() -> str:
    """The Keras backend this process trains with, read as Keras reads it (KERAS_BACKEND, else
    KERAS_HOME/keras.json, else TensorFlow) without importing Keras, so that a folder can be
    chosen before TensorFlow loads."""
    if name := os.environ.get("KERAS_BACKEND"):
        return name
    config = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "keras.json"
    try:
        return json.loads(config.read_text()).get("backend", HOME_BACKEND)
    except (OSError, ValueError, AttributeError):
        return HOME_BACKEND


def visible_gpus() -> list[str]:
    """The NVIDIA GPUs this machine's runs may use, told without loading a backend: those listed by
    nvidia-smi, or the ones CUDA_VISIBLE_DEVICES names (none where it hides them all)."""
    import shutil
    import subprocess

    named = os.environ.get("CUDA_VISIBLE_DEVICES", None)
    if named in ("", "-1") or not shutil.which("nvidia-smi"):
        return []
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if listed.returncode != 0:
        return []
    if named is not None:
        return [gpu.strip() for gpu in named.split(",") if gpu.strip()]
    return [str(index) for index, line in enumerate(listed.stdout.splitlines()) if line.startswith("GPU")]


def gpu_visible() -> bool:
    """Whether this machine's runs will train on a GPU (visible_gpus). A run records the device it
    actually used, and a band reads only runs that recorded its own (run_band)."""
    return bool(visible_gpus())


def least_busy_gpu(gpus: list[str], busy: list[str]) -> str:
    """The GPU for the next local run: the one with the fewest runs on it now, the first on a tie,
    so that N runs spread over the machine's GPUs instead of all landing on the first."""
    return min(gpus, key=lambda gpu: (busy.count(gpu), gpus.index(gpu)))


def current_band(gpu: bool | None = None) -> str:
    """The band this machine's runs join: its backend (current_backend) on its kind of device."""
    return band_name(current_backend(), gpu_visible() if gpu is None else gpu)


def band_root(reports, backend: str = HOME_BACKEND) -> Path:
    """Where one band's runs live: reports/ itself for HOME_BACKEND (TensorFlow on CPUs), else
    reports/backends/BAND/ (`backend` is a band name: provenance.band_name)."""
    return Path(reports) if backend == HOME_BACKEND else Path(reports) / BACKENDS_DIR / backend


def backends(reports) -> list[str]:
    """Every band with a folder: HOME_BACKEND's first, then the others by name."""
    others = sorted(path.name for path in (Path(reports) / BACKENDS_DIR).glob("*") if path.is_dir())
    return [HOME_BACKEND, *others]


def band_label(backend: str, runs=()) -> str:
    """'TensorFlow, CPU' or 'JAX, GPU': the backend, and the kind of device its runs trained on."""
    kinds = sorted(
        {"CPU" if run.metrics["environment"].get("device", "CPU").startswith("CPU") else "GPU" for run in runs}
    )
    plain = backend.removesuffix("-gpu")
    name = BACKEND_NAMES.get(plain, plain)
    kinds = kinds or (["GPU"] if backend.endswith("-gpu") else [])
    return f"{name}, {' and '.join(kinds)}" if kinds else name


def seed_run_dir(
    reports: Path,
    stage: str,
    seed: int,
    precision: str = TrainConfig.precision,
    ablation: str | None = None,
    backend: str = HOME_BACKEND,
) -> Path:
    reports = band_root(reports, backend)
    if ablation is not None:
        return reports / ABLATION_DIR / ablation / stage / f"seed_{seed}"
    if precision != TrainConfig.precision:
        return reports / PRECISION_DIR / precision / stage / f"seed_{seed}"
    return reports / stage if seed == STAGE_RUN_SEED else reports / SEEDS_DIR / stage / f"seed_{seed}"


def parse_arm(text: str, ablation: str | None = None) -> tuple[str, str | None]:
    """An arm of a sweep: 'STAGE' (under `ablation`, if given) or 'ABLATION/STAGE', as the
    reports lay them out (reports/ablation/ABLATION/STAGE/). -> (stage, ablation or None)."""
    name, _, stage = str(text).rpartition("/")
    get_stage(stage)
    check_ablation(name or ablation)
    return stage, name or ablation


def arm_name(stage: str, ablation: str | None) -> str:
    return f"{ablation}/{stage}" if ablation else stage


def plan_runs(arms, seeds) -> list[tuple[str, str | None, int]]:
    """(stage, ablation, seed), seed by seed, every arm of a seed before the next seed: a sweep cut
    off anywhere leaves the arms' bands within one seed of each other."""
    return [(stage, ablation, seed) for seed in seeds for stage, ablation in arms]


def run_environment(jobs: int, threads: int | None = None, backend: str | None = None) -> dict[str, str]:
    """The environment variables every run process of a sweep starts with (set before its backend
    loads): the Keras backend, stated, since a process on another machine does not inherit the
    driver's; with several runs on one machine, none taking a whole GPU's memory at start
    (TensorFlow's and JAX's defaults), so that they share it; and `threads` CPU threads per run
    (default with several runs: the machine's cores shared out; with one, the backend's own choice)."""
    env = {"KERAS_BACKEND": backend or current_backend()}
    if jobs > 1:
        env |= {"TF_FORCE_GPU_ALLOW_GROWTH": "true", "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
        threads = threads or max(1, (os.cpu_count() or 1) // jobs)
    if threads:
        env |= {"TF_NUM_INTRAOP_THREADS": str(threads), "TF_NUM_INTEROP_THREADS": str(threads)}
    return env


class InlineExecutor(Executor):
    """A concurrent.futures executor that runs each job in this process as it is submitted: the
    local engine's with one run at a time, so that its progress shows on the console."""

    def submit(self, fn, /, *args, **kwargs):
        future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as error:  # noqa: BLE001 - handed to the caller through the future, as a pool would
            future.set_exception(error)
        return future


def local_executor(jobs: int) -> Executor:
    """Today's machine: one run in this process, or up to `jobs` runs each in a fresh process
    (spawn: no TensorFlow or XLA state copied by fork; one run per process)."""
    if jobs == 1:
        return InlineExecutor()
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1)


@dataclass(frozen=True)
class RunJob:
    """One run of a sweep as an executor is handed it: what to train and where it lands in the
    reports folder. Calling it trains it in this process (train_one); another engine may train it
    elsewhere (`at` a scratch folder) and bring the finished run to `out` itself."""

    stage: str
    seed: int
    profile: str
    precision: str | None
    ablation: str | None
    reports: str  # the reports folder the sweep fills
    out: str  # where the run lands in it (seed_run_dir)
    env: dict = field(default_factory=dict)  # run_environment(): set before a fresh process loads its backend
    log: str | None = None  # a fresh process's output goes here; None: this process's console
    verbose: int | str = "auto"

    def config(self) -> TrainConfig:
        return resolve_config(
            self.stage, self.profile, seed=self.seed, precision=self.precision, **ABLATIONS.get(self.ablation, {})
        )

    def at(self, folder: str) -> RunJob:
        """The same run, trained into `folder` (a worker's scratch), its output on that process's console."""
        return dataclasses.replace(self, out=str(folder), log=None, verbose=2)

    def finished(self) -> bool:
        """A finished run of this config and training version is already at `out`."""
        from mnist_lab.core.train import load_finished  # imports the backend

        return load_finished(self.config(), Path(self.out)) is not None

    def __call__(self) -> str:
        return train_one(self)


def plan_jobs(
    stages, seeds, profile: str, reports, *, precision=None, ablation=None, band: str | None = None, env=None
) -> list[RunJob]:
    """The sweep's runs in training order (plan_runs), each a RunJob with the folder it lands in
    (the band's: this machine's unless given)."""
    band = band or current_band()
    jobs = []
    for stage, arm_ablation, seed in plan_runs([parse_arm(stage, ablation) for stage in stages], seeds):
        job = RunJob(stage, seed, profile, precision, arm_ablation, str(reports), "", dict(env or {}))
        out = seed_run_dir(reports, stage, seed, job.config().precision, arm_ablation, band)
        jobs.append(dataclasses.replace(job, out=str(out)))
    return jobs


def run_sweep(
    stages,
    seeds,
    profile: str = "full",
    reports=None,
    *,
    precision=None,
    ablation=None,
    verbose="auto",
    jobs: int = 1,
    threads: int | None = None,
    budget_seconds: float | None = None,
    on_finished: Callable[[Run], None] | None = None,
    log_dir=None,
    executor: Executor | None = None,
) -> list[Run]:
    """Train every (arm, seed) not finished yet and return the runs, in plan order. An arm is a
    stage name (under `ablation`, if given) or 'ABLATION/STAGE' (parse_arm).

    Each run is a RunJob handed to an executor, `jobs` of them in flight at once: by default the
    local one (local_executor: one at a time in this process, or each in a fresh process with
    run_environment(jobs, threads) and its output in log_dir/STAGE-seed_N[-ABLATION].log, default
    runs/sweep-logs/); any concurrent.futures executor that takes a RunJob and returns the run's
    folder will do (ray_engine.RayExecutor). With `budget_seconds`, no run starts once that many
    seconds have passed (the ones running finish). `on_finished(run)` is called in this process
    as each run finishes (e.g. to pack it for a machine without network).
    """
    check_profile(profile)
    check_ablation(ablation)
    if jobs < 1:
        raise ConfigError(f"jobs must be an integer >= 1 (runs trained at once), got {jobs!r}")
    if threads is not None and threads < 1:
        raise ConfigError(f"threads must be an integer >= 1 (CPU threads per run), got {threads!r}")
    reports = Path(reports or reports_root(profile))
    backend, started = current_backend(), time.monotonic()
    env = run_environment(jobs, threads, backend)
    # The band the runs join: the executor's kind of device where it says (Ray), else this machine's.
    band = current_band(getattr(executor, "gpu", None))
    plan = plan_jobs(stages, seeds, profile, reports, precision=precision, ablation=ablation, band=band, env=env)
    plan = [dataclasses.replace(job, verbose=verbose) for job in plan]
    logs = jobs > 1 and executor is None  # runs in fresh local processes: each writes its own log
    # Several GPUs here and local processes: each run is given one (Ray places its tasks itself).
    gpus = visible_gpus() if logs else []
    on_gpu: dict = {}  # future -> the GPU its run holds
    if logs:
        log_dir = Path(log_dir or PROJECT_ROOT / "runs" / "sweep-logs")
        log_dir.mkdir(parents=True, exist_ok=True)
        print(f"== sweep: {len(plan)} runs, {jobs} at once; each run's log in {log_dir}/", flush=True)

    def in_budget() -> bool:
        return budget_seconds is None or time.monotonic() - started < budget_seconds

    finished: dict[tuple[str, str | None, int], Run] = {}
    waiting, running = list(plan), {}
    plan = [(job.stage, job.ablation, job.seed) for job in plan]
    with executor or local_executor(jobs) as pool:
        try:
            while waiting and in_budget() or running:
                while waiting and len(running) < jobs and in_budget():
                    job = waiting.pop(0)
                    stage, arm_ablation, seed = key = job.stage, job.ablation, job.seed
                    if logs:
                        name = f"{arm_name(stage, arm_ablation).replace('/', '-')}-seed_{seed}.log"
                        job = dataclasses.replace(job, log=str(log_dir / name))
                    gpu = least_busy_gpu(gpus, list(on_gpu.values())) if len(gpus) > 1 else None
                    if gpu is not None:
                        job = dataclasses.replace(job, env=job.env | {"CUDA_VISIBLE_DEVICES": gpu})
                    number = len(plan) - len(waiting)
                    where = f" (log: {job.log})" if job.log else ""
                    where += f" (GPU {gpu})" if gpu is not None else ""
                    arm = arm_name(stage, arm_ablation)
                    print(f"== sweep {number}/{len(plan)}: {arm} seed {seed} -> {job.out}{where}", flush=True)
                    future = pool.submit(job)
                    running[future] = key
                    if gpu is not None:
                        on_gpu[future] = gpu
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    key = running.pop(future)
                    on_gpu.pop(future, None)
                    run = load_run(_result(future, key))
                    finished[key] = run
                    print(finished_line(run), flush=True)
                    if on_finished is not None:
                        on_finished(run)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    if waiting:
        print(
            f"== sweep: the budget of {budget_seconds:.0f} s is spent; not started: "
            + ", ".join(f"{arm_name(job.stage, job.ablation)} seed {job.seed}" for job in waiting)
        )
    return [finished[key] for key in plan if key in finished]


class RunFailed(RuntimeError):
    """A run of a sweep failed for a reason of its own (not a bad argument): one line says which and why."""


def _result(future, key) -> str:
    """A finished job's run folder; its error, if it failed, as one line naming the run."""
    stage, ablation, seed = key
    try:
        return future.result()
    except ConfigError:
        raise
    except Exception as error:  # noqa: BLE001 - any error of the run itself, reported as one line
        first = next((line for line in str(error).splitlines() if line.strip()), "")
        raise RunFailed(f"{arm_name(stage, ablation)} seed {seed} failed: {type(error).__name__}: {first}") from error


def train_one(job: RunJob) -> str:
    """Train one run of a sweep into job.out; returns its folder. In a process of its own (job.log
    given) its output goes to the log and job.env is set before the backend loads; in the sweep's
    own process the backend is already loaded, and the environment is left alone."""
    with contextlib.ExitStack() as stack:
        verbose = job.verbose
        if job.log is not None:
            os.environ.update(job.env)
            handle = stack.enter_context(open(job.log, "a", buffering=1))
            stack.enter_context(contextlib.redirect_stdout(handle))
            stack.enter_context(contextlib.redirect_stderr(handle))
            verbose = 2
        from mnist_lab.core.train import run_stage  # imports the backend: after the environment is set

        print(f"== {job.stage} seed {job.seed} -> {job.out}", flush=True)
        return str(run_stage(job.config(), Path(job.out), verbose=verbose).path)


def finished_line(run: Run) -> str:
    """One line per finished run: what a sweep prints as each one ends."""
    m = run.metrics
    return (
        f"finished {arm_name(run.stage, run_ablation(run)):<22} seed {run.seed:>4}: "
        f"test accuracy {100 * m['test_accuracy']:.2f}%, "
        f"{m['images_per_second']:,.0f} images/s, {m['training_seconds']:.0f} s training ({run.path})"
    )


def run_ablation(run: Run) -> str | None:
    """The ablation whose protocol a run's config follows (None: its stage's own protocol)."""
    config = TrainConfig.from_dict(run.config)
    stage_protocol_config = resolve_config(run.stage, "full")
    for name, changes in ABLATIONS.items():
        if all(getattr(config, key) == value for key, value in changes.items()) and any(
            getattr(stage_protocol_config, key) != value for key, value in changes.items()
        ):
            return name
    return None


def protocol_of(config: dict) -> dict:
    """What must match for two runs to be seeds of one experiment: everything but the seed."""
    fields = TrainConfig.from_dict(config).to_dict()
    fields.pop("seed")
    return fields


def stage_protocol(
    stage: str, profile: str = "full", precision: str = TrainConfig.precision, ablation: str | None = None
) -> dict:
    """What every seed of `stage` under the profile shares (protocol_of its resolved config)."""
    check_ablation(ablation)
    config = resolve_config(stage, profile, precision=precision, **ABLATIONS.get(ablation, {}))
    return protocol_of(config.to_dict())


def stage_seeds(
    reports,
    stage: str,
    profile: str = "full",
    precision: str = TrainConfig.precision,
    ablation: str | None = None,
    backend: str = HOME_BACKEND,
) -> list[Run]:
    """The finished runs of `stage` under the profile's protocol in one backend's band, any seed,
    in seed order.

    Runs under another protocol (another epoch budget, subset, ...) are not seeds of this one
    and are left out, and so are runs of another backend (whatever folder they are in).
    """
    reports = band_root(reports, backend)
    expected = stage_protocol(stage, profile, precision, ablation)
    if ablation is not None:
        candidates = sorted((reports / ABLATION_DIR / ablation / stage).glob("seed_*"))
    elif precision == TrainConfig.precision:
        candidates = [reports / stage, *sorted((reports / SEEDS_DIR / stage).glob("seed_*"))]
    else:
        candidates = sorted((reports / PRECISION_DIR / precision / stage).glob("seed_*"))
    runs = []
    for path in candidates:
        try:
            run = load_run(path)
        except FileNotFoundError:
            continue
        if protocol_of(run.config) == expected and run_band(run.metrics) == backend:
            runs.append(run)
    return sorted(runs, key=lambda run: run.seed)


def all_stage_seeds(reports, profile: str = "full", backend: str = HOME_BACKEND) -> dict[str, list[Run]]:
    return {stage: runs for stage in STAGES if (runs := stage_seeds(reports, stage, profile, backend=backend))}


def bands(reports, profile: str = "full") -> dict[str, dict[str, list[Run]]]:
    """Every backend that has runs under the profile's protocol -> its stages' seeds."""
    return {backend: runs for backend in backends(reports) if (runs := all_stage_seeds(reports, profile, backend))}


def labelled_bands(reports, profile: str = "full") -> dict[str, tuple[str, dict[str, list[Run]]]]:
    """bands(), keyed by each band's label ('JAX, GPU', from all its runs): label -> (backend, runs)."""
    return {
        band_label(backend, [run for stage_runs in runs.values() for run in stage_runs]): (backend, runs)
        for backend, runs in bands(reports, profile).items()
    }
