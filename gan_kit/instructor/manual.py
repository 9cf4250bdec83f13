"""Written answers marked by hand: their points and rubrics, the TA's page, and merging the TA's marks.

A solution notebook's ``answer`` cell (its model answer) carries its question's id, points and an instructor-only
rubric in its metadata, as nbgrader's manually graded cells do::

    "gan_kit": {"question": "02-theory-1", "points": 2, "rubric": "what a full-mark answer must say"}

``grade`` (:mod:`.grading`) then adds to ``grades.csv`` one row per (student, notebook, question): status
``pending``, 0 of the question's points (``missing`` or ``error`` when the notebook is missing or unreadable). It
writes ``OUT/manual/<notebook>.html`` (per question: the rubric, then every student's answer, escaped, with a
points field) and ``OUT/manual/marks.csv`` (student, notebook, question, max_points, points, comment), which a
TA fills in. ``python -m gan_kit grade --merge-manual marks.csv --out OUT`` (:func:`merge_marks`) merges it into
``grades.csv`` and ``summary.csv`` without running any notebook: a marked row gets status ``marked``, the TA's
points and comment; a row left blank stays ``pending``, and ``summary.csv``'s ``pending_points`` says how many
points still await a mark. A malformed file is refused whole, each bad line named with its fix.

The student's answer is the submission's cell with the model answer's cell id (the handout keeps it), else its
k-th ``answer`` cell; a submission without either, or with the placeholder left as it was, shows "(no answer)".
"""

from __future__ import annotations

import csv
import html
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import nbformat

from .class_report import write_class_report
from .grades import COLUMNS, Row, course_tests, read_submission, write_csvs
from .handouts import ANSWER, META, is_selected, solution_notebooks, tags

PENDING, MARKED = "pending", "marked"
AWAITING = "awaiting a TA's mark"
NO_ANSWER = "(no answer)"
MAX_ANSWER_CHARS = 20_000  # an answer longer than this is cut on the TA's page
MARKS_COLUMNS = ["student", "notebook", "question", "max_points", "points", "comment"]
REQUIRED_COLUMNS = ["student", "notebook", "question", "points"]
_PLACEHOLDER = re.compile(r"^\s*\*\*Your answer(?::\*\*|\*\*(?:\s*\(\d+ points?\))?:)\s*(?:\(write it here\))?\s*")


class ManualError(ValueError):
    """A written question's metadata, or a TA's marks file, is malformed."""


@dataclass(frozen=True)
class Question:
    """A written question of a solution notebook: its id, points, rubric, and where its answer cell is."""

    notebook: str
    question: str
    points: int
    rubric: str
    prompt: str  # the cell before the answer cell: the question as students read it
    cell_id: str | None
    position: int  # the answer cell's rank among the notebook's answer cells


@dataclass(frozen=True)
class Answer:
    """One student's answer to one question, and its row's status (pending, missing or error) and message."""

    student: str
    question: Question
    text: str
    status: str
    message: str

    def row(self) -> Row:
        """Its row of grades.csv."""
        q = self.question
        return Row(self.student, q.notebook, q.question, 0, q.points, self.status, self.message)


