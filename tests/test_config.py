import json

import pytest

from mnist_lab.core.config import ConfigError, TrainConfig, same_config
from mnist_lab.core.models import get_stage
from mnist_lab.runs.settings import resolve_config


def test_defaults_are_the_seed_protocol():
    config = TrainConfig()
    assert (config.learning_rate, config.batch_size, config.epochs) == (1e-3, 64, 20)
    assert (config.validation_fraction, config.split_seed, config.seed) == (0.1, 42, 42)
    assert (config.lr_factor, config.lr_patience, config.early_stopping_patience) == (0.5, 3, 7)
    assert (config.monitor, config.lr_schedule) == ("val_loss", "plateau")
    assert (config.rotation_degrees, config.zoom, config.shift) == (10.0, 0.1, 0.1)
    assert config.subset is None


def test_json_round_trip():
    config = TrainConfig(stage="dnn", epochs=3, subset=500)
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"stage": ""}, "stage must be a stage name"),
        ({"seed": -1}, "seed must be an integer between 0 and 4,294,967,295, got -1"),
        ({"seed": 2**32}, "seed must be an integer between 0 and 4,294,967,295"),
        ({"split_seed": 1.5}, "split_seed must be an integer"),
        ({"learning_rate": "fast"}, "learning_rate must be a number, got 'fast'"),
        ({"epochs": 0}, "epochs must be an integer >= 1"),
        ({"batch_size": 2.5}, "batch_size must be an integer >= 1"),
        ({"subset": 60001}, "subset must be an integer between 100 and 60,000"),
        ({"subset": 10}, "subset must be an integer between 100"),
        ({"test_subset": 10_001}, "test_subset must be an integer between 100 and 10,000"),
        ({"validation_fraction": 1.0}, "validation_fraction must be in"),
        ({"lr_factor": 2}, "lr_factor must be in"),
        ({"lr_decay": 1.0}, "lr_decay must be in"),
        ({"monitor": "loss"}, "monitor must be one of val_loss, val_cross_entropy, val_accuracy, got 'loss'"),
        ({"lr_schedule": "step"}, "lr_schedule must be one of plateau, exponential, cosine"),
        ({"zoom": -0.1}, "zoom must be >= 0"),
    ],
)
def test_invalid_values_name_the_field(changes, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**changes)


def test_unknown_keys_are_errors():
    with pytest.raises(ConfigError, match=r"unknown config keys \['epoch'\]"):
        TrainConfig.from_dict({"epoch": 3})


def test_stage_names_are_checked_against_the_registry():
    with pytest.raises(ConfigError, match="unknown stage 'vgg'; valid stages: dnn, cnn"):
        get_stage("vgg")
    with pytest.raises(ConfigError, match="unknown stage 'vgg'"):
        resolve_config("vgg", "full")


def test_a_key_missing_from_an_older_config_takes_its_default():
    values = TrainConfig(stage="dnn").to_dict()
    del values["shift"]
    assert TrainConfig.from_dict(values) == TrainConfig(stage="dnn")


def test_a_checkpoint_written_before_a_field_existed_is_the_same_config():
    older = TrainConfig(stage="cnn_bn").to_dict()
    del older["test_subset"]  # what runs and checkpoints wrote before the field was added
    assert same_config(older, TrainConfig(stage="cnn_bn"))
    assert not same_config(older, TrainConfig(stage="cnn_bn", seed=5))
    assert not same_config({**older, "epoch": 3}, TrainConfig(stage="cnn_bn"))  # unreadable: not this config


def test_a_stage_protocol_sits_between_the_defaults_and_the_profile(monkeypatch):
    import dataclasses

    from mnist_lab.core.models import STAGES

    longer = dataclasses.replace(STAGES["cnn_bn_aug"], name="longer", protocol={"epochs": 40, "lr_schedule": "cosine"})
    monkeypatch.setitem(STAGES, "longer", longer)
    full = resolve_config("longer", "full")
    assert (full.epochs, full.lr_schedule, full.batch_size) == (40, "cosine", 64)
    assert resolve_config("longer", "quick").epochs == 2  # the profile wins over the stage
    assert resolve_config("longer", "full", epochs=5).epochs == 5  # an explicit override wins over both
