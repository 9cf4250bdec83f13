"""Student handouts from the solution notebooks: solutions stubbed, model answers emptied, hidden tests removed.

Marking a solution notebook (``notebooks/NN_*.ipynb``):

- a block inside a code cell between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` lines is
  replaced by ``raise NotImplementedError("<hint>")`` at the block's indentation; the hint is
  the text after ``# BEGIN SOLUTION`` (``# BEGIN SOLUTION hint: use tf.nn.softplus``);
- a whole code cell tagged ``solution`` becomes a stub cell that raises, with the hint from the
  cell's ``hint`` metadata or first comment line;
- a cell tagged ``solution-only`` is dropped;
- a markdown cell tagged ``answer`` holds the instructor's model answer: the handout has an empty
  answer cell (markdown, tagged ``answer``) in its place, for the student's own, which says the question's points
  (``{"gan_kit": {"question": ID, "points": N, "rubric": TEXT}}`` in the cell's metadata,
  :mod:`gan_kit.instructor.manual`; the rubric and the model answer never reach the handout);
- a code cell tagged ``hidden-test``, with ``{"grade": {"exercise": NAME, "points": N}}`` in its
  metadata, is an autograder test (``gan_kit.instructor.grading``): the handout drops it, and the stubbed cell of
  its exercise (the last one before it) starts with a comment that gives the exercise's points.

Every other cell is copied unchanged, except that every output is cleared and every execution
count reset (a committed output, such as a check's "passed" line, would show the solution's result),
and that a code cell loses its ``# NBVAL_...`` marker lines (they tell the instructor's output checks
which outputs to compare; a student has no use for them).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import nbformat

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION(?:\s+(?:hint:)?\s*(?P<hint>.*))?$")
END = re.compile(r"^[ \t]*# END SOLUTION\s*$")
CHECK_MARKER = re.compile(r"^[ \t]*# NBVAL_[A-Z_]+[ \t]*$")  # e.g. "# NBVAL_CHECK_OUTPUT"
DEFAULT_HINT = "Write this part of the exercise."
SOLUTION, SOLUTION_ONLY, ANSWER, HIDDEN_TEST = "solution", "solution-only", "answer", "hidden-test"  # tags
EXERCISE = "exercise"  # the tag of a handout's stubbed cells
ANSWER_PLACEHOLDER = "**Your answer:** (write it here)"  # an answer cell without points
META = "gan_kit"  # the cell metadata key of a written question: {"question": ID, "points": N, "rubric": TEXT}
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"


class HandoutError(ValueError):
    """A solution notebook's exercise markers are malformed."""


@dataclass(frozen=True)
class HiddenTest:
    """One autograder test of a solution notebook: the exercise it grades, its points and its code."""

    exercise: str
    points: int
    source: str
    cell_index: int


def tags(cell) -> set[str]:
    """A cell's tags."""
    return set(cell.metadata.get("tags", []))


def _stub_line(indent: str, hint: str) -> str:
    return f"{indent}raise NotImplementedError({hint!r})"


def strip_blocks(source: str, where: str = "cell") -> tuple[str, int]:
    """Replace each ``# BEGIN SOLUTION`` .. ``# END SOLUTION`` block by a raising stub; returns (source, blocks)."""
    out: list[str] = []
    inside: re.Match | None = None
    blocks = 0
    for number, line in enumerate(source.splitlines(), 1):
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if inside:
                raise HandoutError(f"{where}, line {number}: BEGIN SOLUTION inside another solution block.")
            inside = begin
            hint = block_hint(begin)
            out.append(f"{begin.group('indent')}# TODO: {hint}")
            out.append(_stub_line(begin.group("indent"), hint))
            blocks += 1
        elif end:
            if not inside:
                raise HandoutError(f"{where}, line {number}: END SOLUTION without a BEGIN SOLUTION.")
            inside = None
        elif not inside:
            out.append(line)
    if inside:
        raise HandoutError(f"{where}: BEGIN SOLUTION is never closed by END SOLUTION.")
    return "\n".join(out), blocks


def strip_check_markers(source: str) -> str:
    """``source`` without its ``# NBVAL_...`` marker lines (``source`` itself when it has none)."""
    lines = source.splitlines()
    kept = [line for line in lines if not CHECK_MARKER.match(line)]
    return source if len(kept) == len(lines) else "\n".join(kept)


