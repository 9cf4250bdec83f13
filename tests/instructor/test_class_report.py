"""``OUT/report.html``, the class at a glance, from hand-made grades.csv rows (no notebook is run): the
totals histogram, the pass rate and failure messages per exercise, the students with other statuses; student
text escaped; the page opened in headless Chromium with its figures decoding."""

from __future__ import annotations

import pytest

from gan_kit.__main__ import main
from gan_kit.instructor import grading
from gan_kit.instructor.class_report import (
    REPORT,
    TITLE,
    class_report_html,
    exercise_stats,
    flagged_rows,
    student_totals,
    write_class_report,
)
from gan_kit.instructor.grades import Row
from tests.test_site import _open

N1, N2 = "01_gan_theory.ipynb", "02_dcgan_cifar10.ipynb"
SCRIPT = '<script>document.title = "pwned"</script>'
IMG = "<img src=x onerror=alert(1)>"
WRONG = "CheckFailed: toy_step: the discriminator loss is 0.69, expected 0.31"


def _student(name: str, toy: tuple[str, str], fid: tuple[str, str], losses: tuple[str, str]) -> list[Row]:
    return [Row(name, notebook, exercise, points if status == "pass" else 0, points, status, message)
            for (notebook, exercise, points), (status, message) in
            zip([(N1, "toy_step", 2), (N1, "fid", 1), (N2, "gan_losses", 2)], [toy, fid, losses])]


OK = ("pass", "")
TIMEOUT = ("timeout", "the notebook's time limit (900 s) was reached in cell 12 before this test ran")
MISSING = ("missing", f"no {N1} in erin's folder")
ROWS = [
    *_student("alice", OK, OK, OK),
    *_student("bob", ("fail", WRONG), OK, ("fail", "NotImplementedError: write the losses")),
    *_student("carol", ("fail", WRONG), ("fail", f"AssertionError: {SCRIPT}"), OK),
    *_student("dave", TIMEOUT, TIMEOUT, OK),
    *_student("erin", MISSING, MISSING, ("error", f"ZeroDivisionError: {IMG}")),
    *_student("frank", OK, ("memory", "the job went over its memory limit (4 GiB) and was stopped"), OK),
    Row("frank", N2, "theory_1", 0, 3, "manual", "a written answer, marked by hand"),
]


def test_totals_pass_rates_messages_and_flagged_students():
    totals = student_totals(ROWS)
    assert totals == {"alice": (5, 5), "bob": (1, 5), "carol": (2, 5), "dave": (2, 5), "erin": (0, 5),
                      "frank": (4, 8)}
    stats = {s.exercise: s for s in exercise_stats(ROWS)}
    assert list(stats) == ["toy_step", "fid", "gan_losses", "theory_1"]
    assert stats["toy_step"].statuses == {"pass": 2, "fail": 2, "timeout": 1, "missing": 1}
    assert stats["toy_step"].pass_rate == pytest.approx(2 / 6)
    assert stats["toy_step"].messages.most_common(1) == [(("fail", WRONG), 2)]
    assert stats["gan_losses"].pass_rate == pytest.approx(4 / 6) and stats["theory_1"].pass_rate == 0
    flagged = [(r.student, r.exercise, r.status) for r in flagged_rows(ROWS)]
    assert flagged == [("dave", "toy_step", "timeout"), ("dave", "fid", "timeout"), ("erin", "toy_step", "missing"),
                       ("erin", "fid", "missing"), ("erin", "gan_losses", "error"), ("frank", "fid", "memory"),
                       ("frank", "theory_1", "manual")]


def test_student_text_is_escaped():
    page = class_report_html(ROWS)
    assert SCRIPT not in page and IMG not in page and "<script" not in page
    assert "AssertionError: &lt;script&gt;document.title = &quot;pwned&quot;&lt;/script&gt;" in page
    assert "ZeroDivisionError: &lt;img src=x onerror=alert(1)&gt;" in page
    assert page.count("data:image/png;base64,") == 2


def test_no_rows_is_refused():
    with pytest.raises(ValueError, match="no grades to report"):
        class_report_html([])


def test_the_report_opens_in_chromium_with_its_figures(tmp_path):
    page = write_class_report(ROWS, tmp_path)
    assert page == tmp_path / REPORT
    seen = _open(page, tmp_path)
    assert seen["title"] == TITLE  # the student's script did not run
    text = seen["text"]
    assert "6 students, 4 exercises in 2 notebooks" in text
    assert f"AssertionError: {SCRIPT}" in text and f"ZeroDivisionError: {IMG}" in text  # shown as text
    assert "toy_step\t2\t2 / 6\t33%\t0.67\tfail 2, timeout 1, missing 1" in text
    assert f"01 toy_step\t2\tfail\t{WRONG}" in text  # the most frequent message and how many students got it
    assert "timeout: 2, missing: 2, error: 1, memory: 1, manual: 1 (3 students)" in text
    assert "frank\t02_dcgan_cifar10.ipynb\ttheory_1\tmanual\ta written answer, marked by hand" in text
    assert len(seen["images"]) == 2
    for image in seen["images"]:
        assert image["complete"] and image["width"] > 0 and image["height"] > 0, image


def test_grade_writes_the_report_and_the_cli_names_it(tmp_path, monkeypatch, capsys):
    """The grader's last step, with the notebook runs replaced by this module's rows."""
    subs = tmp_path / "submissions"
    for student in ("alice", "bob"):
        (subs / student).mkdir(parents=True)
    rows = {r.student: [r] for r in ROWS if r.notebook == N1 and r.exercise == "toy_step"}
    monkeypatch.setattr(grading, "release_packages", lambda *args: {})
    monkeypatch.setattr(grading, "_grade_safely", lambda batch, number, student, name, tests: rows[student])
    out = tmp_path / "out"
    assert main(["grade", str(subs), "--out", str(out), "--notebooks", "01"]) == 0
    assert f"class report: {out / REPORT}" in capsys.readouterr().out
    page = (out / REPORT).read_text(encoding="utf-8")
    assert "<p>2 students, " in page  # (and notebook 01's written answers, pending)
    assert "<td>toy_step</td><td>2</td><td>1 / 2</td><td>50%</td><td>1.00</td><td>fail 1</td>" in page
