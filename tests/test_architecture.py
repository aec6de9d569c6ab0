"""The layout holds: dependencies point one way, no import circles, small modules and functions, a
public face per package (docs/architecture.md draws it).

    layers/  <  feeds/  <  domain/  <  workers/, dashboard/  <  watchfloor/

A module imports only packages below its own (and its own). The checks read the source with ``ast``
(nothing is imported), so they see imports inside functions and under ``TYPE_CHECKING`` too."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RANK = {"layers": 0, "feeds": 1, "domain": 2, "workers": 3, "dashboard": 3, "watchfloor": 4}

# Sideways arrows between the two packages of one rank, each with its reason.
SIDEWAYS = {
    ("dashboard", "workers.overrides"): "a split or merge asked on the desk is applied in the web process "
                                        "when no fuser runs (the fuser's own code, not a copy of it)",
    ("dashboard", "workers.push"): "a partner's push (POST /api/ingest) runs the ingest pipeline in the web "
                                   "process, so its answer says what was stored (the poll's own code, not a copy)",
}

MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
REASON_LONG = "# long:"  # on the line above a function (or its decorators) kept over MAX_FUNCTION_LINES
REASON_LAZY = "# lazy:"  # on the line above an import inside a function

# Known debt: modules still over MAX_MODULE_LINES and functions still over MAX_FUNCTION_LINES, each
# with the seam it will be split along. The lists only shrink: a listed one that got short fails
# the test until it is taken off, and a new long one fails it at once.
LONG_MODULES: dict[str, str] = {
}
LONG_FUNCTIONS: dict[str, str] = {
}


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    tree: ast.Module
    lines: list[str]


def project_modules(root: Path = ROOT) -> dict[str, Module]:
    found: dict[str, Module] = {}
    for package in RANK:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            text = path.read_text(encoding="utf-8")
            found[name] = Module(name, path, ast.parse(text), text.splitlines())
    return found


def imports_of(module: Module, known: dict[str, Module]) -> list[tuple[str, ast.AST, bool]]:
    """(imported project module, node, inside a function) for every import in ``module``."""
    out: list[tuple[str, ast.AST, bool]] = []
    in_function: set[int] = set()
    for node in ast.walk(module.tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            in_function.update(id(inner) for inner in ast.walk(node) if inner is not node)
    for node in ast.walk(module.tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.name if module.path.name == "__init__.py" else module.name.rpartition(".")[0]
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        for name in dict.fromkeys(names):
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name.split(".")[0] in RANK:
                out.append((name, node, id(node) in in_function))
    return out


def arrows_up(modules: dict[str, Module]) -> list[str]:
    wrong = []
    for module in modules.values():
        own = module.name.split(".")[0]
        for target, node, _ in imports_of(module, modules):
            top = target.split(".")[0]
            if top == own or RANK[top] < RANK[own]:
                continue
            if RANK[top] == RANK[own] and any(own == a and target.startswith(b) for a, b in SIDEWAYS):
                continue
            wrong.append(f"{module.name}:{node.lineno} imports {target}")
    return wrong


def cycles(modules: dict[str, Module]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), or a module importing itself."""
    graph = {name: {t for t, _, _ in imports_of(m, modules) if t != name} for name, m in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:  # iterative: no recursion limit on a deep graph
        nonlocal counter
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return groups


def _reason_above(module: Module, lineno: int, marker: str) -> bool:
    return lineno >= 2 and module.lines[lineno - 2].strip().startswith(marker)


def long_functions(modules: dict[str, Module]) -> list[str]:
    out = []
    for module in modules.values():
        for node in ast.walk(module.tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if length > MAX_FUNCTION_LINES and not _reason_above(module, first, REASON_LONG):
                    out.append(f"{module.name}:{node.name}")
    return out


def unexplained_local_imports(modules: dict[str, Module]) -> list[str]:
    return [f"{m.name}:{node.lineno} imports {target}"
            for m in modules.values() for target, node, inside in imports_of(m, modules)
            if inside and not _reason_above(m, node.lineno, REASON_LAZY)]


@pytest.fixture(scope="module")
def modules() -> dict[str, Module]:
    return project_modules()


def test_arrows_point_down(modules) -> None:
    assert arrows_up(modules) == []


def test_layers_imports_no_other_package_of_the_project(modules) -> None:
    for module in modules.values():
        if module.name.startswith("layers"):
            assert {t.split(".")[0] for t, _, _ in imports_of(module, modules)} <= {"layers"}, module.name


def test_there_is_no_import_circle(modules) -> None:
    assert cycles(modules) == []


def test_no_module_is_over_600_lines_without_a_reason(modules) -> None:
    long = {name: len(m.lines) for name, m in modules.items() if len(m.lines) > MAX_MODULE_LINES}
    assert set(long) <= set(LONG_MODULES), {n: long[n] for n in set(long) - set(LONG_MODULES)}
    assert not set(LONG_MODULES) - set(long), f"now short, take off LONG_MODULES: {set(LONG_MODULES) - set(long)}"


def test_no_function_is_over_80_lines_without_a_reason(modules) -> None:
    long = set(long_functions(modules))
    assert long <= set(LONG_FUNCTIONS), sorted(long - set(LONG_FUNCTIONS))
    assert not set(LONG_FUNCTIONS) - long, f"now short, take off LONG_FUNCTIONS: {set(LONG_FUNCTIONS) - long}"


def test_imports_inside_functions_say_why(modules) -> None:
    assert unexplained_local_imports(modules) == []


@pytest.mark.parametrize("package", ["layers", "feeds", "domain", "domain.access", "domain.config",
                                     "domain.operations", "domain.picture", "domain.products", "domain.reports", "domain.store", "workers",
                                     "dashboard", "dashboard.panels", "watchfloor"])
def test_each_package_has_a_small_public_face(package: str) -> None:
    module = importlib.import_module(package)
    assert isinstance(getattr(module, "__all__", None), list) and module.__all__, f"{package} has no __all__"
    children = {info.name for info in pkgutil.iter_modules(module.__path__) if not info.name.startswith("_")}
    for name in module.__all__:
        assert hasattr(module, name) or name in children, f"{package}.__all__ names {name}, which does not exist"
    listed_modules = {name for name in module.__all__ if name in children}
    if listed_modules:  # a package whose face is its modules lists every public one
        assert listed_modules == children, f"{package}: modules not in __all__: {children - listed_modules}"


KEY_OWNERS = ["domain.store.streams", "domain.store.durability", "domain.agencies.keys", "domain.picture.keys", "domain.access.keys", "domain.operations.keys",
              "domain.reports.keys", "domain.products.keys", "workers.places", "domain.access.throttle"]


def key_names(module) -> dict[str, str]:
    """Every Redis key (or key pattern, with its arguments as <...>) a module's *Keys classes name."""
    found: dict[str, str] = {}
    for cls_name, cls in vars(module).items():
        if not (isinstance(cls, type) and cls_name.endswith("Keys") and cls.__module__ == module.__name__):
            continue
        for attr, value in vars(cls).items():
            if isinstance(value, staticmethod):
                fn = value.__func__
                value = fn(*(f"<{a}>" for a in fn.__code__.co_varnames[:fn.__code__.co_argcount]))
            if isinstance(value, str) and not attr.startswith("_"):
                found[f"{module.__name__}.{cls_name}.{attr}"] = value
    return found


def test_each_concern_keeps_its_own_keys_and_no_two_name_the_same_key() -> None:
    names: dict[str, str] = {}
    for owner in KEY_OWNERS:
        names.update(key_names(importlib.import_module(owner)))
    assert len(names) > 40, sorted(names)  # the classes were found
    by_key: dict[str, list[str]] = {}
    for where, key in names.items():
        by_key.setdefault(key, []).append(where)
    assert {k: v for k, v in by_key.items() if len(v) > 1} == {}
    assert all(k.startswith("wf:") or k in {"fuser", "watchfloor-outbound"} for k in by_key), sorted(by_key)
    classes = {where.rsplit(".", 1)[0] for where in names}
    assert not any(c.endswith(".Keys") for c in classes), "one class for every concern's keys is back"


TOP_LEVEL_TESTS = {"test_architecture.py", "test_bench.py"}  # the whole tree, and bench/ (not a package)


def test_tests_mirror_the_packages() -> None:
    """tests/<package>/test_*.py for the package a test is about; only whole-tree tests at the top."""
    tests = ROOT / "tests"
    assert {p.name for p in tests.glob("test_*.py")} <= TOP_LEVEL_TESTS
    folders = {p.name for p in tests.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))}
    assert folders and folders <= set(RANK), folders - set(RANK)
    for folder in folders:
        assert (tests / folder / "__init__.py").is_file(), folder
        assert list((tests / folder).glob("test_*.py")), f"tests/{folder} holds no tests"


