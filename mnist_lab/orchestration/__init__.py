"""The orchestration around the training core: what to run, where it goes, and what it shows.

profiles            run profiles (full, quick) and their report folders
placement           where a run goes: a tweak never lands in reports/
sweep               seed sweeps (one run per stage and seed) and reading them back
selection           the longer-budget candidates, chosen on the validation split
precision_check     bfloat16 against float32 over the same seeds
verify              is a run inside its stage's committed band (its own backend's)?
transfer            packing runs for a GPU machine, and receiving them into reports/
stored_models       the stage runs' models, kept in git history
stats               paired tests, intervals, seed-variance statistics
seed_results        each stage's spread over seeds, step verdicts, ensembles
robustness_results  the robustness report, per stage and per step
claims              the seed notebook's claims, each with its measure and rule
results             tables and verdicts across stages, reports/README.md, the README's section
plots               figures
runner              executes the notebooks with papermill into reports/
cells               what each notebook cell shows
cli                 the `mnist-lab` command (also `python -m mnist_lab`)
"""
