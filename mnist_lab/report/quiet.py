"""TensorFlow's, XLA's and CUDA's start-up notices, kept out of the CLI's output and the reports.

TensorFlow 2.21 logs them from C++ through absl when it is imported ("I0000 ... oneDNN custom
operations are on", "cudart_stub.cc ... Could not find cuda drivers", "E0000 ... failed call to
cuInit"), straight to file descriptor 2: TF_CPP_MIN_LOG_LEVEL no longer hides them (checked
with 2 and 3), nor does any absl or glog variable. So they are filtered where they land: the
CLI runs with its descriptor 2 passed through a filter (`filtered_stderr`), and the runner
drops them from the executed notebooks' stderr outputs (`clean`). Only lines of those exact
shapes go; everything else, warnings and tracebacks included, passes through unchanged.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading

NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IWE]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w.]+:\d+\] .*"  # absl: I0000 00:00:17... 123 port.cc:153] ...
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\."
    r"|\[IPKernelApp\] WARNING \| Kernel is running over TCP without encryption\..*"  # Jupyter's, on localhost
    # Ray's client retrying a cluster that refuses it (its token): the sweep says why in one line.
    r"|\[[\d-]+ [\d:,]+ W \d+ \d+\] gcs_client\.cc:\d+: Failed to get cluster ID from GCS server: .*)$"
)


def clean(text: str) -> str:
    """`text` without the start-up notices' lines."""
    return "".join(line for line in text.splitlines(keepends=True) if not NOISE.match(line.rstrip("\n")))


@contextlib.contextmanager
def filtered_stderr():
    """Pass everything written to descriptor 2 (Python's and C++'s) through `clean`, line by line."""
    try:
        original = os.dup(2)
    except OSError:  # no descriptor 2 to filter
        yield
        return
    read_end, write_end = os.pipe()

    def forward():
        with os.fdopen(read_end, "rb") as source, os.fdopen(os.dup(original), "wb", buffering=0) as target:
            for line in source:
                if not NOISE.match(line.decode(errors="replace").rstrip("\n")):
                    target.write(line)

    thread = threading.Thread(target=forward, daemon=True)
    thread.start()
    sys.stderr.flush()
    os.dup2(write_end, 2)
    os.close(write_end)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(original, 2)  # closes the pipe's last write end: the thread drains it and ends
        thread.join(timeout=5)
        os.close(original)
