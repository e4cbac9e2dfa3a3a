"""The DICOMweb core imports nothing from Airflow: it can be tested and reused alone."""

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import airflow_dicomweb.core

ROOT = Path(__file__).resolve().parents[2]


def test_the_core_loads_no_airflow_module():
    modules = [
        m.name for m in pkgutil.walk_packages(airflow_dicomweb.core.__path__, prefix="airflow_dicomweb.core.")
    ]
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert len(modules) > 40  # every module of every package of the core
    assert json.loads(out.stdout) == []


def test_no_folder_of_the_core_holds_more_than_15_modules():
    core = Path(airflow_dicomweb.core.__file__).parent
    for folder in [core, *(p for p in core.rglob("*") if p.is_dir() and p.name != "__pycache__")]:
        modules = [p for p in folder.glob("*.py") if p.name != "__init__.py"]
        assert len(modules) <= 15, (folder, len(modules))


def test_no_module_is_longer_than_400_lines():
    package = ROOT / "airflow_dicomweb"
    long = {
        str(p.relative_to(ROOT)): n
        for p in package.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 400
    }
    assert long == {}


def _top_level_imports(path: Path, package: str) -> set[str]:
    """The package's modules a module imports when it is loaded (not under TYPE_CHECKING, not in a function)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for inner in (
            ast.walk(node) if isinstance(node, ast.Import | ast.ImportFrom | ast.If | ast.Try) else ()
        ):
            if isinstance(inner, ast.ImportFrom) and inner.module and inner.module.startswith(package):
                found.add(inner.module)
                found.update(f"{inner.module}.{a.name}" for a in inner.names)
            elif isinstance(inner, ast.Import):
                found.update(a.name for a in inner.names if a.name.startswith(package))
    return found


def test_no_import_cycle_between_modules():
    package = ROOT / "airflow_dicomweb"
    modules = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph = {
        name: {m for m in _top_level_imports(path, "airflow_dicomweb") if m in modules and m != name}
        for name, path in modules.items()
    }
    # a package's __init__ importing its own modules is how Python loads a package, not a cycle
    for name in graph:
        graph[name] = {
            m for m in graph[name] if not (name.startswith(m + ".") and modules[m].name == "__init__.py")
        }
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for nxt in sorted(graph[name]):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*trail[trail.index(nxt) :], nxt]))
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
