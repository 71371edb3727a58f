"""Every default of the training protocol in one place: the seed notebook's protocol.

A run saves its resolved `TrainConfig` as config.json beside its results, and
`TrainConfig.from_dict` reads one back (unknown keys are an error, not ignored; a key
missing from an older config.json takes its default, so a new field's default must
reproduce what runs did before it existed). This module imports nothing of the package.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from numbers import Real

MNIST_TRAIN_SIZE = 60_000
MNIST_TEST_SIZE = 10_000
MAX_SEED = 2**32 - 1  # Keras and NumPy accept seeds in [0, 2**32 - 1]
# Keras dtype policies. float64 is the golden guard's (tests/golden.py): its rounding stays far
# below any change of the computation on every CPU; no protocol trains in it.
PRECISIONS = ("float32", "mixed_bfloat16", "float64")
# What the callbacks may watch: val_loss includes the L2 penalty, val_cross_entropy leaves it out.
MONITORS = ("val_loss", "val_cross_entropy", "val_accuracy")
LR_SCHEDULES = ("plateau", "exponential", "cosine", "constant")


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field and the valid range."""


@dataclass(frozen=True)
class TrainConfig:
    stage: str = "cnn_bn"  # a name in mnist_lab.core.models.STAGES (checked there)
    # Optimisation: Adam at Keras' default rate, categorical cross-entropy on one-hot labels.
    learning_rate: float = 1e-3
    batch_size: int = 64
    epochs: int = 20  # an upper bound: EarlyStopping usually ends sooner
    # The seed's split: train_test_split(test_size=0.1, random_state=42) -> 54,000 / 6,000.
    validation_fraction: float = 0.1
    split_seed: int = 42
    # Seeds initialisation, shuffling, dropout and augmentation (not the split).
    seed: int = 42
    # A stratified sample of this many training images before the split (None: all 60,000).
    subset: int | None = None
    # A fixed stratified sample of this many test digits to evaluate on (None: all 10,000), the
    # same for every run, so that runs stay paired digit by digit. Only the quick profile sets it:
    # its figures check the pipeline and are never results.
    test_subset: int | None = None
    # Callbacks: EarlyStopping (restoring the best epoch's weights) and, under the "plateau"
    # schedule, ReduceLROnPlateau watch `monitor`; the seed watches val_loss.
    monitor: str = "val_loss"
    early_stopping_patience: int = 7
    # Learning rate per epoch: "plateau" (the seed's: times lr_factor after lr_patience epochs
    # without improvement), "exponential" (times lr_decay every epoch), "cosine" (to 0 at `epochs`)
    # or "constant" (learning_rate throughout: the ablation of the seed's ReduceLROnPlateau).
    lr_schedule: str = "plateau"
    lr_factor: float = 0.5
    lr_patience: int = 3
    lr_decay: float = 0.95
    # Augmentation (used by stages that augment): the seed's ImageDataGenerator ranges.
    rotation_degrees: float = 10.0
    zoom: float = 0.1
    shift: float = 0.1  # fraction of width and height
    # Arithmetic: "float32" as the seed; "mixed_bfloat16" computes in bfloat16 with float32
    # weights and a float32 softmax (about 1.4x faster on CPUs with AVX512_BF16).
    precision: str = "float32"

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        if not isinstance(self.stage, str) or not self.stage:
            raise ConfigError(f"stage must be a stage name, got {self.stage!r}")
        for name in ("batch_size", "epochs", "lr_patience", "early_stopping_patience"):
            _check_int(name, getattr(self, name), 1)
        for name in ("seed", "split_seed"):
            _check_int(name, getattr(self, name), 0, MAX_SEED)
        for name in (
            "learning_rate",
            "validation_fraction",
            "lr_factor",
            "lr_decay",
            "rotation_degrees",
            "zoom",
            "shift",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Real):
                raise ConfigError(f"{name} must be a number, got {value!r}")
        if not 0.0 < self.validation_fraction < 1.0:
            raise ConfigError(f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}")
        if not 0.0 < self.learning_rate:
            raise ConfigError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        for name in ("lr_factor", "lr_decay"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ConfigError(f"{name} must be in (0, 1), got {getattr(self, name)!r}")
        if self.subset is not None:
            # 100 keeps at least 10 validation images and every class in the sample.
            _check_int(
                "subset", self.subset, 100, MNIST_TRAIN_SIZE, what="the number of training images to sample (None: all)"
            )
        if self.test_subset is not None:
            _check_int(
                "test_subset", self.test_subset, 100, MNIST_TEST_SIZE, what="the number of test digits (None: all)"
            )
        for name, valid in (("precision", PRECISIONS), ("monitor", MONITORS), ("lr_schedule", LR_SCHEDULES)):
            if getattr(self, name) not in valid:
                raise ConfigError(f"{name} must be one of {', '.join(valid)}, got {getattr(self, name)!r}")
        for name in ("rotation_degrees", "zoom", "shift"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown config keys {unknown}; valid keys: {', '.join(sorted(known))}")
        return cls(**values)

    def replace(self, **changes) -> TrainConfig:
        return self.from_dict({**self.to_dict(), **changes})


def same_config(stored: dict, config: TrainConfig) -> bool:
    """A config.json or checkpoint's config is `config` (fields added since it was written take
    their defaults, which reproduce what runs did before the field existed)."""
    try:
        return TrainConfig.from_dict(stored) == config
    except (ConfigError, TypeError):
        return False


def _check_int(name: str, value, low: int, high: int | None = None, what: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bound = f"between {low:,} and {high:,}" if high is not None else f">= {low}"
        raise ConfigError(f"{name} must be an integer {bound}{f' ({what})' if what else ''}, got {value!r}")
