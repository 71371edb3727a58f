"""Where every run lives, and reading runs back by band: the one map of the reports folder.

A stage's committed run in reports/STAGE/ (seed 42) counts as one of its seeds; the others live in
reports/seeds/STAGE/seed_N/. Runs in another precision than the seed's float32 are another
protocol: reports/precision/PRECISION/STAGE/seed_N/ (seed 42 included), never mixed into a stage's
seeds; so are the ablations off the ladder (settings.ABLATIONS: one protocol field changed), in
reports/ablation/NAME/STAGE/seed_N/; and the longer-budget candidates, reports/selection/NAME/.

Bands: the Keras backend and the kind of device (CPU or GPU) are part of a run's identity. The
committed TensorFlow CPU runs (HOME_BACKEND) live in reports/ as above; every other band's runs
live in the same layout under reports/backends/BAND/ (`jax`, `jax-gpu`, `tensorflow-gpu`:
provenance.band_name), and every function that pools seeds takes one band (its `backend`
argument is a band name) and reads only the runs that recorded it (metrics.json's environment:
provenance.run_band), so no two bands are ever pooled. Nothing here trains.
"""

from __future__ import annotations

from pathlib import Path

from mnist_lab.core.config import ConfigError, TrainConfig
from mnist_lab.core.models import STAGES
from mnist_lab.core.provenance import HOME_BACKEND, run_band  # HOME_BACKEND's runs live in reports/ itself
from mnist_lab.core.run_dir import Run, load_run
from mnist_lab.runs.settings import (
    ABLATIONS,
    BASE_STAGE,
    CANDIDATES,
    SELECTION_DIR,
    STAGE_RUN_SEED,
    candidate_config,
    resolve_config,
)

BASELINE = "seed protocol"  # the base stage's own run, reports/cnn_bn_aug/ (its validation figures only)

SEEDS_DIR = "seeds"


BACKENDS_DIR = "backends"


BACKEND_NAMES = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}


PRECISION_DIR = "precision"


ABLATION_DIR = "ablation"


def check_ablation(ablation: str | None) -> None:
    if ablation is not None and ablation not in ABLATIONS:
        raise ConfigError(f"unknown ablation {ablation!r}; valid ablations: {', '.join(ABLATIONS)}")


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


def candidate_runs(reports, profile: str = "full") -> dict[str, Run]:
    """The finished candidates under the profile's protocol (and the baseline, if it has a run)."""
    reports = Path(reports)
    runs = {}
    for name in CANDIDATES:
        try:
            run = load_run(reports / SELECTION_DIR / name)
        except FileNotFoundError:
            continue
        if TrainConfig.from_dict(run.config) == candidate_config(name, profile):
            runs[name] = run
    try:
        baseline = load_run(reports / BASE_STAGE)
        if TrainConfig.from_dict(baseline.config) == resolve_config(BASE_STAGE, profile):
            runs[BASELINE] = baseline
    except FileNotFoundError:
        pass
    return runs
