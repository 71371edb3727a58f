"""The stages: a dense baseline, then one convolutional ladder on the seed's backbone.

Each rung adds one ingredient, so the difference between two neighbouring stages is
attributable to it:

    cnn        conv 64-64 / pool / conv 128-128 / pool / dense 256     (no regularisation)
    cnn_reg    + Dropout 0.25 after each conv block, 0.5 before the classifier, L2 1e-3 on dense
    cnn_bn     + BatchNormalization after every conv and the dense layer: the seed's model
    cnn_bn_aug   the cnn_bn model, trained on augmented images (see mnist_lab.core.pipeline)
    cnn_bn_aug_long   cnn_bn_aug with the budget and schedule chosen on validation (selection.py)

The seed notebook configured ImageDataGenerator but passed the raw arrays to
`model.fit`, so its augmentation was never applied: its 99.45% is a `cnn_bn` result.
`cnn_bn_aug` is the seed's stated intent, actually applied.

`STAGES[name]()` returns a fresh, uncompiled Keras model. Keras is imported inside the
builders so that listing stages and checking arguments stay instant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mnist_lab.core.config import ConfigError
from mnist_lab.core.data import IMAGE_SHAPE, NUM_CLASSES


def output_dtype() -> str:
    """The classifier's dtype: float32 under mixed precision too (a stable softmax and loss), and
    float64 under the float64 policy (the golden guard's), so that no part of such a run rounds in float32."""
    import keras

    return "float64" if keras.config.dtype_policy().name == "float64" else "float32"


def build_dnn():
    """Fully connected baseline from the seed's notes: ReLU hidden layers, softmax, no regularisation."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape=IMAGE_SHAPE),
            layers.Flatten(),  # 28x28x1 -> 784
            layers.Dense(512, activation="relu"),
            layers.Dense(512, activation="relu"),
            layers.Dense(NUM_CLASSES, activation="softmax", dtype=output_dtype()),
        ],
        name="dnn",
    )


def build_conv_ladder(
    *, name: str, dropout: bool, l2: float | None, batchnorm: bool, filters: tuple[int, int] = (64, 128)
):
    """The seed's backbone with each ingredient switchable. All flags on = the seed's model;
    `filters` are the two conv blocks' widths (the seed's 64 and 128), for a stage that changes them."""
    import keras
    from keras import layers, regularizers

    def normalise():  # BatchNorm after the activation, exactly where the seed puts it
        return [layers.BatchNormalization()] if batchnorm else []

    def conv_block(filters: int):
        return [
            layers.Conv2D(filters, (3, 3), activation="relu", padding="same"),
            *normalise(),
            layers.Conv2D(filters, (3, 3), activation="relu", padding="same"),
            *normalise(),
            layers.MaxPooling2D((2, 2)),  # 28 -> 14 -> 7
            *([layers.Dropout(0.25)] if dropout else []),
        ]

    return keras.Sequential(
        [
            keras.Input(shape=IMAGE_SHAPE),
            *conv_block(filters[0]),
            *conv_block(filters[1]),
            layers.Flatten(),  # 7x7x128 = 6,272 features with the seed's widths
            layers.Dense(256, activation="relu", kernel_regularizer=regularizers.l2(l2) if l2 else None),
            *normalise(),
            *([layers.Dropout(0.5)] if dropout else []),
            layers.Dense(NUM_CLASSES, activation="softmax", dtype=output_dtype()),  # stable softmax and loss
        ],
        name=name,
    )


def build_cnn():
    return build_conv_ladder(name="cnn", dropout=False, l2=None, batchnorm=False)


def build_cnn_reg():
    return build_conv_ladder(name="cnn_reg", dropout=True, l2=1e-3, batchnorm=False)


def build_cnn_bn():
    return build_conv_ladder(name="cnn_bn", dropout=True, l2=1e-3, batchnorm=True)


def build_cnn_bn_aug():
    return build_conv_ladder(name="cnn_bn_aug", dropout=True, l2=1e-3, batchnorm=True)


@dataclass(frozen=True)
class Stage:
    """A stage name's builder, plus what the training loop must know about it."""

    name: str
    build: Callable
    augment: bool  # train on augmented images (validation and test never are)
    summary: str  # one line for `mnist-lab stages` and the reports
    # TrainConfig fields this stage trains with instead of the seed's protocol (budget, schedule, ...).
    protocol: dict = field(default_factory=dict)
    # The stage it is compared with, its parent on the ladder: the one it changes one ingredient
    # of (None for the first). Not its position: a stage added at the end may branch off any.
    parent: str | None = None
    # Earlier stages besides the parent that its seeds get a verdict against (a new stage that
    # changes the training of its parent may also be asked whether it beats one before it).
    also_against: tuple[str, ...] = ()

    def __call__(self):
        return self.build()


STAGES: dict[str, Stage] = {
    stage.name: stage
    for stage in (
        Stage("dnn", build_dnn, False, "dense baseline: 784-512-512-10, ReLU, no regularisation"),
        Stage("cnn", build_cnn, False, "plain CNN: the seed's conv/pool/dense layers only", parent="dnn"),
        Stage("cnn_reg", build_cnn_reg, False, "cnn + dropout (0.25 / 0.5) + L2 1e-3 on the dense layer", parent="cnn"),
        Stage("cnn_bn", build_cnn_bn, False, "cnn_reg + BatchNorm: exactly the seed's model", parent="cnn_reg"),
        Stage(
            "cnn_bn_aug",
            build_cnn_bn_aug,
            True,
            "cnn_bn trained with the seed's augmentation, applied",
            parent="cnn_bn",
        ),
        # The setting `make select` chose on the validation split (a row of mnist_lab.runs.settings.CANDIDATES; a test
        # checks that this is the rule's choice). Written out because selection.py imports this module.
        Stage(
            "cnn_bn_aug_long",
            build_cnn_bn_aug,
            True,
            "cnn_bn_aug for 40 epochs, learning rate x0.95 each epoch, best val cross-entropy kept",
            protocol=dict(
                epochs=40,
                lr_schedule="exponential",
                lr_decay=0.95,
                monitor="val_cross_entropy",
                early_stopping_patience=40,  # never stops early: the budget is the protocol
            ),
            parent="cnn_bn_aug",
            also_against=("cnn_bn",),
        ),
    )
}


def get_stage(name: str) -> Stage:
    try:
        return STAGES[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown stage {name!r}; valid stages: {', '.join(STAGES)}") from None


def previous_stage(name: str) -> str | None:
    """The stage `name` is compared with: its parent on the ladder (None for the first)."""
    return get_stage(name).parent
