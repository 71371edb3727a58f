"""`python -m mnist_lab ...`: the `mnist-lab` command without its entry point (worktrees, CI)."""

import sys

from mnist_lab.report.cli import main

sys.exit(main())
