"""Autograding notebook 01's handout (exercises toy_step, 2 points, and fid, 1 point) under the smoke
profile, two jobs at a time, in two batches: an ordinary one and a hostile one (a notebook that loops forever,
one that tries to delete and overwrite files outside its scratch folder)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import nbformat
import pytest

from gan_kit.__main__ import main
from gan_kit.instructor.grades import COLUMNS, SUMMARY_COLUMNS
from gan_kit.instructor.grading import grade, hidden_test_rows
from gan_kit.instructor.handouts import HiddenTest, make_handout
from tests.conftest import REPO

NAME = "01_gan_theory.ipynb"
AS_ROOT = os.geteuid() == 0


def _solution() -> nbformat.NotebookNode:
    return nbformat.read(REPO / "notebooks" / NAME, as_version=4)


def _handout() -> nbformat.NotebookNode:
    return make_handout(_solution(), NAME)[0]


def _cell_defining(nb: nbformat.NotebookNode, function: str):
    return next(c for c in nb.cells if c.cell_type == "code" and f"def {function}(" in c.source)


def _fewer_toy_steps(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A student may lower the parameters; 20 toy steps keep the runs short."""
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert "toy_steps = None" in cell.source
    cell.source = cell.source.replace("toy_steps = None", "toy_steps = 20")
    return nb


def _write(folder: Path, student: str, nb: nbformat.NotebookNode | str) -> Path:
    path = folder / student / NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(nb, str):
        path.write_text(nb)
    else:
        nbformat.write(nb, path)
    return path