# -- the checks can fail ---------------------------------------------------------------------------
def _tree(tmp_path: Path, files: dict[str, str]) -> dict[str, Module]:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for package in RANK:
        (tmp_path / package).mkdir(exist_ok=True)
        (tmp_path / package / "__init__.py").touch()
    return project_modules(tmp_path)


def test_the_checks_catch_an_upward_arrow_a_circle_and_an_unexplained_local_import(tmp_path: Path) -> None:
    modules = _tree(tmp_path, {
        "layers/shapes.py": "from feeds.model import Event\n",
        "feeds/model.py": "class Event: ...\n",
        "domain/a.py": "from domain import b\n",
        "domain/b.py": "def f():\n    import domain.a\n",
        "workers/job.py": "def run():\n    # lazy: only this job needs the web app's figures\n    import feeds.model\n",
    })
    assert arrows_up(modules) == ["layers.shapes:1 imports feeds.model"]
    assert cycles(modules) == [["domain.a", "domain.b"]]
    assert unexplained_local_imports(modules) == ["domain.b:2 imports domain.a"]


def test_the_tree_passes_the_linter() -> None:
    """`make lint` as part of `make test`: CI runs only the tests, and a lint error slips in otherwise."""
    import shutil
    import subprocess
    import sys

    ruff = Path(sys.executable).parent / "ruff"
    ruff_cmd = str(ruff) if ruff.exists() else shutil.which("ruff")
    assert ruff_cmd, "ruff is not installed: make install (it is a test dependency)"
    done = subprocess.run([ruff_cmd, "check", "--quiet", "."], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-500:]
