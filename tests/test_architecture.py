"""The package's shape: four layers in the order the data flows (LAYERS), each a subpackage. A
module imports only its own layer and those before it; a module that judges runs (findings)
never imports an engine that trains them (ENGINES); no module takes part in an import cycle,
function-local imports included; and a function-local import is there only to keep a heavy
library (a backend, SciPy, Matplotlib, Ray, papermill) off start-up, never to dodge a cycle."""

import ast
import graphlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mnist_lab"
LAYERS = ("core", "runs", "findings", "report")
ENGINES = {"runs.sweep", "runs.ray_engine", "runs.candidates"}  # what trains: findings never import them
HEAVY = {"keras", "tensorflow", "jax", "torch", "scipy", "skimage", "matplotlib", "ray", "papermill", "statsmodels"}
MAX_MODULES = 12  # per folder, so that a folder's listing reads at a glance


def package_imports(path: Path, local_only: bool = False) -> set[str]:
    """The mnist_lab modules ('core.train', ...) that `path` imports anywhere in its body (or,
    with local_only, inside functions only)."""
    tree = ast.parse(path.read_text())
    nodes = ast.walk(tree)
    if local_only:
        functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        nodes = (node for function in functions for node in ast.walk(function))
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mnist_lab"):
            parts = node.module.split(".")[1:]
            if len(parts) == 1:  # from mnist_lab.core import train, data
                found |= {f"{parts[0]}.{alias.name}" for alias in node.names}
            elif len(parts) >= 2:
                found.add(".".join(parts[:2]))
        elif isinstance(node, ast.Import):
            found |= {".".join(a.name.split(".")[1:3]) for a in node.names if a.name.startswith("mnist_lab.")}
    return found - {module_name(path)}


def top_level_imports(path: Path) -> tuple[set[str], set[str]]:
    """(the mnist_lab modules, the third-party top-level packages) `path` imports at module level."""
    ours, theirs = set(), set()
    for node in ast.parse(path.read_text()).body:
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] if node.module != "mnist_lab" else []
            if node.module.count(".") == 1 and node.module.startswith("mnist_lab."):
                ours |= {f"{node.module.split('.')[1]}.{alias.name}" for alias in node.names}
                continue
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            if name.startswith("mnist_lab."):
                ours.add(".".join(name.split(".")[1:3]))
            else:
                theirs.add(name.split(".")[0])
    return ours, theirs


def module_name(path: Path) -> str:
    return f"{path.parent.name}.{path.stem}"


def modules(package: Path = PACKAGE) -> list[Path]:
    return sorted(p for layer in LAYERS for p in (package / layer).rglob("*.py"))


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    return {module_name(p): package_imports(p) for p in modules(package)}


def layer_of(module: str) -> int:
    return LAYERS.index(module.split(".")[0])


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Every import that goes up a layer, or from findings into an engine that trains."""
    wrong = []
    for module, imported in graph.items():
        for name in sorted(imported):
            if layer_of(name) > layer_of(module):
                wrong.append(f"{module} imports {name}, a later layer")
            elif module.startswith("findings.") and name in ENGINES:
                wrong.append(f"{module} judges runs but imports {name}, which trains them")
    return wrong


def heavy_modules(package: Path = PACKAGE) -> set[str]:
    """The modules whose import loads a HEAVY library, directly or through other modules' top-level imports."""
    tops = {module_name(p): top_level_imports(p) for p in modules(package)}
    heavy = {module for module, (_, theirs) in tops.items() if theirs & HEAVY}
    while grown := {m for m, (ours, _) in tops.items() if m not in heavy and ours & heavy}:
        heavy |= grown
    return heavy


def test_every_module_is_in_a_layer():
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__"))
    assert not loose, f"modules outside the layers {LAYERS}: {loose}"
    assert sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__") == sorted(LAYERS)


@pytest.mark.parametrize("layer", LAYERS)
def test_each_layer_is_small_enough_to_read_and_says_what_it_holds(layer):
    listed = sorted(p.stem for p in (PACKAGE / layer).glob("*.py") if p.stem != "__init__")
    assert len(listed) <= MAX_MODULES, f"{layer}/ holds {len(listed)} modules: split it by concern"
    public_face = ast.get_docstring(ast.parse((PACKAGE / layer / "__init__.py").read_text())) or ""
    missing = [name for name in listed if name not in public_face.split()]
    assert not missing, f"{layer}/__init__.py does not list {missing}"


def test_a_module_imports_only_its_own_layer_and_those_below():
    assert layer_violations(import_graph()) == []


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


def test_function_local_imports_only_keep_a_heavy_library_off_start_up():
    heavy = heavy_modules()
    dodges = {
        module_name(p): sorted(local - heavy)
        for p in modules()
        if (local := package_imports(p, local_only=True) - heavy)
    }
    assert not dodges, f"imports inside functions of modules that load nothing heavy (import them at the top): {dodges}"


def test_the_checker_fails_a_findings_module_that_imports_the_sweep(tmp_path):
    for layer in LAYERS:
        (tmp_path / layer).mkdir()
    (tmp_path / "findings" / "claims.py").write_text("from mnist_lab.runs.sweep import run_sweep\n")
    (tmp_path / "findings" / "stats.py").write_text("def f():\n    from mnist_lab.report import cells\n")
    (tmp_path / "runs" / "layout.py").write_text("from mnist_lab.core import files\n")
    assert layer_violations(import_graph(tmp_path)) == [
        "findings.claims judges runs but imports runs.sweep, which trains them",
        "findings.stats imports report.cells, a later layer",
    ]


def test_the_checker_sees_function_local_imports_both_forms_and_heavy_chains(tmp_path):
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "a.py").write_text(
        "from mnist_lab.core import files\n\ndef f():\n    from mnist_lab.runs.b import g\n"
    )
    (tmp_path / "core" / "b.py").write_text("import keras\n")
    (tmp_path / "core" / "c.py").write_text("from mnist_lab.core.b import x\n")
    assert package_imports(tmp_path / "core" / "a.py") == {"core.files", "runs.b"}
    assert package_imports(tmp_path / "core" / "a.py", local_only=True) == {"runs.b"}
    assert heavy_modules(tmp_path) == {"core.b", "core.c"}
    with pytest.raises(graphlib.CycleError):
        list(graphlib.TopologicalSorter({"a": {"b"}, "b": {"a"}}).static_order())