def _code_notebook(*sources: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    return nb


def _csv(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _by_student(out: Path) -> dict[str, dict[str, dict]]:
    """The rows of grades.csv by student and exercise, less the written answers awaiting a TA (test_manual.py)."""
    rows: dict[str, dict[str, dict]] = {}
    for row in _csv(out / "grades.csv"):
        if row["status"] != "pending":
            rows.setdefault(row["student"], {})[row["exercise"]] = row
    return rows


@pytest.fixture(scope="module")
def ordinary(tmp_path_factory):
    """untouched handout; fid solved (from the solution); fid returning an array; not JSON; no notebook."""
    root = tmp_path_factory.mktemp("ordinary")
    subs = root / "submissions"
    _write(subs, "untouched", _handout())
    half = _fewer_toy_steps(_handout())
    _cell_defining(half, "fid_by_hand").source = _cell_defining(_solution(), "fid_by_hand").source
    _write(subs, "half", half)
    wrong = _fewer_toy_steps(_handout())
    _cell_defining(wrong, "fid_by_hand").source = "def fid_by_hand(real, fake):\n    return np.zeros(3)\n"
    _write(subs, "wrong_shape", wrong)
    quick = _handout()  # a student who asked for the quick profile and a long toy run: the grader's parameters win
    params = next(c for c in quick.cells if "parameters" in c.metadata.get("tags", []))
    params.source = params.source.replace("toy_steps = None", "toy_steps = 100_000") + '\nprofile = "quick"\n'
    _cell_defining(quick, "fid_by_hand").source = _cell_defining(_solution(), "fid_by_hand").source
    _write(subs, "quick", quick)
    _write(subs, "corrupt", '{"cells": [ this is not JSON')
    (subs / "missing").mkdir()
    (subs / "missing" / "notes.txt").write_text("I forgot to hand in notebook 01.")
    rows = grade(subs, root / "out", notebooks_dir=REPO / "notebooks", jobs=2, timeout=300, only=["01"])
    return root / "out", rows


def test_the_untouched_handout_gets_nothing(ordinary):
    out, _ = ordinary
    untouched = _by_student(out)["untouched"]
    assert {e: (r["points"], r["status"]) for e, r in untouched.items()} == {"toy_step": ("0", "fail"),
                                                                              "fid": ("0", "fail")}
    assert all(r["message"].startswith("NotImplementedError: ") for r in untouched.values())


def test_a_half_solved_notebook_gets_exactly_those_points(ordinary):
    out, _ = ordinary
    half = _by_student(out)["half"]
    assert (half["fid"]["points"], half["fid"]["status"], half["fid"]["message"]) == ("1", "pass", "")
    assert (half["toy_step"]["points"], half["toy_step"]["status"]) == ("0", "fail")


def test_a_wrong_shape_is_explained_in_the_feedback(ordinary):
    out, _ = ordinary
    row = _by_student(out)["wrong_shape"]["fid"]
    assert row["status"] == "fail" and "expected shape ()" in row["message"]
    page = (out / "feedback" / "wrong_shape" / "01_gan_theory.html").read_text()
    assert "expected shape (), got (3,)" in page and "CheckFailed" in page and "Hidden test" in page


def test_corrupt_and_missing_notebooks_are_recorded(ordinary):
    out, _ = ordinary
    rows = _by_student(out)
    assert {r["status"] for r in rows["corrupt"].values()} == {"error"}
    assert all("not valid JSON" in r["message"] for r in rows["corrupt"].values())
    assert {r["status"] for r in rows["missing"].values()} == {"missing"}
    for student in ("corrupt", "missing"):
        assert "Grade: 0 / 3" in (out / "feedback" / student / "01_gan_theory.html").read_text()


def test_the_csv_files(ordinary):
    out, rows = ordinary
    grades = _csv(out / "grades.csv")
    assert list(grades[0]) == COLUMNS == ["student", "notebook", "exercise", "points", "max_points", "status",
                                          "message"]
    # two hidden tests and one written answer (01-reading, 3 points, pending where the notebook could be read)
    assert len(grades) == len(rows) == 6 * 3 and {r["notebook"] for r in grades} == {NAME}
    assert {r["status"] for r in grades} <= {"pass", "fail", "error", "timeout", "missing", "pending"}
    summary = {r["student"]: r for r in _csv(out / "summary.csv")}
    assert list(next(iter(summary.values()))) == SUMMARY_COLUMNS
    assert {s: (r["total"], r["max_points"], r["pending_points"]) for s, r in summary.items()} == {
        "corrupt": ("0", "6", "0"), "half": ("1", "6", "3"), "missing": ("0", "6", "0"), "quick": ("1", "6", "3"),
        "untouched": ("0", "6", "3"), "wrong_shape": ("0", "6", "3")}


# Tries what a hostile or careless submission might do outside its scratch folder. Layer 1 (the audit hook)
# refuses each Python call; the last cell, as root only, goes around the hook (_posixsubprocess.fork_exec raises
# no audit event) to run rm in C, which layer 2 (the job's own uid) stops.
ATTACK = """
import os, shutil
outcome = {{}}
for name, attack in {{"remove": lambda: os.remove({sentinel!r}),
                     "overwrite": lambda: open({other!r}, "w").write("{{}}"),
                     "rmtree": lambda: shutil.rmtree({other_dir!r}),
                     "read": lambda: open({other!r}).read()}}.items():
    try:
        attack()
        outcome[name] = "done"
    except Exception as exc:
        outcome[name] = type(exc).__name__
print("outcome:", outcome)
"""
C_LEVEL = """
import _posixsubprocess, os
read_end, write_end = os.pipe()
pid = _posixsubprocess.fork_exec(
    [b"/bin/rm", b"-rf", {sentinel!r}, {other!r}], [b"/bin/rm"], True, (write_end,), None, None, -1, -1, -1, -1,
    -1, -1, read_end, write_end, True, False, -1, None, None, None, -1, None, False)
print("rm exited with", os.waitpid(pid, 0)[1])
"""


def test_c_level_attack_works_without_the_sandbox(tmp_path):
    """The positive control of the C-level cell: run here, with no sandbox, it deletes its targets."""
    targets = [tmp_path / "a", tmp_path / "b"]
    for path in targets:
        path.write_text("x")
    exec(C_LEVEL.format(sentinel=str(targets[0]).encode(), other=str(targets[1]).encode()), {})
    assert not any(p.exists() for p in targets)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    subs = root / "submissions"
    looping = _handout()
    looping.cells.insert(5, nbformat.v4.new_code_cell("while True:\n    pass"))
    _write(subs, "looper", looping)
    solution_fid = _cell_defining(_solution(), "fid_by_hand").source
    other = _write(subs, "fid_only", _code_notebook("import numpy as np", solution_fid))
    sentinels = [root / "sentinel.txt", root / "sentinel-c.txt"]
    for path in sentinels:
        path.write_text("still here")
    cells = [ATTACK.format(sentinel=str(sentinels[0]), other=str(other), other_dir=str(other.parent))]
    if AS_ROOT:
        cells.append(C_LEVEL.format(sentinel=str(sentinels[1]).encode(), other=str(other).encode()))
    _write(subs, "attacker", _code_notebook(*cells))
    _write(subs, "crasher", _code_notebook("import os\nos._exit(3)", "print('never runs')"))
    before = other.read_bytes()
    code = main(["grade", str(subs), "--out", str(root / "out"), "--jobs", "2", "--timeout", "45",
                 "--notebooks", "01"])
    return root / "out", code, sentinels, other, before


def test_a_notebook_that_loops_forever_times_out_and_the_others_are_graded(hostile):
    out, code, *_ = hostile
    assert code == 0
    rows = _by_student(out)
    assert {r["status"] for r in rows["looper"].values()} == {"timeout"}
    assert all("time limit (45 s)" in r["message"] for r in rows["looper"].values())
    assert (rows["fid_only"]["fid"]["status"], rows["fid_only"]["fid"]["points"]) == ("pass", "1")
    assert rows["fid_only"]["toy_step"]["status"] == "error"  # make_toy_step is not defined: a NameError
    assert "NameError" in rows["fid_only"]["toy_step"]["message"]


def test_a_kernel_that_dies_is_an_error(hostile):
    out, *_ = hostile
    rows = _by_student(out)["crasher"]
    assert {r["status"] for r in rows.values()} == {"error"}
    # cell 0 of the graded notebook is the grader's injected parameters (the feedback page shows it): the student's
    # os._exit is cell 1
    assert all("the kernel died in cell 1" in r["message"] for r in rows.values())


def test_files_outside_the_scratch_folder_survive(hostile):
    out, _, sentinels, other, before = hostile
    assert [p.read_text() for p in sentinels] == ["still here", "still here"]
    assert other.read_bytes() == before
    page = (out / "feedback" / "attacker" / "01_gan_theory.html").read_text()
    assert "outcome:" in page
    for attack in ("remove", "overwrite", "rmtree", "read"):
        assert f"&#39;{attack}&#39;: &#39;PermissionError&#39;" in page or f"'{attack}': 'PermissionError'" in page
    if AS_ROOT:
        assert "rm exited with 256" in page  # rm ran, as the job's uid, and could delete neither file


def test_statuses_from_the_runner_answer():
    tests = [HiddenTest(name, 1, "check()", i) for i, name in enumerate("abcdefg")]
    cells = {0: {"status": "ok"}, 1: {"status": "error", "ename": "CheckFailed", "evalue": "expected 1\ngot 2"},
             2: {"status": "error", "ename": "ZeroDivisionError", "evalue": "division by zero"},
             3: {"status": "timeout"}, 4: {"status": "not-run", "reason": "timeout", "at": 3},
             5: {"status": "dead"}}
    rows = hidden_test_rows("s", NAME, tests, list(range(7)), {"cells": cells}, 60)
    assert [(r.status, r.points) for r in rows] == [("pass", 1), ("fail", 0), ("error", 0), ("timeout", 0),
                                                    ("timeout", 0), ("error", 0), ("error", 0)]
    assert rows[1].message == "CheckFailed: expected 1\ngot 2"
    assert rows[2].message == "ZeroDivisionError: division by zero"
    assert "reached in cell 3 before this test ran" in rows[4].message


def test_a_relative_path_with_no_directory_descriptor_is_under_the_cwd(tmp_path, monkeypatch):
    """os.mkdir("outputs/runs") reaches the audit hook with dir_fd=-1 ("none"): the path is the cwd's, not
    /proc/self/fd/-1's (every training run of a graded notebook failed on that)."""
    from gan_kit.instructor.guard import _resolve

    monkeypatch.chdir(tmp_path)
    want = str((tmp_path / "outputs" / "runs").resolve())
    assert _resolve("outputs/runs", -1) == _resolve("outputs/runs", None) == _resolve("outputs/runs", -100) == want
    with open(tmp_path / "marker", "w"):
        pass
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        assert _resolve("marker", fd) == str((tmp_path / "marker").resolve())
    finally:
        os.close(fd)


def test_the_grader_sets_the_runs_size_whatever_the_parameters_cell_says(ordinary):
    """The "quick" student's 100,000 toy steps under the quick profile would run for hours; the grader injects the
    course's parameters under smoke after the parameters cell, as papermill does, so it is graded like the rest."""
    out, _ = ordinary
    rows = _by_student(out)
    assert rows["quick"]["fid"]["status"] == "pass" and rows["quick"]["toy_step"]["status"] == "fail"
    page = (out / "feedback" / "quick" / "01_gan_theory.html").read_text()
    assert "Parameters injected by the grader" in page


def test_injected_parameters_follow_the_parameters_cell():
    from gan_kit.instructor.grading import INJECTED, grading_parameters, inject_parameters

    nb = _code_notebook("a = 1", "profile = 'quick'", "b = 2")
    nb.cells[1].metadata["tags"] = ["parameters"]
    source = grading_parameters(_solution())
    assert source.rstrip().endswith('profile = "smoke"') and "toy_steps = None" in source
    inject_parameters(nb, source)
    inject_parameters(nb, source)  # a second injection replaces the first
    assert [INJECTED in c.metadata.get("tags", []) for c in nb.cells] == [False, False, True, False]
    bare = _code_notebook("x = 1")
    inject_parameters(bare, source)
    assert INJECTED in bare.cells[0].metadata["tags"]
