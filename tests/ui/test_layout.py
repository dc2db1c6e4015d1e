"""The folders show the architecture: ui/ is grouped by tab, with no import circles.

Read from the source with ``ast`` (nothing is imported), counting imports made only for type
checking too: a circle hidden behind ``TYPE_CHECKING`` is still a circle for a reader.
"""

from __future__ import annotations

import ast
from pathlib import Path

import horsehuman_gui

PACKAGE = Path(horsehuman_gui.__file__).parent
TABS = ("dataset", "train", "classify", "evaluate", "runs", "model")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # "from package import module" depends on that module, not on the package's
            # __init__ (already imported before any of its modules).
            subs = [f"{node.module}.{alias.name}" for alias in node.names]
            names = [s for s in subs if s in modules] or [node.module]
        else:
            continue
        found.update(name for name in names if name in modules)
    return found


def import_graph() -> dict[str, set[str]]:
    """Every module of the package -> the package's modules it imports."""
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(paths)
    return {name: _imports(path, modules) - {name} for name, path in paths.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt, stack + [nxt])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_no_import_circles():
    graph = import_graph()
    assert "horsehuman_gui.ui.common.image_items" in graph
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_cycle_finder_finds_a_circle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_ui_is_grouped_by_tab():
    ui = PACKAGE / "ui"
    loose = sorted(p.name for p in ui.glob("*.py") if p.name != "__init__.py")
    assert loose == ["about.py", "main_window.py"]
    for folder in ("common", *TABS):
        assert len(list((ui / folder).glob("*.py"))) > 1, folder


def test_tabs_and_common_stay_apart():
    """common/ imports no tab; a tab imports no other tab (the main window composes them)."""
    graph = import_graph()
    for module, imported in graph.items():
        if not module.startswith("horsehuman_gui.ui."):
            continue
        own = module.split(".")[2]
        for target in imported:
            if not target.startswith("horsehuman_gui.ui."):
                continue
            other = target.split(".")[2]
            if own == "common":
                assert other == "common", f"{module} imports {target}"
            elif own in TABS:
                assert other in ("common", own), f"{module} imports {target}"