def block_hint(begin: re.Match) -> str:
    """The hint of a ``# BEGIN SOLUTION`` line (a ``BEGIN`` match)."""
    return (begin.group("hint") or "").strip() or DEFAULT_HINT


def cell_hint(cell) -> str:
    """The hint of a cell tagged ``solution``: its ``hint`` metadata, else its first comment line."""
    hint = cell.metadata.get("hint")
    if hint:
        return str(hint)
    for line in cell.source.splitlines():
        if line.strip().startswith("#") and "NBVAL" not in line:
            return line.strip().lstrip("#").strip() or DEFAULT_HINT
    return DEFAULT_HINT


def hidden_tests(notebook: nbformat.NotebookNode, name: str = "notebook") -> list[HiddenTest]:
    """The ``hidden-test`` cells of a solution notebook, in order; ``HandoutError`` if one is malformed."""
    found: list[HiddenTest] = []
    for index, cell in enumerate(notebook.cells):
        if HIDDEN_TEST not in tags(cell):
            continue
        where = f"{name} cell {index}"
        grade = cell.metadata.get("grade")
        if cell.cell_type != "code":
            raise HandoutError(f"{where}: a hidden-test cell must be a code cell.")
        if not isinstance(grade, dict) or not isinstance(grade.get("exercise"), str) or not grade["exercise"]:
            raise HandoutError(f'{where}: a hidden-test cell needs {{"grade": {{"exercise": NAME, "points": N}}}} '
                               "in its metadata.")
        points = grade.get("points")
        if isinstance(points, bool) or not isinstance(points, int) or points < 0:
            raise HandoutError(f"{where}: grade.points must be a whole number >= 0, not {points!r}.")
        if any(t.exercise == grade["exercise"] for t in found):
            raise HandoutError(f"{where}: exercise {grade['exercise']!r} has two hidden tests; give each its own "
                               "name.")
        found.append(HiddenTest(grade["exercise"], points, cell.source, index))
    return found


def answer_points(cell) -> int | None:
    """The points of an ``answer`` cell's question (its ``gan_kit.points`` metadata), or None when it has none."""
    meta = cell.metadata.get(META)
    points = meta.get("points") if isinstance(meta, dict) else None
    return points if isinstance(points, int) and not isinstance(points, bool) else None


def answer_placeholder(points: int | None) -> str:
    """The text of a handout's empty answer cell: ``**Your answer** (2 points): (write it here)``."""
    if points is None:
        return ANSWER_PLACEHOLDER
    return f"**Your answer** ({points} point{'s' if points != 1 else ''}): (write it here)"


def _is_stubbed(cell) -> bool:
    return cell.cell_type == "code" and (SOLUTION in tags(cell) or any(
        BEGIN.match(line) for line in cell.source.splitlines()))


def exercise_labels(notebook: nbformat.NotebookNode, name: str = "notebook") -> dict[int, str]:
    """``{cell index: comment line}`` giving each graded exercise's points on its stubbed cell (the last cell with
    a solution before the exercise's hidden test); exercises whose test follows no such cell get no label."""
    found: dict[int, list[HiddenTest]] = {}
    for test in hidden_tests(notebook, name):
        at = next((i for i in range(test.cell_index - 1, -1, -1) if _is_stubbed(notebook.cells[i])), None)
        if at is not None:
            found.setdefault(at, []).append(test)
    labels = {}
    for at, tests_here in found.items():
        parts = [f"{t.exercise} ({t.points} point{'s' if t.points != 1 else ''})" for t in tests_here]
        word = "exercise" if len(parts) == 1 else "exercises"
        labels[at] = f"# Graded {word}: {' and '.join(parts)}"
    return labels


def _labelled(source: str, label: str | None) -> str:
    """``source`` with ``label`` as its first line (after a ``%%`` cell magic, which must stay first)."""
    if not label:
        return source
    lines = source.split("\n")
    at = 1 if lines and lines[0].startswith("%%") else 0
    return "\n".join([*lines[:at], label, *lines[at:]])


def clear_outputs(cell) -> None:
    """Clear a code cell's outputs and execution count (other cells have neither)."""
    if cell.cell_type == "code":
        cell.outputs, cell.execution_count = [], None


