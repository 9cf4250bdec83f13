"""Functions stay short: no function in gan_kit/ runs over 60 lines of code (its signature and body; the
docstring is not counted, since a long argument list documented in full is not a long function)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "gan_kit"
LIMIT = 60


def _code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """The function's lines, decorators excluded, less its docstring's."""
    lines = node.end_lineno - node.lineno + 1
    first = node.body[0] if node.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        lines -= first.end_lineno - first.lineno + 1
    return lines


def _long_functions() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _code_lines(node) > LIMIT:
                where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
                found.append(f"{where} {node.name} ({_code_lines(node)} lines)")
    return found


def test_no_function_is_longer_than_the_limit():
    assert _long_functions() == []


def test_the_measure_counts_code_not_the_docstring():
    source = 'def f(a,\n      b):\n    """Doc.\n\n    More.\n    """\n    x = 1\n    return x\n'
    node = ast.parse(source).body[0]
    assert _code_lines(node) == 4  # two signature lines, two body lines
    assert _code_lines(ast.parse("def g():\n    return 1\n").body[0]) == 2
