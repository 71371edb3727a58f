"""What a result depends on besides its config: library versions, backend, CPU, commit."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

_REPO = Path(__file__).resolve().parents[2]  # mnist_lab/core/provenance.py
# CPU features that decide training speed (and, at the last digit, results) on this project's machines.
CPU_FEATURES = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def git_commit() -> str | None:
    """HEAD, with '-dirty' when tracked files differ from it: such a run is not reproducible from git.
    Results under reports/ do not count: a sweep deletes each finished seed's committed checkpoint."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=_REPO, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)reports"],
        cwd=_REPO,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    ).stdout.strip()
    return done.stdout.strip() + ("-dirty" if dirty else "")


def cpu() -> dict:
    """The CPU's model name and which of CPU_FEATURES it has (Linux; elsewhere what platform says)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    except OSError:
        pass
    return {"model": model, "features": [f for f in CPU_FEATURES if f in flags]}


def environment() -> dict:
    """Library versions, backend, device, CPU and commit, for metrics.json."""
    import keras
    import numpy
    import sklearn

    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu": cpu(),
        "cpu_count": os.cpu_count(),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "numpy": numpy.__version__,
        "scikit_learn": sklearn.__version__,
        "git_commit": git_commit(),
    }
    accelerators = []
    if info["backend"] == "tensorflow":
        import tensorflow as tf

        info["tensorflow"] = tf.__version__
        accelerators = [d.name for d in tf.config.list_physical_devices("GPU")]
    elif info["backend"] == "jax":
        import jax

        info["jax"] = jax.__version__
        accelerators = [d.device_kind for d in jax.devices() if d.platform != "cpu"]  # e.g. 'NVIDIA H100 80GB HBM3'
    info["device"] = ", ".join(accelerators) if accelerators else f"CPU ({os.cpu_count()} cores)"
    return info


# The backend of the committed runs, and of every run that predates recording it.
HOME_BACKEND = "tensorflow"


def run_backend(metrics: dict) -> str:
    """The Keras backend a finished run trained under (runs that predate the field: TensorFlow)."""
    return metrics.get("environment", {}).get("backend", HOME_BACKEND)


def band_name(backend: str, gpu: bool) -> str:
    """A band: a backend and the kind of device, 'tensorflow' (on CPUs, the committed runs'),
    'tensorflow-gpu', 'jax', 'jax-gpu'. cuDNN's kernels are not a CPU's: a GPU run is another sample."""
    return f"{backend}-gpu" if gpu else backend


def run_band(metrics: dict) -> str:
    """The band of a finished run, from the backend and device it recorded (runs that predate the
    device: CPU)."""
    device = metrics.get("environment", {}).get("device", "CPU")
    return band_name(run_backend(metrics), not device.startswith("CPU"))


def trained_in(metrics: dict) -> list[dict]:
    """The environments a run's epochs trained in: one per session where recorded (a resumed
    run's may differ), else the run's one environment (runs that predate sessions)."""
    recorded = [session["environment"] for session in metrics.get("sessions", []) if session["environment"]]
    return recorded or [metrics["environment"]]


def backend_label(environment: dict) -> str:
    """'tensorflow 2.21.0' from a run's recorded environment ('?' for runs that predate it)."""
    name = environment.get("backend", "?")
    return f"{name} {environment[name]}" if name in environment else name


def machine_label(environment: dict) -> str:
    """Where a run trained: its accelerator, or its CPU's model and features where recorded
    ('AMD EPYC, 2 cores (avx2, avx512f, avx512_bf16)'); runs that predate that say 'CPU model not
    recorded (2 cores)': two of them may come from different machines."""
    device = environment.get("device", "?")
    cpu_info = environment.get("cpu")
    if device.startswith("CPU") and not cpu_info:
        return device.replace("CPU", "CPU model not recorded", 1)
    if not device.startswith("CPU"):
        return device
    features = f" ({', '.join(cpu_info['features'])})" if cpu_info["features"] else ""
    return f"{cpu_info['model']}, {environment.get('cpu_count', '?')} cores{features}"
