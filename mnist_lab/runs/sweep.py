"""Seed sweeps: one run per (stage, seed) under a profile's protocol.

Only the training seed varies (initialisation, shuffling, dropout, augmentation draws); the
split stays the seed notebook's (`split_seed` 42). Where each run lands is layout's; a seed run
keeps config.json, history.json, metrics.json and the test probabilities, but no model (size).
Each run is its own unit: locked, resumable, reused when finished.

A sweep keeps each run's model.keras on disk for `mnist-lab robustness`; git ignores the seed
runs' models (7 MB each) and keeps their robustness results.

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
from mnist_lab.core.run_dir import Run, load_run
from mnist_lab.runs.devices import current_backend, current_band, least_busy_gpu, visible_gpus
from mnist_lab.runs.layout import check_ablation, run_ablation, seed_run_dir
from mnist_lab.runs.settings import ABLATIONS, SWEEP_ORDER, check_profile, reports_root, resolve_config


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


def parse_arm(text: str, ablation: str | None = None) -> tuple[str, str | None]:
    """An arm of a sweep: 'STAGE' (under `ablation`, if given) or 'ABLATION/STAGE', as the
    reports lay them out (reports/ablation/ABLATION/STAGE/). -> (stage, ablation or None)."""
    name, _, stage = str(text).rpartition("/")
    get_stage(stage)
    check_ablation(name or ablation)
    return stage, name or ablation


def arm_name(stage: str, ablation: str | None) -> str:
    return f"{ablation}/{stage}" if ablation else stage


ENGINES = ("local", "ray")


def check_sweep(
    stages,
    seeds,
    profile: str = "full",
    *,
    precision: str | None = None,
    ablation: str | None = None,
    jobs: int | None = None,
    threads: int | None = None,
    budget_seconds: float | None = None,
    engine: str = "local",
    address: str | None = None,
    runs_per_gpu: int | None = None,
) -> tuple[list[tuple[str, str | None]], list[int]]:
    """Every argument of a sweep checked, in one place, before any engine starts or any backend
    loads (the CLI and run_sweep both call it): -> (arms, seeds). `seeds` is a list of integers or
    the command line's text ('0-4', '0,3,7'). Each error is a ConfigError naming the option."""
    check_profile(profile)
    check_ablation(ablation)
    if engine not in ENGINES:
        raise ConfigError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine != "ray" and (address or runs_per_gpu is not None):
        raise ConfigError("--address and --runs-per-gpu are for the Ray engine: add --engine ray")
    if runs_per_gpu is not None and runs_per_gpu < 1:
        raise ConfigError(f"--runs-per-gpu must be an integer >= 1 (runs packed onto each GPU), got {runs_per_gpu}")
    if address not in (None, "auto"):
        host, _, port = str(address).rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"--address must be HOST:PORT (as `ray start --head` prints it) or auto, got {address!r}")
    if jobs is not None and jobs < 1:
        raise ConfigError(f"--jobs must be an integer >= 1 (runs trained at once), got {jobs}")
    if threads is not None and threads < 1:
        raise ConfigError(f"--threads must be an integer >= 1 (CPU threads per run), got {threads}")
    if budget_seconds is not None and budget_seconds < 0:
        raise ConfigError(f"--budget must be a number of seconds >= 0, got {budget_seconds}")
    if precision is not None:
        TrainConfig(precision=precision)  # raises for an unknown precision, before the backend loads
    arms = [parse_arm(stage, ablation) for stage in stages]
    if not arms:
        raise ConfigError("give at least one --stage (or none: every stage)")
    if isinstance(seeds, str):
        seeds = parse_seeds(seeds)
    else:
        seeds = sorted(set(seeds))
        if not seeds or any(not isinstance(seed, int) or not 0 <= seed <= MAX_SEED for seed in seeds):
            raise ConfigError(f"seeds must be integers 0 to {MAX_SEED}, got {seeds!r}")
    return arms, seeds


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

    def reusable(self) -> bool:
        """Finished at `out` (finished()) with nothing left to do there: its robustness results are
        at this suite version, or it keeps no model to evaluate. A sweep reads such a run instead of
        handing it to an engine."""
        if not (Path(self.out) / "metrics.json").is_file() or not self.finished():  # the first test loads no backend
            return False
        from mnist_lab.core.robustness import SUITE_VERSION, needs_adaptation, read_results  # imports the backend

        if not (Path(self.out) / "model.keras").is_file():
            return True
        results = read_results(self.out)
        return (results or {}).get("suite_version") == SUITE_VERSION and not needs_adaptation(results)

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
    check_sweep(
        stages, seeds, profile, precision=precision, ablation=ablation, jobs=jobs, threads=threads,
        budget_seconds=budget_seconds,
    )
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

    def in_budget() -> bool:
        return budget_seconds is None or time.monotonic() - started < budget_seconds

    finished: dict[tuple[str, str | None, int], Run] = {}
    reused: list[Run] = []
    waiting, running = [], {}
    for job in plan:  # a finished run is read, not handed to the engine: it costs no process, no cluster
        if job.reusable():
            run = load_run(job.out)
            finished[(job.stage, job.ablation, job.seed)] = run
            reused.append(run)
            print(reused_line(run), flush=True)
            if on_finished is not None:
                on_finished(run)
        else:
            waiting.append(job)
    to_train = len(waiting)
    if logs and waiting:
        log_dir = Path(log_dir or PROJECT_ROOT / "runs" / "sweep-logs")
        log_dir.mkdir(parents=True, exist_ok=True)
        print(f"== sweep: {to_train} runs to train, {jobs} at once; each run's log in {log_dir}/", flush=True)
    plan = [(job.stage, job.ablation, job.seed) for job in plan]
    with executor or (local_executor(jobs) if waiting else InlineExecutor()) as pool:
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
                    number = to_train - len(waiting)
                    where = f" (log: {job.log})" if job.log else ""
                    where += f" (GPU {gpu})" if gpu is not None else ""
                    arm = arm_name(stage, arm_ablation)
                    print(f"== sweep {number}/{to_train}: {arm} seed {seed} -> {job.out}{where}", flush=True)
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
    return SweepRuns([finished[key] for key in plan if key in finished], reused=reused)


class SweepRuns(list):
    """A sweep's runs in plan order (a list of Run), and which of them were `reused`: finished
    before the sweep started, read rather than trained."""

    def __init__(self, runs, reused=()):
        super().__init__(runs)
        self.reused = list(reused)

    @property
    def trained(self) -> list[Run]:
        reused = {id(run) for run in self.reused}
        return [run for run in self if id(run) not in reused]


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


def reused_line(run: Run) -> str:
    """One line per run a sweep found finished: read, not trained (its figures are the earlier training's)."""
    m = run.metrics
    return (
        f"reused   {arm_name(run.stage, run_ablation(run)):<22} seed {run.seed:>4}: "
        f"test accuracy {100 * m['test_accuracy']:.2f}%, trained earlier, not again ({run.path})"
    )


def finished_line(run: Run) -> str:
    """One line per finished run: what a sweep prints as each one ends."""
    m = run.metrics
    return (
        f"finished {arm_name(run.stage, run_ablation(run)):<22} seed {run.seed:>4}: "
        f"test accuracy {100 * m['test_accuracy']:.2f}%, "
        f"{m['images_per_second']:,.0f} images/s, {m['training_seconds']:.0f} s training ({run.path})"
    )


