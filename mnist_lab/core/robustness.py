"""The robustness suite: fixed corrupted and transformed copies of the canonical test digits,
and one model's accuracy on each.

The sets (`suite_sets()`):
- the 15 corruptions of MNIST-C (mnist_lab.core.corruptions), each over a fixed stratified 5,000 of
  the 10,000 test digits;
- sweeps of the seed's augmentation transforms past its ranges, over a fixed stratified 1,000:
  rotation 5-45 degrees (sign per image), shift 1-6 pixels in x and y (signs per image), zoom
  0.6-1.4, and `sweep_clean`, the same 1,000 untouched (every curve's middle point).

Why subsets: every run evaluates the suite at its end, within 5% of a full-protocol run's wall
time. That is 15 x 5,000 + 24 x 1,000 = 99,000 images (about 15 TFLOP for a convolutional
model), against 20 epochs of a conv stage (about 3.4 million forward-pass equivalents).
The first version (all 10,000 for the corruptions, 2,000 for the sweeps) had twice the images,
so twice the share benchmarks/robustness_cost.py measures: no margin left under the budget.
On 5,000 digits a corruption's accuracy has a standard error of 0.3 points at 95% (0.7 at worst).

Every image is drawn from its own Generator, seeded by (SUITE_SEED, the set's name, the image's
index), so a set is identical on every machine and any prefix of it is the same images: the
small suite that runs on a subset evaluate (the quick profile, the tests) is the first
SMALL_SIZES of each set. Sets are built once into data/robustness/v{SUITE_VERSION}/ (uint8,
git-ignored) and evaluated one at a time. Bump SUITE_VERSION when any image changes
(tests/test_robustness.py pins a hash of every set and fails until you do).

A run's results live beside it: robustness.json (accuracy and errors per set, the suite
version) and robustness_predictions.npz (each set's predicted labels, uint8), so paired tests
between runs need no model.

BatchNorm adaptation (mnist_lab.core.adaptation): a model with BatchNormalization layers is also
evaluated with each set's own BatchNorm statistics, and on the clean test digits adapted on
themselves (the control: the 10,000 test digits; the small suite's `sweep_clean` set). Its
results are robustness.json's "adaptation" (ADAPTATION_VERSION, the number of BatchNorm
layers, accuracy per set, the mean over the 15 corruptions, the control, seconds) and the
predictions' "adapted__NAME" arrays; a model without BatchNorm records that it has none.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from mnist_lab.core import corruptions
from mnist_lab.core.adaptation import ADAPTATION_VERSION, adapt, batchnorm_layers
from mnist_lab.core.config import ConfigError
from mnist_lab.core.data import CACHE_PATH, fetch_mnist, preprocess_images
from mnist_lab.core.files import atomic_path, write_json
from mnist_lab.core.run_dir import ROBUSTNESS_PREDICTIONS, ROBUSTNESS_RESULTS

SUITE_VERSION = 2  # 2: corruptions on a stratified 5,000 (were all 10,000), sweeps on 1,000 (were 2,000)
SUITE_SEED = 2019  # MNIST-C's year: any fixed number would do
SIZES = {"corruption": 5_000, "sweep": 1_000}  # stratified test digits per set (the 5% budget above)
SMALL_SIZES = {"corruption": 50, "sweep": 20}  # per set, for runs on a subset (seconds, not minutes)
ROTATIONS = tuple(range(5, 50, 5))  # degrees; the seed's augmentation draws within +-10
SHIFTS = (1, 2, 3, 4, 5, 6)  # pixels; the seed's: up to 10% of 28, 2.8 px
ZOOMS = (0.6, 0.7, 0.8, 0.9, 1.1, 1.2, 1.3, 1.4)  # the seed's: 0.9-1.1
SEED_RANGES = {"rotation": (0, 10), "shift": (0, 2.8), "zoom": (0.9, 1.1)}  # shaded in the curves
CACHE_DIR = CACHE_PATH.parent / "robustness"
RESULTS, PREDICTIONS = ROBUSTNESS_RESULTS, ROBUSTNESS_PREDICTIONS


@dataclass(frozen=True)
class SuiteSet:
    name: str
    kind: str  # "corruption", "rotation", "shift", "zoom" or "clean"
    level: float | None  # degrees, pixels or zoom factor; None for corruptions
    transform: Callable  # (image in [0, 1], Generator) -> image in [0, 1]

    @property
    def group(self) -> str:
        return "corruption" if self.kind == "corruption" else "sweep"


def _identity(image, rng):
    return image


def suite_sets() -> list[SuiteSet]:
    sets = [SuiteSet(name, "corruption", None, function) for name, function in corruptions.CORRUPTIONS.items()]
    sets.append(SuiteSet("sweep_clean", "clean", None, _identity))
    sets += [SuiteSet(f"rotation_{d}", "rotation", d, partial(corruptions.rotated, degrees=d)) for d in ROTATIONS]
    sets += [SuiteSet(f"shift_{p}", "shift", p, partial(corruptions.shifted, pixels=p)) for p in SHIFTS]
    sets += [SuiteSet(f"zoom_{z}", "zoom", z, partial(corruptions.zoomed, factor=z)) for z in ZOOMS]
    return sets


def corruption_names() -> list[str]:
    return list(corruptions.CORRUPTIONS)


def stratified_indices(labels: np.ndarray, group: str) -> np.ndarray:
    """The test digits a group's sets use: each class in its test-set proportion, in test-set order (fixed)."""
    from sklearn.model_selection import train_test_split

    chosen, _ = train_test_split(
        np.arange(len(labels)), train_size=SIZES[group], stratify=labels, random_state=SUITE_SEED
    )
    return np.sort(chosen)


