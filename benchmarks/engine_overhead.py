"""What the Ray engine costs beyond the local process pool, for the same runs at the same --jobs.

    python benchmarks/engine_overhead.py [--runs 4] [--jobs 2]

Trains --runs quick-profile dnn runs (seeds 0..runs-1) twice into scratch folders, `--jobs` at
once: with the local engine (a spawn pool of fresh processes) and with `--engine ray` (a local
Ray cluster of this machine, one CPU per run, as `mnist-lab sweep --engine ray` starts it). Prints
the Ray cluster's start-up, each engine's wall time for the runs, and the difference per run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    from mnist_lab.core.provenance import cpu
    from mnist_lab.runs.ray_engine import RayExecutor
    from mnist_lab.runs.sweep import run_sweep

    seeds = list(range(args.runs))
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        local = run_sweep(["dnn"], seeds, "quick", Path(tmp) / "local", jobs=args.jobs, log_dir=Path(tmp) / "logs")
        local_wall = time.perf_counter() - started

        started = time.perf_counter()
        executor = RayExecutor(cpus_per_run=max(1, (os.cpu_count() or 1) // args.jobs), scratch_root=f"{tmp}/scratch")
        startup = time.perf_counter() - started
        started = time.perf_counter()
        remote = run_sweep(["dnn"], seeds, "quick", Path(tmp) / "ray", jobs=args.jobs, executor=executor)
        ray_wall = time.perf_counter() - started
    same = [r.metrics["test_accuracy"] for r in local] == [r.metrics["test_accuracy"] for r in remote]
    machine = cpu()
    print(f"\nCPU: {machine['model']} ({', '.join(machine['features'])}), {os.cpu_count()} cores")
    print(f"{args.runs} quick dnn runs, {args.jobs} at once")
    print(f"  local engine (spawn pool): {local_wall:6.1f} s wall, {local_wall / args.runs:5.1f} s a run")
    print(f"  Ray cluster start-up:      {startup:6.1f} s (once per sweep)")
    print(f"  Ray engine:                {ray_wall:6.1f} s wall, {ray_wall / args.runs:5.1f} s a run")
    print(f"  Ray beyond local, per run: {(ray_wall - local_wall) / args.runs:+6.1f} s (start-up aside)")
    print(f"  the same test accuracies from both engines: {same}")


if __name__ == "__main__":
    main()