def _question(cell, previous, name: str, index: int, position: int) -> Question:
    meta = cell.metadata.get(META)
    fix = (f'{name} cell {index}: an answer cell needs {{"{META}": {{"question": ID, "points": N, "rubric": TEXT}}}} '
           "in its metadata (a unique id such as 02-theory-1, whole points >= 1, the rubric for the TA)")
    if not isinstance(meta, dict):
        raise ManualError(f"{fix}; it has none.")
    question, points, rubric = meta.get("question"), meta.get("points"), meta.get("rubric")
    if not isinstance(question, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", question):
        raise ManualError(f"{fix}; its question is {question!r} (letters, digits, '-', '_', '.').")
    if isinstance(points, bool) or not isinstance(points, int) or points < 1:
        raise ManualError(f"{fix}; its points are {points!r}.")
    if not isinstance(rubric, str) or not rubric.strip():
        raise ManualError(f"{fix}; its rubric is empty.")
    prompt = previous.source if previous is not None else ""
    return Question(name, question, points, rubric.strip(), prompt, cell.get("id"), position)


def notebook_questions(notebook: nbformat.NotebookNode, name: str = "notebook") -> list[Question]:
    """The written questions of a solution notebook (its ``answer`` cells), in order; ``ManualError`` if one has
    no valid ``gan_kit`` metadata."""
    found: list[Question] = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown" and ANSWER in tags(cell):
            found.append(_question(cell, notebook.cells[index - 1] if index else None, name, index, len(found)))
    return found


def course_questions(notebooks_dir: str | Path = "notebooks", only: Iterable[str] | None = None
                     ) -> dict[str, list[Question]]:
    """``{notebook file name: [Question, ...]}`` of the solution notebooks with written questions (``only``: names
    or prefixes to keep); question ids are unique across the course."""
    wanted = [w.strip() for w in only or [] if w.strip()]
    questions: dict[str, list[Question]] = {}
    seen: dict[str, str] = {}
    for path in solution_notebooks(notebooks_dir):
        found = notebook_questions(nbformat.read(path, as_version=4), path.name)
        for q in found:
            if q.question in seen:
                raise ManualError(f"question id {q.question!r} is used in {seen[q.question]} and {path.name}: give "
                                  "each answer cell its own id.")
            seen[q.question] = path.name
        if found and (not wanted or is_selected(path.name, wanted)):
            questions[path.name] = found
    return questions


def graded_work(notebooks_dir: str | Path, only: Iterable[str] | None = None
                ) -> tuple[dict[str, list], dict[str, list[Question]]]:
    """The hidden tests and the written questions that ``grade`` grades: those of the notebooks ``only`` names
    (names or prefixes; all by default); ``ValueError`` when it names none that has either."""
    wanted = [w.strip() for w in only or [] if w.strip()]
    tests = {k: v for k, v in course_tests(notebooks_dir).items() if not wanted or is_selected(k, wanted)}
    questions = course_questions(notebooks_dir, wanted)
    if not tests and not questions:
        raise ValueError(f"no solution notebook with hidden tests or written questions matches {', '.join(wanted)} "
                         f"in {notebooks_dir}.")
    return tests, questions


def answer_text(source: str) -> str:
    """What the student wrote in an answer cell: its text less the handout's placeholder ("(no answer)" if none),
    cut at :data:`MAX_ANSWER_CHARS`."""
    text = _PLACEHOLDER.sub("", source, count=1).strip()
    if len(text) > MAX_ANSWER_CHARS:
        text = f"{text[:MAX_ANSWER_CHARS]}\n... ({len(text) - MAX_ANSWER_CHARS} more characters in the notebook)"
    return text or NO_ANSWER


def student_answer(submission: nbformat.NotebookNode, question: Question) -> str:
    """The student's answer to ``question``: the cell with the answer cell's id, else the submission's answer cell
    of the same rank; "(no answer)" when there is neither."""
    cell = next((c for c in submission.cells if question.cell_id and c.get("id") == question.cell_id), None)
    if cell is None:
        answers = [c for c in submission.cells if ANSWER in tags(c)]
        cell = answers[question.position] if question.position < len(answers) else None
    if cell is None or not isinstance(cell.get("source"), str):
        return NO_ANSWER
    return answer_text(cell.source)


def collect_answers(submissions: Path, students: list[str], questions: dict[str, list[Question]]) -> list[Answer]:
    """Every student's answer to every question, read from their submitted notebooks (in this process: reading
    JSON runs none of it)."""
    answers = []
    for student in students:
        for name, notebook_questions_ in questions.items():
            path = submissions / student / name
            try:
                submission = read_submission(path) if path.is_file() else None
                status, message = (PENDING, AWAITING) if submission is not None else (
                    "missing", f"no {name} in {student}'s folder")
            except (OSError, ValueError) as exc:
                submission, status, message = None, "error", f"{name}: {exc}"
            for q in notebook_questions_:
                text = student_answer(submission, q) if submission is not None else NO_ANSWER
                answers.append(Answer(student, q, text, status, message))
    return answers


def with_answers(rows: list[Row], answers: list[Answer]) -> list[Row]:
    """The autograded ``rows`` and the answers' rows, grouped by student and notebook (hidden tests first)."""
    return sorted([*rows, *(a.row() for a in answers)], key=lambda r: (r.student, r.notebook))


STYLE = ("body{font-family:sans-serif;max-width:70em;margin:2em auto;line-height:1.4}"
         "table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.4em;vertical-align:top}"
         "pre{white-space:pre-wrap;margin:0;font-family:inherit}.rubric{background:#fff8dc;padding:.6em}"
         "input{width:4em}td:first-child{width:9em}td:last-child{width:9em}")


def _question_html(question: Question, answers: list[tuple[int, Answer]]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(a.student)}</td><td><pre>{html.escape(a.text)}</pre></td>"
        f"<td><input type='number' min='0' max='{question.points}' step='1' "
        f"name='{html.escape(f'{a.student}/{question.notebook}/{question.question}')}'> / {question.points}"
        f"<br><small>marks.csv line {line}</small></td></tr>" for line, a in answers)
    return (f"<section id='{html.escape(question.question)}'><h2>{html.escape(question.question)} "
            f"({question.points} point{'s' if question.points != 1 else ''})</h2>"
            f"<details><summary>The question</summary><pre>{html.escape(question.prompt)}</pre></details>"
            f"<div class='rubric'><b>Rubric:</b> {html.escape(question.rubric)}</div>"
            f"<table><tr><th>student</th><th>answer</th><th>points</th></tr>{rows}</table></section>")


