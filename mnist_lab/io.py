"""File helpers shared by every module: whole-or-nothing writes and the run's environment."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import subprocess
import tempfile
from pathlib import Path

# The repository root when run from a checkout (editable install); else the working directory.
_PACKAGE_PARENT = Path(__file__).resolve().parents[1]
PROJECT_ROOT = _PACKAGE_PARENT if (_PACKAGE_PARENT / "pyproject.toml").is_file() else Path.cwd()


def sha256_files(paths) -> str:
    """One digest over the names and contents of `paths` (order-independent)."""
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def project_relative(path) -> str:
    """`path` relative to the repository when inside it, else as given: keeps outputs and
    reports free of machine-specific paths."""
    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: Path):
    """Yield a temporary path beside `path`; rename it over `path` only if the block succeeds.

    Readers see the old file or the new one, never half of one. The temporary name keeps
    the extensions (Keras checks for `.keras` and `.weights.h5`).
    """
    path = Path(path)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix="".join(path.suffixes))
    os.close(handle)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; published files get the usual mode
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def check_out_dir(out_dir: Path) -> None:
    from mnist_lab.config import ConfigError

    if Path(out_dir).exists() and not Path(out_dir).is_dir():
        raise ConfigError(f"output path {out_dir} is a file; give a directory (it is created if missing)")


def write_json(path: Path, payload) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")


def read_json(path: Path):
    return json.loads(Path(path).read_text())


def git_commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=_PACKAGE_PARENT,
                              capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=_PACKAGE_PARENT,
                           capture_output=True, text=True, timeout=10, check=False).stdout.strip()
    return done.stdout.strip() + ("-dirty" if dirty else "")


def environment() -> dict:
    """Library versions, backend, devices and commit: what a result depends on besides its config."""
    import keras
    import numpy
    import sklearn

    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "numpy": numpy.__version__,
        "scikit_learn": sklearn.__version__,
        "git_commit": git_commit(),
    }
    if info["backend"] == "tensorflow":
        import tensorflow as tf

        info["tensorflow"] = tf.__version__
        gpus = tf.config.list_physical_devices("GPU")
        info["device"] = ", ".join(d.name for d in gpus) if gpus else f"CPU ({os.cpu_count()} cores)"
    elif info["backend"] == "jax":
        import jax

        info["jax"] = jax.__version__
        info["device"] = ", ".join(str(d) for d in jax.devices())
    return info
