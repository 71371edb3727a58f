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
# # 90 · All stages compared
#
# This notebook reads each stage's `metrics.json` and `history.json` from the reports
# folder. It trains nothing. Stages without a report are listed as not finished.
#
# The questions this repository exists for are answered here: how much does each
# ingredient add, does the seed's own model (`cnn_bn`) reach its 99.45%, and does the
# augmentation the seed meant to apply (`cnn_bn_aug`) take it further, within the seed's
# budget or with one chosen on the validation split (`cnn_bn_aug_long`)? One run per stage
# cannot say when neighbouring stages differ by a few test digits, so the second part
# compares every stage over several training seeds.

# %% tags=["parameters"]
profile = "full"  # which reports to compare: "full" (reports/) or "quick" (reports-quick/)
reports_dir = None  # None: the profile's folder
out_dir = None  # where the figures go (None: reports_dir/comparison/)

# %% tags=["nbval-ignore-output"]
from mnist_lab.report import cells  # noqa: E402

# %% [markdown]
# ## Results table, test accuracy per stage and validation curves

# %% tags=["nbval-ignore-output"]
runs = cells.comparison(profile, reports_dir, out_dir)

# %% [markdown]
# ## Seed variance: is each step real?
#
# Another training seed (initialisation, shuffling, dropout, augmentation draws) moves every
# result, by about as much as the last steps of the ladder differ. So each stage is trained
# with several seeds under the same protocol and the same split (`make seeds`; the stage's
# own run, seed 42, is one of them), and each step is judged on the seeds, by a rule fixed
# before any run was seen:
#
# - a step is **real** when the 95% interval of the difference of mean test accuracies
#   (Welch's, since the stages' spreads differ) excludes 0;
# - otherwise it is **not detectable** with these seeds, and the interval bounds how large
#   the difference can be.
#
# Beside the interval: how often a run of the later stage beats one of the earlier stage, over
# all pairs of seeds. The per-image McNemar lines above compare the two seed-42 runs only.
#
# With the quick profile this notebook first trains one extra seed of the two cheapest stages
# itself (seconds; `mnist_lab.runs.settings.QUICK_SWEEP_STAGES`); with the full profile it only reads
# the committed sweep.

# %% tags=["nbval-ignore-output"]
cells.train_quick_seeds(profile, reports_dir)

# %%
seed_runs = cells.seed_runs(profile, reports_dir)

# %% tags=["nbval-ignore-output"]
cells.seed_variance(seed_runs, profile, reports_dir, out_dir)

# %% [markdown]
# ## Ensembles of a stage's seeds
#
# The seeds' stored test-set probabilities, averaged: one ensemble per stage with enough seeds,
# made of all of them (fixed in advance, never chosen on the test set), compared digit by
# digit with the stage's best single run, and its accuracy by number of members, to show
# where adding seeds stops paying.

# %% tags=["nbval-ignore-output"]
ensembles = cells.ensembles(seed_runs, profile, reports_dir, out_dir)

# %% [markdown]
# ## A longer budget for augmentation?
#
# Notebook 05 chooses, on the validation split only, between the seed's 20 epochs and longer
# budgets with other schedules; notebook 06 trains the choice as a stage. Here the chosen
# setting's stage is held, over its seeds, against the targets set by published simple CNNs
# with the same augmentation, for one model's mean and for an ensemble
# (`mnist_lab.runs.settings.CHOSEN_TARGETS`). Its verdicts against `cnn_bn_aug` and `cnn_bn` are
# in the seed-variance section above.

# %% tags=["nbval-ignore-output"]
cells.selection_answer(seed_runs, ensembles, profile, reports_dir)

# %% [markdown]
# ## Mixed precision: does bfloat16 change the science?
#
# `precision="mixed_bfloat16"` trains about 1.4-1.6x faster on CPUs with AVX512_BF16
# (`make bench`). It is another protocol, so its runs live apart (`reports/precision/`) and
# never join a stage's seeds. Here `cnn_bn` trained in bfloat16 is compared with the float32
# runs of the same seeds, under a rule fixed before the runs.

# %% tags=["nbval-ignore-output"]
cells.precision_check(profile, reports_dir)

# %% [markdown]
# ## The seed's claims, checked
#
# The seed's notes credit each ingredient with more than accuracy: the dense network
# overfits, BatchNorm stabilises and speeds up training, augmentation makes the model more
# robust, the plateau schedule fine-tunes the late epochs, early stopping prevents
# overfitting. `mnist_lab.findings.claims` turns each claim into a measurable prediction and
# judges it on every committed seed, all the tested parts as one family with Holm's correction:
# a part is **supported** or **contradicted** when its adjusted p is below 0.05, **negligible**
# when its 90% interval lies within its smallest effect of interest (declared for each measure), and
# **not detectable** otherwise. Accuracy parts count the test digits' own sampling error as well
# as the seeds'. The first figure puts every part on one axis, in units of its smallest effect
# of interest. `docs/findings.md` says what each verdict means in words.
#
# The curves show the evidence behind the convergence and overfitting verdicts: each seed's
# validation accuracy over its first epochs (the two stages compared), and its validation loss
# in % above its own minimum. Once the learning-rate ablation has runs, a second figure sets each of its
# seeds beside the same seed of `cnn_bn`: the two start from the same weights and batches,
# so they agree until the plateau first cuts the rate.

# %% tags=["nbval-ignore-output"]
claims = cells.claims(seed_runs, profile, reports_dir, out_dir)