def set_indices(suite_set: SuiteSet, labels: np.ndarray, small: bool = False) -> np.ndarray:
    indices = stratified_indices(labels, suite_set.group)
    return indices[: SMALL_SIZES[suite_set.group]] if small else indices


def build_images(suite_set: SuiteSet, images: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """The set's uint8 images for the test digits at `indices` (each from its own Generator)."""
    key = zlib.crc32(suite_set.name.encode())
    out = np.empty((len(indices), *images.shape[1:]), dtype=np.uint8)
    for row, index in enumerate(indices):
        rng = np.random.default_rng([SUITE_SEED, key, int(index)])
        out[row] = np.rint(255 * suite_set.transform(images[index] / 255.0, rng))
    return out


def load_set(suite_set: SuiteSet, images: np.ndarray, labels: np.ndarray, small: bool = False) -> np.ndarray:
    """The set's images from the cache, built (and cached) if missing."""
    indices = set_indices(suite_set, labels, small)
    path = CACHE_DIR / f"v{SUITE_VERSION}" / f"{suite_set.name}{'_small' if small else ''}.npy"
    if path.is_file():
        cached = np.load(path)
        if cached.shape == (len(indices), *images.shape[1:]):
            return cached
    built = build_images(suite_set, images, indices)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        np.save(tmp, built)
    return built


def _build_set(name: str, images: np.ndarray, labels: np.ndarray, small: bool) -> str:
    load_set(next(s for s in suite_sets() if s.name == name), images, labels, small)
    return name


def build_suite(jobs: int | None = None, *, data_path=None, small: bool = False) -> list[str]:
    """Build every set of the suite into the cache, `jobs` sets at once (None: one per CPU core).

    The first run on a fresh machine otherwise builds the 39 sets one after the other (about 40 s
    on one core); a machine with many cores (a GPU machine with 16) builds them in a few.
    Each set is written whole, so parallel builders (or runs) never see half a set.
    """
    from concurrent.futures import ProcessPoolExecutor

    (_, _), (images, labels) = fetch_mnist(data_path).as_keras_tuple()
    names = [suite_set.name for suite_set in suite_sets()]
    count = len(names)
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(_build_set, names, [images] * count, [labels] * count, [small] * count))


def _scored(predicted: np.ndarray, truth: np.ndarray) -> dict:
    errors = int((predicted != truth).sum())
    return {"images": len(truth), "errors": errors, "accuracy": (len(truth) - errors) / len(truth)}


def evaluate_adaptation(model, test_images: np.ndarray, test_labels: np.ndarray, *, small: bool = False):
    """(the "adaptation" results, the "adapted__NAME" predictions): every set, and the clean
    control, evaluated with BatchNorm statistics taken from its own images (module docstring)."""

    count = len(batchnorm_layers(model))
    if not count:
        return {"version": ADAPTATION_VERSION, "batchnorm_layers": 0, "note": "no BatchNormalization layer"}, {}
    started = time.perf_counter()
    chosen = suite_sets()
    sets, predictions = {}, {}
    control = next(s for s in chosen if s.name == "sweep_clean")
    if small:  # the small suite's control is its own clean set, to stay seconds long
        control_images = load_set(control, test_images, test_labels, small)
        control_truth = test_labels[set_indices(control, test_labels, small)]
    else:
        control_images, control_truth = test_images, test_labels
    for name, images, truth in [
        *(
            (s.name, load_set(s, test_images, test_labels, small), test_labels[set_indices(s, test_labels, small)])
            for s in chosen
        ),
        ("clean_test", control_images, control_truth),
    ]:
        predicted = adapt(model, preprocess_images(images))[1].argmax(axis=1)
        predictions[f"adapted__{name}"] = predicted.astype(np.uint8)
        sets[name] = _scored(predicted, truth)
    clean = sets.pop("clean_test")
    results = {
        "version": ADAPTATION_VERSION,
        "batchnorm_layers": count,
        "sets": sets,
        "clean_test": clean,
        "mean_corruption_accuracy": float(np.mean([sets[name]["accuracy"] for name in corruption_names()])),
        "seconds": time.perf_counter() - started,
    }
    return results, predictions


