"""Written answers with points. Each answer cell of the solutions carries a question id, points and a
rubric; handouts show every exercise's and question's points and never the rubric; ``grade`` writes a pending row
per answer, a TA page and marks.csv; ``grade --merge-manual`` merges the TA's marks or refuses a bad file whole."""

from __future__ import annotations

import csv
import html
import shutil
from pathlib import Path

import nbformat
import pytest

from gan_kit.__main__ import main
from gan_kit.instructor.grades import SUMMARY_COLUMNS, Row, write_csvs
from gan_kit.instructor.grading import grade
from gan_kit.instructor.handouts import ANSWER, EXERCISE, META, build_handouts, hidden_tests, make_handout, tags
from gan_kit.instructor.manual import (
    AWAITING,
    MARKS_COLUMNS,
    NO_ANSWER,
    ManualError,
    course_questions,
    merge_marks,
    notebook_questions,
    student_answer,
)
from tests.conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NAME = "01_gan_theory.ipynb"
HOSTILE = '<script>alert("pwned")</script> JSD & slope: <b>rises</b> towards log 2'


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _answer_cells(nb: nbformat.NotebookNode) -> list:
    return [c for c in nb.cells if ANSWER in tags(c)]


def _csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# --- the solutions' metadata -----------------------------------------------------------------------------------


def test_every_answer_cell_has_a_unique_question_positive_points_and_a_rubric():
    seen = set()
    for path in NOTEBOOKS:
        for cell in _answer_cells(_read(path)):
            meta = cell.metadata.get(META)
            assert isinstance(meta, dict), f"{path.name}: an answer cell has no {META} metadata"
            assert isinstance(meta["question"], str) and meta["question"].startswith(path.name[:2])
            assert meta["question"] not in seen, f"question id {meta['question']} is used twice"
            seen.add(meta["question"])
            assert isinstance(meta["points"], int) and 1 <= meta["points"] <= 3
            assert isinstance(meta["rubric"], str) and len(meta["rubric"].strip()) > 40
    questions = course_questions(REPO / "notebooks")
    assert sorted(q.question for qs in questions.values() for q in qs) == sorted(seen)
    assert set(questions) == {p.name for p in NOTEBOOKS if _answer_cells(_read(p))}
    assert len(seen) >= 12 and not any(p.name.startswith("00") for p in map(Path, questions))


@pytest.mark.parametrize("meta, problem", [
    (None, "it has none"), ({"question": "q 1", "points": 1, "rubric": "r"}, "its question"),
    ({"question": "q1", "points": 0, "rubric": "r"}, "its points"),
    ({"question": "q1", "points": True, "rubric": "r"}, "its points"),
    ({"question": "q1", "points": 2, "rubric": "  "}, "its rubric is empty")])
def test_an_answer_cell_without_valid_metadata_is_refused(meta, problem):
    nb = nbformat.v4.new_notebook()
    metadata = {"tags": [ANSWER], **({META: meta} if meta is not None else {})}
    nb.cells = [nbformat.v4.new_markdown_cell("Q?"), nbformat.v4.new_markdown_cell("A.", metadata=metadata)]
    with pytest.raises(ManualError, match=f"x.ipynb cell 1: an answer cell needs .*{problem}"):
        notebook_questions(nb, "x.ipynb")


def test_a_question_id_used_twice_in_the_course_is_refused(tmp_path):
    for name in ("01_a.ipynb", "02_b.ipynb"):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell("A.", metadata={"tags": [ANSWER], META: {
            "question": "same", "points": 1, "rubric": "says so"}})]
        nbformat.write(nb, tmp_path / name)
    with pytest.raises(ManualError, match="'same' is used in 01_a.ipynb and 02_b.ipynb"):
        course_questions(tmp_path)


# --- handouts ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_handout_shows_each_points_and_no_rubric(path):
    solution = _read(path)
    handout, _ = make_handout(solution, path.name)
    for model, blank in zip(_answer_cells(solution), _answer_cells(handout), strict=True):
        points = model.metadata[META]["points"]
        assert blank.source == f"**Your answer** ({points} point{'s' if points != 1 else ''}): (write it here)"
        assert blank.metadata == {"tags": [ANSWER]}
    stubs = "\n".join(c.source for c in handout.cells if EXERCISE in tags(c))
    for test in hidden_tests(solution, path.name):
        assert f"{test.exercise} ({test.points} point{'s' if test.points != 1 else ''})" in stubs
    text = nbformat.writes(handout)
    assert f'"{META}"' not in text and '"rubric"' not in text
    for model in _answer_cells(solution):
        assert model.metadata[META]["rubric"] not in text


