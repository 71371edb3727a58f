# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
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
# `ImageDataGenerator` is deprecated in Keras 3, so `mnist_lab.pipeline` does its work
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
profile = "full"  # "full": the seed's protocol; "quick": mnist_lab.config.PROFILES["quick"]
epochs = None  # None: the profile's value (full: up to 20, EarlyStopping may end sooner)
batch_size = None  # None: 64, as in the seed
subset = None  # None: the profile's value (full: all 60,000 training images)
seed = None  # None: 42
reports_dir = None  # None: reports/ (full) or reports-quick/ (quick)
run_dir = None  # None: reports_dir/stage

# %% tags=["nbval-ignore-output"]
from mnist_lab import views  # noqa: E402  (imports TensorFlow; its start-up notices land here)

# %%
config, run_dir = views.setup(stage, profile, reports_dir, run_dir, epochs=epochs, batch_size=batch_size,
                              subset=subset, seed=seed)

# %% [markdown]
# ## The model
#
# Layer by layer, with the parameter count of each.

# %%
views.model_summary(stage)

# %% [markdown]
# ## Training
#
# The seed's protocol: Adam (1e-3), batch 64, up to 20 epochs on 54,000 images, and three
# callbacks watching `val_loss` on the 6,000 held-out images. ReduceLROnPlateau halves
# the learning rate after 3 epochs without improvement. EarlyStopping stops after 7, and
# the weights of the best epoch are restored. One line per epoch. If a run is interrupted,
# running the notebook again resumes from the last finished epoch.

# %% tags=["nbval-ignore-output"]
result = views.train(config, run_dir)

# %% [markdown]
# ## Learning curves
#
# Training against validation, for loss and accuracy. Dotted lines mark where the learning
# rate was cut, and the green band marks the epoch whose weights were kept.

# %% tags=["nbval-ignore-output"]
views.learning_curves(result)

# %% [markdown]
# ## Test metrics
#
# On the canonical 10,000 test images, which no choice in this repository ever looked at.

# %% tags=["nbval-ignore-output"]
views.test_metrics(result)

# %% tags=["nbval-ignore-output"]
views.confusion_matrix(result)

# %% [markdown]
# ## What it gets wrong
#
# Misclassified test digits, captioned *true → predicted*. Many are digits a person would
# hesitate over too.

# %% tags=["nbval-ignore-output"]
views.misclassified(result)

# %% [markdown]
# ## Compared with the previous stage

# %% tags=["nbval-ignore-output"]
views.compare_with_previous(result, profile, reports_dir)

# %% [markdown]
# ## What the full-protocol run found
#
# These notes read the committed run in `reports/cnn_bn_aug/` (the seed's protocol, seed 42);
# the cells above recompute their numbers from whatever run this notebook made.
#
# **Augmentation did not raise test accuracy over `cnn_bn`**: 99.62% against 99.63%, 38 test
# errors against 37. The two models disagree on 41 test digits, 20 one way and 21 the other
# (McNemar p = 1.0): a difference the test set cannot detect. The run meets this repository's
# target (99.55%) and the seed's "~99.4–99.5%", but the seed never measured augmentation, and
# here, within the seed's 20 epochs, it added nothing measurable on the test set.
#
# Why, read from the validation split and the curves (choices are made there, never on the test set):
#
# - **The run ends while still improving.** Training accuracy stays below validation accuracy
#   throughout: the model is still fitting the transformed digits, not overfitting them. The
#   best epoch is 19 of 20, and the learning rate was cut once (after epoch 13), where
#   `cnn_bn` had two cuts and spent its last 5 epochs at a quarter of the initial rate. The
#   best validation accuracy did rise, from 99.42% (`cnn_bn`) to 99.53%.
# - **The callbacks mostly watch the L2 penalty.** Keras adds the L2 term of the dense layer
#   to `val_loss`, which ReduceLROnPlateau and EarlyStopping monitor. In the final model that
#   term is 0.066 of the 0.080 test loss (0.026 of 0.042 for `cnn_bn`); the cross-entropy
#   alone is 0.0138 with augmentation against 0.0156 without. A plateau in `val_loss` is
#   therefore mostly a plateau in the weights' size, so the rate is cut late. (Measured by
#   loading each `model.keras` and summing `model.losses`.)
#
# So the seed's budget, 20 epochs with callbacks on the regularised loss, suits training
# without augmentation. The next experiment would give the augmented model a longer budget,
# chosen on the validation split; it is not run here, because this repository reproduces the
# seed's protocol first.
