"""The package's import graph has no cycle: every ``import`` of a ``paft_ext`` module, at module level or inside a
function, is an edge, and a cycle is reported with its modules in order."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "paft_ext"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(name: str, known: set[str]) -> str | None:
    """The longest known module that ``name`` (a module or a name inside one) refers to."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    known = set(files)
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{alias.name}" for alias in node.names] or [base]
            for target in targets:
                module = _resolve(target, known)
                if module and module != name and not name.startswith(module + "."):
                    graph[name].add(module)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_package_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_sees_a_cycle_through_a_function_level_import(tmp_path):
    # the detector itself must fail on the kind of cycle it is there for (hook -> callback -> hook)
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    # an import inside a function
    assert "paft_ext.llamafactory.hook" in import_graph()["paft_ext.llamafactory.patches"]


def test_the_product_does_not_import_the_experiment_or_the_config_generation():
    graph = import_graph()
    product = [m for m in graph if m.startswith(("paft_ext.pools", "paft_ext.core", "paft_ext.llamafactory",
                                                   "paft_ext.rl", "paft_ext.evaluation"))]
    leaks = {m: sorted(t for t in graph[m] if t.startswith("paft_ext.experiments")) for m in product}
    assert {m: t for m, t in leaks.items() if t} == {}
    hook_side = [m for m in graph if m.startswith(("paft_ext.core", "paft_ext.llamafactory"))]
    assert {m: sorted(graph[m]) for m in hook_side if any(t.startswith("paft_ext.configs") for t in graph[m])} == {}


def external_imports(module: str) -> set[str]:
    """Top-level names of the packages outside paft_ext that ``module`` imports (module level or in a function)."""
    path = PACKAGE.parent.joinpath(*module.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names - {"paft_ext"}


FRAMEWORKS = {"llamafactory", "trl", "opencompass"}


def test_the_core_is_framework_neutral():
    # the PAFT core (schedule, sampling, structure, run state, artefacts, callback) is shared by the LLaMA-Factory
    # hook and GRPO: it imports none of the frameworks, and nothing of paft_ext built on it
    graph = import_graph()
    core = [m for m in graph if m.startswith("paft_ext.core")]
    assert "paft_ext.core.schedule" in core and "paft_ext.core.callback" in core
    assert {m: sorted(external_imports(m) & FRAMEWORKS) for m in core if external_imports(m) & FRAMEWORKS} == {}
    above = ("paft_ext.llamafactory", "paft_ext.rl", "paft_ext.evaluation", "paft_ext.experiments", "paft_ext.cli")
    assert {m: sorted(t for t in graph[m] if t.startswith(above)) for m in core
            if any(t.startswith(above) for t in graph[m])} == {}
    # the check sees a framework import where there is one (inside a function, as the hook's are)
    assert "llamafactory" in external_imports("paft_ext.llamafactory.hook")
    assert "trl" in external_imports("paft_ext.rl.trl_compat")
