"""The kit's own answers to the exercises, marked in the package source, and the student package made from it.

A function of the kit that answers an exercise holds its answer between two comment lines, the way a solution
notebook does, naming the notebook (its two-digit number) and the exercise::

    def gradient_penalty(critic, real, fake, alpha=None, epsilon=1e-12):
        \"\"\"WGAN-GP penalty ...\"\"\"
        # BEGIN SOLUTION 03 gradient_penalty
        ...
        # END SOLUTION

The release of assignment N (:func:`student_package`) copies the package without ``gan_kit/instructor/`` and
replaces every block of notebook N or later by a ``raise NotImplementedError`` that names the notebook and the
exercise; blocks of earlier notebooks (past their deadline) keep their code, without the marker lines. A block
that answers several exercises names each (``# BEGIN SOLUTION 01 toy_step, 02 train_step``: the toy's alternating
step is most of notebook 02's step too) and stays stubbed until the last of them is past.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

_PAIR = r"\d\d [\w.-]+"
BEGIN = re.compile(rf"^(?P<indent>[ \t]*)# BEGIN SOLUTION (?P<pairs>{_PAIR}(?:, {_PAIR})*)\s*$")
END = re.compile(r"^[ \t]*# END SOLUTION\s*$")
INSTRUCTOR = "instructor"  # the sub-package a student release leaves out
_TOP = re.compile(r"^(?:async\s+)?(?:def|class)\s+(?P<name>\w+)")
_METHOD = re.compile(r"^    (?:async\s+)?def\s+(?P<name>\w+)")


class PackageMarkerError(ValueError):
    """A solution block of the package is malformed."""


@dataclass(frozen=True)
class Block:
    """One marked answer in the package: where it is, whose exercise it is, and its lines."""

    file: str  # relative to the package folder, e.g. "losses.py"
    line: int  # 1-based line of the BEGIN marker
    notebook: int  # the last notebook whose exercise it answers: the block ships from release notebook + 1 on
    exercise: str  # the first exercise it answers
    function: str  # the module-level function (or Class.method) the block stands in
    text: tuple[str, ...]
    answers: tuple[tuple[int, str], ...] = ()  # every (notebook, exercise) it answers

    def exercise_at(self, assignment: int) -> tuple[int, str]:
        """The first (notebook, exercise) this block answers that is not past in release ``assignment``."""
        return next(((n, e) for n, e in self.answers if n >= assignment), (self.notebook, self.exercise))


def _python_files(package: Path) -> list[Path]:
    return sorted(p for p in package.rglob("*.py") if INSTRUCTOR not in p.relative_to(package).parts[:1])


def _enclosing(lines: list[str], index: int) -> str:
    method = None
    for line in reversed(lines[:index]):
        top = _TOP.match(line)
        if top:
            is_class = line.lstrip().startswith("class")
            return f"{top['name']}.{method}" if is_class and method else top["name"]
        found = _METHOD.match(line)
        if found and method is None:
            method = found["name"]
    return "<module>"


def file_blocks(source: str, name: str) -> list[Block]:
    """The marked blocks of one source file; ``PackageMarkerError`` when the markers do not pair up."""
    lines = source.splitlines()
    blocks, start = [], None
    for number, line in enumerate(lines, 1):
        if BEGIN.match(line):
            if start is not None:
                raise PackageMarkerError(f"{name}, line {number}: BEGIN SOLUTION inside another solution block.")
            start = number
        elif "# BEGIN SOLUTION" in line:
            raise PackageMarkerError(f"{name}, line {number}: a package block reads '# BEGIN SOLUTION NN exercise' "
                                     "(NN: the notebook's two-digit number; several: 'NN exercise, MM other').")
        elif END.match(line):
            if start is None:
                raise PackageMarkerError(f"{name}, line {number}: END SOLUTION without a BEGIN SOLUTION.")
            pairs = tuple((int(p[:2]), p[3:]) for p in BEGIN.match(lines[start - 1])["pairs"].split(", "))
            blocks.append(Block(name, start, max(n for n, _ in pairs), pairs[0][1], _enclosing(lines, start - 1),
                                tuple(lines[start:number - 1]), pairs))
            start = None
    if start is not None:
        raise PackageMarkerError(f"{name}, line {start}: BEGIN SOLUTION is never closed by END SOLUTION.")
    return blocks


def package_blocks(package: str | Path) -> list[Block]:
    """Every marked block of the package (its instructor part left out), in file and line order."""
    package = Path(package)
    return [b for p in _python_files(package)
            for b in file_blocks(p.read_text(encoding="utf-8"), p.relative_to(package).as_posix())]


def unmarked_source(package: str | Path) -> str:
    """The package's source outside every answer block (its instructor part left out): code any release holds."""
    package = Path(package)
    kept = []
    for path in _python_files(package):
        text = path.read_text(encoding="utf-8")
        kept.append(strip_source(text, path.name, -1, {})[0] if "# BEGIN SOLUTION" in text else text)
    return "\n".join(kept)


