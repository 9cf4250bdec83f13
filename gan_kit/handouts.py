"""Student handouts from the solution notebooks: solution code replaced by stubs that raise.

Marking an exercise in a solution notebook (``notebooks/NN_*.ipynb``):

- a block inside a code cell between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` lines is
  replaced by ``raise NotImplementedError("<hint>")`` at the block's indentation; the hint is
  the text after ``# BEGIN SOLUTION`` (``# BEGIN SOLUTION hint: use tf.nn.softplus``);
- a whole code cell tagged ``solution`` becomes a stub cell that raises, with the hint from the
  cell's ``hint`` metadata or first comment line;
- a cell tagged ``solution-only`` is dropped.

Every other cell is copied unchanged; outputs of changed cells are cleared.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION(?:\s+(?:hint:)?\s*(?P<hint>.*))?$")
END = re.compile(r"^[ \t]*# END SOLUTION\s*$")
DEFAULT_HINT = "Write this part of the exercise."


class HandoutError(ValueError):
    """A solution notebook's exercise markers are malformed."""


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
            hint = (begin.group("hint") or "").strip() or DEFAULT_HINT
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


def _cell_hint(cell) -> str:
    hint = cell.metadata.get("hint")
    if hint:
        return str(hint)
    for line in cell.source.splitlines():
        if line.strip().startswith("#") and "NBVAL" not in line:
            return line.strip().lstrip("#").strip() or DEFAULT_HINT
    return DEFAULT_HINT


def make_handout(notebook: nbformat.NotebookNode, name: str = "notebook") -> tuple[nbformat.NotebookNode, int]:
    """The student version of a solution notebook, and the number of exercises stubbed."""
    handout = copy.deepcopy(notebook)
    cells = []
    exercises = 0
    for index, cell in enumerate(handout.cells):
        tags = set(cell.metadata.get("tags", []))
        if "solution-only" in tags:
            continue
        if cell.cell_type == "code" and "solution" in tags:
            hint = _cell_hint(cell)
            cell.source = f"# TODO: {hint}\n{_stub_line('', hint)}"
            cell.metadata["tags"] = sorted((tags - {"solution"}) | {"exercise"})
            exercises += 1
        elif cell.cell_type == "code":
            source, blocks = strip_blocks(cell.source, f"{name} cell {index}")
            if blocks:
                cell.source = source
                cell.metadata["tags"] = sorted(tags | {"exercise"})
                exercises += blocks
        if cell.cell_type == "code" and "exercise" in cell.metadata.get("tags", []):
            cell.outputs, cell.execution_count = [], None
        cells.append(cell)
    handout.cells = cells
    nbformat.validate(handout)
    return handout, exercises


def build_handouts(notebooks_dir: str | Path = "notebooks", out_dir: str | Path = "outputs/handouts") -> list[Path]:
    """Write a handout for every solution notebook that has exercises; returns the files written."""
    from .fileio import atomic_write_text

    written = []
    for path in sorted(Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb")):
        handout, exercises = make_handout(nbformat.read(path, as_version=4), path.name)
        if exercises:
            target = Path(out_dir) / path.name
            atomic_write_text(target, nbformat.writes(handout))
            written.append(target)
            print(f"{path.name}: {exercises} exercise(s) -> {target}")
    return written


__all__ = ["HandoutError", "build_handouts", "make_handout", "strip_blocks"]
