#!/usr/bin/env bash
# Issue 13's GPU check in one command, for a machine with JAX and CUDA but neither TensorFlow nor
# Keras (DEVELOPERS.md, "A GPU machine"): one short warm-up, then STAGE under the full protocol,
# then `mnist-lab verify` against the committed CPU band. Run from the repository root:
#
#   bash benchmarks/gpu_stage.sh [STAGE] [more `mnist-lab train` arguments, e.g. --precision mixed_bfloat16]
#
# Wheels the machine lacks are installed from .whl/ when it exists (`make gpu-wheels` fills it);
# data/mnist.npz must be there (`mnist-lab data`). Results go to $OUT (the device tool's folder),
# else runs/gpu/: three files per run, so that two runs fit the tool's eight files.
set -euo pipefail
stage=${1:-cnn_bn_aug}
shift || true
out=${OUT:-runs/gpu}
tag="$stage$(printf '_%s' "$@" | tr -c 'A-Za-z0-9_.\n-' '_')"
tag=${tag%_}
mkdir -p "$out"

export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PYTHONPATH
fi
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3
# The warm-up's compiled XLA programs are reused by the timed run (same shapes), so the timed
# run's first epoch measures training, not compilation.
export JAX_COMPILATION_CACHE_DIR=/tmp/jax_cache JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0

python3 -c "import jax, keras; print('jax', jax.__version__, jax.devices(), '| keras', keras.__version__)" \
  | tee "$out/devices.txt"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >>"$out/devices.txt" 2>/dev/null || true

warmup=$(mktemp -d)
time python3 -m mnist_lab train --stage "$stage" --subset 2000 --epochs 1 --out "$warmup/run" "$@" >/dev/null

run=$(mktemp -d)/run
python3 -m mnist_lab train --stage "$stage" --out "$run" "$@" 2>&1 | tee "$out/$tag.log" | grep -v "^Epoch "
cp "$run/metrics.json" "$out/$tag.metrics.json"
cp "$run/history.json" "$out/$tag.history.json"
python3 - "$run/metrics.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
print(f"device: {m['environment'].get('device')} | {m['epochs_run']} epochs in {m['training_seconds']:.1f} s "
      f"({m['images_per_second']:,.0f} images/s) | test accuracy {100 * m['test_accuracy']:.2f}%")
EOF
python3 -m mnist_lab verify "$run" | tee -a "$out/$tag.log" || true  # 1: outside the band; 2: another protocol (bfloat16)
