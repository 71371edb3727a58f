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
"""

from __future__ import annotations

import re
from pathlib import Path

from mnist_lab.core.config import MAX_SEED, ConfigError, TrainConfig
from mnist_lab.core.models import STAGES
from mnist_lab.core.run_dir import Run, load_run
from mnist_lab.orchestration.profiles import check_profile, reports_root, resolve_config

SEEDS_DIR = "seeds"
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


def seed_run_dir(
    reports: Path, stage: str, seed: int, precision: str = TrainConfig.precision, ablation: str | None = None
) -> Path:
    if ablation is not None:
        return reports / ABLATION_DIR / ablation / stage / f"seed_{seed}"
    if precision != TrainConfig.precision:
        return reports / PRECISION_DIR / precision / stage / f"seed_{seed}"
    return reports / stage if seed == STAGE_RUN_SEED else reports / SEEDS_DIR / stage / f"seed_{seed}"


def run_sweep(
    stages, seeds, profile: str = "full", reports=None, *, precision=None, ablation=None, verbose="auto"
) -> list[Run]:
    """Train every (stage, seed) not finished yet, one after the other; return all the runs."""
    from mnist_lab.core.train import run_stage  # imports TensorFlow

    check_profile(profile)
    check_ablation(ablation)
    reports = Path(reports or reports_root(profile))
    plan = [(stage, seed) for seed in seeds for stage in stages]
    runs = []
    for number, (stage, seed) in enumerate(plan, start=1):
        config = resolve_config(stage, profile, seed=seed, precision=precision, **ABLATIONS.get(ablation, {}))
        out = seed_run_dir(reports, stage, seed, config.precision, ablation)
        print(f"== sweep {number}/{len(plan)}: {stage} seed {seed} -> {out}", flush=True)
        runs.append(run_stage(config, out, verbose=verbose))
    return runs


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
    reports, stage: str, profile: str = "full", precision: str = TrainConfig.precision, ablation: str | None = None
) -> list[Run]:
    """The finished runs of `stage` under the profile's protocol, any seed, in seed order.

    Runs under another protocol (another epoch budget, subset, ...) are not seeds of this one
    and are left out.
    """
    reports = Path(reports)
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
        if protocol_of(run.config) == expected:
            runs.append(run)
    return sorted(runs, key=lambda run: run.seed)


def all_stage_seeds(reports, profile: str = "full") -> dict[str, list[Run]]:
    return {stage: runs for stage in STAGES if (runs := stage_seeds(reports, stage, profile))}