def evaluate_suite(
    model, test_images: np.ndarray, test_labels: np.ndarray, *, small: bool = False, adaptation: bool = True
):
    """(results, predictions): the model's accuracy on every set, and its predicted labels; with
    `adaptation`, also with BatchNorm statistics taken from each set (results["adaptation"]).

    test_images: the canonical uint8 test digits (10000, 28, 28); test_labels: their digits.
    """
    started = time.perf_counter()
    chosen = suite_sets()
    images = [load_set(suite_set, test_images, test_labels, small) for suite_set in chosen]
    # One pass over every set at once: each predict call has a fixed cost of about 0.1 s, which
    # would otherwise dominate the small suite's 39 sets of 20-50 images.
    predicted_all = model.predict(preprocess_images(np.concatenate(images)), batch_size=1024, verbose=0).argmax(axis=1)
    sets, predictions = {}, {}
    for suite_set, predicted in zip(
        chosen, np.split(predicted_all, np.cumsum([len(i) for i in images])[:-1]), strict=True
    ):
        truth = test_labels[set_indices(suite_set, test_labels, small)]
        predictions[suite_set.name] = predicted.astype(np.uint8)
        sets[suite_set.name] = {"kind": suite_set.kind, "level": suite_set.level, **_scored(predicted, truth)}
    accuracies = [sets[name]["accuracy"] for name in corruption_names()]
    results = {
        "suite_version": SUITE_VERSION,
        "small": small,
        "sets": sets,
        # MNIST-C's summary: the mean over the 15 corruptions (of accuracy, and of error).
        "mean_corruption_accuracy": float(np.mean(accuracies)),
        "mean_corruption_error": float(1 - np.mean(accuracies)),
        "seconds": time.perf_counter() - started,
    }
    if adaptation:
        results["adaptation"], adapted = evaluate_adaptation(model, test_images, test_labels, small=small)
        predictions.update(adapted)
    return results, predictions


def needs_adaptation(results: dict | None) -> bool:
    """Results at this suite version that lack this version's BatchNorm adaptation."""

    return bool(results) and (results.get("adaptation") or {}).get("version") != ADAPTATION_VERSION


def write_results(run_dir: Path, results: dict, predictions: dict[str, np.ndarray]) -> None:
    """Both files whole; robustness.json last (its presence means the predictions are there)."""
    run_dir = Path(run_dir)
    (run_dir / RESULTS).unlink(missing_ok=True)
    with atomic_path(run_dir / PREDICTIONS) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **predictions)
    write_json(run_dir / RESULTS, results)


def read_results(run_dir: Path) -> dict | None:
    """A run's robustness.json (None if it has none)."""
    path = Path(run_dir) / RESULTS
    return json.loads(path.read_text()) if path.is_file() else None


def read_predictions(run_dir: Path) -> dict[str, np.ndarray]:
    with np.load(Path(run_dir) / PREDICTIONS) as saved:
        return {name: saved[name] for name in saved.files}


def evaluate_run(run_dir, *, data_path=None, force: bool = False) -> dict:
    """Evaluate a finished run's model.keras on the suite and store the results beside it.

    Results at this suite version are kept unless `force` (only a missing or older BatchNorm
    adaptation is added to them); a run trained on a subset gets the small suite, as it would
    have at the end of its training.
    """
    import keras

    run_dir = Path(run_dir)
    config_path, model_path = run_dir / "config.json", run_dir / "model.keras"
    if not (run_dir / "metrics.json").is_file() or not config_path.is_file():
        raise ConfigError(f"{run_dir} holds no finished run (no metrics.json or config.json): train it first")
    existing = read_results(run_dir)
    current = existing is not None and existing.get("suite_version") == SUITE_VERSION and not force
    if current and not needs_adaptation(existing):
        return existing
    if not model_path.is_file():
        raise ConfigError(
            f"{run_dir} has no model.keras to evaluate (seed runs keep theirs only on the machine that "
            "trained them): retrain it, or restore the model"
        )
    small = json.loads(config_path.read_text()).get("subset") is not None
    (_, _), (images, labels) = fetch_mnist(data_path).as_keras_tuple()
    model = keras.models.load_model(model_path)
    if current:  # the plain suite is current: add only the BatchNorm adaptation
        adaptation, adapted = evaluate_adaptation(model, images, labels, small=small)
        predictions = {k: v for k, v in read_predictions(run_dir).items() if not k.startswith("adapted__")}
        results, predictions = {**existing, "adaptation": adaptation}, {**predictions, **adapted}
    else:
        results, predictions = evaluate_suite(model, images, labels, small=small)
    write_results(run_dir, results, predictions)
    return results
