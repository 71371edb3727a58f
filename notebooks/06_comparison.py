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
# # 06 · All stages compared
#
# This notebook reads each stage's `metrics.json` and `history.json` from the reports
# folder. It trains nothing. Stages without a report are listed as not finished.
#
# The questions this repository exists for are answered here: how much does each
# ingredient add, does the seed's own model (`cnn_bn`) reach its 99.45%, and does the
# augmentation the seed meant to apply (`cnn_bn_aug`) take it further?

# %% tags=["parameters"]
profile = "full"  # which reports to compare: "full" (reports/) or "quick" (reports-quick/)
reports_dir = None  # None: the profile's folder

# %% tags=["nbval-ignore-output"]
from mnist_lab import cells  # noqa: E402

# %% [markdown]
# ## Results table, test accuracy per stage and validation curves

# %% tags=["nbval-ignore-output"]
runs = cells.comparison(profile, reports_dir)
