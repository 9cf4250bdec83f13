"""The class at a glance: ``OUT/report.html`` beside grades.csv, written at the end of :func:`.grading.grade`.

One self-contained page (figures embedded as base64 PNG, the HTML of :mod:`gan_kit.report`):

- a histogram of the students' totals;
- per exercise: how many students passed, the pass rate (also as a bar chart), the mean points, the other
  statuses, and the most frequent failure messages with their counts;
- the students whose notebook did not simply pass or fail a test: any other status (``error``, ``timeout``,
  ``missing``, a job limit, a mark still to be given by hand...), with its message.

Messages come from the students' code: every one is escaped (``html.escape``) before it reaches the page.
"""

from __future__ import annotations

import statistics
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .grades import Row

REPORT = "report.html"
TITLE = "Grades: the class at a glance"
OWN_STATUSES = ("pass", "fail")  # a test that ran and judged the student's code; anything else is flagged
MANUAL_STATUSES = ("pending", "marked")  # a written answer, awaiting or given a TA's mark: its own section
TOP_MESSAGES = 3  # failure messages shown per exercise
_WRAP = "td { white-space: pre-wrap; max-width: 60em; } td, th { text-align: left; }"  # messages run over several lines


@dataclass
class ExerciseStats:
    """How the class did on one exercise."""

    notebook: str
    exercise: str
    max_points: int
    points: list[int] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    messages: Counter = field(default_factory=Counter)  # (status, message) of the rows that did not pass

    @property
    def students(self) -> int:
        """Students graded on this exercise."""
        return sum(self.statuses.values())

    @property
    def pass_rate(self) -> float:
        """The share of the students who passed."""
        return self.statuses["pass"] / self.students if self.students else 0.0

    @property
    def label(self) -> str:
        """``01 toy_step``: the notebook's number and the exercise."""
        return f"{self.notebook[:2]} {self.exercise}"


def student_totals(rows: Sequence[Row]) -> dict[str, tuple[int, int]]:
    """``{student: (points, max_points)}`` over every row of that student."""
    totals: dict[str, list[int]] = {}
    for r in rows:
        total = totals.setdefault(r.student, [0, 0])
        total[0] += r.points
        total[1] += r.max_points
    return {student: (got, most) for student, (got, most) in sorted(totals.items())}


def exercise_stats(rows: Sequence[Row]) -> list[ExerciseStats]:
    """One :class:`ExerciseStats` per (notebook, exercise), in the order the rows first name them."""
    stats: dict[tuple[str, str], ExerciseStats] = {}
    for r in rows:
        if r.status in MANUAL_STATUSES:
            continue
        s = stats.setdefault((r.notebook, r.exercise), ExerciseStats(r.notebook, r.exercise, r.max_points))
        s.points.append(r.points)
        s.statuses[r.status] += 1
        if r.status != "pass":
            s.messages[(r.status, r.message or "(no message)")] += 1
    return list(stats.values())


def flagged_rows(rows: Sequence[Row]) -> list[Row]:
    """The rows of hidden tests whose status is neither ``pass`` nor ``fail``, by student."""
    return sorted((r for r in rows if r.status not in (*OWN_STATUSES, *MANUAL_STATUSES)),
                  key=lambda r: (r.student, r.notebook))


def written_answers(rows: Sequence[Row]) -> list[list[str]]:
    """Per written question: its points, how many answers are marked, their mean mark, how many are pending."""
    found: dict[tuple[str, str], list[Row]] = {}
    for r in rows:
        if r.status in MANUAL_STATUSES:
            found.setdefault((r.notebook, r.exercise), []).append(r)
    table = []
    for (notebook, question), answers in found.items():
        marked = [a.points for a in answers if a.status == "marked"]
        table.append([notebook, question, str(answers[0].max_points), f"{len(marked)} / {len(answers)}",
                      f"{statistics.mean(marked):.2f}" if marked else "-", str(len(answers) - len(marked))])
    return table


def _histogram(totals: dict[str, tuple[int, int]], path: Path) -> Path:
    """Bar per total score: how many students got it."""
    import numpy as np

    from ..plotting import plt, save_figure

    most = max(m for _, m in totals.values())
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.hist([got for got, _ in totals.values()], bins=np.arange(-0.5, most + 1.5, 1.0), color="tab:blue",
            edgecolor="white")
    ax.set_xlim(-0.5, most + 0.5)
    ax.set_xlabel(f"total points (of {most})")
    ax.set_ylabel("students")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title(f"Totals of {len(totals)} students")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return path


