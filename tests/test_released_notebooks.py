"""Each notebook runs from its own release alone: release NN (its answers and every later one stubbed in the
package, no instructor part) with the solution's answers pasted into the handout's stubs, under the smoke profile,
with the release's package and nothing of the project. Release NN is the strictest release notebook NN is part
of: a later release stubs fewer of the package's blocks.

A notebook with hidden tests is run by the grader (which builds the student package of the notebook's release
for its job, under the sandbox): every cell must run without an error, and the submission gets full marks. The
others run in a plain kernel whose path holds the release folder only."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest

from gan_kit.instructor import release
from gan_kit.instructor.grades import course_tests
from gan_kit.instructor.grading import grade
from gan_kit.instructor.handouts import EXERCISE, tags

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = release.course_notebooks(REPO / "notebooks")
GRADED = {int(name[:2]) for name in course_tests(REPO / "notebooks")}
PLAIN = sorted(set(NOTEBOOKS) - GRADED)
# The project's venv installs it in editable mode, whose import hook would find gan_kit.instructor in the project
# even when gan_kit comes from the release; a student's Python has no such hook. This sitecustomize drops it.
NO_PROJECT = ("import sys\nsys.meta_path[:] = [f for f in sys.meta_path if not "
              "getattr(f, '__module__', '').startswith('__editable__')]\n")


def with_answers(handout: nbformat.NotebookNode, solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The handout with the solution's code pasted into each exercise cell (cells matched by id)."""
    by_id = {cell.get("id"): cell for cell in solution.cells}
    for cell in handout.cells:
        if EXERCISE in tags(cell):
            cell.source = by_id[cell.get("id")].source
    return handout


@pytest.mark.parametrize("number", sorted(GRADED), ids=[NOTEBOOKS[n] for n in sorted(GRADED)])
def test_a_finished_notebook_grades_to_full_marks_with_no_error_in_any_cell(number, tmp_path):
    name = f"{NOTEBOOKS[number]}.ipynb"
    folder, _ = release.build_release(REPO, tmp_path / f"release-{number:02d}", assignment=number)
    submission = with_answers(nbformat.read(folder / "notebooks" / name, as_version=4),
                              nbformat.read(REPO / "notebooks" / name, as_version=4))
    (tmp_path / "submissions" / "finished").mkdir(parents=True)
    nbformat.write(submission, tmp_path / "submissions" / "finished" / name)
    rows = grade(tmp_path / "submissions", tmp_path / "grades", notebooks_dir=REPO / "notebooks", timeout=900,
                 only=[f"{number:02d}"])
    tests = [r for r in rows if r.status != "pending"]  # the written answers await a TA's mark
    assert tests and all(r.status == "pass" and r.points == r.max_points for r in tests), rows
    cells = json.loads((tmp_path / "grades" / "feedback" / "finished" / f"{NOTEBOOKS[number]}.cells.json")
                       .read_text())
    failed = {i: c for i, c in cells["cells"].items() if c["status"] != "ok"}
    assert not failed and cells["error"] is None, failed


@pytest.mark.parametrize("number", PLAIN, ids=[NOTEBOOKS[n] for n in PLAIN])
def test_the_notebook_runs_from_its_own_release(number, tmp_path):
    from nbclient import NotebookClient

    folder, _ = release.build_release(REPO, tmp_path / f"release-{number:02d}", assignment=number)
    name = f"{NOTEBOOKS[number]}.ipynb"
    notebook = with_answers(nbformat.read(folder / "notebooks" / name, as_version=4),
                            nbformat.read(REPO / "notebooks" / name, as_version=4))
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(NO_PROJECT)
    cache = Path(os.environ.get("GAN_KIT_CACHE_DIR", REPO / "outputs" / "cache"))
    env = {**os.environ, "PYTHONPATH": f"{folder}{os.pathsep}{tmp_path / 'site'}", "GAN_KIT_PROFILE": "smoke",
           "MPLBACKEND": "Agg", "GAN_KIT_CACHE_DIR": str(cache)}
    client = NotebookClient(notebook, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(folder / "notebooks")}})
    probe = nbformat.v4.new_code_cell("import gan_kit, importlib.util\nprint(gan_kit.__file__)\n"
                                      "print(importlib.util.find_spec('gan_kit.instructor'))")
    notebook.cells.append(probe)
    with client.setup_kernel(env=env):
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type == "code":
                client.execute_cell(cell, index)  # raises CellExecutionError, naming the cell, on an error
    printed = "".join(o.get("text", "") for o in probe.outputs).split()
    assert printed == [str(folder / "gan_kit" / "__init__.py"), "None"], printed
