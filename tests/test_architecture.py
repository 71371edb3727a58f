"""The package's shape: two layers, one subpackage each. The training core (mnist_lab/core)
never imports the orchestration around it (mnist_lab/orchestration), and no module takes
part in an import cycle, function-local imports included."""

import ast
import graphlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mnist_lab"
LAYERS = ("core", "orchestration")


def package_imports(path: Path) -> set[str]:
    """The mnist_lab modules ('core.train', ...) that `path` imports anywhere in its body."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mnist_lab"):
            parts = node.module.split(".")[1:]
            if len(parts) == 1:  # from mnist_lab.core import train, data
                found |= {f"{parts[0]}.{alias.name}" for alias in node.names}
            elif len(parts) >= 2:
                found.add(".".join(parts[:2]))
        elif isinstance(node, ast.Import):
            found |= {".".join(a.name.split(".")[1:3]) for a in node.names if a.name.startswith("mnist_lab.")}
    return found - {module_name(path)}


def module_name(path: Path) -> str:
    return f"{path.parent.name}.{path.stem}"


def import_graph() -> dict[str, set[str]]:
    return {module_name(p): package_imports(p) for layer in LAYERS for p in (PACKAGE / layer).glob("*.py")}


def test_every_module_is_in_a_layer():
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__"))
    assert not loose, f"modules outside mnist_lab/core and mnist_lab/orchestration: {loose}"
    assert sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__") == list(LAYERS)


@pytest.mark.parametrize("module", sorted(m for m in import_graph() if m.startswith("core.")))
def test_the_core_imports_only_the_core(module):
    outside = {name for name in import_graph()[module] if not name.startswith("core.")}
    assert not outside, f"core module {module} imports the orchestration layer: {sorted(outside)}"


def test_config_imports_nothing_of_the_package():
    assert import_graph()["core.config"] == set()


def test_no_import_cycle():
    graph = import_graph()
    try:
        graphlib.TopologicalSorter(graph).static_order()
        cycle = None
    except graphlib.CycleError as err:
        cycle = err.args[1]
    assert cycle is None, f"import cycle: {' -> '.join(cycle)}"


def test_the_checker_sees_function_local_imports_and_both_import_forms(tmp_path):
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "a.py").write_text(
        "from mnist_lab.core import files\n\ndef f():\n    from mnist_lab.orchestration.b import g\n"
    )
    assert package_imports(tmp_path / "core" / "a.py") == {"core.files", "orchestration.b"}
    with pytest.raises(graphlib.CycleError):
        list(graphlib.TopologicalSorter({"a": {"b"}, "b": {"a"}}).static_order())
