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
# # 91 · Robustness: corrupted and transformed digits
#
# The last steps of the ladder cannot be told apart on the clean test set. The seed's notes
# credit augmentation with "improved robustness and generalization", and robustness is
# measured off the clean test set: on digits that are rotated, shifted, scaled, sheared, noisy,
# blurred or overwritten. This notebook trains and evaluates nothing. Every run evaluates the
# suite once at the end of its training (`mnist_lab.core.robustness`), and `mnist-lab robustness
# RUN_DIR` evaluates a finished run that has none. This notebook reads what the runs stored.
#
# The suite has two parts:
#
# - **MNIST-C's 15 corruptions** (Mu and Gilmer, 2019), each applied to a fixed stratified
#   5,000 of the test digits at the severity of the published dataset. They are regenerated
#   here from the published definitions (`mnist_lab.core.corruptions`), not taken from the
#   published images, which cannot be fetched from where this repository is built.
# - **Sweeps of the seed's own augmentation transforms, past its ranges**: rotation, shift and
#   zoom, on a fixed stratified subset of the test digits.
#
# Every image draws its randomness from its own seed, so the sets are the same on every machine.

# %% tags=["parameters"]
profile = "full"  # "full" (reports/) or "quick" (reports-quick/: the small suite, a pipeline check)
reports_dir = None  # None: the profile's folder
out_dir = None  # where the figures go (None: reports_dir/robustness/)

# %% tags=["nbval-ignore-output"]
from mnist_lab.report import cells  # noqa: E402

# %% [markdown]
# ## The suite on ten test digits
#
# The first row is the clean digit. Then come the 15 corruptions, then the largest size of
# each sweep. MNIST-C's rotate (22.9°), translate (3 px in x and y) and scale (70%) lie outside
# the seed's augmentation ranges (10°, 10% shift, 10% zoom).

# %% tags=["nbval-ignore-output"]
cells.robustness_gallery(profile, reports_dir, out_dir)

# %% tags=["nbval-ignore-output"]
found = cells.robustness_runs(profile, reports_dir)

# %% [markdown]
# ## Stages by corruption
#
# Accuracy (%) on each corrupted copy of the test set. When a stage has several seeds with
# results, each cell is the mean over them. The last two columns are MNIST-C's summary: the
# mean accuracy over the 15 corruptions and the mean error.

# %% tags=["nbval-ignore-output"]
rows = cells.robustness_table(found, profile, reports_dir, out_dir)

# %% [markdown]
# ## Robustness curves
#
# Accuracy against the size of each transform, one line per stage. The grey band is the range
# the seed's augmentation draws from. Augmentation should flatten a curve inside its band; what
# it does outside the band is the open question.

# %% tags=["nbval-ignore-output"]
cells.robustness_curves(rows, profile, reports_dir, out_dir)

# %% [markdown]
# ## Each step of the ladder, corruption by corruption
#
# Two kinds of evidence for each step:
#
# - **Image by image**, from the stages' seed-42 runs: the change in accuracy on each
#   corruption, with McNemar's exact test on the digits that exactly one of the two runs gets
#   wrong. With 15 corruptions, about one in twenty p-values falls below 0.05 by chance alone.
# - **Over seeds**, where both stages have several seeds with results: the repository's rule
#   (the 95% Welch interval of the difference of means excludes 0) applied to the mean accuracy
#   over the 15 corruptions. With one seed a side there is no verdict, and the line says so.

# %% tags=["nbval-ignore-output"]
cells.robustness_steps(found)

# %% [markdown]
# ## Why the BatchNorm stages fail on corrupted digits
#
# A BatchNorm layer normalises each channel with a mean and variance estimated on clean
# training digits, and keeps them frozen at test time. A corruption that shifts every pixel
# (brightness, fog) moves every activation off those statistics. Is the loss those frozen
# statistics, or something the weights learned? Following Schneider et al. (2020) and Nado et
# al. (2020), each BatchNorm stage is evaluated again with statistics taken from each set's own
# images, without labels (`mnist_lab.core.adaptation` says exactly how): the same weights, only
# the statistics changed. The clean test digits, adapted on themselves, are the control: there
# the statistics should barely move, and neither should the accuracy.
#
# If adaptation recovers most of a corruption's loss, the statistics were the cause; what it
# leaves is what the weights learned. Per corruption, the seed-42 run's plain and adapted
# predictions are compared on the same images (McNemar's exact test); over seeds, the gain in
# mean corruption accuracy has its 95% interval.

# %% tags=["nbval-ignore-output"]
cells.robustness_adaptation(found, profile, reports_dir, out_dir)
