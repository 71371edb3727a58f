"""What a reader sees: imports every layer below (core, runs, findings).

cells    what each notebook cell shows (a notebook is one import and one call per cell)
plots    figures
results  the tables of reports/README.md and the README's generated section
runner   executes the notebooks with papermill into reports/, skipping unchanged ones
cli      the `mnist-lab` command (also `python -m mnist_lab`)
quiet    TensorFlow's start-up notices kept off the console
"""
