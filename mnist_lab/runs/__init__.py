"""Runs: what to run, where it lands, and training it. Imports only mnist_lab.core.

    settings       every setting around one run: profiles, seeds, ensemble minimums, ablations,
                   candidates, the precision check, the campaign's counts (one place to read them)
    devices        what this machine trains with: backend, visible GPUs, its band
    layout         where every run lives, and reading runs back by band (nothing here trains)
    placement      where a single run goes: a tweak never lands in reports/
    sweep          the sweep: one job per (stage, seed), on the local engine or any executor
    ray_engine     the same sweep on a Ray cluster (local or --address)
    transfer       packing runs for a machine without network, and receiving them
    stored_models  the stage runs' models, kept in git history
    candidates     training the longer-budget candidates (validation only)
"""
