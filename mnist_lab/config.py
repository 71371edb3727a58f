"""Every default in one place: the seed notebook's training protocol.

A run saves its resolved `TrainConfig` as config.json beside its results, and
`TrainConfig.from_dict` reads one back (unknown keys are an error, not ignored).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

MNIST_TRAIN_SIZE = 60_000

# Run profiles for the notebooks and `make reproduce`: overrides of TrainConfig's defaults,
# and the folder each profile's reports go to. This is the only place they are set.
PROFILES: dict[str, dict] = {
    "full": {},  # the seed's protocol, unchanged
    "quick": {"epochs": 2, "subset": 2000},  # the whole pipeline in a few minutes on 2 CPU cores
}
REPORT_DIRS = {"full": "reports", "quick": "reports-quick"}


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field and the valid range."""


@dataclass(frozen=True)
class TrainConfig:
    stage: str = "cnn_bn"
    # Optimisation: Adam at Keras' default rate, categorical cross-entropy on one-hot labels.
    learning_rate: float = 1e-3
    batch_size: int = 64
    epochs: int = 20  # an upper bound: EarlyStopping usually ends sooner
    # The seed's split: train_test_split(test_size=0.1, random_state=42) -> 54,000 / 6,000.
    validation_fraction: float = 0.1
    split_seed: int = 42
    # Seeds Python, NumPy, TensorFlow/Keras and the augmentation layers.
    seed: int = 42
    # A stratified sample of this many training images before the split (None: all 60,000).
    subset: int | None = None
    # Callbacks, all on val_loss as in the seed.
    lr_factor: float = 0.5
    lr_patience: int = 3
    early_stopping_patience: int = 7
    # Augmentation (used by stages that augment): the seed's ImageDataGenerator ranges.
    rotation_degrees: float = 10.0
    zoom: float = 0.1
    shift: float = 0.1  # fraction of width and height

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        from mnist_lab.models import STAGES  # the registry is the one list of stage names

        if self.stage not in STAGES:
            raise ConfigError(f"unknown stage {self.stage!r}; valid stages: {', '.join(STAGES)}")
        positive_ints = ("batch_size", "epochs", "lr_patience", "early_stopping_patience")
        for name in positive_ints:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
        if not 0.0 < self.validation_fraction < 1.0:
            raise ConfigError(f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}")
        if not 0.0 < self.learning_rate:
            raise ConfigError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if not 0.0 < self.lr_factor < 1.0:
            raise ConfigError(f"lr_factor must be in (0, 1), got {self.lr_factor!r}")
        if self.subset is not None:
            # 100 keeps at least 10 validation images and every class in the sample.
            if isinstance(self.subset, bool) or not isinstance(self.subset, int) \
                    or not 100 <= self.subset <= MNIST_TRAIN_SIZE:
                raise ConfigError(
                    f"subset must be an integer between 100 and {MNIST_TRAIN_SIZE:,} "
                    f"(the MNIST training images), got {self.subset!r}"
                )
        for name in ("rotation_degrees", "zoom", "shift"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown config keys {unknown}; valid keys: {', '.join(sorted(known))}")
        return cls(**values)

    def replace(self, **changes) -> "TrainConfig":
        return self.from_dict({**self.to_dict(), **changes})


def resolve_config(stage: str, profile: str = "full", **overrides) -> TrainConfig:
    """The profile's settings for `stage`, then any explicit overrides (None means 'not given')."""
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILES)}")
    given = {key: value for key, value in overrides.items() if value is not None}
    return TrainConfig.from_dict({**TrainConfig().to_dict(), **PROFILES[profile], **given, "stage": stage})


def reports_root(profile: str):
    from mnist_lab.io import PROJECT_ROOT

    if profile not in REPORT_DIRS:
        raise ConfigError(f"unknown profile {profile!r}; valid profiles: {', '.join(REPORT_DIRS)}")
    return PROJECT_ROOT / REPORT_DIRS[profile]
