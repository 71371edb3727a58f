"""The golden guard's margin: how far the CPU's kernels move its tiny runs, against how far the
smallest real change of the computation moves them (tests/golden.py, tests/test_golden.py).

    python benchmarks/golden_margin.py            # about 5 minutes on 2 cores
    python benchmarks/golden_margin.py --float32 --kernels-only  # the old float32 runs' side, for contrast

Each configuration runs in a fresh process: the code as it is with oneDNN on (the default), with
oneDNN off (TF_ENABLE_ONEDNN_OPTS=0: other CPU kernels, as another CPU would have) and with one
intra-op thread (another partition of every reduction); then a copy of the package with one
mutation each, which the guard must catch, and a comment-only edit, which it must pass. A
difference is the largest relative difference over the losses and weight sums of a stage's tiny
run against the code as it is; "structure" says whether the structural check (no training) catches
the mutation on its own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# (name, file in the package, text, replacement): each one change the guard must catch.
MUTATIONS = [
    ("cnn_reg's dense Dropout 0.5 -> 0.45", "core/models.py", "[layers.Dropout(0.5)]", "[layers.Dropout(0.45)]"),
    ("augmentation fill mode nearest -> reflect", "core/pipeline.py", 'fill_mode="NEAREST"', 'fill_mode="REFLECT"'),
    ("cnn_reg's L2 1e-3 -> 1.1e-3", "core/models.py", "l2=1e-3, batchnorm=False", "l2=1.1e-3, batchnorm=False"),
    ("dnn's hidden width 512 -> 511", "core/models.py", "Dense(512, activation=", "Dense(511, activation="),
    ("cnn_bn_aug_long's decay 0.95 -> 0.951", "core/models.py", "lr_decay=0.95,", "lr_decay=0.951,"),
]
COMMENT_ONLY = ("a comment-only edit", "core/train.py", "TRAINING_VERSION = 1", "TRAINING_VERSION = 1  # a comment")

# Runs in the child process: the tiny runs' values and which structures differ from the recorded ones.
CHILD = """
import json, sys, tempfile
from pathlib import Path
sys.path.insert(0, {tests!r})
import golden
runs = dict(golden.GOLDEN_RUNS)
if {float32!r}:
    runs = {{stage: {{k: v for k, v in tiny.items() if k != "precision"}} for stage, tiny in runs.items()}}
    golden.GOLDEN_RUNS = runs
import mnist_lab
assert mnist_lab.__file__.startswith({package!r}), mnist_lab.__file__
recorded = json.loads(golden.GOLDEN_PATH.read_text())["structures"]
structures = {{s: golden.first_difference(golden.structure(s), recorded[s]) for s in recorded}}
with tempfile.TemporaryDirectory() as tmp:
    values = {{stage: golden.golden_values(stage, Path(tmp) / stage) for stage in runs}}
json.dump({{"values": values, "structures": structures}}, open({out!r}, "w"))
"""


def measure(package: Path, env: dict, float32: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "values.json"
        code = CHILD.format(tests=str(ROOT / "tests"), float32=float32, out=str(out), package=str(package))
        data = {"MNIST_LAB_DATA": str(ROOT / "data" / "mnist.npz")} if (ROOT / "data" / "mnist.npz").is_file() else {}
        env = {**os.environ, "PYTHONPATH": str(package), "TF_CPP_MIN_LOG_LEVEL": "3", **data, **env}
        # cwd: `python -c` puts the working folder first on sys.path, before PYTHONPATH's package copy.
        done = subprocess.run([sys.executable, "-c", code], env=env, cwd=package, capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"a measurement failed:\n{done.stderr[-3000:]}")
        return json.loads(out.read_text())


def continuous(values: dict) -> np.ndarray:
    history = values["history"]
    return np.array([*history["loss"], *history["val_loss"], values["test_loss"], *values["weight_abs_sums"]])


def difference(values: dict, reference: dict) -> float:
    a, b = continuous(values), continuous(reference)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12))) if a.shape == b.shape else float("inf")


def mutated_package(tmp: Path, file: str, text: str, replacement: str) -> Path:
    copy = tmp / "pkg"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(ROOT / "mnist_lab", copy / "mnist_lab", ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / "mnist_lab" / file
    source = target.read_text()
    if text not in source:
        sys.exit(f"mutation text {text!r} is not in mnist_lab/{file}: update MUTATIONS")
    target.write_text(source.replace(text, replacement))
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--float32", action="store_true", help="the tiny runs in float32 (the guard before float64)")
    parser.add_argument("--kernels-only", action="store_true", help="measure the kernels' side only, no mutation")
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}; precision {'float32' if args.float32 else 'float64'}")
    sys.path.insert(0, str(ROOT))
    from mnist_lab.core.provenance import cpu

    print(f"CPU: {cpu()['model']} ({', '.join(cpu()['features'])}), {os.cpu_count()} cores")
    reference = measure(ROOT, {}, args.float32)
    stages = list(reference["values"])
    rows = []
    kernels = (("oneDNN off", {"TF_ENABLE_ONEDNN_OPTS": "0"}), ("one intra-op thread", {"TF_NUM_INTRAOP_THREADS": "1"}))
    for name, env in kernels:
        got = measure(ROOT, env, args.float32)
        rows.append(("kernels", name, None, [difference(got["values"][s], reference["values"][s]) for s in stages]))
    with tempfile.TemporaryDirectory() as tmp:
        changes = [] if args.kernels_only else [("mutation", m) for m in MUTATIONS] + [("comment", COMMENT_ONLY)]
        for kind, (name, file, text, replacement) in changes:
            got = measure(mutated_package(Path(tmp), file, text, replacement), {}, args.float32)
            caught = [s for s, found in got["structures"].items() if found]
            rows.append((kind, name, caught, [difference(got["values"][s], reference["values"][s]) for s in stages]))
    print(f"\n| kind | change | structure catches | {' | '.join(stages)} |")
    print(f"| --- | --- | --- | {' | '.join('---:' for _ in stages)} |")
    for kind, name, caught, diffs in rows:
        structure = "" if caught is None else (", ".join(caught) or "nothing")
        print(f"| {kind} | {name} | {structure} | {' | '.join(f'{d:.1e}' for d in diffs)} |")
    print("\nper guarded stage: largest kernel difference, smallest non-zero mutation difference (ratio)")
    for i, stage in enumerate(stages):
        kernels = max(r[3][i] for r in rows if r[0] == "kernels")
        moved = [r[3][i] for r in rows if r[0] == "mutation" and r[3][i] > 0]
        smallest = min(moved) if moved else float("nan")
        ratio = smallest / max(kernels, 1e-300)
        print(f"  {stage}: kernels {kernels:.1e}, smallest mutation {smallest:.1e} (x{ratio:.1e})")


if __name__ == "__main__":
    main()
