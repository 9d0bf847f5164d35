"""The layer order of README's "Architecture", as checked contracts.

import-linter reads the contracts in ``pyproject.toml``: no module imports from a layer above its
own, no import cycle among the modules of any package of ``symaudit/``, and only ``cli.py``
imports click. The scripts are not a package, so their cycle check is done here from their
``import`` statements.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"


def test_import_linter_contracts_are_kept() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports())"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
    assert result.stdout.count(" KEPT") >= 3  # layers, acyclic, click


def _script_imports() -> dict[str, set[str]]:
    """script module name -> the sibling scripts it imports (at module level or in a function)."""
    names = {path.stem for path in SCRIPTS.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in SCRIPTS.glob("*.py"):
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
        graph[path.stem] = imported & names - {path.stem}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 on the path, 2 done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt] if nxt in path else [*path, nxt]
            if nxt not in state:
                found = visit(nxt, [*path, nxt])
                if found:
                    return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


def test_scripts_import_each_other_without_a_cycle() -> None:
    graph = _script_imports()
    assert graph["build_platform_fixtures"] >= {"fixture_zip"}  # the shared helper, not build_fixtures
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_cli_stays_a_thin_layer() -> None:
    assert len((ROOT / "symaudit" / "cli.py").read_text(encoding="utf-8").splitlines()) <= 450
