"""The package's shape: a training core that never imports the orchestration around it, and no
import cycle anywhere, function-local imports included."""

import ast
import graphlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mnist_lab"
# The training core: protocol config, data, models, input pipeline, training, evaluation (the
# robustness suite and its corruptions included: every run evaluates it), and the file and
# provenance helpers they write results with. Everything else orchestrates it.
CORE = {
    *("config", "data", "models", "pipeline", "train", "evaluate", "corruptions", "robustness"),
    *("run_dir", "files", "provenance"),
}


def package_imports(path: Path) -> set[str]:
    """The mnist_lab modules that `path` imports anywhere in its body."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "mnist_lab":
                found |= {alias.name for alias in node.names}
            elif node.module.startswith("mnist_lab."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("mnist_lab.")}
    return found - {path.stem}


def import_graph() -> dict[str, set[str]]:
    return {path.stem: package_imports(path) for path in PACKAGE.glob("*.py") if path.stem != "__init__"}


def test_every_module_is_placed_in_a_layer():
    modules = set(import_graph())
    assert CORE <= modules, f"core modules missing: {CORE - modules}"


@pytest.mark.parametrize("module", sorted(CORE))
def test_the_core_imports_only_the_core(module):
    outside = import_graph()[module] - CORE
    assert not outside, f"core module {module} imports the orchestration layer: {sorted(outside)}"


def test_config_imports_nothing_of_the_package():
    assert import_graph()["config"] == set()


def test_no_import_cycle():
    try:
        graphlib.TopologicalSorter(import_graph()).static_order()
        cycle = None
    except graphlib.CycleError as err:
        cycle = err.args[1]
    assert cycle is None, f"import cycle: {' -> '.join(cycle)}"


def test_the_checker_sees_function_local_imports_and_cycles(tmp_path):
    (tmp_path / "a.py").write_text("def f():\n    from mnist_lab.b import g\n")
    assert package_imports(tmp_path / "a.py") == {"b"}
    with pytest.raises(graphlib.CycleError):
        list(graphlib.TopologicalSorter({"a": {"b"}, "b": {"a"}}).static_order())
