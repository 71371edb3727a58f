"""mnist_lab: MNIST from a dense baseline to a CNN with BatchNorm and augmentation.

Modules, one concern each: config (every default), data (verified MNIST, the seed's
split), models (the stage registry), pipeline (tf.data and augmentation), train
(fit, evaluate, run directory), io (whole-file writes, environment), cli.
"""

__version__ = "0.1.0"
