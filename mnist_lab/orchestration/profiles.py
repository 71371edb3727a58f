"""Run profiles for the notebooks and `make reproduce`, and the folder each profile reports to.

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
