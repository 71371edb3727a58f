"""The stage runs' models (reports/STAGE/model.keras): kept in git's history, restored on demand.

Why not in the working tree: a copy of the working tree travels to machines without network
(docs/scaling.md), where every megabyte counts, and six models took 40 MB of it (issue 42). Each
model is still committed: reports/models.json names the git blob that holds it and its SHA-256, so `mnist-lab models`
(or `make models`) writes it back from the clone's own history, offline, checked byte for byte.
The restored files are git-ignored. Everything a report shows is computed from the runs' other
files; a model is needed only to evaluate it again (`mnist-lab robustness --force` after a suite
bump) or to check it (tests/test_reports.py restores them first).

A newly trained stage run's model enters the same way: commit it once (`git add -f`), then
`mnist-lab models --record reports/STAGE/model.keras` notes its blob, and `git rm --cached` it
in the next commit; the blob stays reachable through the first.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from mnist_lab.core.config import ConfigError
from mnist_lab.core.files import PROJECT_ROOT, atomic_path, read_json, write_json

MANIFEST = PROJECT_ROOT / "reports" / "models.json"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _git(*args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, check=False, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ConfigError(f"git is needed to restore the models from history ({err})") from None


def manifest() -> dict[str, dict]:
    return read_json(MANIFEST) if MANIFEST.is_file() else {}


def restore(names=None) -> list[tuple[str, str]]:
    """Write every recorded model (or those named, as paths relative to the project) that is
    missing or differs; return (path, 'restored' or 'already here')."""
    entries = manifest()
    unknown = sorted(set(names or ()) - set(entries))
    if unknown:
        raise ConfigError(f"no recorded model {', '.join(unknown)}; recorded: {', '.join(entries)}")
    done = []
    for name, entry in entries.items():
        if names and name not in names:
            continue
        path = PROJECT_ROOT / name
        if path.is_file() and _sha256(path.read_bytes()) == entry["sha256"]:
            done.append((name, "already here"))
            continue
        blob = _git("cat-file", "blob", entry["blob"])
        if blob.returncode != 0:
            raise ConfigError(
                f"git history has no blob {entry['blob']} for {name} (a shallow clone?): "
                "run `git fetch --unshallow`, then this again"
            )
        if _sha256(blob.stdout) != entry["sha256"]:
            raise ConfigError(f"blob {entry['blob']} does not hold {name} as recorded (SHA-256 differs)")
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            Path(tmp).write_bytes(blob.stdout)
        done.append((name, "restored"))
    return done


def record(name: str) -> dict:
    """Note the committed model at `name` (in HEAD's tree) in the manifest."""
    found = _git("rev-parse", f"HEAD:{name}")
    if found.returncode != 0:
        raise ConfigError(f"{name} is not in HEAD's tree: commit it first (git add -f {name}; git commit)")
    blob = found.stdout.decode().strip()
    data = _git("cat-file", "blob", blob).stdout
    entries = manifest()
    entries[name] = {"blob": blob, "sha256": _sha256(data), "bytes": len(data)}
    write_json(MANIFEST, dict(sorted(entries.items())))
    return entries[name]
