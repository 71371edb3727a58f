"""The training core: one run, from verified MNIST to a finished run folder. It imports nothing
from the layers after it, runs, findings and report (tests/test_architecture.py checks).

    config       TrainConfig: every default of the protocol (imports nothing of the package)
    data         verified MNIST, the seed's preprocessing and split
    models       the stage registry (STAGES)
    pipeline     the input pipeline and the seed's augmentation as one affine warp
    train        fit, checkpoint and exact resume, the run directory; TRAINING_VERSION
    evaluate     test metrics and probabilities
    corruptions  MNIST-C's 15 corruptions and the sweeps' transforms, one pure function each
    robustness   the robustness suite every run is evaluated on
    adaptation   BatchNorm statistics taken from the test images themselves (issue 43)
    run_dir      what a run folder holds, reading it back, the one-run-per-folder lock
    files        whole-or-nothing writes, JSON, hashes
    provenance   versions, backend, CPU and commit recorded with every run
"""
