"""One run with all of the machine's threads, or several runs at once with a share each: which
trains more images per second in all? (how `make campaign` and `sweep --jobs` should be run)

    python benchmarks/runs_at_once.py [--runs 2] [--steps 150] [--warmup 15] [--rounds 2]

Each configuration trains cnn_bn_aug with this project's pipeline (augmentation_throughput.py's
"ours" measurement: --warmup untimed steps, then --steps timed ones), in fresh processes:
- one run, the backend's own thread count (TensorFlow takes every core);
- --runs runs started together, each with cores / runs intra- and inter-op threads, as
  `mnist-lab sweep --jobs N` starts them (sweep.run_environment).
The figure is training images/s summed over the runs of a configuration. The configurations take
turns for --rounds rounds; medians are reported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def start(steps: int, warmup: int, env: dict) -> subprocess.Popen:
    command = [sys.executable, str(HERE / "augmentation_throughput.py"), "--only", "ours"]
    command += ["--steps", str(steps), "--warmup", str(warmup)]
    return subprocess.Popen(
        command, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )


def images_per_second(processes: list[subprocess.Popen]) -> float:
    rates = []
    for process in processes:
        out, _ = process.communicate()
        if process.returncode:
            sys.exit(f"a measurement failed (exit {process.returncode})")
        rates.append(float(out.strip().splitlines()[-1]))
    return sum(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="runs at once in the shared configuration")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--warmup", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    from mnist_lab.core.provenance import cpu
    from mnist_lab.runs.sweep import run_environment

    shared = run_environment(args.runs, backend="tensorflow")
    threads = shared["TF_NUM_INTRAOP_THREADS"]
    names = ("one run, the backend's threads", f"{args.runs} runs at once, {threads} thread(s) each")
    rates = {name: [] for name in names}
    for round_number in range(1, args.rounds + 1):
        rates[names[0]].append(images_per_second([start(args.steps, args.warmup, {})]))
        rates[names[1]].append(images_per_second([start(args.steps, args.warmup, shared) for _ in range(args.runs)]))
        print(f"round {round_number}: " + ", ".join(f"{name} {r[-1]:.1f}" for name, r in rates.items()), flush=True)
    machine = cpu()
    print(f"\nCPU: {machine['model']} ({', '.join(machine['features'])}), {os.cpu_count()} cores")
    print(f"cnn_bn_aug, {args.steps} timed steps after {args.warmup}, median of {args.rounds} rounds")
    median = {name: statistics.median(values) for name, values in rates.items()}
    for name, rate in median.items():
        print(f"{name:>40}: {rate:7.1f} training images/s in all")
    print(f"{names[1]} / {names[0]}: {median[names[1]] / median[names[0]]:.2f}x")


if __name__ == "__main__":
    main()
