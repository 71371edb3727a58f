"""Findings: run folders in, numbers and verdicts out. Imports core and runs' settings and
layout, never an engine that trains (runs.sweep, runs.ray_engine, runs.candidates).

    measures            measures of one run (overfitting gap, loss rise, epochs to 99%, swing)
    stats               intervals, tests and power: the statistical rules, each written once
    seed_results        each stage's spread over seeds, step verdicts, ensembles
    robustness_results  the robustness report, per stage and per step
    claims              the seed notebook's claims, each with its measure and rule
    verify              is a run inside its stage's committed band?
    precision_check     bfloat16 against float32 over the same seeds
    selection           choosing among the longer-budget candidates, on validation only
"""
