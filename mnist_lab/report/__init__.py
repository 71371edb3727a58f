"""What a reader sees: imports every layer below (core, runs, findings).

cells          what each notebook cell shows (a notebook is one import and one call per cell)
plots          figures
claims_tables  the claims as a reader sees them: the tally, the verdict tables, the smallest effects
results        reports/README.md, the README's generated section, docs/findings.md's record
runner         executes the notebooks with papermill into reports/, skipping unchanged ones
cli            the `mnist-lab` command (also `python -m mnist_lab`)
quiet          TensorFlow's start-up notices kept off the console
"""