def make_handout(notebook: nbformat.NotebookNode, name: str = "notebook") -> tuple[nbformat.NotebookNode, int]:
    """The student version of a solution notebook, and the number of exercises stubbed."""
    labels = exercise_labels(notebook, name)  # malformed grading metadata is an error here, before students get a copy
    handout = copy.deepcopy(notebook)
    cells = []
    exercises = 0
    for index, cell in enumerate(handout.cells):
        cell_tags = tags(cell)
        if SOLUTION_ONLY in cell_tags or HIDDEN_TEST in cell_tags:
            continue
        if cell.cell_type == "markdown" and ANSWER in cell_tags:
            cell.source = answer_placeholder(answer_points(cell))
            cell.metadata = nbformat.NotebookNode({"tags": [ANSWER]})  # no rubric, no question metadata
            cell.pop("attachments", None)
        elif cell.cell_type == "code" and SOLUTION in cell_tags:
            hint = cell_hint(cell)
            cell.source = _labelled(f"# TODO: {hint}\n{_stub_line('', hint)}", labels.get(index))
            cell.metadata["tags"] = sorted((cell_tags - {SOLUTION}) | {EXERCISE})
            exercises += 1
        elif cell.cell_type == "code":
            cell.source = strip_check_markers(cell.source)
            source, blocks = strip_blocks(cell.source, f"{name} cell {index}")
            if blocks:
                cell.source = _labelled(source, labels.get(index))
                cell.metadata["tags"] = sorted(cell_tags | {EXERCISE})
                exercises += blocks
        cell.metadata.pop(META, None)
        clear_outputs(cell)
        cells.append(cell)
    handout.cells = cells
    nbformat.validate(handout)
    return handout, exercises


def solution_notebooks(notebooks_dir: str | Path = "notebooks") -> list[Path]:
    """The course's solution notebooks (``NN_*.ipynb``), in order."""
    return sorted(Path(notebooks_dir).glob(NOTEBOOK_GLOB))


def is_selected(name: str, wanted: Iterable[str]) -> bool:
    """Whether the notebook file ``name`` is one of ``wanted`` (file names or prefixes such as ``02``)."""
    return any(name == w or name.startswith(w) for w in wanted)


def build_handouts(notebooks_dir: str | Path = "notebooks", out_dir: str | Path = "outputs/handouts",
                   every: bool = False, quiet: bool = False, only: Iterable[str] | None = None) -> list[Path]:
    """Write a handout for every solution notebook that has exercises (``every``: for every notebook, as the
    student release does; ``only``: names or prefixes such as ``02`` to keep); returns the files written."""
    from ..fileio import atomic_write_text

    paths = solution_notebooks(notebooks_dir)
    if not paths:
        raise HandoutError(f"{notebooks_dir} holds no course notebooks ({NOTEBOOK_GLOB}): give the folder of the "
                           "solution notebooks (default: notebooks); to pick some of them, name them with only= "
                           "(CLI: --only 02,03).")
    wanted = [w.strip() for w in only or [] if w.strip()]
    if wanted:
        paths = [p for p in paths if is_selected(p.name, wanted)]
        if not paths:
            names = ", ".join(p.name for p in solution_notebooks(notebooks_dir))
            raise HandoutError(f"no notebook in {notebooks_dir} matches {', '.join(wanted)}; the notebooks are: "
                               f"{names}.")
    written = []
    for path in paths:
        handout, exercises = make_handout(nbformat.read(path, as_version=4), path.name)
        if exercises or every:
            target = Path(out_dir) / path.name
            atomic_write_text(target, nbformat.writes(handout))
            written.append(target)
            if not quiet:
                print(f"{path.name}: {exercises} exercise(s) -> {target}")
        elif wanted and not quiet:
            print(f"{path.name}: no exercises, no handout")
    return written


__all__ = ["ANSWER", "ANSWER_PLACEHOLDER", "BEGIN", "END", "EXERCISE", "HIDDEN_TEST", "META", "SOLUTION",
           "SOLUTION_ONLY", "HandoutError", "HiddenTest", "answer_placeholder", "answer_points", "block_hint",
           "exercise_labels", "build_handouts", "cell_hint", "clear_outputs", "hidden_tests",
           "is_selected", "make_handout", "solution_notebooks", "strip_blocks", "strip_check_markers", "tags"]