def test_a_stub_cell_names_its_exercises_and_their_points():
    handout, _ = make_handout(_read(REPO / "notebooks" / "05_gan_vs_vae.ipynb"), "05")
    first_lines = [c.source.splitlines()[0] for c in handout.cells if EXERCISE in tags(c)]
    assert "# Graded exercises: reparameterize (1 point) and kl_divergence (1 point)" in first_lines
    theory, _ = make_handout(_read(REPO / "notebooks" / NAME), NAME)
    assert [c.source.splitlines()[0] for c in theory.cells if EXERCISE in tags(c)] == [
        "# Graded exercise: toy_step (2 points)", "# Graded exercise: fid (1 point)"]


def test_no_written_handout_holds_a_rubric(tmp_path):
    """What `make handouts` and a release write: grepped for every rubric and for the metadata key."""
    written = build_handouts(REPO / "notebooks", tmp_path, every=True, quiet=True)
    assert len(written) == len(NOTEBOOKS)
    rubrics = [q.rubric for qs in course_questions(REPO / "notebooks").values() for q in qs]
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert f'"{META}"' not in text and not any(r in text or r[:60] in text for r in rubrics), path.name


# --- finding the student's answer -----------------------------------------------------------------------------


def test_the_answer_is_found_by_cell_id_then_by_rank():
    solution = _read(REPO / "notebooks" / "02_dcgan_cifar10.ipynb")
    questions = notebook_questions(solution, "02_dcgan_cifar10.ipynb")
    submission, _ = make_handout(solution, "02")
    blanks = _answer_cells(submission)
    assert [student_answer(submission, q) for q in questions] == [NO_ANSWER] * len(questions)  # placeholders left
    blanks[1].source = blanks[1].source.replace("(write it here)", "G collapses onto a few modes.")
    blanks[2].source = "D is a learned loss."
    blanks[2].id = "renamed"  # no cell with the model answer's id: the third answer cell is the third answer
    assert student_answer(submission, questions[1]) == "G collapses onto a few modes."
    assert student_answer(submission, questions[2]) == "D is a learned loss."
    submission.cells.remove(blanks[3])  # no such cell, and fewer answer cells than its rank: no answer
    assert student_answer(submission, questions[3]) == NO_ANSWER


# --- a grading run of notebook 01 -------------------------------------------------------------------------------


def _submission(answer: str | None) -> nbformat.NotebookNode:
    nb = make_handout(_read(REPO / "notebooks" / NAME), NAME)[0]
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source = params.source.replace("toy_steps = None", "toy_steps = 20")
    if answer is not None:
        _answer_cells(nb)[0].source = answer
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """alice wrote a hostile answer; bob left the placeholder; carl handed nothing in; dora's file is not JSON."""
    root = tmp_path_factory.mktemp("manual")
    subs = root / "submissions"
    for student, answer in (("alice", HOSTILE), ("bob", None)):
        (subs / student).mkdir(parents=True)
        nbformat.write(_submission(answer), subs / student / NAME)
    (subs / "carl").mkdir()
    (subs / "dora").mkdir()
    (subs / "dora" / NAME).write_text('{"cells": [ not JSON')
    rows = grade(subs, root / "out", notebooks_dir=REPO / "notebooks", jobs=2, timeout=300, only=["01"])
    return root / "out", rows


def test_grade_writes_a_pending_row_per_written_answer(graded):
    out, rows = graded
    manual = {r["student"]: r for r in _csv(out / "grades.csv") if r["exercise"] == "01-reading"}
    assert {s: (r["notebook"], r["points"], r["max_points"], r["status"]) for s, r in manual.items()} == {
        "alice": (NAME, "0", "3", "pending"), "bob": (NAME, "0", "3", "pending"), "carl": (NAME, "0", "3", "missing"),
        "dora": (NAME, "0", "3", "error")}
    assert manual["alice"]["message"] == AWAITING and "not valid JSON" in manual["dora"]["message"]
    assert len(rows) == 4 * 3 and {r.exercise for r in rows} == {"toy_step", "fid", "01-reading"}
    summary = {r["student"]: r for r in _csv(out / "summary.csv")}
    assert list(next(iter(summary.values()))) == SUMMARY_COLUMNS
    assert {s: (r["max_points"], r["pending_points"]) for s, r in summary.items()} == {
        "alice": ("6", "3"), "bob": ("6", "3"), "carl": ("6", "0"), "dora": ("6", "0")}


def test_the_ta_page_shows_the_rubric_and_each_answer_escaped(graded):
    out, _ = graded
    page = (out / "manual" / "01_gan_theory.html").read_text(encoding="utf-8")
    rubric = course_questions(REPO / "notebooks", ["01"])[NAME][0].rubric
    assert "01-reading (3 points)" in page and html.escape(rubric) in page
    assert "<script" not in page and "<b>rises" not in page
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; JSD &amp; slope: &lt;b&gt;rises&lt;/b&gt;" in page
    assert page.count("<input type='number'") == 2 and "name='bob/01_gan_theory.ipynb/01-reading'" in page
    assert f"<pre>{NO_ANSWER}</pre>" in page and "carl" not in page and "dora" not in page
    assert page.index("Rubric:") < page.index("alice") < page.index("bob")


