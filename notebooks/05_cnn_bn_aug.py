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
# # 05 · Augmentation, actually applied (`cnn_bn_aug`)
#
# The seed's notes: "Used ImageDataGenerator to introduce variability (rotations, shifts,
# zooms) into training data. Improved robustness and generalization of the model
# (~99.4–99.5% accuracy)." As notebook 04 shows, the seed never ran this step.
#
# Here it runs. It is the same model as `cnn_bn`, and every training batch is transformed
# on the fly: rotation up to ±10°, zoom up to ±10% on each axis, shifts up to ±10% of the
# width and height, with edge pixels repeated (`nearest`) as in `ImageDataGenerator`.
# `ImageDataGenerator` is deprecated in Keras 3, so `mnist_lab.core.pipeline` does its work
# inside the `tf.data` pipeline, on whole batches, in parallel with training: for each
# image it draws the rotation, zooms and shifts as `ImageDataGenerator` does, composes them
# into one affine matrix and resamples the image once. Given the same draws, its images
# equal `ImageDataGenerator`'s (a unit test checks this). Validation and test images are
# never transformed.
#
# A finding on the way: the obvious Keras 3 replacement, chaining the `RandomRotation`,
# `RandomZoom` and `RandomTranslation` layers, draws the same distributions but resamples
# each digit three times, and every bilinear resampling blurs. On 1,000 training digits
# (`python benchmarks/augmentation_sharpness.py`, part of `make bench`), the chain kept
# 43% of the originals' gradient energy, a measure of sharpness; `ImageDataGenerator` and
# this pipeline kept 67%. The chain would have trained the model on blurrier digits than
# the seed meant, and than the test digits it is scored on. This repository used the chain
# at first and replaced it before training this stage under the full protocol.
#
# What to look for: training accuracy stays below validation accuracy, because the model
# trains on harder, transformed digits. Compare the test accuracy with `cnn_bn`: that
# difference is what augmentation is worth.

# %% tags=["parameters"]
stage = "cnn_bn_aug"
profile = "full"  # "full": the seed's protocol; "quick": PROFILES["quick"] in mnist_lab/runs/settings.py
epochs = None  # None: the profile's value (full: up to 20, EarlyStopping may end sooner)
batch_size = None  # None: 64, as in the seed
subset = None  # None: the profile's value (full: all 60,000 training images)
seed = None  # None: 42
precision = None  # None: "float32"; "mixed_bfloat16" is faster on CPUs with AVX512_BF16
reports_dir = None  # None: reports/ (full) or reports-quick/ (quick)
run_dir = None  # None: reports_dir/stage

# %% tags=["nbval-ignore-output"]
from mnist_lab.report import cells  # noqa: E402  (imports TensorFlow; its start-up notices land here)

# %%
config, run_dir = cells.setup(
    stage,
    profile,
    reports_dir,
    run_dir,
    epochs=epochs,
    batch_size=batch_size,
    subset=subset,
    seed=seed,
    precision=precision,
)

# %% [markdown]
# ## The model
#
# Layer by layer, with the parameter count of each.

# %%
cells.model_summary(stage)

# %% [markdown]
# ## Training
#
# The seed's protocol: Adam (1e-3), batch 64, up to 20 epochs on 54,000 images, and three
# callbacks watching `val_loss` on the 6,000 held-out images. ReduceLROnPlateau halves
# the learning rate after 3 epochs without improvement. EarlyStopping stops after 7, and
# the weights of the best epoch are restored. One line per epoch. If a run is interrupted,
# running the notebook again resumes from the last finished epoch.

# %% tags=["nbval-ignore-output"]
result = cells.train(config, run_dir)

# %% [markdown]
# ## Learning curves
#
# Training against validation, for loss and accuracy. Dotted lines mark where the learning
# rate was cut, and the green band marks the epoch whose weights were kept.

# %% tags=["nbval-ignore-output"]
cells.learning_curves(result)

# %% [markdown]
# ## Test metrics
#
# On the canonical test images (all 10,000; the quick profile: a fixed stratified 1,000 of them),
# which no choice in this repository ever looked at.

# %% tags=["nbval-ignore-output"]
cells.test_metrics(result)

# %% tags=["nbval-ignore-output"]
cells.confusion_matrix(result)

# %% [markdown]
# ## What it gets wrong
#
# Misclassified test digits, captioned *true → predicted*. Many are digits a person would
# hesitate over too.

# %% tags=["nbval-ignore-output"]
cells.misclassified(result)

# %% [markdown]
# ## Compared with the previous stage

# %% tags=["nbval-ignore-output"]
cells.compare_with_previous(result, profile, reports_dir)

# %% [markdown]
# ## Your run against the committed one
#
# Change a parameter above (`epochs`, `subset`, `seed`, ...) and this run becomes your own: it
# trains into `runs/` and leaves `reports/` alone. Here it meets the committed run of the
# stage digit by digit, and the band of the committed seeds.

# %% tags=["nbval-ignore-output"]
cells.compare_with_committed(result, profile, reports_dir)

# %% [markdown]
# ## Did the seed's budget suit augmentation?
#
# Within the seed's protocol, the comparison above is what augmentation is worth; whether
# the difference is real or seed noise is decided over several seeds in the comparison
# notebook. The table below reads the two runs' own training records for why augmentation
# might need a longer budget (all from the validation split or the training logs, except the
# last two rows, which split each model's test loss into cross-entropy and L2 penalty):
#
# - **still improving at the end**: a best epoch at or near the last epoch;
# - **training accuracy below validation accuracy**: the model is still fitting the
#   transformed digits, not overfitting them;
# - **few learning-rate cuts**: ReduceLROnPlateau and EarlyStopping watch `val_loss`, and
#   Keras adds the dense layer's L2 penalty to it. When that penalty is most of `val_loss`,
#   a plateau in `val_loss` is mostly a plateau in the weights' size, and the rate is cut late.
#
# If these hold, the next experiment is a longer budget chosen on the validation split,
# which leaves the seed's protocol; the next section does exactly that.

# %% tags=["nbval-ignore-output"]
cells.budget_evidence(result, profile, reports_dir)

# %% [markdown]
# ## A longer budget, chosen on the validation split
#
# Each candidate of `mnist_lab/runs/settings.py` trains this model once (seed 42) with more
# epochs, a learning rate that decays every epoch, or callbacks that watch the validation
# cross-entropy instead of `val_loss` (`make select`, hours; resumable). The candidates never
# evaluate the test set, and the rule that picks one was written down before any of them ran.
# The seed's protocol competes too, with this stage's own run. An exponential schedule's
# first 30 or 40 epochs are the runs with those budgets, so one run gives three rows.
#
# With the quick profile the candidates train here for 2 epochs on a subset, which only
# shows that the machinery works; with the full profile this cell reads `reports/selection/`.

# %% tags=["nbval-ignore-output"]
selection = cells.selection_record(profile, reports_dir)