def ta_page(notebook: str, answers: list[tuple[int, Answer]]) -> str:
    """The TA's page of one notebook: per question, its rubric, then each ``(marks.csv line, answer)``."""
    by_question: dict[str, list[tuple[int, Answer]]] = {}
    for line, answer in answers:
        by_question.setdefault(answer.question.question, []).append((line, answer))
    sections = "".join(_question_html(items[0][1].question, items) for items in by_question.values())
    title = html.escape(f"Written answers: {notebook}")
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{title}</title><style>{STYLE}</style>"
            f"</head>\n<body><h1>{title}</h1><p>Give each answer its points in <code>marks.csv</code> (the line "
            "under each points field; the rubric is for you only), then merge them: <code>python -m gan_kit grade "
            "--merge-manual marks.csv --out OUT</code>. A line left blank stays pending.</p>"
            f"{sections}</body></html>\n")


def _keep_filled(marks: Path) -> None:
    """Move aside a marks.csv that a TA has started to fill in, so a new grading run cannot overwrite it."""
    if not marks.is_file():
        return
    with open(marks, newline="", encoding="utf-8") as handle:
        filled = any((row.get("points") or "").strip() for row in csv.DictReader(handle))
    if filled:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        kept = next(path for n in range(1000) if not (path := marks.with_name(
            f"marks-{stamp}{f'-{n}' if n else ''}.csv")).exists())
        marks.rename(kept)
        print(f"{marks} had marks in it: kept as {kept}")


