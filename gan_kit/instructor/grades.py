"""What a grading batch grades and writes: the course's hidden tests, a submitted notebook read with care, and the
rows of ``grades.csv`` and ``summary.csv`` that :mod:`.grading` (hidden tests), :mod:`.manual` (written answers),
:mod:`.class_report` and :mod:`.gradescope` share."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import astuple, dataclass, fields
from pathlib import Path

import nbformat

from .handouts import hidden_tests, is_selected, solution_notebooks
from .limits import LIMITS

STATUSES = ("pass", "fail", "error", "timeout", "missing", *LIMITS, "pending", "marked")  # the last two: written
# answers (:mod:`.manual`), pending until a TA's mark is merged
MAX_NOTEBOOK_BYTES = 50 * 2**20


@dataclass(frozen=True)
class Row:
    """One line of grades.csv."""

    student: str
    notebook: str
    exercise: str
    points: int
    max_points: int
    status: str
    message: str


COLUMNS = [f.name for f in fields(Row)]
SUMMARY_COLUMNS = ["student", "total", "max_points", "pending_points"]  # pending: written answers not yet marked


def course_tests(notebooks_dir: str | Path = "notebooks", only: Iterable[str] | None = None) -> dict[str, list]:
    """``{notebook file name: [HiddenTest, ...]}`` for the solution notebooks that have hidden tests; ``only``:
    names or prefixes (``01``, ``02_dcgan``) to keep."""
    wanted = [w.strip() for w in only or [] if w.strip()]
    tests = {}
    for path in solution_notebooks(notebooks_dir):
        if wanted and not is_selected(path.name, wanted):
            continue
        found = hidden_tests(nbformat.read(path, as_version=4), path.name)
        if found:
            tests[path.name] = found
    if wanted and not tests:
        raise ValueError(f"no solution notebook with hidden tests matches {', '.join(wanted)} in {notebooks_dir}.")
    return tests


def read_submission(path: Path) -> nbformat.NotebookNode:
    """A submitted notebook; ``ValueError`` saying why when it is not one."""
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"larger than {MAX_NOTEBOOK_BYTES // 2**20} MiB, not a notebook")
    try:
        content = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not valid JSON ({exc})") from None
    try:
        if not isinstance(content, dict) or not isinstance(content.get("cells"), list):
            raise ValueError("it has no list of cells")
        notebook = nbformat.reads(json.dumps(content), as_version=4)
        nbformat.validate(notebook)
    except Exception as exc:  # nbformat's reader and validator raise many types
        raise ValueError(f"not a valid notebook ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from None
    return notebook


def write_csvs(rows: list[Row], out: Path) -> tuple[Path, Path]:
    """grades.csv and summary.csv."""
    grades, summary = out / "grades.csv", out / "summary.csv"
    with open(grades, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(astuple(r) for r in rows)
    totals: dict[str, list[int]] = {}
    for r in rows:
        total = totals.setdefault(r.student, [0, 0, 0])
        total[0] += r.points
        total[1] += r.max_points
        total[2] += r.max_points if r.status == "pending" else 0
    with open(summary, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(SUMMARY_COLUMNS)
        writer.writerows([student, *total] for student, total in sorted(totals.items()))
    return grades, summary


__all__ = ["COLUMNS", "MAX_NOTEBOOK_BYTES", "STATUSES", "SUMMARY_COLUMNS", "Row", "course_tests", "read_submission",
           "write_csvs"]
