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

Bands: the Keras backend is part of a run's identity. The committed TensorFlow runs (HOME_BACKEND)
live in reports/ as above; another backend's runs live in the same layout under
reports/backends/NAME/, and every function that pools seeds takes one backend and reads only
the runs that recorded it (metrics.json's environment), so no two backends are ever pooled.

`run_sweep(..., jobs=N)` trains up to N runs at once, each in a fresh process (a
concurrent.futures pool); every run is still its own locked, resumable unit, and each finished
one prints a line. Under JAX the processes share one GPU, so none preallocates its memory.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import re
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

from mnist_lab.core.config import MAX_SEED, ConfigError, TrainConfig
from mnist_lab.core.files import PROJECT_ROOT
from mnist_lab.core.models import STAGES, get_stage
from mnist_lab.core.provenance import HOME_BACKEND, run_backend  # HOME_BACKEND's runs live in reports/ itself
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


def band_root(reports, backend: str = HOME_BACKEND) -> Path:
    """Where one backend's runs live: reports/ itself for HOME_BACKEND, else reports/backends/NAME/."""
    return Path(reports) if backend == HOME_BACKEND else Path(reports) / BACKENDS_DIR / backend


def backends(reports) -> list[str]:
    """Every backend with a band folder: HOME_BACKEND first, then the others by name."""
    others = sorted(path.name for path in (Path(reports) / BACKENDS_DIR).glob("*") if path.is_dir())
    return [HOME_BACKEND, *others]


def band_label(backend: str, runs=()) -> str:
    """'TensorFlow, CPU' or 'JAX, GPU': the backend, and the kind of device its runs trained on."""
    kinds = sorted(
        {"CPU" if run.metrics["environment"].get("device", "CPU").startswith("CPU") else "GPU" for run in runs}
    )
    name = BACKEND_NAMES.get(backend, backend)
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
    budget_seconds: float | None = None,
    on_finished: Callable[[Run], None] | None = None,
    log_dir=None,
) -> list[Run]:
    """Train every (arm, seed) not finished yet and return the runs, in plan order. An arm is a
    stage name (under `ablation`, if given) or 'ABLATION/STAGE' (parse_arm).

    jobs > 1 trains that many at once, each in a fresh process whose output goes to
    log_dir/STAGE-seed_N[-ABLATION].log (default runs/sweep-logs/). With `budget_seconds`, no run starts
    once that many seconds have passed (the ones running finish). `on_finished(run)` is called
    in this process as each run finishes (e.g. to pack it for the device tool).
    """
    check_profile(profile)
    check_ablation(ablation)
    if jobs < 1:
        raise ConfigError(f"jobs must be an integer >= 1 (runs trained at once), got {jobs!r}")
    reports = Path(reports or reports_root(profile))
    plan = plan_runs([parse_arm(stage, ablation) for stage in stages], seeds)
    started = time.monotonic()

    def in_budget() -> bool:
        return budget_seconds is None or time.monotonic() - started < budget_seconds

    if jobs == 1:
        from mnist_lab.core.train import run_stage  # imports TensorFlow

        backend, runs = current_backend(), []
        for number, (stage, ablation, seed) in enumerate(plan, start=1):
            if not in_budget():
                left = len(plan) - number + 1
                print(f"== sweep: the budget of {budget_seconds:.0f} s is spent; {left} runs not started")
                break
            config = resolve_config(stage, profile, seed=seed, precision=precision, **ABLATIONS.get(ablation, {}))
            out = seed_run_dir(reports, stage, seed, config.precision, ablation, backend)
            print(f"== sweep {number}/{len(plan)}: {arm_name(stage, ablation)} seed {seed} -> {out}", flush=True)
            run = run_stage(config, out, verbose=verbose)
            print(finished_line(run), flush=True)
            if on_finished is not None:
                on_finished(run)
            runs.append(run)
        return runs

    # The processes share one accelerator: none may take (and hold) all of its memory at start.
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    log_dir = Path(log_dir or PROJECT_ROOT / "runs" / "sweep-logs")
    log_dir.mkdir(parents=True, exist_ok=True)
    print(f"== sweep: {len(plan)} runs, {jobs} at once; each run's log in {log_dir}/", flush=True)
    finished: dict[tuple[str, str | None, int], Run] = {}
    # spawn: a fresh interpreter per run (no TensorFlow or XLA state copied by fork), one run per process.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, max_tasks_per_child=1) as pool:
        waiting, running = list(plan), {}
        try:
            while waiting or running:
                while waiting and len(running) < jobs and in_budget():
                    stage, arm_ablation, seed = key = waiting.pop(0)
                    log = log_dir / f"{arm_name(stage, arm_ablation).replace('/', '-')}-seed_{seed}.log"
                    future = pool.submit(
                        train_one, stage, seed, profile, str(reports), precision, arm_ablation, str(log)
                    )
                    running[future] = key
                    print(f"== started {arm_name(stage, arm_ablation)} seed {seed} (log: {log})", flush=True)
                if waiting and not in_budget() and not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    key = running.pop(future)
                    run = load_run(future.result())  # a worker's error is raised here, with its message
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
            + ", ".join(f"{arm_name(stage, name)} seed {seed}" for stage, name, seed in waiting)
        )
    return [finished[key] for key in plan if key in finished]


def train_one(stage, seed, profile, reports, precision, ablation, log) -> str:
    """One run of a parallel sweep, in its own process; its output goes to `log`. Returns its folder."""
    with open(log, "a", buffering=1) as handle, contextlib.redirect_stdout(handle), contextlib.redirect_stderr(handle):
        from mnist_lab.core.train import run_stage

        config = resolve_config(stage, profile, seed=seed, precision=precision, **ABLATIONS.get(ablation, {}))
        out = seed_run_dir(Path(reports), stage, seed, config.precision, ablation, current_backend())
        print(f"== {stage} seed {seed} -> {out}", flush=True)
        return str(run_stage(config, out, verbose=2).path)


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
        if protocol_of(run.config) == expected and run_backend(run.metrics) == backend:
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
