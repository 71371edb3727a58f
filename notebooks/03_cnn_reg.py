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
# # 03 · Dropout and L2 (`cnn_reg`)
#
# The seed's notes: "Dropout layers were added after convolution and dense layers to
# reduce overfitting. L2 Regularization was used in the dense layer to penalize large
# weights."
#
# Exactly that, on the `cnn` model. Dropout 0.25 follows each conv block and 0.5 comes
# before the classifier: in training, a random share of the activations is zeroed at
# every step, so no unit can rely on one other. The dense layer's weights carry an L2
# penalty of 1e-3. The parameter count does not change.
#
# What to look for: the loss now includes the L2 penalty, so its values are not
# comparable with `cnn`'s, but accuracies are. Training accuracy sits below validation
# accuracy, because dropout is active only in training.

# %% tags=["parameters"]
stage = "cnn_reg"
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
