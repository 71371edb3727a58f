"""Training throughput of cnn_bn_aug against the machine's own peak, in one run:

    seed        ImageDataGenerator(...).flow(x, y, batch_size=64): what the seed meant to use
    ours        mnist_lab.core.pipeline: ImageDataGenerator's affine warp on whole batches in tf.data
    no_aug      the same tf.data pipeline without augmentation (the ceiling for ours)
    seed_arrays model.fit on the NumPy arrays, no augmentation: what the seed actually ran
    ours_bf16   ours, with TrainConfig(precision="mixed_bfloat16")
    ours_xla    ours, compiled with XLA (jit_compile=True), which Keras leaves off on a CPU-only machine
    ours_jax    the same training under KERAS_BACKEND=jax: NumPy batches, the warp compiled by JAX

and, with --full-epoch, a two-epoch run of `mnist-lab train` (validation pass, callbacks and
checkpoint included; no test set and no robustness suite, which it does not time) in float32, and
in mixed_bfloat16 too with --epoch-precisions float32,mixed_bfloat16: the second epoch is the
figure, since the first also traces the graphs, once per run. That run is timed at every hook
(epoch_anatomy.Clock), so its whole epoch is also set against its own steps at their steady rate:
one run at one moment, which a machine whose speed drifts between processes cannot bias. Each
figure is given as images/s and as a fraction of the machine's float32 matmul peak
(benchmarks/machine_peak.py), at the FLOPs per training image counted from the model.

Each measurement runs in a fresh process: once ImageDataGenerator's pipeline has trained
in a process, later training in that process ran 10-40% slower here, so sharing one
would handicap whichever pipeline runs after it. A measurement trains a fresh cnn_bn
model for --warmup + --steps steps in one fit call and times only the last --steps
(tracing and the iterator's start are not timed). The pipelines take turns for --rounds
rounds, so a machine whose speed drifts affects them alike; medians are reported (XLA and
JAX: the first round only, see ONCE). The seconds each part took are printed, so that the
bench's own cost stays in sight.

    python benchmarks/augmentation_throughput.py [--steps 40] [--warmup 10] [--rounds 3] [--full-epoch]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402  (after the log level)
from tensorflow.keras.preprocessing.image import ImageDataGenerator  # noqa: E402  (the seed's import)

from mnist_lab.core.config import MNIST_TRAIN_SIZE, TrainConfig  # noqa: E402
from mnist_lab.core.data import fetch_mnist, make_splits  # noqa: E402
from mnist_lab.core.models import STAGES  # noqa: E402
from mnist_lab.core.pipeline import make_dataset, seed_augmentation  # noqa: E402
from mnist_lab.core.provenance import cpu, environment  # noqa: E402
from mnist_lab.core.train import compile_model, set_seeds  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from epoch_anatomy import Clock  # noqa: E402
from machine_peak import SIZE, matmul_peak, training_flops  # noqa: E402


def seed_pipeline(splits, config):
    datagen = ImageDataGenerator(
        rotation_range=config.rotation_degrees,
        zoom_range=config.zoom,
        width_shift_range=config.shift,
        height_shift_range=config.shift,
    )
    return datagen.flow(splits.x_train, splits.y_train, batch_size=config.batch_size, seed=config.seed)


def our_pipeline(splits, config, augment=True):
    augmentation = seed_augmentation(config) if augment else None
    data = make_dataset(
        splits.x_train,
        splits.y_train,
        batch_size=config.batch_size,
        training=True,
        augmentation=augmentation,
        seed=config.seed,
    )
    return data.repeat() if keras.backend.backend() == "tensorflow" else data  # a PyDataset has no repeat


class StepTimer(keras.callbacks.Callback):
    """Times the steps after the first `warmup` inside one fit call: no tracing, no iterator start."""

    def __init__(self, warmup: int):
        super().__init__()
        self.warmup, self.started, self.ended = warmup, None, None

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.warmup - 1:
            self.started = time.perf_counter()
        self.ended = time.perf_counter()


def images_per_second(data, config, steps: int, warmup: int, xla: bool = False) -> float:
    keras.mixed_precision.set_global_policy(config.precision)
    set_seeds(config.seed)
    model = compile_model(STAGES["cnn_bn_aug"](), config)
    if xla:
        model.jit_compile = True  # Keras' "auto" resolves to False without a GPU
    timer = StepTimer(warmup)
    if isinstance(data, tuple):  # NumPy arrays, batched by Keras as in the seed's fit call
        size = (warmup + steps) * config.batch_size
        model.fit(data[0][:size], data[1][:size], batch_size=config.batch_size, epochs=1, verbose=0, callbacks=[timer])
    else:
        model.fit(data, steps_per_epoch=warmup + steps, epochs=1, verbose=0, callbacks=[timer])
    return steps * config.batch_size / (timer.ended - timer.started)


PIPELINES = ("seed", "ours", "no_aug", "seed_arrays", "ours_bf16", "ours_xla", "ours_jax")
# Measured in the first round only: each runs at a fraction of ours (XLA about a third, JAX about
# half, on every machine measured so far), a gap that no drift between rounds changes, and each costs
# two to three other measurements (compilation, slow steps).
ONCE = ("ours_xla", "ours_jax")
# The precisions --full-epoch can time, each with the rounds' pipeline its whole epoch is set against.
STEPS_OF_PRECISION = {"float32": "ours", "mixed_bfloat16": "ours_bf16"}
BACKENDS = {"ours_jax": "jax"}  # the rest run under the default backend (KERAS_BACKEND, else TensorFlow)


def measure(name: str, steps: int, warmup: int) -> float:
    config = TrainConfig(stage="cnn_bn_aug", precision="mixed_bfloat16" if name.endswith("bf16") else "float32")
    splits = make_splits(
        fetch_mnist().as_keras_tuple(), validation_fraction=config.validation_fraction, split_seed=config.split_seed
    )
    data = {
        "seed": lambda: seed_pipeline(splits, config),
        "ours": lambda: our_pipeline(splits, config),
        "ours_bf16": lambda: our_pipeline(splits, config),
        "ours_xla": lambda: our_pipeline(splits, config),
        "ours_jax": lambda: our_pipeline(splits, config),
        "no_aug": lambda: our_pipeline(splits, config, augment=False),
        "seed_arrays": lambda: (splits.x_train, splits.y_train),
    }[name]()
    return images_per_second(data, config, steps, warmup, xla=name == "ours_xla")


def full_epochs(precision: str) -> tuple[float, float, float]:
    """Training images/s of a two-epoch run of `mnist-lab train` (validation pass, callbacks and
    checkpoint included): (the first epoch, which also traces the graphs; the second, what every
    later epoch costs; the second's steps alone, at their steady rate)."""
    import tempfile

    from mnist_lab.core.train import run_stage

    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp:
        # Training only: no test set, no robustness suite (minutes of work this figure does not time).
        config = TrainConfig(stage="cnn_bn_aug", epochs=2, precision=precision)
        run = run_stage(config, tmp, verbose=0, evaluate_test=False, keep_model=False, extra_callbacks=[clock])
    images = run.metrics["data"]["train"]
    first = clock.marks[1][0][2] - clock.marks[0][0][2]  # from its start to the second's
    parts = clock.last_epoch()
    second, steps = parts["whole epoch (to the next one's start)"], parts["steady steps (median step x steps)"]
    print("; ".join(f"{name} {seconds:.1f} s" for name, seconds in parts.items()))  # the parent shows it
    return images / first, images / second, images / steps


def child_output(*arguments, backend: str | None = None) -> list[str]:
    """The lines a child printed: its figures are on the last."""
    # Keras picks its backend when first imported: a measurement under another one needs its own environment.
    env = {**os.environ, "KERAS_BACKEND": backend} if backend else None
    done = subprocess.run([sys.executable, __file__, *arguments], capture_output=True, text=True, check=True, env=env)
    return done.stdout.strip().splitlines()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="timed training steps per measurement")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps first")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per pipeline, interleaved")
    parser.add_argument("--full-epoch", action="store_true", help="also time a two-epoch run of mnist-lab train")
    parser.add_argument(
        "--epoch-precisions",
        default="float32",
        help="the precisions --full-epoch times, comma-separated (float32, mixed_bfloat16): one run each",
    )
    parser.add_argument("--only", help=argparse.SUPPRESS)  # one measurement, in a child process
    args = parser.parse_args()
    if args.only == "peak":
        print(matmul_peak("float32"), matmul_peak("bfloat16"))
        return
    if args.only and args.only.startswith("epoch_"):
        print(*full_epochs(args.only.removeprefix("epoch_")))
        return
    if args.only:
        print(measure(args.only, args.steps, args.warmup))
        return
    precisions = [p.strip() for p in args.epoch_precisions.split(",") if p.strip()] if args.full_epoch else []
    unknown = sorted(set(precisions) - STEPS_OF_PRECISION.keys())
    if unknown:
        parser.error(f"--epoch-precisions: unknown {', '.join(unknown)}; use {' and/or '.join(STEPS_OF_PRECISION)}")

    env = environment()
    print(
        f"cnn_bn_aug, batch {TrainConfig.batch_size}, {args.rounds} rounds of {args.steps} timed steps "
        f"after {args.warmup} warm-up ({', '.join(ONCE)}: the first round only), one process per measurement; "
        f"{env['device']}, TensorFlow {env.get('tensorflow')}, Keras {env['keras']}",
        flush=True,
    )
    started = time.perf_counter()
    rates = {name: [] for name in PIPELINES}
    for round_number in range(1, args.rounds + 1):
        for name in PIPELINES if round_number == 1 else [n for n in PIPELINES if n not in ONCE]:
            timing = ("--steps", str(args.steps), "--warmup", str(args.warmup))
            rates[name].append(float(child_output("--only", name, *timing, backend=BACKENDS.get(name))[-1]))
        print(
            f"round {round_number} ({time.perf_counter() - started:.0f} s so far): "
            + ", ".join(f"{n} {r[-1]:.1f}" for n, r in rates.items() if len(r) == round_number),
            flush=True,
        )
    median = {name: statistics.median(values) for name, values in rates.items()}
    own_steps = {}
    for precision in precisions:
        *_, parts, figures = child_output("--only", f"epoch_{precision}")
        first, second, steps = map(float, figures.split())
        median[f"first epoch, {precision}"] = first  # graph tracing included: paid once per run
        median[f"whole epoch, {precision}"] = second
        median[f"its steps alone, {precision}"] = own_steps[precision] = steps
        elapsed = time.perf_counter() - started
        print(f"two-epoch run, {precision} ({elapsed:.0f} s so far); its second epoch: {parts}", flush=True)

    fp32_peak, bf16_peak = map(float, child_output("--only", "peak")[-1].split())
    flops = training_flops(STAGES["cnn_bn_aug"]())
    machine = cpu()
    print(f"\nCPU: {machine['model']}; features: {', '.join(machine['features']) or 'none of AVX2/AVX-512'}")
    print(
        f"matmul {SIZE}^3 peak: float32 {fp32_peak:.0f} GFLOP/s, bfloat16 {bf16_peak:.0f} GFLOP/s "
        f"({bf16_peak / fp32_peak:.2f}x)"
    )
    print(f"cnn_bn_aug: {flops / 1e6:.0f} MFLOP per training image (3x the forward pass, counted from its layers)\n")
    print(f"{'pipeline':>30} | {'images/s':>9} | {'GFLOP/s':>8} | of float32 peak")
    for name, rate in median.items():
        print(f"{name:>30} | {rate:9.1f} | {rate * flops / 1e9:8.0f} | {rate * flops / 1e9 / fp32_peak:6.0%}")
    print(
        f"\nours / seed: {median['ours'] / median['seed']:.2f}x   "
        f"ours / no_aug: {median['ours'] / median['no_aug']:.2f}x   "
        f"seed / seed_arrays: {median['seed'] / median['seed_arrays']:.2f}x   "
        f"bf16 / float32 (ours): {median['ours_bf16'] / median['ours']:.2f}x   "
        f"XLA / none (ours): {median['ours_xla'] / median['ours']:.2f}x   "
        f"JAX / TensorFlow (ours): {median['ours_jax'] / median['ours']:.2f}x"
    )
    # An epoch also runs the validation set forward once: a third of a training step per image.
    validation = round(MNIST_TRAIN_SIZE * TrainConfig.validation_fraction)
    share = validation / (3 * (MNIST_TRAIN_SIZE - validation))
    for precision in precisions:
        whole, rounds = median[f"whole epoch, {precision}"], STEPS_OF_PRECISION[precision]
        print(
            f"whole epoch / its own steps, {precision}: {whole / own_steps[precision]:.3f} "
            f"(the validation pass alone, {validation:,} forward passes, allows {1 / (1 + share):.3f}; the rest is "
            f"the epoch's start, the callbacks and the checkpoint)   "
            f"whole epoch / the rounds' {rounds}: {whole / median[rounds]:.2f}"
        )
    if set(STEPS_OF_PRECISION) <= set(precisions):
        ratio = median["whole epoch, mixed_bfloat16"] / median["whole epoch, float32"]
        print(f"bf16 / float32, whole epoch: {ratio:.2f}x")
    print(f"this script: {time.perf_counter() - started:.0f} s")
    if "avx512_bf16" not in machine["features"] and "amx_bf16" not in machine["features"]:
        print("note: this CPU has no AVX512_BF16 or AMX: bfloat16 is emulated here and is not expected to be faster")


if __name__ == "__main__":
    main()
