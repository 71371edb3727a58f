"""What this machine trains with, told without loading a backend: the Keras backend, the GPUs
its runs may use, and so the band its runs join (provenance.band_name)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from mnist_lab.core.provenance import HOME_BACKEND, band_name


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
