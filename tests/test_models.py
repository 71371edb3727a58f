import pytest

from mnist_lab.core.config import ConfigError
from mnist_lab.core.models import STAGES, get_stage

CONV_LADDER = {
    # The seed's backbone: two 64-filter then two 128-filter 3x3 convs, each block pooled.
    "cnn": ["Conv2D", "Conv2D", "MaxPooling2D", "Conv2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense"],
    "cnn_reg": [
        "Conv2D",
        "Conv2D",
        "MaxPooling2D",
        "Dropout",
        "Conv2D",
        "Conv2D",
        "MaxPooling2D",
        "Dropout",
        "Flatten",
        "Dense",
        "Dropout",
        "Dense",
    ],
    "cnn_bn": [
        "Conv2D",
        "BatchNormalization",
        "Conv2D",
        "BatchNormalization",
        "MaxPooling2D",
        "Dropout",
        "Conv2D",
        "BatchNormalization",
        "Conv2D",
        "BatchNormalization",
        "MaxPooling2D",
        "Dropout",
        "Flatten",
        "Dense",
        "BatchNormalization",
        "Dropout",
        "Dense",
    ],
}
EXPECTED = {
    "dnn": (669_706, ["Flatten", "Dense", "Dense", "Dense"]),
    "cnn": (1_867_466, CONV_LADDER["cnn"]),
    "cnn_reg": (1_867_466, CONV_LADDER["cnn_reg"]),  # dropout and L2 add no parameters
    "cnn_bn": (1_870_026, CONV_LADDER["cnn_bn"]),  # the seed's model, as its Keras counted it
    "cnn_bn_aug": (1_870_026, CONV_LADDER["cnn_bn"]),  # same model; only its training data differ
    "cnn_bn_aug_long": (1_870_026, CONV_LADDER["cnn_bn"]),  # same again; only its training protocol differs
}


def test_the_seeds_ladder_comes_first_in_story_order():
    ladder = ["dnn", "cnn", "cnn_reg", "cnn_bn", "cnn_bn_aug", "cnn_bn_aug_long"]
    assert list(STAGES)[: len(ladder)] == ladder  # a new stage is added after them
    assert [STAGES[name].parent for name in ladder] == [None, *ladder[:-1]]


@pytest.mark.parametrize("name", list(STAGES))
def test_every_stage_names_an_earlier_stage_as_its_parent(name):
    names = list(STAGES)
    for other in (STAGES[name].parent, *STAGES[name].also_against):
        if other is not None:
            assert other in names[: names.index(name)], (
                f"{name} is compared with {other}, which is not an earlier stage"
            )


@pytest.mark.parametrize("name", list(STAGES))
def test_parameter_count_and_layer_sequence(name):
    model = STAGES[name]()
    # The entry to paste, already in the layout `ruff format` keeps (one layer a line).
    entry = "\n".join(
        [f'    "{name}": (', f"        {model.count_params():_},", "        ["]
        + [f'            "{layer.__class__.__name__}",' for layer in model.layers]
        + ["        ],", "    ),"]
    )
    assert name in EXPECTED, (
        f"stage {name} has no recorded parameter count and layer sequence: add\n{entry}\n"
        "to EXPECTED in tests/test_models.py, after checking them against what you meant to build"
    )
    params, layers = EXPECTED[name]
    assert model.count_params() == params
    assert [layer.__class__.__name__ for layer in model.layers] == layers
    assert model.input_shape == (None, 28, 28, 1) and model.output_shape == (None, 10)


def test_seed_details_of_cnn_bn():
    model = STAGES["cnn_bn"]()
    convs = [layer for layer in model.layers if layer.__class__.__name__ == "Conv2D"]
    assert [(c.filters, c.kernel_size, c.padding) for c in convs] == [(64, (3, 3), "same")] * 2 + [
        (128, (3, 3), "same")
    ] * 2
    assert [layer.rate for layer in model.layers if layer.__class__.__name__ == "Dropout"] == [0.25, 0.25, 0.5]
    dense, classifier = [layer for layer in model.layers if layer.__class__.__name__ == "Dense"]
    assert dense.units == 256 and float(dense.kernel_regularizer.l2) == pytest.approx(1e-3)
    assert classifier.kernel_regularizer is None and classifier.activation.__name__ == "softmax"


def test_only_cnn_reg_and_up_are_regularised():
    for name in ("dnn", "cnn"):
        assert all(getattr(layer, "kernel_regularizer", None) is None for layer in STAGES[name]().layers)


def test_builders_return_fresh_models():
    assert STAGES["cnn"]() is not STAGES["cnn"]()


def test_unknown_stage_lists_valid_ones():
    with pytest.raises(ConfigError, match=f"valid stages: {', '.join(STAGES)}"):
        get_stage("resnet")