def _pass_rates(stats: list[ExerciseStats], path: Path) -> Path:
    """Horizontal bar per exercise: its pass rate in percent."""
    from ..plotting import plt, save_figure

    fig, ax = plt.subplots(figsize=(7, 0.45 * len(stats) + 1.2))
    labels = [s.label for s in stats][::-1]
    rates = [100 * s.pass_rate for s in stats][::-1]
    ax.barh(labels, rates, color="tab:green")
    for y, rate in enumerate(rates):
        ax.text(min(rate + 1, 92), y, f"{rate:.0f}%", va="center", fontsize=9)
    ax.set_xlim(0, 100)
    ax.set_xlabel("students who passed (%)")
    ax.set_title("Pass rate per exercise")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return path


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _others(stats: ExerciseStats) -> str:
    return ", ".join(f"{status} {n}" for status, n in stats.statuses.most_common() if status != "pass") or "-"


def _document(rows: Sequence[Row], images: Path):
    """The report's blocks (:class:`gan_kit.report._Doc`), its figures drawn into ``images``."""
    from ..report import _Doc

    totals, stats, flagged = student_totals(rows), exercise_stats(rows), flagged_rows(rows)
    got = [g for g, _ in totals.values()]
    most = max(m for _, m in totals.values())
    doc = _Doc()
    doc.h(1, TITLE)
    doc.p(f"{_count(len(totals), 'student')}, {_count(len(stats), 'exercise')} in "
          f"{_count(len({s.notebook for s in stats}), 'notebook')}. "
          f"Total points: mean {statistics.mean(got):.1f}, median {statistics.median(got):g}, lowest {min(got)}, "
          f"highest {max(got)}, of {most}.")
    doc.img("totals.png", _histogram(totals, images / "totals.png"), "Students per total score")
    doc.h(2, "Per exercise")
    if stats:
        doc.table(["Notebook", "Exercise", "Points", "Passed", "Pass rate", "Mean points", "Other statuses"],
                  [[s.notebook, s.exercise, str(s.max_points), f"{s.statuses['pass']} / {s.students}",
                    f"{100 * s.pass_rate:.0f}%", f"{statistics.mean(s.points):.2f}", _others(s)] for s in stats])
        doc.img("pass-rates.png", _pass_rates(stats, images / "pass-rates.png"), "Pass rate per exercise")
    else:
        doc.p("These notebooks have no autograded exercise.")
    doc.h(2, "Most frequent failure messages")
    failing = [s for s in stats if s.messages]
    if failing:
        doc.table(["Exercise", "Students", "Status", "Message"],
                  [[s.label, str(n), status, message] for s in failing
                   for (status, message), n in s.messages.most_common(TOP_MESSAGES)])
    else:
        doc.p("Every student passed every exercise.")
    written = written_answers(rows)
    if written:
        doc.h(2, "Written answers")
        doc.p("Marked by a TA (grade --merge-manual); pending answers count 0 in the totals above until marked.")
        doc.table(["Notebook", "Question", "Points", "Marked", "Mean mark", "Pending"], written)
    doc.h(2, "Errors, timeouts, limits and other statuses")
    if flagged:
        doc.p(", ".join(f"{status}: {n}" for status, n in Counter(r.status for r in flagged).most_common()) +
              f" ({_count(len({r.student for r in flagged}), 'student')}); see their feedback pages.")
        doc.table(["Student", "Notebook", "Exercise", "Status", "Message"],
                  [[r.student, r.notebook, r.exercise, r.status, r.message] for r in flagged])
    else:
        doc.p("None: every hidden test ran and passed or failed.")
    return doc


def class_report_html(rows: Sequence[Row]) -> str:
    """The report as one HTML page, its figures embedded."""
    from ..report import _CSS, to_html

    if not rows:
        raise ValueError("no grades to report: grade at least one student's notebook first.")
    with tempfile.TemporaryDirectory(prefix="gan-kit-class-report-") as images:
        page = to_html(_document(rows, Path(images)), TITLE)
    return page.replace(_CSS, _CSS + _WRAP, 1)


def write_class_report(rows: Sequence[Row], out: str | Path) -> Path:
    """Write ``out/report.html`` from the rows of grades.csv; returns its path."""
    path = Path(out) / REPORT
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(class_report_html(rows), encoding="utf-8")
    return path


__all__ = ["REPORT", "ExerciseStats", "class_report_html", "exercise_stats", "flagged_rows", "student_totals",
           "write_class_report", "written_answers"]
