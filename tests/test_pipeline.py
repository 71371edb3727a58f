import numpy as np

from mnist_lab.config import TrainConfig
from mnist_lab.pipeline import augmentation_layers, make_dataset


def seed_augmentation(seed=0):
    config = TrainConfig()
    return augmentation_layers(config.rotation_degrees, config.zoom, config.shift, seed)


def first_batch(dataset):
    images, labels = next(iter(dataset))
    return np.asarray(images), np.asarray(labels)


def test_augmentation_keeps_shape_dtype_and_range_and_changes_images(small_splits):
    images = small_splits.x_train[:64]
    augmented = np.asarray(seed_augmentation()(images, training=True))
    assert augmented.shape == images.shape and augmented.dtype == np.float32
    assert augmented.min() >= 0.0 and augmented.max() <= 1.0 + 1e-6
    changed = np.abs(augmented - images).reshape(64, -1).max(axis=1) > 0.05
    assert changed.mean() > 0.9  # nearly every digit moved
    # Small transforms: the digit stays where it was, roughly (ink overlap stays high).
    overlap = (np.minimum(augmented, images).sum(axis=(1, 2, 3)) / images.sum(axis=(1, 2, 3)))
    assert np.median(overlap) > 0.3


def test_augmentation_is_identity_outside_training(small_splits):
    images = small_splits.x_val[:32]
    assert np.array_equal(np.asarray(seed_augmentation()(images, training=False)), images)


def test_training_dataset_augments_and_evaluation_dataset_does_not(small_splits):
    x, y = small_splits.x_train[:128], small_splits.y_train[:128]
    plain_x, plain_y = first_batch(make_dataset(x, y, batch_size=64))
    assert np.array_equal(plain_x, x[:64]) and np.array_equal(plain_y, y[:64])  # no shuffle, no change

    augmented = make_dataset(x, y, batch_size=64, training=True, augmentation=seed_augmentation(), seed=1)
    aug_x, aug_y = first_batch(augmented)
    # Match each augmented image to its source through its (unchanged) label order after shuffling:
    # shuffling permutes rows, so compare against the same permutation of the un-augmented data.
    shuffled_x, shuffled_y = first_batch(make_dataset(x, y, batch_size=64, training=True, seed=1))
    assert np.array_equal(aug_y, shuffled_y)
    assert not np.allclose(aug_x, shuffled_x, atol=0.05)


def test_training_dataset_reshuffles_every_epoch(small_splits):
    x, y = small_splits.x_train[:128], small_splits.y_train[:128]
    dataset = make_dataset(x, y, batch_size=128, training=True, seed=3)
    epoch_one, epoch_two = (np.asarray(next(iter(dataset))[1]).argmax(1) for _ in range(2))
    assert sorted(epoch_one) == sorted(epoch_two) and not np.array_equal(epoch_one, epoch_two)
