"""Product code never uses ``assert`` for control flow (``python -O`` would strip it); narrowing a
type for the checker (``assert x is not None``, ``assert isinstance(x, T)``) is the one exception."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("planners", "sim", "scene_graph", "memory_nodes", "inprocess")


def _narrows_a_type(test: ast.expr) -> bool:
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.IsNot):
        return isinstance(test.comparators[0], ast.Constant) and test.comparators[0].value is None
    return isinstance(test, ast.Call) and isinstance(test.func, ast.Name) and test.func.id == "isinstance"


def control_flow_asserts(root: Path) -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Assert) and not _narrows_a_type(node.test):
                    found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_no_assert_for_control_flow_in_product_code() -> None:
    assert control_flow_asserts(ROOT) == []


def test_the_check_finds_a_control_flow_assert(tmp_path) -> None:
    (tmp_path / "planners").mkdir()
    (tmp_path / "planners" / "bad.py").write_text("def f(x):\n    assert x is not None\n    assert x > 0, 'positive'\n")
    assert control_flow_asserts(tmp_path) == ["planners/bad.py:3"]
