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
# # 04 · BatchNorm: the seed's model (`cnn_bn`)
#
# The seed's notes: "Added [BatchNormalization] after most layers to stabilize and
# accelerate training by normalizing activations. Helped the model converge faster and
# improved accuracy."
#
# BatchNormalization after every convolution and after the dense layer, placed after the
# activation as the seed does. This is the seed's model exactly: Keras counts 1,870,026
# parameters, as it did in the seed.
#
# **A finding from reading the seed's code.** The seed's training cell builds an
# `ImageDataGenerator` and calls `datagen.fit(X_train)`, then trains with
# `model.fit(X_train_new, y_train_new, ...)`, on the raw arrays. The augmentation was never
# applied. The seed's reported **99.45%** therefore belongs to *this* stage, not to
# augmentation. The next notebook applies the augmentation it meant to use.
#
# A caution for quick runs (`profile="quick"`: 2 epochs on a small sample). BatchNorm
# normalises with each batch's statistics in training, but with moving averages at test
# time, and those averages move by only 1% a step. After a few dozen steps they are still
# near their initial values, so a quick run of this stage can score near chance on the
# test set while its training accuracy climbs. That reflects the short run, not the
# model: the full protocol takes some 17,000 steps.

# %% tags=["parameters"]
stage = "cnn_bn"
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
