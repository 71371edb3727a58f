"""mnist_lab: MNIST from a dense baseline to a CNN with BatchNorm and augmentation.

The training core (imports nothing outside itself; tests/test_architecture.py checks):
    config      TrainConfig: every default of the protocol
    data        verified MNIST, the seed's preprocessing and split
    models      the stage registry (STAGES)
    pipeline    the input pipeline and the seed's augmentation as one affine warp
    train       fit, checkpoint and exact resume, the run directory; TRAINING_VERSION
    evaluate    test metrics and probabilities
    run_dir     what a run folder holds, reading it back, the one-run-per-folder lock
    files       whole-or-nothing writes, JSON, hashes
    provenance  versions, backend, CPU and commit recorded with every run

The orchestration around it:
    profiles    run profiles (full, quick) and their report folders
    stats       paired tests, intervals, seed-variance statistics
    results     tables and verdicts across stages, reports/README.md, the README's results section
    sweep       seed sweeps (one run per stage and seed) and reading them back
    verify      is a run inside its stage's committed band?
    selection   the longer-budget candidates, chosen on the validation split
    precision_check  bfloat16 against float32 over the same seeds
    runner      executes the notebooks with papermill into reports/
    cells       what each notebook cell shows
    plots       figures
    cli         the `mnist-lab` command
"""

__version__ = "0.1.0"
