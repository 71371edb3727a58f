#!/usr/bin/env bash
# A sweep on a GPU machine without network (docs/scaling.md): train arms x seeds N at once under
# Keras on JAX, and pack each finished run into $OUT as it finishes, so that a cut-off still brings
# back every run finished by then. Run from the repository root on that machine (or rehearsed
# here: make gpu-rehearsal):
#
#   OUT=/path/to/bring-back bash gpu/sweep.sh --stage cnn_reg --stage cnn_bn --stage cnn_bn_aug \
#       --stage constant_lr/cnn_bn --seeds 0-11 --jobs 16 --budget 420
#
# Every argument goes to `mnist-lab sweep` (--pack-files K and --pack-limit MIB fit the packs to
# your transfer). .whl/ (make gpu-wheels) holds the wheels the machine lacks; data/mnist.npz comes
# along (mnist-lab data). What to bring back ($OUT): runs_0.tar ... (mnist-lab receive brings them
# into reports/) and sweep.log.
set -euo pipefail
out=${OUT:-runs/gpu-out}
mkdir -p "$out"
exec > >(tee -a "$out/sweep.log") 2>&1

site=${GPU_SITE:-/tmp/site}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .whl/*.whl
  export PYTHONPATH=$site:$PYTHONPATH
fi
# JAX on the GPU; the processes share it, so none preallocates its memory. Compiled XLA programs
# are cached on disk, so the runs after the first wave skip compilation.
export KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3
export JAX_COMPILATION_CACHE_DIR=${JAX_COMPILATION_CACHE_DIR:-/tmp/jax_cache} JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0

started=$(date +%s)
python3 -c "import jax, keras, numpy; print('jax', jax.__version__, jax.devices(), '| keras', keras.__version__, '| numpy', numpy.__version__)"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi: a CPU rehearsal"
python3 -m mnist_lab data
python3 -m mnist_lab suite  # the robustness suite's 39 sets, built in parallel before any run needs them
python3 -m mnist_lab sweep --pack "$out" "$@"
python3 - "$out" <<'PY'
import sys
from mnist_lab.runs.transfer import pack_listing
print("\n".join(pack_listing(sys.argv[1])))
PY
echo "gpu/sweep.sh: $(($(date +%s) - started)) s wall in all"
