"""Training the longer-budget candidates for the augmented model (issue 14), on the validation
split only: each candidate (settings.CANDIDATES) is trained once (seed 42) into
reports/selection/NAME/ without the test set ever being evaluated. The choice among them is
findings.selection's; where they land and reading them back, layout's.
"""

from __future__ import annotations

from pathlib import Path

from mnist_lab.core.config import same_config
from mnist_lab.core.run_dir import PARTIAL_DIR, Run, best_epoch, read_checkpoint_state
from mnist_lab.runs.settings import CANDIDATES, SELECTION_DIR, SHORTER_BUDGETS, candidate_config, check_profile, reports_root


def run_selection(profile: str = "full", reports=None, *, verbose="auto") -> dict[str, Run]:
    """Train every candidate not finished yet (validation only), one after the other."""
    check_profile(profile)
    from mnist_lab.core.train import run_stage  # imports TensorFlow

    reports = Path(reports or reports_root(profile))
    runs = {}
    for number, name in enumerate(CANDIDATES, start=1):
        out = reports / SELECTION_DIR / name
        print(f"== candidate {number}/{len(CANDIDATES)}: {name} -> {out}", flush=True)
        config = candidate_config(name, profile)
        runs[name] = run_stage(config, out, verbose=verbose, keep_model=False, evaluate_test=False)
    return runs


def progress_lines(reports, profile: str = "full") -> list[str]:
    """The unfinished candidates' epochs so far, read from their checkpoints: a shorter budget whose
    epochs have all run is already final (an exponential schedule's prefix does not depend on the rest)."""
    lines = []
    for name in CANDIDATES:
        config = candidate_config(name, profile)
        state = read_checkpoint_state(Path(reports) / SELECTION_DIR / name / PARTIAL_DIR)
        if state is None or not same_config(state.get("config"), config):
            continue
        records = state["history"]
        line = f"in progress: {name}, {len(records)} of {config.epochs} epochs run"
        for budget in SHORTER_BUDGETS.get(name, ()):
            if len(records) >= budget:
                kept = best_epoch(records[:budget], config.monitor)
                line += (
                    f"; {name}@{budget} has run all its epochs: kept epoch {kept['epoch']}, "
                    f"validation accuracy {100 * kept['val_accuracy']:.2f}%"
                )
        lines.append(line)
    return lines