def stub_message(block: Block, notebooks: dict[int, str], assignment: int) -> str:
    """What the stub of a block says in release ``assignment``: which notebook's exercise this is."""
    number, exercise = block.exercise_at(assignment)
    notebook = notebooks.get(number, f"notebook {number:02d}")
    return (f"gan_kit: this part of the kit is exercise '{exercise}' of {notebook}. Write it in that "
            "notebook; the notebook hands your code to the kit. The kit's own version comes with the releases "
            "after that assignment.")


def strip_source(source: str, name: str, assignment: int, notebooks: dict[int, str]) -> tuple[str, list[Block]]:
    """``source`` with each block of notebook ``assignment`` or later stubbed and every marker line removed;
    returns it and the blocks stubbed."""
    blocks = {b.line: b for b in file_blocks(source, name)}
    out, stubbed, inside = [], [], None
    for number, line in enumerate(source.splitlines(), 1):
        if number in blocks:
            inside = blocks[number]
            if inside.notebook >= assignment:
                stubbed.append(inside)
                indent = BEGIN.match(line)["indent"]
                out.append(f"{indent}raise NotImplementedError({stub_message(inside, notebooks, assignment)!r})")
        elif inside is not None and END.match(line):
            inside = None
        elif inside is None or inside.notebook < assignment:
            out.append(line)
    return "\n".join(out) + ("\n" if source.endswith("\n") else ""), stubbed


def student_package(source: str | Path, target: str | Path, assignment: int | None,
                    notebooks: dict[int, str]) -> list[Block]:
    """Copy the package to ``target`` without its instructor part; with ``assignment``, stub every block of that
    notebook or a later one (None: keep every answer, for a course released all at once). Returns the blocks
    stubbed."""
    source, target = Path(source), Path(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints"))
    shutil.rmtree(target / INSTRUCTOR, ignore_errors=True)
    stubbed: list[Block] = []
    for path in _python_files(target):
        text = path.read_text(encoding="utf-8")
        if "# BEGIN SOLUTION" not in text:
            continue
        keep_all = 10**6 if assignment is None else assignment
        new, found = strip_source(text, path.relative_to(target).as_posix(), keep_all, notebooks)
        path.write_text(new, encoding="utf-8")
        stubbed += found
    return stubbed


def uses(source: str, function: str) -> bool:
    """Whether notebook code calls the kit's ``function`` through a module (``losses.gradient_penalty``) or imports
    it by name (``from gan_kit.losses import gradient_penalty``); a student's own function of the same name is not
    a use."""
    name = re.escape(function.split(".")[-1])
    imported = rf"^\s*from\s+gan_kit[\w.]*\s+import\s+[^#\n]*\b{name}\b"
    return bool(re.search(rf"\.{name}\b", source) or re.search(imported, source, re.MULTILINE))


__all__ = ["INSTRUCTOR", "Block", "PackageMarkerError", "file_blocks", "package_blocks", "strip_source", "stub_message",
           "student_package", "unmarked_source", "uses"]
