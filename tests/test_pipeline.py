import numpy as np

from mnist_lab.core.config import TrainConfig
from mnist_lab.core.pipeline import affine_matrices, make_dataset, seed_augmentation, warp

augment = seed_augmentation(TrainConfig())


def first_batch(dataset):
    images, labels = next(iter(dataset))
    return np.asarray(images), np.asarray(labels)


def test_augmentation_keeps_shape_dtype_and_range_and_changes_images(small_splits):
    images = small_splits.x_train[:64]
    augmented = np.asarray(augment(images, seed=(0, 0)))
    assert augmented.shape == images.shape and augmented.dtype == np.float32
    assert augmented.min() >= 0.0 and augmented.max() <= 1.0 + 1e-6
    changed = np.abs(augmented - images).reshape(64, -1).max(axis=1) > 0.05
    assert changed.mean() > 0.9  # nearly every digit moved
    # Small transforms: the digit stays where it was, roughly (ink overlap stays high).
    overlap = np.minimum(augmented, images).sum(axis=(1, 2, 3)) / images.sum(axis=(1, 2, 3))
    assert np.median(overlap) > 0.3


def test_one_warp_equals_image_data_generator_for_the_same_parameters(small_splits):
    """The seed meant ImageDataGenerator: for the same draws, our warp gives its images."""
    import tensorflow as tf
    from tensorflow.keras.preprocessing.image import apply_affine_transform  # what ImageDataGenerator calls

    images = small_splits.x_train[:8]
    rng = np.random.default_rng(0)
    draws = {
        "theta": rng.uniform(-10, 10, 8),
        "tx": rng.uniform(-2.8, 2.8, 8),
        "ty": rng.uniform(-2.8, 2.8, 8),
        "zx": rng.uniform(0.9, 1.1, 8),
        "zy": rng.uniform(0.9, 1.1, 8),
    }
    ours = np.asarray(
        warp(images, affine_matrices(**{k: tf.constant(v, tf.float32) for k, v in draws.items()}, height=28, width=28))
    )
    theirs = np.stack(
        [
            apply_affine_transform(
                image,
                **{k: v[i] for k, v in draws.items()},
                row_axis=0,
                col_axis=1,
                channel_axis=2,
                fill_mode="nearest",
                order=1,
            )
            for i, image in enumerate(images)
        ]
    )
    assert np.abs(ours - images).max() > 0.5  # the draws do move the digits
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


def test_augmentation_is_reproducible_from_its_seed(small_splits):
    images = small_splits.x_train[:16]
    first, again, other = (np.asarray(augment(images, seed=s)) for s in ((1, 2), (1, 2), (1, 3)))
    assert np.array_equal(first, again)
    assert not np.allclose(first, other, atol=0.05)


def test_training_dataset_augments_and_evaluation_dataset_does_not(small_splits):
    x, y = small_splits.x_train[:128], small_splits.y_train[:128]
    plain_x, plain_y = first_batch(make_dataset(x, y, batch_size=64))
    assert np.array_equal(plain_x, x[:64]) and np.array_equal(plain_y, y[:64])  # no shuffle, no change

    augmented = make_dataset(x, y, batch_size=64, training=True, augmentation=augment, seed=1)
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


def test_augmented_epochs_differ_and_a_rebuilt_dataset_repeats_them(small_splits):
    x, y = small_splits.x_train[:64], small_splits.y_train[:64]

    def epochs(dataset, count=2):
        return [np.asarray(next(iter(dataset))[0]) for _ in range(count)]

    first = epochs(make_dataset(x, y, batch_size=64, training=True, augmentation=augment, seed=5))
    rebuilt = epochs(make_dataset(x, y, batch_size=64, training=True, augmentation=augment, seed=5))
    assert not np.allclose(first[0], first[1], atol=0.05)  # fresh draws (and order) every epoch
    assert all(np.array_equal(a, b) for a, b in zip(first, rebuilt, strict=True))  # the same seed, the same epochs
