"""Every setting of the runs around the training core, in one place to read (as TrainConfig is
for one run's): the profiles and their report folders, the seeds each sweep adds, the ensemble
minimums, the ablations, the longer-budget candidates, the precision check and the seed
campaign's counts. Nothing here trains or reads a run; every module that needs one of these
imports it from here.

A profile is a set of overrides of TrainConfig's defaults (and of a stage's own protocol,
mnist_lab.core.models.Stage.protocol); this is the only place they are set.
"""

from __future__ import annotations

from mnist_lab.core.config import ConfigError, TrainConfig
from mnist_lab.core.files import PROJECT_ROOT
from mnist_lab.core.models import get_stage

PROFILES: dict[str, dict] = {
    "full": {},  # the seed's protocol, unchanged
    # The whole pipeline, small: a check, not a result. 1,000 training images (900 to fit, 100 to
    # validate) and 1,000 test digits keep each of its dozen runs to seconds on 2 cores.
    "quick": {"epochs": 2, "subset": 1000, "test_subset": 1000},
}
REPORT_DIRS = {"full": "reports", "quick": "reports-quick"}


def check_profile(profile: str) -> None:
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILES)}")


def resolve_config(stage: str, profile: str = "full", **overrides) -> TrainConfig:
    """The seed's protocol, then the stage's own settings, the profile's and any explicit
    overrides, each over the one before (None means 'not given')."""
    check_profile(profile)
    protocol = get_stage(stage).protocol
    given = {key: value for key, value in overrides.items() if value is not None}
    return TrainConfig.from_dict({**TrainConfig().to_dict(), **protocol, **PROFILES[profile], **given, "stage": stage})


def reports_root(profile: str):
    check_profile(profile)
    return PROJECT_ROOT / REPORT_DIRS[profile]


# -- Seeds ---------------------------------------------------------------------------------------
STAGE_RUN_SEED = TrainConfig.seed  # the stage notebook's run, reports/STAGE/, is this seed
# Seeds each profile's sweep adds to the stage run. Quick: one more of the two cheapest stages,
# trained by the comparison notebook itself (seconds: enough for one step's verdict over seeds);
# full: `make seeds` trains them for every stage (hours), the notebook only reads them.
SWEEP_SEEDS = {"full": (0, 1, 2, 3), "quick": (0,)}
QUICK_SWEEP_STAGES = ("dnn", "cnn")
# Every planned seed: the stage run's and the sweep's (full: 5, quick: 2). An ensemble averages a stage's
# seeds, and a target for its mean is judged, only once it has this many.
ENSEMBLE_MIN_SEEDS = {profile: 1 + len(seeds) for profile, seeds in SWEEP_SEEDS.items()}
# `make seeds` trains the steps whose single-seed results were a few digits apart first.
SWEEP_ORDER = ("cnn_reg", "cnn_bn", "cnn_bn_aug", "cnn_bn_aug_long", "dnn", "cnn")

# -- Ablations -----------------------------------------------------------------------------------
# Protocols off the ladder, each one TrainConfig change against the stage's own protocol.
# constant_lr: the seed's ReduceLROnPlateau removed (Adam at 1e-3 throughout), for claim 6 of its notes.
ABLATIONS: dict[str, dict] = {"constant_lr": {"lr_schedule": "constant"}}

# -- The longer-budget candidates (issue 14), chosen on the validation split -----------------------
BASE_STAGE = "cnn_bn_aug"
SELECTION_DIR = "selection"
CANDIDATES: dict[str, dict] = {
    # The seed's plateau callbacks, watching the loss without the L2 penalty, with room to go on.
    "plateau_ce_50": dict(epochs=50, monitor="val_cross_entropy", early_stopping_patience=10),
    # Deotte's schedule (times 0.95 per epoch), never stopping early: the best epoch is kept.
    "exponential_50": dict(
        epochs=50, lr_schedule="exponential", lr_decay=0.95, monitor="val_cross_entropy", early_stopping_patience=50
    ),
}
# Not tried, to spend the CPU hours on seeds instead: a cosine schedule (TrainConfig supports it),
# and watching val_accuracy, which on 6,000 images moves in steps of one digit and ties often.
# An exponential schedule's rate at an epoch does not depend on the budget, so the first N
# epochs of exponential_50 are exactly the run with epochs=N: one run shows three budgets.
SHORTER_BUDGETS = {"exponential_50": (30, 40)}
# Issue 14's targets for the protocol the selection chooses, from published simple CNNs trained with
# this augmentation (Deotte's, on Kaggle): a mean of 99.641% for one CNN over 1,500 runs, and 99.745%
# for 15 of them averaged. Judged on at least ENSEMBLE_MIN_SEEDS["full"] seeds of the chosen stage.
CHOSEN_TARGETS = {"mean": 0.9965, "ensemble": 0.9975}


def candidate_config(name: str, profile: str = "full") -> TrainConfig:
    """A candidate's config; the profile's settings win over the candidate's (quick: 2 epochs on a subset)."""
    if name not in CANDIDATES:
        raise ConfigError(f"unknown candidate {name!r}; candidates: {', '.join(CANDIDATES)}")
    check_profile(profile)
    return resolve_config(BASE_STAGE, profile, **{**CANDIDATES[name], **PROFILES[profile]})


# -- The precision check --------------------------------------------------------------------------
PRECISION_MIN_SEEDS = 3  # the number in findings.precision_check.PRECISION_RULE
PRECISION_CHECK = ("cnn_bn", "mixed_bfloat16")  # the seed's model, in the precision worth having

# -- The seed campaign fixed in docs/campaign-2026-12.md ------------------------------------------
# How many seeds each arm has when the campaign is done. The README says where the campaign stands,
# so that a verdict resting on an unfinished campaign reads as interim. The plan fixed its n before
# any run; nothing here moves it.
CAMPAIGN_PLAN = "docs/campaign-2026-12.md"
CAMPAIGN_SEEDS = {"dnn": 14, "cnn_reg": 11, "cnn_bn": 11, "cnn_bn_aug": 11}
# The seeds it trained, fixed before they ran: the claims confirm the parts it was planned for on these alone.
CAMPAIGN_NEW_SEEDS = {
    "dnn": tuple(range(4, 13)),
    "cnn_reg": tuple(range(4, 10)),
    "cnn_bn": (4, 7, 8, 9),
    "cnn_bn_aug": (4, 7, 8, 9),
}
