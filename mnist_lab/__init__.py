"""mnist_lab: MNIST from a dense baseline to a CNN with BatchNorm and augmentation.

Four layers, in the order the data flows; a module imports only its own layer and those above
it in this list (tests/test_architecture.py checks):
    core        the training core: one run, from verified data to a finished run folder
    runs        what to run, where it lands, and training it: settings, the reports' layout,
                placement, sweeps (local and Ray), transfer, stored models, the candidates
    findings    run folders in, numbers and verdicts out: measures, statistics, seed and
                robustness results, the seed's claims, verify, the precision check, selection
    report      what a reader sees: notebook cells, figures, the README and report writers,
                the papermill runner and the `mnist-lab` command
"""

__version__ = "0.1.0"
