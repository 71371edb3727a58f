"""Run the test suite in a temporary copy of the project, so that it reads and writes only what it
creates: `python tests/in_copy.py [PYTEST ARGS ...]` (what `make test` and `make test-unit` run).

The copy is the project as a fresh clone would have it, plus this working tree's changes: a
`git clone --shared` of HEAD (no objects copied), then every file changed since HEAD or new and
not ignored copied over, and every file deleted here deleted there. What git ignores stays out:
the user's reports-quick/, runs/, the ignored models under reports/, .pytest_cache/. Two
read-mostly things are linked in, not copied: `.venv` (the same environment) and `data/` (the
verified MNIST and the robustness suite's image cache, which the tests read and a cold cache
would rebuild for minutes). The suite runs there with PYTHONPATH set to the copy, so
`mnist_lab.core.files.PROJECT_ROOT` is the copy's, and the copy is removed at the end
(MNIST_LAB_KEEP_TEST_COPY=1 keeps it and says where).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
LINKED = (".venv", "data")  # shared with the project, not copied


def git(*args: str, cwd: Path) -> list[str]:
    done = subprocess.run(["git", *args, "-z"], cwd=cwd, capture_output=True, text=True, check=True)
    return [name for name in done.stdout.split("\0") if name]


def project_copy(source: Path, dest: Path) -> Path:
    """`source`'s working tree, as git sees it (tracked and new files, no ignored ones), at `dest`."""
    source, dest = Path(source).resolve(), Path(dest)
    subprocess.run(["git", "clone", "-q", "--shared", "--no-hardlinks", str(source), str(dest)], check=True)
    changed = git("diff", "--name-only", "HEAD", cwd=source)
    changed += git("ls-files", "--others", "--exclude-standard", cwd=source)
    for name in changed:
        if (source / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, dest / name)
        elif (dest / name).is_file():  # deleted here since HEAD
            (dest / name).unlink()
    (source / "data").mkdir(exist_ok=True)  # MNIST is fetched and verified once, into the project's own cache
    for name in LINKED:
        if (source / name).exists() and not (dest / name).exists():
            (dest / name).symlink_to((source / name).resolve())
    return dest


def run_in_copy(command: list[str], source: Path = PROJECT, keep: bool = False) -> int:
    """Run `command` in a fresh copy of `source` (project_copy), with PYTHONPATH set to it; remove
    the copy afterwards unless `keep`."""
    dest = Path(tempfile.mkdtemp(prefix="mnist-lab-tests-")) / "project"
    project_copy(source, dest)
    print(f"== tests run in a copy of the project: {dest} (reports-quick/, runs/, reports/ here are left alone)")
    sys.stdout.flush()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(dest), os.environ.get("PYTHONPATH")]))}
    try:
        return subprocess.run(command, cwd=dest, env=env, check=False).returncode
    finally:
        if keep:
            print(f"== the copy is kept in {dest}")
        else:
            shutil.rmtree(dest.parent, ignore_errors=True)


def main(argv: list[str]) -> int:
    keep = os.environ.get("MNIST_LAB_KEEP_TEST_COPY") == "1"
    return run_in_copy([sys.executable, "-m", "pytest", *argv], keep=keep)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
