"""Hashes that pin the robustness suite's images (tests/test_robustness.py compares them with
suite_hashes.json): the SHA-256 of the first PREFIX images of every set, at the library versions
recorded beside them. Every image draws from its own seed, so a prefix changes whenever the set does.

    python tests/suite_hashes.py           print the hashes of the code as it is
    python tests/suite_hashes.py --write   store them (after bumping mnist_lab.core.robustness.SUITE_VERSION)
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

HASHES_PATH = Path(__file__).with_name("suite_hashes.json")
PREFIX = 20
LIBRARIES = ("numpy", "scipy", "scikit-image")


def library_versions() -> dict:
    from importlib.metadata import version

    return {name: version(name) for name in LIBRARIES}


def suite_hashes() -> dict:
    from mnist_lab.core.data import fetch_mnist
    from mnist_lab.core.robustness import SUITE_VERSION, build_images, set_indices, suite_sets

    (_, _), (images, labels) = fetch_mnist().as_keras_tuple()
    sets = {
        s.name: hashlib.sha256(build_images(s, images, set_indices(s, labels)[:PREFIX]).tobytes()).hexdigest()
        for s in suite_sets()
    }
    return {"suite_version": SUITE_VERSION, "libraries": library_versions(), "sets": sets}


if __name__ == "__main__":
    values = suite_hashes()
    if "--write" in sys.argv[1:]:
        HASHES_PATH.write_text(json.dumps(values, indent=2) + "\n")
        print(f"wrote {HASHES_PATH}")
    else:
        print(json.dumps(values, indent=2))
