"""mnist_lab: MNIST from a dense baseline to a CNN with BatchNorm and augmentation.

Two layers, one subpackage each (tests/test_architecture.py checks the direction):
    core            the training core: one run, from verified data to a finished run folder;
                    it imports nothing outside itself
    orchestration   everything around it: profiles, seed sweeps, statistics, claims, reports,
                    notebooks and the `mnist-lab` command
"""

__version__ = "0.1.0"
