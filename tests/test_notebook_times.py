"""Every notebook says, before it trains, how long it takes: a ``MINUTES`` cell with its measured wall time per
profile on the 2-core reference CPU, printed for the machine it runs on (``devices.time_estimate``). Under
``quick`` each notebook stays within 15 minutes, and the README's table gives the same figures."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
QUICK_BUDGET = 15.0  # minutes on the 2-core reference CPU
# Notebooks measured over the budget, each with what has to change. Listed here, and said in the notebook and the
# README, rather than hidden: the test fails as soon as one of them is back within the budget (drop it from here).
OVER_BUDGET: dict[str, str] = {}  # none today
TRAINING_CALLS = re.compile(r"\b(train|train_toy|run_lab|sweep|train_classifier|cached_classifier)\(")
README_ROW = re.compile(r"^\|\s*`?(\d\d)[^|]*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|", re.MULTILINE)


def _minutes(path: Path) -> tuple[int, dict[str, float]]:
    """The index of the notebook's ``MINUTES`` cell and its value."""
    nb = nbformat.read(str(path), as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for node in ast.parse(cell.source.replace("%matplotlib inline", "")).body:
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "MINUTES":
                return index, ast.literal_eval(node.value)
    raise AssertionError(f"{path.name} has no MINUTES cell")


def _readme_rows() -> dict[str, tuple[float, float]]:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    return {nn: (float(smoke), float(quick)) for nn, smoke, quick in README_ROW.findall(text)}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem[:2] for p in NOTEBOOKS])
def test_each_notebook_states_its_measured_time_before_it_trains(path):
    index, minutes = _minutes(path)
    assert set(minutes) == {"smoke", "quick"}, minutes
    over = minutes["quick"] > QUICK_BUDGET
    assert minutes["quick"] > 0 and over == (path.stem[:2] in OVER_BUDGET), f"{path.name}: {minutes['quick']} min"
    nb = nbformat.read(str(path), as_version=4)
    source = nb.cells[index].source
    assert "time_estimate(MINUTES" in source
    first_training = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                           and TRAINING_CALLS.search(c.source) and i != index), len(nb.cells))
    assert index < first_training, f"{path.name}: the time is said after cell {first_training} trains"


def test_the_readme_table_gives_each_notebooks_measured_minutes():
    rows = _readme_rows()
    assert set(rows) == {p.stem[:2] for p in NOTEBOOKS}, rows
    for path in NOTEBOOKS:
        _, minutes = _minutes(path)
        assert rows[path.stem[:2]] == (minutes["smoke"], minutes["quick"]), path.name
