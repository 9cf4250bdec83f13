"""Autograding: ``python -m gan_kit grade SUBMISSIONS --out OUT``.

``SUBMISSIONS`` holds one folder per student, each with that student's notebooks under their handout file names
(``alice/02_dcgan_cifar10.ipynb``). The exercises and their points are the ``hidden-test`` cells of the solution
notebooks (``notebooks/``). Each (student, notebook) is a job: a scratch copy (:mod:`.sandbox`) where the
student's cells run under the smoke profile, followed by the hidden tests, in a process of its own
(:mod:`.runner`) with a time limit for the whole notebook, a memory limit and a process limit (:mod:`.limits`:
the job's own cgroup where the grader's is writable, rlimits otherwise); ``jobs`` of them run at once.

A hidden test's status: ``pass`` (its cell ran without an error: its points), ``fail`` (it raised ``CheckFailed``,
``AssertionError`` or the stub's ``NotImplementedError``), ``error`` (any other exception, a kernel that died, a
file that is not a notebook), ``timeout`` (the notebook's time limit was reached before or while the test ran),
``missing`` (no such notebook), ``memory`` / ``processes`` (the job went over that limit: the OOM killer took its
kernel or a cell raised ``MemoryError``, or a fork or thread was refused; the job is stopped, and every test that
had not passed gets the status, with a message naming the limit). Nothing a submission does stops the batch.

Writes ``OUT/grades.csv`` (student, notebook, exercise, points, max_points, status, message),
``OUT/summary.csv`` (student, total, max_points, pending_points), ``OUT/feedback/<student>/<notebook>.html``
(the executed notebook, a table of the results first and each hidden test's output at the end) and, beside each page,
``<notebook>.cells.json`` (each cell's status: ``ok``, ``error`` with the exception, ``timeout``, ``not-run``);
``OUT/report.html`` is the class at a glance (:mod:`.class_report`). Each written answer (an ``answer`` cell) gets a
``pending`` row and a place on the TA's page, ``OUT/manual/`` (:mod:`.manual`).
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .class_report import write_class_report
from .grades import Row, read_submission, write_csvs
from .handouts import HiddenTest, clear_outputs
from .limits import JobLimits, Limits, cgroup_parents, describe, job_limits
from .sandbox import Scratch, claimed_uid, make_scratch, privileges
from .verdicts import hidden_calls, judge, recording_source, write_inputs

FAILURES = {"CheckFailed", "AssertionError", "NotImplementedError"}
GRADE_KEY = "gan_kit_grade"
GRACE = 60  # seconds past the time limit before the grader kills a job that did not stop by itself
MESSAGE_LINES, MESSAGE_CHARS = 4, 400


def _message(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines() if line.strip()]
    short = "\n".join(lines[:MESSAGE_LINES]) + ("\n..." if len(lines) > MESSAGE_LINES else "")
    return short if len(short) <= MESSAGE_CHARS else short[: MESSAGE_CHARS - 3] + "..."


def _rows(student: str, notebook: str, tests: list[HiddenTest], status: str, message: str) -> list[Row]:
    return [Row(student, notebook, t.exercise, 0, t.points, status, message) for t in tests]


INJECTED = "injected-parameters"  # papermill's tag for the cell it adds after the parameters cell


def grading_parameters(solution: nbformat.NotebookNode) -> str:
    """The source the grader injects after a submission's parameters cell: the solution's parameters (the
    instructor's defaults, whatever the student changed) under the smoke profile."""
    cell = next((c for c in solution.cells if "parameters" in c.metadata.get("tags", [])), None)
    defaults = cell.source if cell is not None else ""
    header = "# Parameters injected by the grader: the course's defaults, smoke profile"
    return f'{header}\n{defaults}\nprofile = "smoke"\n'


def inject_parameters(notebook: nbformat.NotebookNode, source: str) -> None:
    """Insert ``source`` as a cell tagged ``injected-parameters`` right after the notebook's ``parameters`` cell
    (at the top when it has none), as papermill does, replacing an earlier injected cell."""
    notebook.cells = [c for c in notebook.cells if INJECTED not in c.metadata.get("tags", [])]
    at = next((i + 1 for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", [])), 0)
    notebook.cells.insert(at, nbformat.v4.new_code_cell(source, metadata={"tags": [INJECTED]}))


def grading_notebook(submission: nbformat.NotebookNode, tests: list[HiddenTest],
                     parameters: str | None = None) -> tuple[nbformat.NotebookNode, list[int]]:
    """The student's notebook, outputs cleared, the grading ``parameters`` injected after its parameters cell,
    with a heading and a code cell per hidden test appended; returns it and the indexes of the hidden-test
    cells."""
    notebook = nbformat.from_dict(json.loads(json.dumps(submission)))
    for cell in notebook.cells:
        clear_outputs(cell)
    if parameters is not None:
        inject_parameters(notebook, parameters)
    indexes = []
    for test in tests:
        notebook.cells.append(nbformat.v4.new_markdown_cell(
            f"### Hidden test: `{test.exercise}` ({test.points} point{'s' if test.points != 1 else ''})"))
        source = recording_source(test.source) if hidden_calls(test.source) else test.source
        notebook.cells.append(nbformat.v4.new_code_cell(
            source, metadata={GRADE_KEY: {"exercise": test.exercise, "points": test.points}}))
        indexes.append(len(notebook.cells) - 1)
    nbformat.validate(notebook)
    return notebook, indexes


def hidden_test_rows(student: str, notebook: str, tests: list[HiddenTest], indexes: list[int], result: dict,
              time_limit: float) -> list[Row]:
    """The rows of a notebook's hidden tests from the runner's answer."""
    cells = {int(k): v for k, v in result.get("cells", {}).items()}
    rows = []
    for test, index in zip(tests, indexes):
        state = cells.get(index, {"status": "not-run", "reason": "error", "at": index})
        status, message = "error", ""
        if state["status"] == "ok":
            status = "pass"
        elif state["status"] == "error":
            status = "fail" if state["ename"] in FAILURES else "error"
            message = _message(f"{state['ename']}: {state['evalue']}" if state["evalue"] else state["ename"])
        elif state["status"] == "timeout":
            status, message = "timeout", f"this test was still running at the notebook's time limit ({time_limit:g} s)"
        elif state["status"] == "dead":
            message = "the kernel died while this test ran"
        elif state.get("reason") == "timeout":
            status = "timeout"
            message = (f"the notebook's time limit ({time_limit:g} s) was reached in cell {state['at']} "
                       "before this test ran")
        elif state.get("reason") == "dead":
            message = f"the kernel died in cell {state['at']}, before this test ran"
        else:
            message = _message(result.get("error") or "the grader could not run this test")
        rows.append(Row(student, notebook, test.exercise, test.points if status == "pass" else 0, test.points,
                        status, message))
    return rows


def judged(row: Row, verdicts: list[tuple[str, str]]) -> Row:
    """A hidden test's row once the grader has judged what its cell recorded: a cell that ran without an error
    passes only when every recorded output matches the grader's expected values."""
    failed = next((message for status, message in verdicts if status != "pass"), None)
    if row.status != "pass" or failed is None:
        return row
    return Row(row.student, row.notebook, row.exercise, 0, row.max_points, "fail", _message(failed))


def _summary_cell(rows: list[Row]) -> nbformat.NotebookNode:
    total, most = sum(r.points for r in rows), sum(r.max_points for r in rows)
    lines = [f"## Grade: {total} / {most}", "", "| exercise | status | points | message |", "| --- | --- | --- | --- |"]
    for r in rows:
        message = html.escape(r.message).replace("|", "&#124;").replace("\n", "<br>")
        lines.append(f"| `{r.exercise}` | **{r.status}** | {r.points} / {r.max_points} | {message} |")
    return nbformat.v4.new_markdown_cell("\n".join(lines))


_ACTIVE = ("text/html", "application/javascript", "image/svg+xml", "application/vnd.jupyter.widget-view+json")


def defang(notebook: nbformat.NotebookNode) -> None:
    """Keep the submission's HTML, scripts and SVG out of its feedback page: markdown ``<`` as text, outputs as text
    and bitmaps (the page is opened in the instructor's browser)."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = cell.source.replace("<", "&lt;")
        cell.pop("attachments", None)
        for output in cell.get("outputs", []):
            data = output.get("data")
            if isinstance(data, dict) and set(data) & set(_ACTIVE):
                for mime in _ACTIVE:
                    data.pop(mime, None)
                data.setdefault("text/plain", "[an HTML or script output, left out of this page]")


def feedback_html(executed: nbformat.NotebookNode, rows: list[Row], indexes: list[int]) -> str:
    """The executed notebook as HTML: the results table first, each hidden test's result above its cell."""
    from nbconvert import HTMLExporter

    notebook = nbformat.from_dict(json.loads(json.dumps(executed)))
    defang(notebook)
    for row, index in zip(rows, indexes):
        heading = notebook.cells[index - 1]
        heading.source += f"\n\n**{row.status}**, {row.points} / {row.max_points}" + (
            f": {html.escape(row.message)}" if row.message else "")
    notebook.cells.insert(0, _summary_cell(rows))
    body, _ = HTMLExporter().from_notebook_node(notebook)
    return body


def short_page(student: str, notebook: str, rows: list[Row], reason: str) -> str:
    """The feedback page of a notebook that could not be run (missing, not a notebook)."""
    items = "".join(f"<li><code>{html.escape(r.exercise)}</code>: {r.status}, 0 / {r.max_points}</li>" for r in rows)
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(student)}: "
            f"{html.escape(notebook)}</title></head>\n<body><h1>{html.escape(notebook)}</h1>"
            f"<p>{html.escape(reason)}</p><h2>Grade: 0 / {sum(r.max_points for r in rows)}</h2><ul>{items}</ul>"
            "</body></html>\n")


@dataclass
class Batch:
    """What every job of one grading batch shares."""

    submissions: Path
    out: Path
    notebooks_dir: Path
    package: Path
    work: Path
    time_limit: float
    kernel: str
    jobs: int
    drop_root: bool | None  # None: not root; else whether the job uid keeps the read capability
    lock: threading.Lock
    packages: dict[str, Path] = field(default_factory=dict)  # notebook -> the student package of its release
    limits: Limits = field(default_factory=lambda: Limits.chosen(1))
    cgroups: dict[str, Path] | None = None  # where job cgroups are made (limits.cgroup_parents); None: rlimits

    def package_for(self, notebook: str) -> Path:
        """The package a job of ``notebook`` imports: the student package of that notebook's release."""
        return self.packages.get(notebook, self.package)

    def unreadable(self) -> list[Path]:
        """What a job may not read: the submissions, the grades, the solutions, the other jobs and the instructor's
        full package (an editable install would otherwise import its references into the kernel)."""
        return [self.submissions, self.out, self.notebooks_dir, self.work, self.package]


def _threads(jobs: int) -> dict[str, str]:
    """One job's share of the CPU cores, unless the grader's environment already says how many threads."""
    if any(k in os.environ for k in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")):
        return {}
    share = str(max(1, (os.cpu_count() or 1) // max(1, jobs)))
    return {"OMP_NUM_THREADS": share, "TF_NUM_INTRAOP_THREADS": share}


def _execute(batch: Batch, scratch: Scratch, notebook: nbformat.NotebookNode, log: Path,
             limits: JobLimits) -> dict:
    """Run the runner for one job under its ``limits``; its answer, or ``{"error": ...}`` if it gave none, with
    ``"limit"``: the limit the job went over, if any."""
    job = {"notebook": notebook, "kernel": batch.kernel, "cwd": str(scratch.notebook.parent),
           "env": {**scratch.kernel_env(), **_threads(batch.jobs)}, "time_limit": batch.time_limit,
           "rlimits": limits.rlimits()}
    argv = [sys.executable, str(scratch.runner)]
    identity = scratch.identity
    with open(log, "wb") as log_file:
        proc = subprocess.Popen(identity.command(argv) if identity else argv, cwd=scratch.root,
                                env=scratch.kernel_env(kernel_pythonpath=False), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=log_file, start_new_session=True,
                                **(identity.popen_kwargs() if identity else {}))
        try:
            limits.attach(proc.pid)  # the runner waits for its job on stdin: nothing has run yet
        except OSError:
            _stop(proc)
            raise
        answer, limit = _communicate(proc, json.dumps(job).encode(), batch.time_limit + GRACE, limits)
    if answer is None:
        return {"error": "limit" if limit else "timeout", "limit": limit}
    try:
        return {**json.loads(answer), "limit": limit}
    except json.JSONDecodeError:
        tail = log.read_bytes()[-2000:].decode("utf-8", errors="replace")
        return {"error": f"the notebook runner stopped (exit {proc.returncode}) without an answer: {tail}",
                "limit": limit}


POLL = 0.5  # seconds between two looks at a running job's limits


def _communicate(proc: subprocess.Popen, data: bytes, timeout: float,
                 limits: JobLimits) -> tuple[bytes | None, str | None]:
    """The runner's answer (None when it was stopped) and the limit the job went over (None if none). A job still
    running after ``timeout`` or over its process limit is stopped at once; one over its memory limit lost its
    largest process (the kernel) and its runner still answers."""
    deadline, limit = time.monotonic() + timeout, None
    while True:
        try:
            answer, _ = proc.communicate(data, timeout=POLL)
            return answer, limit or limits.exceeded()
        except subprocess.TimeoutExpired:
            data = None  # sent; a retry must not send it again
        limit = limit or limits.exceeded()
        if limit == "processes" or time.monotonic() >= deadline:
            _stop(proc)
            return None, limit


def over_limit(rows: list[Row], result: dict, limits: Limits, per_process: bool) -> list[Row]:
    """The rows of a job that went over a limit (the grader saw it, or a cell raised ``MemoryError``): every test
    that did not pass gets that limit's status and a message naming the limit."""
    cells = result.get("cells", {}).values()
    memory = any(c.get("ename") == "MemoryError" or c.get("reason") == "memory" for c in cells)
    limit = result.get("limit") or ("memory" if memory else None)
    if limit is None:
        return rows
    message = limits.message(limit, per_process)
    return [r if r.status == "pass" else Row(r.student, r.notebook, r.exercise, 0, r.max_points, limit, message)
            for r in rows]


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL, to the runner's process group (the kernel follows its parent out)."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, sig)
        try:
            proc.communicate(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _grade_safely(batch: Batch, number: int, student: str, name: str, tests: list[HiddenTest]) -> list[Row]:
    try:
        return grade_notebook(batch, number, student, name, tests)
    except Exception as exc:  # a fault of the grader itself on this job: recorded, and the batch goes on
        return _rows(student, name, tests, "error", _message(f"the grader failed on this notebook: "
                                                             f"{type(exc).__name__}: {exc}"))


def grade_notebook(batch: Batch, number: int, student: str, name: str, tests: list[HiddenTest]) -> list[Row]:
    """Grade one student's notebook and write its feedback page; a bad submission gives rows, never an error."""
    path = batch.submissions / student / name
    page = batch.out / "feedback" / student / f"{Path(name).stem}.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file():
        rows = _rows(student, name, tests, "missing", f"no {name} in {student}'s folder")
        page.write_text(short_page(student, name, rows, rows[0].message), encoding="utf-8")
        return rows
    try:
        solution = nbformat.read(batch.notebooks_dir / name, as_version=4)
        notebook, indexes = grading_notebook(read_submission(path), tests, grading_parameters(solution))
    except (OSError, ValueError) as exc:
        rows = _rows(student, name, tests, "error", f"{name}: {exc}")
        page.write_text(short_page(student, name, rows, rows[0].message), encoding="utf-8")
        return rows
    started = time.monotonic()
    uid = claimed_uid(bool(batch.drop_root)) if batch.drop_root is not None else contextlib.nullcontext(None)
    with uid as identity, job_limits(batch.limits, batch.cgroups, f"{batch.work.name}-job-{number:04d}",
                                     identity.uid if identity else None) as limits:
        scratch = make_scratch(batch.work, f"job-{number:04d}", batch.package_for(name), name, path.read_bytes(),
                               batch.unreadable(), identity)
        try:
            result = _execute(batch, scratch, notebook, batch.work / "logs" / f"job-{number:04d}.log", limits)
            verdicts = {t.exercise: [judge(call, scratch.record) for call in hidden_calls(t.source)] for t in tests}
        finally:
            shutil.rmtree(scratch.root, ignore_errors=True)
    if result.get("error") == "timeout":
        rows = _rows(student, name, tests, "timeout",
                     f"the notebook did not stop within its time limit ({batch.time_limit:g} s) and was killed")
    else:
        rows = [judged(row, verdicts[row.exercise])
                for row in hidden_test_rows(student, name, tests, indexes, result, batch.time_limit)]
    rows = over_limit(rows, result, batch.limits, limits.per_process)
    try:
        body = feedback_html(nbformat.from_dict(result["notebook"]), rows, indexes) if "notebook" in result else \
            short_page(student, name, rows, rows[0].message)
    except Exception as exc:  # a page that cannot be rendered must not cost the grade
        body = short_page(student, name, rows, f"the feedback page could not be rendered ({exc})")
    page.write_text(body, encoding="utf-8")
    write_cell_statuses(page.with_suffix(".cells.json"), result, indexes)
    with batch.lock:
        print(f"{student}/{name}: {sum(r.points for r in rows)} / {sum(r.max_points for r in rows)} "
              f"({', '.join(f'{r.exercise} {r.status}' for r in rows)}) in {time.monotonic() - started:.0f} s",
              flush=True)
    return rows


def release_packages(source: Path, notebooks_dir: Path, tests: dict[str, list], work: Path) -> dict[str, Path]:
    """For each graded notebook, the student package of its own release (its answers and every later one stubbed,
    no instructor part), with the public fixtures and the inputs, not the expected values, of its hidden tests."""
    from .package import student_package
    from .release import course_notebooks, write_check_fixtures

    names = course_notebooks(notebooks_dir)
    packages = {}
    for notebook, notebook_tests in tests.items():
        assignment = int(notebook[:2])
        target = work / f"{assignment:02d}" / "gan_kit"
        student_package(source, target, assignment, names)
        write_check_fixtures(target, assignment)
        calls = [c for t in notebook_tests for c in hidden_calls(t.source, f"{notebook}: {t.exercise}")]
        write_inputs(calls, target / "checks" / "fixtures")
        packages[notebook] = target
    return packages


def write_cell_statuses(path: Path, result: dict, hidden: list[int]) -> None:
    """``{"cells": {index: status}, "hidden_tests": [...], "error": ...}`` of one graded notebook beside its
    feedback page: which of the student's cells raised (``error``), stopped, or never ran."""
    cells = {str(k): v for k, v in result.get("cells", {}).items()}
    path.write_text(json.dumps({"cells": cells, "hidden_tests": hidden, "error": result.get("error")}, indent=1),
                    encoding="utf-8")


def grade(submissions: str | Path, out: str | Path = "outputs/grades", notebooks_dir: str | Path = "notebooks",
          jobs: int = 1, timeout: float = 900, only: Iterable[str] | None = None, kernel: str = "python3",
          package: str | Path | None = None, memory_limit: str | int | None = None,
          process_limit: int | None = None) -> list[Row]:
    """Grade every student folder of ``submissions`` on the hidden tests of ``notebooks_dir``; returns the rows of
    grades.csv (written with summary.csv and the feedback pages into ``out``). ``memory_limit`` (bytes, or ``4G``)
    and ``process_limit`` (processes and threads) bound each job (:mod:`.limits`); by default a share of the
    machine's memory and 512 or more."""
    submissions, out = Path(submissions).resolve(), Path(out).resolve()
    notebooks_dir = Path(notebooks_dir).resolve()
    if not submissions.is_dir():
        raise FileNotFoundError(f"no submissions folder {submissions}")
    students = sorted(p.name for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not students:
        raise ValueError(f"{submissions} has no student folder (one folder per student, holding their notebooks).")
    if jobs < 1 or timeout <= 0:
        raise ValueError("--jobs must be at least 1 and --timeout positive.")
    limits = Limits.chosen(jobs, memory_limit, process_limit)
    package = Path(package or Path(__file__).parents[1]).resolve()
    for folder in (submissions, out):
        if any(p == folder or folder in p.parents for p in (package, Path(sys.prefix).resolve(), notebooks_dir)):
            raise ValueError(f"{folder} holds the kit (its package, Python or notebooks), which graded notebooks "
                             "may not read: choose another folder.")
    from . import manual

    tests, questions = manual.graded_work(notebooks_dir, only)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="gan-kit-grade-"))
    try:
        (work / "logs").mkdir(mode=0o700)
        packages = release_packages(package, notebooks_dir, tests, work / "packages")
        drop_root = privileges(work)
        batch = Batch(submissions, out, notebooks_dir, package, work, float(timeout), kernel, jobs, drop_root,
                      threading.Lock(), packages, limits, cgroup_parents())
        print(describe(limits, batch.cgroups, drop_root is not None), flush=True)
        todo = [(student, name) for student in students for name in tests]
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            done = pool.map(lambda job: _grade_safely(batch, job[0] + 1, *job[1], tests[job[1][1]]),
                            enumerate(todo))
            rows = [row for job_rows in done for row in job_rows]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    answers = manual.collect_answers(submissions, students, questions)
    rows = manual.with_answers(rows, answers)
    write_csvs(rows, out)
    manual.write_ta_files(out, answers)
    write_class_report(rows, out)
    return rows


__all__ = ["feedback_html", "grade", "grade_notebook", "grading_notebook", "short_page", "hidden_test_rows"]
