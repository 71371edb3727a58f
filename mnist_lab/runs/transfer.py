"""Runs that travel: packing finished runs on a machine without network, and bringing them into reports/.

A sweep on such a machine (`mnist-lab sweep --pack DIR`, gpu/sweep.sh; docs/scaling.md) packs
every finished run, as it finishes, into at most `files` tar files in DIR: run i goes to
runs_{i % files}.tar, which is rewritten whole (a cut-off leaves every pack holding whole runs,
and the runs finished until then). A run travels without its model (7 MB): config.json,
history.json, metrics.json, the test probabilities and the robustness results, about 0.2 MB.
`--pack-files` and `--pack-limit` fit the packs to what the user's transfer can carry.

`receive(folder)` (`mnist-lab receive FOLDER`) brings packed runs into a reports folder, each
one only if it is complete, trained under the profile's protocol for its stage (or one of the
ablations) at this training version, and records its backend and device. It goes where the
sweep layout puts it for its own band (backend and kind of device) (layout.seed_run_dir), and never over another run.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mnist_lab.core.config import ConfigError, TrainConfig
from mnist_lab.core.files import _umask, atomic_path
from mnist_lab.core.provenance import run_band
from mnist_lab.core.run_dir import (
    PROBABILITIES,
    REQUIRED_FILES,
    ROBUSTNESS_PREDICTIONS,
    ROBUSTNESS_RESULTS,
    DamagedRun,
    Run,
    load_run,
)
from mnist_lab.runs.settings import reports_root
from mnist_lab.runs.layout import protocol_of, run_ablation, seed_run_dir, stage_protocol

PACK_FILES = 7  # default number of pack files: with the sweep's log, eight files to bring back
TRAVELLING_FILES = (*REQUIRED_FILES, PROBABILITIES, ROBUSTNESS_RESULTS, ROBUSTNESS_PREDICTIONS)


class Packer:
    """Packs each finished run into out_dir/runs_K.tar as it is handed one (a sweep's on_finished):
    at most `files` packs; a warning when one grows past `limit_mib` (None: no limit)."""

    def __init__(self, out_dir, reports, files: int = PACK_FILES, limit_mib: float | None = None):
        if files < 1:
            raise ConfigError(f"--pack-files must be an integer >= 1, got {files}")
        self.out_dir, self.reports = Path(out_dir), Path(reports)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.packs: list[list[Run]] = [[] for _ in range(files)]
        self.limit = None if limit_mib is None else limit_mib * 2**20
        self.count = 0

    def __call__(self, run: Run) -> Path:
        index = self.count % len(self.packs)
        self.count += 1
        pack = self.packs[index]
        pack.append(run)
        path = self.out_dir / f"runs_{index}.tar"
        with atomic_path(path) as tmp, tarfile.open(tmp, "w") as tar:
            for member in pack:
                name = member.path.resolve().relative_to(self.reports.resolve()).as_posix()
                for file in TRAVELLING_FILES:
                    if (member.path / file).is_file():
                        tar.add(member.path / file, arcname=f"{name}/{file}")
        if self.limit is not None and path.stat().st_size > self.limit:
            print(f"warning: {path} is {path.stat().st_size / 2**20:.1f} MiB, past --pack-limit {self.limit / 2**20:g}")
        return path


@dataclass(frozen=True)
class Received:
    name: str  # the run's folder inside the pack
    destination: Path | None
    outcome: str  # "added", "already here", or why it was refused


def check_travelled(run: Run, profile: str) -> tuple[str | None, str | None]:
    """(ablation or None, None) for a run fit to join the bands, else (None, why not)."""
    from mnist_lab.core.train import TRAINING_VERSION  # imports Keras: only once there is a pack to read

    missing = [name for name in TRAVELLING_FILES if not (run.path / name).is_file()]
    if missing:
        return None, f"incomplete: no {', '.join(missing)}"
    environment = run.metrics.get("environment", {})
    if not environment.get("backend") or not environment.get("device"):
        return None, "its metrics.json records no backend or device"
    if run.metrics.get("training_version") != TRAINING_VERSION:
        return None, f"trained at training version {run.metrics.get('training_version')}, not {TRAINING_VERSION}"
    ablation = run_ablation(run)
    config = TrainConfig.from_dict(run.config)
    expected = stage_protocol(run.stage, profile, config.precision, ablation)
    if protocol_of(run.config) != expected:
        changed = ", ".join(
            f"{key} {value!r} (protocol: {expected[key]!r})"
            for key, value in protocol_of(run.config).items()
            if value != expected[key]
        )
        return None, f"not the {profile} protocol of {run.stage}: {changed}"
    return ablation, None


def receive(folder, reports=None, profile: str = "full") -> list[Received]:
    """Bring every run packed in folder/*.tar into `reports` (default: the profile's reports folder)."""
    folder = Path(folder)
    reports = Path(reports or reports_root(profile))
    packs = sorted(folder.glob("*.tar"))
    if not packs:
        raise ConfigError(f"{folder} holds no .tar packs of runs: give the folder a sweep --pack wrote")
    received = []
    with tempfile.TemporaryDirectory() as scratch:
        for pack in packs:
            try:
                with tarfile.open(pack) as tar:
                    tar.extractall(scratch, filter="data")  # refuses absolute paths, '..' and links out
            except (tarfile.TarError, OSError) as err:
                raise ConfigError(f"{pack} is not a readable tar file ({err}); bring it back again") from None
        for metrics in sorted(Path(scratch).rglob("metrics.json")):
            name = metrics.parent.relative_to(scratch).as_posix()
            received.append(receive_run(metrics.parent, name, reports, profile))
    return received


def receive_run(path: Path, name: str, reports: Path, profile: str) -> Received:
    """Bring the finished run in `path` into `reports`, if it passes check_travelled, where the
    sweep layout puts it, never over another run (`name` labels it in the outcome)."""
    try:
        run = load_run(path)
    except (FileNotFoundError, DamagedRun) as err:
        return Received(name, None, f"refused: {err}")
    ablation, why_not = check_travelled(run, profile)
    if why_not:
        return Received(name, None, f"refused: {why_not}")
    config = TrainConfig.from_dict(run.config)
    destination = seed_run_dir(reports, run.stage, run.seed, config.precision, ablation, run_band(run.metrics))
    if (destination / "metrics.json").is_file():
        same = all(
            (destination / file).read_bytes() == (path / file).read_bytes()
            for file in TRAVELLING_FILES
            if (destination / file).is_file()
        )
        return Received(name, destination, "already here" if same else "refused: another run is already there")
    if destination.exists():
        return Received(
            name,
            destination,
            "refused: an unfinished run is there (its .partial checkpoint); delete it to bring this in",
        )
    destination.parent.mkdir(parents=True, exist_ok=True)
    incoming = Path(tempfile.mkdtemp(prefix=f".{destination.name}.incoming.", dir=destination.parent))
    incoming.chmod(0o777 & ~_umask())  # mkdtemp makes it 0700: a received run reads as a local one does
    for file in TRAVELLING_FILES:
        shutil.copy2(path / file, incoming / file)
    incoming.rename(destination)  # whole or not at all
    return Received(name, destination, "added")


def summary_lines(received: list[Received]) -> list[str]:
    lines = [
        f"{item.outcome:<13} {item.name}" + (f" -> {item.destination}" if item.destination else "") for item in received
    ]
    counts = {}
    for item in received:
        key = item.outcome if not item.outcome.startswith("refused") else "refused"
        counts[key] = counts.get(key, 0) + 1
    lines.append(", ".join(f"{count} {key}" for key, count in counts.items()) or "no runs in the packs")
    return lines


def pack_listing(folder) -> list[str]:
    """What each pack holds, as `tar tf` would say it (for a log)."""
    out = []
    for pack in sorted(Path(folder).glob("*.tar")):
        with tarfile.open(pack) as tar:
            runs = sorted({Path(member).parent.as_posix() for member in tar.getnames()})
        out.append(f"{pack.name}: {len(runs)} runs, {pack.stat().st_size / 2**20:.2f} MiB")
    return out