def write_ta_files(out: Path, answers: list[Answer]) -> tuple[Path, list[Path]]:
    """``OUT/manual/marks.csv`` (one blank line per pending answer, by notebook, question and student) and one
    TA page per notebook; returns (marks.csv, pages)."""
    folder = out / "manual"
    folder.mkdir(parents=True, exist_ok=True)
    pending = sorted((a for a in answers if a.status == PENDING),
                     key=lambda a: (a.question.notebook, a.question.position, a.student))
    marks = folder / "marks.csv"
    _keep_filled(marks)
    with open(marks, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(MARKS_COLUMNS)
        writer.writerows([a.student, a.question.notebook, a.question.question, a.question.points, "", ""]
                         for a in pending)
    by_notebook: dict[str, list[tuple[int, Answer]]] = {}
    for line, answer in enumerate(pending, start=2):
        by_notebook.setdefault(answer.question.notebook, []).append((line, answer))
    pages = []
    for notebook, items in by_notebook.items():
        page = folder / f"{Path(notebook).stem}.html"
        page.write_text(ta_page(notebook, items), encoding="utf-8")
        pages.append(page)
    return marks, pages


def read_grades(path: Path) -> list[Row]:
    """The rows of a grades.csv that ``grade`` wrote."""
    if not path.is_file():
        raise FileNotFoundError(f"no {path}: run `python -m gan_kit grade SUBMISSIONS --out {path.parent}` first, "
                                "then merge the TA's marks into that folder.")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames != COLUMNS:
            raise ManualError(f"{path} has columns {reader.fieldnames}, not grade's {COLUMNS}: give --out the "
                              "folder that grade wrote.")
        return [Row(r["student"], r["notebook"], r["exercise"], int(r["points"]), int(r["max_points"]),
                    r["status"], r["message"]) for r in reader]


def _mark(line: int, record: dict, row: Row | None) -> tuple[int | None, str | None]:
    """(points or None for a blank line, error or None) of one line of a marks file."""
    where = f"line {line} ({record.get('student')}, {record.get('notebook')}, {record.get('question')})"
    if row is None:
        return None, (f"{where}: no written answer awaits a mark under that student, notebook and question in "
                      "grades.csv; copy these three from the marks.csv that grade wrote.")
    text = (record.get("points") or "").strip()
    if not text:
        return None, None
    if not re.fullmatch(r"[+-]?\d+", text):
        return None, f"{where}: points {text!r} is not a whole number; write one from 0 to {row.max_points}."
    points = int(text)
    if not 0 <= points <= row.max_points:
        return None, f"{where}: points {points} is outside 0..{row.max_points}; write one from 0 to {row.max_points}."
    given_max = (record.get("max_points") or "").strip()
    if given_max and given_max != str(row.max_points):
        return None, (f"{where}: max_points {given_max} is not the question's {row.max_points}; leave the "
                      "max_points column as grade wrote it.")
    return points, None


def read_marks(path: Path, rows: list[Row]) -> dict[tuple[str, str, str], tuple[int, str]]:
    """``{(student, notebook, question): (points, comment)}`` of a TA's marks file, checked against ``rows``
    (blank points are left out); ``ManualError`` naming every bad line and its fix."""
    markable = {(r.student, r.notebook, r.exercise): r for r in rows if r.status in (PENDING, MARKED)}
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ManualError(f"{path}: line 1 has no column {', '.join(missing)}; the header must be "
                              f"{','.join(MARKS_COLUMNS)} (as in the marks.csv that grade wrote).")
        marks: dict[tuple[str, str, str], tuple[int, str]] = {}
        first: dict[tuple[str, str, str], int] = {}
        errors = []
        for record in reader:
            line = reader.line_num
            key = (record.get("student") or "", record.get("notebook") or "", record.get("question") or "")
            if key in first:
                errors.append(f"line {line}: the same answer as line {first[key]} ({', '.join(key)}); keep one of "
                              "the two lines.")
                continue
            first[key] = line
            points, error = _mark(line, record, markable.get(key))
            if error:
                errors.append(error)
            elif points is not None:
                marks[key] = (points, (record.get("comment") or "").strip())
    if errors:
        raise ManualError(f"{path} is refused, grades.csv is unchanged:\n  " + "\n  ".join(errors))
    return marks


def merge_marks(marks_file: str | Path, out: str | Path) -> list[Row]:
    """Merge a TA's marks file into ``OUT/grades.csv`` and ``OUT/summary.csv`` (no notebook is run); returns the
    new rows. A malformed file changes nothing."""
    marks_file, out = Path(marks_file), Path(out)
    if not marks_file.is_file():
        raise FileNotFoundError(f"no marks file {marks_file}: give the marks.csv that grade wrote into "
                                f"{out / 'manual'}, filled in.")
    rows = read_grades(out / "grades.csv")
    marks = read_marks(marks_file, rows)
    merged = []
    for row in rows:
        mark = marks.get((row.student, row.notebook, row.exercise))
        merged.append(replace(row, points=mark[0], status=MARKED, message=mark[1]) if mark else row)
    write_csvs(merged, out)
    write_class_report(merged, out)
    return merged


__all__ = ["AWAITING", "MARKED", "MARKS_COLUMNS", "MAX_ANSWER_CHARS", "NO_ANSWER", "PENDING", "Answer", "ManualError",
           "Question", "answer_text", "collect_answers", "course_questions", "graded_work", "merge_marks",
           "notebook_questions", "read_grades", "read_marks", "student_answer", "ta_page", "with_answers",
           "write_ta_files"]
