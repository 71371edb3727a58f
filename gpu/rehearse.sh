#!/usr/bin/env bash
# `make gpu-rehearsal`: a sweep on a GPU machine without network (docs/scaling.md), rehearsed on
# this CPU before the machine's time is spent on it.
# 1. .venv-gpu: Python 3.12 with the GPU machine's own packages (gpu/machine-requirements.txt),
#    no TensorFlow, no Keras; Keras comes from the wheels in .whl/, as it will there.
# 2. What travels: this checkout's tracked and untracked-not-ignored files, plus .whl and
#    data/mnist.npz; their size is printed against TRANSFER_LIMIT_MIB (default 64).
# 3. gpu/sweep.sh in that copy, two tiny runs at once (quick profile), packed into an $OUT.
# 4. mnist-lab receive brings the packs into a second copy's reports-quick/ (this checkout's
#    reports are never touched), with the main environment, as after a real call.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${GPU_PYTHON:-$(command -v python3.12 || true)}
[ -x .venv-gpu/bin/python ] || {
  [ -n "$python" ] || { echo "no python3.12: install one (the GPU machine runs 3.12)"; exit 2; }
  "$python" -m venv .venv-gpu
  .venv-gpu/bin/pip install -q -r gpu/machine-requirements.txt
}
if .venv-gpu/bin/python -c "import tensorflow" 2>/dev/null || .venv-gpu/bin/python -c "import keras" 2>/dev/null; then
  echo ".venv-gpu has TensorFlow or Keras, which the GPU machine lacks: delete .venv-gpu and rerun"; exit 2
fi
[ -f data/mnist.npz ] || .venv/bin/mnist-lab data

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
copy=$work/gpu-machine here=$work/here  # the machine's copy, and the checkout that receives the runs
mkdir -p "$copy" "$here"
{ git ls-files -z; git ls-files -z --others --exclude-standard; } | xargs -0 -I{} cp --parents {} "$copy" 2>/dev/null || true
cp -r "$copy/." "$here"
cp -r .whl "$copy/"
mkdir -p "$copy/data" && cp data/mnist.npz "$copy/data/"
bytes=$(du -sb --exclude=.git "$copy" | cut -f1)
limit_mib=${TRANSFER_LIMIT_MIB:-64}
limit=$((limit_mib * 1024 * 1024))
printf 'what travels: %.1f MiB of the %s MiB limit (tracked and untracked files, .whl, data/mnist.npz)\n' \
  "$(echo "$bytes / 1048576" | bc -l)" "$limit_mib"
[ "$bytes" -lt "$limit" ] || { echo "over TRANSFER_LIMIT_MIB"; exit 1; }

out=$work/out
(cd "$copy" && PATH="$OLDPWD/.venv-gpu/bin:$PATH" OUT="$out" GPU_SITE="$work/site" \
  bash gpu/sweep.sh --profile quick --stage cnn_bn --stage constant_lr/cnn_bn --seeds 0 --jobs 2)
ls -la "$out"
(cd "$here" && TF_CPP_MIN_LOG_LEVEL=3 "$OLDPWD/.venv/bin/python" -m mnist_lab receive "$out" --profile quick)
(cd "$here" && TF_CPP_MIN_LOG_LEVEL=3 "$OLDPWD/.venv/bin/python" -m mnist_lab receive "$out" --profile quick)  # again: nothing twice
# What came back, as the reports will read it: backend, device, and the BatchNorm adaptation.
(cd "$here" && "$OLDPWD/.venv/bin/python" - <<'PY'
import json
from pathlib import Path

for metrics in sorted(Path("reports-quick/backends").rglob("metrics.json")):
    m, r = json.loads(metrics.read_text()), json.loads((metrics.parent / "robustness.json").read_text())
    a = r["adaptation"]
    print(f"{metrics.parent}: {m['environment']['backend']} on {m['environment']['device']}, "
          f"{len(r['sets'])} suite sets, BatchNorm adaptation over {a['batchnorm_layers']} layers")
PY
)
echo "rehearsal passed"
