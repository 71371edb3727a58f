"""Issue 60: the test suite reads and writes only what it creates. `make test` runs it in a
temporary copy of the project (tests/in_copy.py), so a user's own runs (the guide's quick sweep
into reports-quick/seeds/, a tweak in runs/) neither reach the comparison notebook's nbval check
nor get touched by it."""

import hashlib
import subprocess
import sys

from in_copy import project_copy, run_in_copy

from mnist_lab.core.files import PROJECT_ROOT


def snapshot(folder):
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# What the comparison notebook reads of the seed sweep (its cell `cells.seed_runs(profile, reports_dir)`),
# printed as the folder and the seeds it finds.
READ_SEEDS = (
    "from mnist_lab.runs.layout import all_stage_seeds; from mnist_lab.runs.settings import reports_root; "
    "root = reports_root('quick'); "
    "seeds = sorted((stage, run.seed) for stage, runs in all_stage_seeds(root, 'quick').items() for run in runs); "
    "print(root, seeds)"
)


def test_the_guides_quick_sweep_in_the_users_folder_does_not_reach_the_tests(tmp_path):
    user = project_copy(PROJECT_ROOT, tmp_path / "clone")  # a user's clone, with this working tree's changes
    env = {"PYTHONPATH": str(user), "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "2"}
    sweep = [sys.executable, "-m", "mnist_lab", "sweep", "--profile", "quick", "--stage", "dnn", "--seeds", "2-3"]
    done = subprocess.run(sweep, cwd=user, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    ours = user / "reports-quick" / "seeds" / "dnn"
    assert sorted(p.name for p in ours.iterdir() if p.is_dir()) == ["seed_2", "seed_3"]
    before = snapshot(user / "reports-quick")

    # As `make test` runs the suite: in a copy of the user's clone.
    listing = tmp_path / "seen.txt"
    command = [sys.executable, "-c", f"{READ_SEEDS}; open({str(listing)!r}, 'w').write(f'{{root}} {{seeds}}')"]
    assert run_in_copy(command, source=user) == 0
    root, seeds = listing.read_text().split(" ", 1)
    assert root.endswith("/project/reports-quick") and not root.startswith(str(user))  # the copy's own folder
    assert seeds == "[]"  # none of the user's seeds: the notebook counts only what the suite trains itself
    inside = subprocess.run(
        [sys.executable, "-c", READ_SEEDS], cwd=user, env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "('dnn', 2), ('dnn', 3)" in inside  # the user's clone does hold them: the copy is what left them out
    assert snapshot(user / "reports-quick") == before  # and the user's folder is as the sweep left it
