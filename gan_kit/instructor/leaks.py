"""What students must never receive from a solution notebook, and a scan of files (zip members included) for it.

The secrets of a solution notebook (:func:`secrets`):

- ``solution``: the lines of its ``# BEGIN SOLUTION`` .. ``# END SOLUTION`` blocks and of its cells tagged
  ``solution`` or ``solution-only``;
- ``hidden-test``: the lines of its ``hidden-test`` cells;
- ``answer``: the sentences of its ``answer`` cells (the model answers).

Two kinds of text are not secrets, though they stand in a secret place:

- lines and sentences shorter than :data:`MIN_LENGTH` (25) characters once stripped. Below that length a line
  is generic Python (``return model``, ``if i > 0:``, ``x = layers.ReLU()(x)``, ``model = keras.Sequential([``)
  that the kit's own modules and any notebook legitimately contain; from about 25 characters on, a line names the
  exercise's own variables, calls and arguments, and finding it means the code was copied;
- text the solution notebook shows students on purpose: its unmarked cells and the hints of its
  ``# BEGIN SOLUTION hint: ...`` lines (a hint may quote a line of the answer).

Files other than notebooks get one more exemption (:func:`scan`'s ``exempt``): the lines of the kit's package
(``gan_kit/``), which the student release ships on purpose. The kit implements what some exercises ask for
(``gan_kit/steps.py``'s one-pass DCGAN training step shares lines with notebook 02's solutions, and so do the
reference networks of ``gan_kit/checks/networks.py``), so those lines are in students' hands whatever the
handouts do; the checks switch the kit's functions off while they run, so calling them earns nothing.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .handouts import ANSWER, BEGIN, END, HIDDEN_TEST, META, SOLUTION, SOLUTION_ONLY, block_hint, tags

MIN_LENGTH = 25
SECRET_TAGS = {SOLUTION, SOLUTION_ONLY, HIDDEN_TEST, ANSWER}
_SENTENCE_END = re.compile(r"(?<=[.!?:;])\s+")


@dataclass(frozen=True)
class Secret:
    """A line or sentence of a solution notebook that no student file may contain."""

    notebook: str
    kind: str  # "solution", "hidden-test", "answer" or "rubric"
    text: str


@dataclass(frozen=True)
class Leak:
    """A secret found in a file."""

    file: str
    secret: Secret


def normalize(text: str) -> str:
    """Whitespace runs as one space, so a line matches whatever its indentation and line breaks."""
    return " ".join(text.split())


def public_text(notebook: nbformat.NotebookNode) -> str:
    """What the solution notebook shows students on purpose: its unmarked cells (solution blocks left out) and the
    hints of its solution blocks."""
    shown: list[str] = []
    for cell in notebook.cells:
        if tags(cell) & SECRET_TAGS:
            continue
        inside = False
        for line in cell.source.splitlines():
            begin = BEGIN.match(line)
            if begin:
                inside = True
                shown.append(block_hint(begin))
            elif END.match(line):
                inside = False
            elif not inside:
                shown.append(line)
    return normalize("\n".join(shown))


def _solution_lines(cell) -> list[str]:
    if SOLUTION in tags(cell) or SOLUTION_ONLY in tags(cell):
        return cell.source.splitlines()
    lines, inside = [], False
    for line in cell.source.splitlines():
        if BEGIN.match(line):
            inside = True
        elif END.match(line):
            inside = False
        elif inside:
            lines.append(line)
    return lines


def _sentences(text: str) -> list[str]:
    return _SENTENCE_END.split(normalize(text))


def secrets(notebook: nbformat.NotebookNode, name: str = "notebook") -> list[Secret]:
    """The secrets of a solution notebook (see the module's docstring), each once."""
    public = public_text(notebook)
    found: dict[tuple[str, str], Secret] = {}
    for cell in notebook.cells:
        cell_tags = tags(cell)
        if cell.cell_type == "markdown" and ANSWER in cell_tags:
            kind, pieces = "answer", _sentences(cell.source)
        elif HIDDEN_TEST in cell_tags:
            kind, pieces = "hidden-test", cell.source.splitlines()
        else:
            kind, pieces = "solution", _solution_lines(cell)
        for piece in pieces:
            text = normalize(piece)
            if len(text) >= MIN_LENGTH and text not in public:
                found.setdefault((kind, text), Secret(name, kind, text))
    return list(found.values())


def rubric_secrets(notebook: nbformat.NotebookNode, name: str = "notebook") -> list[Secret]:
    """The sentences of the instructor's rubrics of a solution notebook's written questions (kind ``rubric``)."""
    found: dict[str, Secret] = {}
    for cell in notebook.cells:
        meta = cell.metadata.get(META)
        rubric = meta.get("rubric") if isinstance(meta, dict) else None
        for piece in _sentences(rubric) if isinstance(rubric, str) else []:
            if len(piece) >= MIN_LENGTH:
                found.setdefault(piece, Secret(name, "rubric", piece))
    return list(found.values())


def course_secrets(notebooks: Iterable[str | Path]) -> list[Secret]:
    """The secrets of several solution notebooks."""
    return [s for path in notebooks for s in secrets(nbformat.read(path, as_version=4), Path(path).name)]


def _strings(value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def readable_text(name: str, data: bytes) -> str:
    """A file's text as a reader sees it: a notebook's strings (sources, outputs, metadata) decoded from its JSON
    (where a line break is ``\\n`` and a quote ``\\"``), any other file as UTF-8."""
    text = data.decode("utf-8", errors="replace")
    if name.endswith(".ipynb"):
        try:
            return "\n".join(_strings(json.loads(text)))
        except json.JSONDecodeError:
            pass
    return text


def zip_members(path: str | Path, name: str | None = None) -> Iterator[tuple[str, str]]:
    """``(name!member, text)`` of every file in a zip archive."""
    name = name or Path(path).name
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if not member.endswith("/"):
                yield f"{name}!{member}", readable_text(member, archive.read(member))


def files_under(root: str | Path) -> Iterator[tuple[str, str]]:
    """``(name, text)`` of every file under ``root``, and of every member of every zip file there
    (``archive.zip!member``)."""
    root = Path(root)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        name = path.relative_to(root).as_posix()
        yield name, readable_text(name, path.read_bytes())
        if path.suffix == ".zip":
            yield from zip_members(path, name)


def is_notebook(name: str) -> bool:
    return name.endswith(".ipynb")


def scan(files: Iterable[tuple[str, str]], found: Iterable[Secret], exempt: str = "") -> list[Leak]:
    """The secrets that stand in the files (``(name, text)`` pairs). In a file that is not a notebook, a secret that
    stands in ``exempt`` too (the kit's package source) is not counted."""
    found = list(found)
    exempt = normalize(exempt)
    leaks = []
    for name, text in files:
        text = normalize(text)
        for secret in found:
            if secret.text in text and (is_notebook(name) or secret.text not in exempt):
                leaks.append(Leak(name, secret))
    return leaks


def package_source(package_dir: str | Path) -> str:
    """The text of every Python file of a package (the exemption for files that are not notebooks)."""
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(Path(package_dir).rglob("*.py")))


__all__ = ["MIN_LENGTH", "Leak", "Secret", "course_secrets", "files_under", "normalize", "package_source",
           "public_text", "readable_text", "scan", "secrets", "zip_members"]