def test_marks_csv_lists_each_pending_answer_blank(graded):
    out, _ = graded
    marks = _csv(out / "manual" / "marks.csv")
    assert list(marks[0]) == MARKS_COLUMNS
    assert [(m["student"], m["notebook"], m["question"], m["max_points"], m["points"], m["comment"])
            for m in marks] == [("alice", NAME, "01-reading", "3", "", ""), ("bob", NAME, "01-reading", "3", "", "")]


def test_the_marks_round_trip(graded, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    for name in ("grades.csv", "summary.csv"):
        shutil.copy(graded[0] / name, out / name)
    autograded = {r["student"]: int(r["total"]) for r in _csv(out / "summary.csv")}
    marks = _csv(graded[0] / "manual" / "marks.csv")
    marks[0].update(points="2", comment="JSD part right, FID part missing")
    filled = _write_csv(tmp_path / "marks.csv", MARKS_COLUMNS, [list(m.values()) for m in marks])
    assert main(["grade", "--merge-manual", str(filled), "--out", str(out)]) == 0
    assert "1 written answer(s) marked, 1 still pending" in capsys.readouterr().out
    grades = {(r["student"], r["exercise"]): r for r in _csv(out / "grades.csv")}
    alice = grades[("alice", "01-reading")]
    assert (alice["points"], alice["status"], alice["message"]) == ("2", "marked", "JSD part right, FID part missing")
    assert grades[("bob", "01-reading")]["status"] == "pending"
    summary = {r["student"]: r for r in _csv(out / "summary.csv")}
    assert (int(summary["alice"]["total"]), summary["alice"]["pending_points"]) == (autograded["alice"] + 2, "0")
    assert (int(summary["bob"]["total"]), summary["bob"]["pending_points"]) == (autograded["bob"], "3")
    marks[1]["points"] = "0"  # the second pass: bob marked too, alice re-marked from the same file
    merge_marks(_write_csv(tmp_path / "marks2.csv", MARKS_COLUMNS, [list(m.values()) for m in marks]), out)
    summary = {r["student"]: r for r in _csv(out / "summary.csv")}
    assert {s: (int(r["total"]) - autograded[s], r["pending_points"]) for s, r in summary.items()} == {
        "alice": (2, "0"), "bob": (0, "0"), "carl": (0, "0"), "dora": (0, "0")}


# --- malformed TA files ---------------------------------------------------------------------------------------


@pytest.fixture
def grades_folder(tmp_path) -> Path:
    rows = [Row("ann", NAME, "toy_step", 2, 2, "pass", ""), Row("ann", NAME, "01-reading", 0, 3, "pending", AWAITING),
            Row("ben", NAME, "01-reading", 0, 3, "pending", AWAITING),
            Row("cy", NAME, "01-reading", 0, 3, "missing", "no notebook")]
    write_csvs(rows, tmp_path)
    return tmp_path


@pytest.mark.parametrize("lines, message", [
    ([["ann", NAME, "01-reading", 3, "2", ""], ["zed", NAME, "01-reading", 3, "1", ""]],
     r"line 3 \(zed, 01_gan_theory.ipynb, 01-reading\): no written answer awaits a mark .* copy these three"),
    ([["ann", NAME, "01-reading", 3, "two", ""]], r"line 2 .*points 'two' is not a whole number; write one from 0"),
    ([["ann", NAME, "01-reading", 3, "2.5", ""]], r"line 2 .*points '2.5' is not a whole number"),
    ([["ann", NAME, "01-reading", 3, "4", ""]], r"line 2 .*points 4 is outside 0..3"),
    ([["ann", NAME, "01-reading", 3, "-1", ""]], r"line 2 .*points -1 is outside 0..3"),
    ([["ann", NAME, "01-reading", 3, "1", ""], ["ann", NAME, "01-reading", 3, "2", ""]],
     r"line 3: the same answer as line 2 .* keep one of the two lines"),
    ([["ann", NAME, "toy_step", 2, "1", ""]], r"line 2 \(ann, 01_gan_theory.ipynb, toy_step\): no written answer"),
    ([["cy", NAME, "01-reading", 3, "1", ""]], r"line 2 \(cy, .*\): no written answer awaits a mark"),
    ([["ann", NAME, "01-reading", 5, "1", ""]], r"line 2 .*max_points 5 is not the question's 3"),
])
def test_a_malformed_marks_file_is_refused_naming_the_line(grades_folder, lines, message, capsys):
    before = {n: (grades_folder / n).read_bytes() for n in ("grades.csv", "summary.csv")}
    marks = _write_csv(grades_folder / "marks.csv", MARKS_COLUMNS, lines)
    with pytest.raises(ManualError, match=message):
        merge_marks(marks, grades_folder)
    assert main(["grade", "--merge-manual", str(marks), "--out", str(grades_folder)]) == 2
    assert "grades.csv is unchanged" in capsys.readouterr().err
    assert {n: (grades_folder / n).read_bytes() for n in before} == before


def test_a_marks_file_without_a_points_column_is_refused(grades_folder):
    marks = _write_csv(grades_folder / "marks.csv", ["student", "notebook", "question", "mark"],
                       [["ann", NAME, "01-reading", "2"]])
    with pytest.raises(ManualError, match="line 1 has no column points; the header must be student,notebook,"):
        merge_marks(marks, grades_folder)


def test_merging_needs_a_grades_folder_and_a_marks_file(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="run `python -m gan_kit grade SUBMISSIONS --out"):
        merge_marks(_write_csv(tmp_path / "marks.csv", MARKS_COLUMNS, []), tmp_path / "nowhere")
    assert main(["grade", "--merge-manual", str(tmp_path / "absent.csv"), "--out", str(tmp_path)]) == 2
    assert "no marks file" in capsys.readouterr().err
    assert main(["grade", "--out", str(tmp_path)]) == 2
    assert "grade needs SUBMISSIONS" in capsys.readouterr().err


def test_a_notebook_with_written_questions_only_is_graded_without_running_it(tmp_path):
    """A notebook without hidden tests (04 with its hidden test taken out): grading it runs nothing and lists its
    answers for the TA."""
    subs, books = tmp_path / "subs", tmp_path / "notebooks"
    (subs / "eve").mkdir(parents=True)
    books.mkdir()
    name = "04_hyperparameters.ipynb"
    solution = _read(REPO / "notebooks" / name)
    solution.cells = [c for c in solution.cells if "hidden-test" not in c.metadata.get("tags", [])]
    nbformat.write(solution, books / name)
    handout = make_handout(solution, name)[0]
    _answer_cells(handout)[0].source = "**Your answer** (2 points): batch 128 had the least noisy losses."
    nbformat.write(handout, subs / "eve" / name)
    rows = grade(subs, tmp_path / "out", notebooks_dir=books, only=["04"])
    assert rows == [Row("eve", name, "04-reading", 0, 2, "pending", AWAITING)]
    page = (tmp_path / "out" / "manual" / "04_hyperparameters.html").read_text(encoding="utf-8")
    assert "<pre>batch 128 had the least noisy losses.</pre>" in page


def _answers(students: list[str]) -> list:
    from gan_kit.instructor.manual import Answer

    question = course_questions(REPO / "notebooks", ["04"])["04_hyperparameters.ipynb"][0]
    return [Answer(s, question, f"{s}'s answer", "pending", AWAITING) for s in students]


def test_a_new_grading_run_keeps_a_marks_file_a_ta_has_filled(tmp_path, capsys):
    from gan_kit.instructor.manual import write_ta_files

    marks, _ = write_ta_files(tmp_path, _answers(["ann", "ben"]))
    rows = _csv(marks)
    rows[0]["points"] = "1"
    _write_csv(marks, MARKS_COLUMNS, [list(r.values()) for r in rows])
    write_ta_files(tmp_path, _answers(["ann", "ben"]))
    kept = list((tmp_path / "manual").glob("marks-*.csv"))
    assert len(kept) == 1 and _csv(kept[0])[0]["points"] == "1" and "had marks in it" in capsys.readouterr().out
    assert [r["points"] for r in _csv(marks)] == ["", ""]
    write_ta_files(tmp_path, _answers(["ann"]))  # a blank one is simply rewritten
    assert len(list((tmp_path / "manual").glob("marks-*.csv"))) == 1 and len(_csv(marks)) == 1


def test_a_very_long_answer_is_cut_on_the_page():
    from gan_kit.instructor.manual import MAX_ANSWER_CHARS, answer_text

    text = answer_text("x" * (MAX_ANSWER_CHARS + 5))
    assert text.startswith("x" * MAX_ANSWER_CHARS) and text.endswith("(5 more characters in the notebook)")
    assert answer_text("**Your answer:** (write it here)") == NO_ANSWER
    assert answer_text("**Your answer** (1 point): because D*") == "because D*"


def test_grade_takes_submissions_or_marks_not_both(tmp_path, capsys):
    marks = _write_csv(tmp_path / "marks.csv", MARKS_COLUMNS, [])
    assert main(["grade", str(tmp_path), "--merge-manual", str(marks), "--out", str(tmp_path)]) == 2
    assert "not both" in capsys.readouterr().err
