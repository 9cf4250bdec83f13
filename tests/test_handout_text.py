"""What a student reads is written for a student. No handout talks about the kit's development (CI, nbval,
papermill, pytest, "the kit's test", a story "the kit must serve", issue numbers), the handouts drop the
``# NBVAL_...`` markers the solution notebooks keep for the output checks, and no model answer quotes figures
measured by a run that is not in its notebook."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from gan_kit.instructor.handouts import ANSWER, CHECK_MARKER, build_handouts, strip_check_markers, tags

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))

# Words of the kit's developers, with how to match each (CI only in capitals: "ci" is part of many words).
DEVELOPER_WORDS = {
    "CI": re.compile(r"\bCI\b"),
    "nbval": re.compile(r"nbval", re.I),
    "papermill": re.compile(r"papermill", re.I),
    "pytest": re.compile(r"pytest", re.I),
    "the kit's test": re.compile(r"\bthe kit's (own )?tests?\b", re.I),
    "must serve": re.compile(r"\bmust serve\b", re.I),
    "issue number": re.compile(r"\bissues?\s*#?\s*\d+", re.I),
    "developer": re.compile(r"\bdevelopers?\b", re.I),
}
# Figures that model answers once quoted from runs outside their notebook.
QUOTED_ELSEWHERE = ("21.5 +- 0.9", "32.2 +- 2.4", "28.2 +- 2.6", "the kit's test measured", "0.80)")


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


@pytest.fixture(scope="module")
def handouts(tmp_path_factory) -> dict[str, nbformat.NotebookNode]:
    """Every course notebook's handout, built as the student release builds them (``every=True``)."""
    out = tmp_path_factory.mktemp("handouts")
    written = build_handouts(REPO / "notebooks", out, every=True, quiet=True)
    return {path.name: _read(path) for path in written}


def _readable(cell) -> str:
    """Everything a student sees of a cell: its source and, for a code cell, the text of its outputs."""
    parts = [cell.source]
    for output in cell.get("outputs", []):
        parts.append(str(output.get("text", "")))
        parts.extend(str(v) for k, v in output.get("data", {}).items() if k.startswith("text/"))
        parts.append(str(output.get("evalue", "")))
    return "\n".join(parts)


def developer_words(text: str) -> list[str]:
    """The developer words found in ``text``, each with a little of its context."""
    found = []
    for name, pattern in DEVELOPER_WORDS.items():
        for match in pattern.finditer(text):
            found.append(f"{name}: ...{text[max(0, match.start() - 40):match.end() + 40]!r}...")
    return found


def test_the_word_list_finds_what_it_must_and_spares_ordinary_words():
    assert developer_words("nbval runs the defaults under GAN_KIT_PROFILE=smoke in CI")
    assert developer_words("# NBVAL_CHECK_OUTPUT")
    assert developer_words("papermill replaces these values")
    assert developer_words("a 'story' the kit must serve better")
    assert developer_words("about 80% of the time (the kit's test measured 0.80)")
    assert developer_words("see issue #33") and developer_words("Issue 12 says")
    assert not developer_words("Circles, specific pictures, a DCGAN and its critic; CIFAR-10; the tissue of a leaf")


def test_every_notebook_has_a_handout(handouts):
    assert sorted(handouts) == [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("name", [p.name for p in NOTEBOOKS])
def test_no_handout_cell_talks_about_the_kits_development(handouts, name):
    found = [f"cell {i} ({cell.cell_type}) {hit}" for i, cell in enumerate(handouts[name].cells)
             for hit in developer_words(_readable(cell))]
    assert not found, f"{name}: a student would read " + "; ".join(found)


def test_handouts_drop_the_output_check_markers_that_the_solutions_keep(handouts):
    marked = {p.name for p in NOTEBOOKS if any(CHECK_MARKER.match(line) for c in _read(p).cells
                                               if c.cell_type == "code" for line in c.source.splitlines())}
    assert {"00_setup_and_data.ipynb", "01_gan_theory.ipynb", "02_dcgan_cifar10.ipynb"} <= marked  # nbval needs them
    for name in marked:
        assert not any("NBVAL" in cell.source for cell in handouts[name].cells), name


def test_strip_check_markers_removes_only_marker_lines():
    kept = "print(1)  # NBVAL_CHECK_OUTPUT stays: not a line of its own"
    source = f"# NBVAL_CHECK_OUTPUT\n{kept}\n    # NBVAL_SKIP\nx = 2"
    assert strip_check_markers(source) == f"{kept}\nx = 2"
    unmarked = "print(1)\n\n# a comment\n"
    assert strip_check_markers(unmarked) is unmarked


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_model_answers_quote_no_figures_from_runs_outside_the_notebook(path):
    answers = [(i, c.source) for i, c in enumerate(_read(path).cells)
               if c.cell_type == "markdown" and ANSWER in tags(c)]
    for i, text in answers:
        for quoted in QUOTED_ELSEWHERE:
            assert quoted not in text, f"{path.name} cell {i}: the model answer quotes {quoted!r}"
        # A mean +- spread, or a "measured" number, is a particular run's result: the notebook computes its own.
        assert not re.search(r"\d\s*(\+-|±|\\pm)\s*\d", text), f"{path.name} cell {i}: a model answer quotes a spread"
        assert not re.search(r"\bmeasured\s+(about\s+)?\d", text, re.I), f"{path.name} cell {i}: a measured figure"
        assert not developer_words(text), f"{path.name} cell {i}: {developer_words(text)}"
