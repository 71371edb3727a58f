"""Where a run goes: the committed reports hold only their protocol's runs.

A run whose resolved config equals its profile's protocol for the stage reads (or, if missing,
trains) the run in the profile's reports folder, as `make reproduce` does. Any other config (a
tweaked epoch budget, subset, seed, batch size, precision, ...) is a scratch run: it goes to
runs/STAGE-HASH/ (git-ignored; HASH is a short hash of the config and of a backend other than
TensorFlow, so the same tweak twice is reused, and never by another backend), and a scratch
config pointed into a reports folder is refused, so trying a change can never overwrite a
committed result. A protocol run under another backend goes to its band's folder,
reports/backends/NAME/ (mnist_lab.runs.layout.band_root).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from mnist_lab.core.config import ConfigError, TrainConfig
from mnist_lab.core.files import PROJECT_ROOT, project_relative
from mnist_lab.runs.settings import REPORT_DIRS, resolve_config
from mnist_lab.core.provenance import HOME_BACKEND
from mnist_lab.runs.layout import band_root
from mnist_lab.runs.devices import current_backend, current_band

SCRATCH_DIR = PROJECT_ROOT / "runs"


def is_protocol(config: TrainConfig, profile: str) -> bool:
    """The config is the profile's protocol for its stage (nothing tweaked)."""
    return config == resolve_config(config.stage, profile)


def tweaks(config: TrainConfig, profile: str) -> dict:
    """The fields that differ from the profile's protocol, with their values."""
    protocol = resolve_config(config.stage, profile).to_dict()
    return {key: value for key, value in config.to_dict().items() if protocol[key] != value}


def scratch_dir(config: TrainConfig, backend: str = HOME_BACKEND) -> Path:
    """runs/STAGE-HASH: the hash covers the config and, for a backend other than HOME_BACKEND, the
    backend, so that runs of two backends never share (or reuse) a folder."""
    identity = config.to_dict() if backend == HOME_BACKEND else [config.to_dict(), backend]
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:8]
    return SCRATCH_DIR / f"{config.stage}-{digest}"


def inside_reports(path: Path) -> bool:
    """The path lies in a profile's reports folder (reports/ or reports-quick/)."""
    path = Path(path).resolve()
    return any(path.is_relative_to((PROJECT_ROOT / folder).resolve()) for folder in REPORT_DIRS.values())


def run_dir_for(config: TrainConfig, profile: str, default: Path, requested=None) -> Path:
    """The folder a run of `config` goes to: `requested` if given and allowed, else the profile's
    folder (`default`, in the reports' own layout) for the protocol, under the band folder of the
    backend this process trains with, else its scratch folder. Refuses a tweaked config in reports/."""
    if requested is not None:
        requested = Path(requested)
        if not is_protocol(config, profile) and inside_reports(requested):
            changed = ", ".join(f"{key}={value!r}" for key, value in tweaks(config, profile).items())
            raise ConfigError(
                f"{project_relative(requested)} is inside the committed reports, but this config is not the "
                f"{profile} protocol ({changed}): leave the folder out (it then goes to "
                f"{project_relative(scratch_dir(config, current_backend()))}/) or choose one outside reports/"
            )
        return requested
    backend = current_backend()
    if not is_protocol(config, profile):
        return scratch_dir(config, backend)
    default = Path(default)  # REPORTS/STAGE -> REPORTS/backends/BAND/STAGE for another band
    return band_root(default.parent, current_band()) / default.name
