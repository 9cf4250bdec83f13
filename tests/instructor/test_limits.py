"""Memory and process limits per grading job. One batch of three students on notebook 01: one whose
notebook allocates memory without end, one whose notebook starts processes without end, one finished notebook.
Each runaway is recorded with its limit's status, the finished one gets full marks, and no process of any job is
left. The limits themselves (cgroups here as root, rlimits otherwise) are tested on plain processes first."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from gan_kit.__main__ import main
from gan_kit.instructor import grading, runner
from gan_kit.instructor.limits import (
    Limits,
    MiB,
    RlimitJob,
    cgroup_parents,
    describe,
    format_size,
    job_limits,
    parse_size,
)
from gan_kit.instructor.sandbox import claimed_uid, privileges
from tests.instructor.test_grading import _by_student, _handout, _solution, _write
from tests.test_released_notebooks import with_answers

AS_ROOT = os.geteuid() == 0
CGROUPS = cgroup_parents()
PROCESSES_ENFORCED = CGROUPS is not None or AS_ROOT  # RLIMIT_NPROC needs the job's own uid
# Grading a finished notebook 01 under smoke peaks at 0.49 GiB (cgroup v1 memory.max_usage_in_bytes) and 35
# processes and threads (pids.peak), runner and kernel, on 2 cores: the test's limits leave room for that, and
# for TensorFlow's threads per core on bigger machines.
MEMORY, PROCESSES = "2G", max(96, 8 * (os.cpu_count() or 1))

HIDDEN = ("toy_step", "fid")
HOG = "chunks = []\nwhile True:\n    chunks.append(bytearray(64 * 2**20))  # zero-filled: every page is touched\n"
# _posixsubprocess.fork_exec raises no audit event (the sandbox's hook refuses os.fork and subprocess): each
# round leaves one more `sleep` running, until the process limit refuses a fork.
FORKER = """import _posixsubprocess, os
while True:
    read_end, write_end = os.pipe()
    try:
        _posixsubprocess.fork_exec([b"/bin/sleep", b"600"], [b"/bin/sleep"], True, (), None, None, -1, -1, -1, -1,
                                   -1, -1, read_end, write_end, True, False, -1, None, None, None, -1, None, False)
    finally:
        os.close(read_end)
        os.close(write_end)
"""


def _runaway(source: str):
    """Notebook 01's handout with ``source`` as its first code cell."""
    notebook = _handout()
    first = next(i for i, c in enumerate(notebook.cells) if c.cell_type == "code")
    notebook.cells.insert(first, nbformat.v4.new_code_cell(source))
    return notebook


def _hidden(out: Path, student: str) -> dict[str, dict]:
    """A student's rows of notebook 01's hidden tests (its written answers have rows of their own)."""
    return {e: r for e, r in _by_student(out)[student].items() if e in HIDDEN}


def _processes_with(needles: list[str]) -> list[int]:
    """Processes whose working folder or environment names one of ``needles`` (a job's scratch folder)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            seen = os.readlink(proc / "cwd") + (proc / "environ").read_bytes().decode(errors="replace")
            if any(n in seen for n in needles):
                found.append(int(proc.name))
    return found


def _processes_of(uids: set[int]) -> list[int]:
    """Processes whose real or effective uid is one of ``uids``."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        with contextlib.suppress(OSError, StopIteration):
            line = next(x for x in status.read_text().splitlines() if x.startswith("Uid:"))
            if {int(x) for x in line.split()[1:]} & uids:
                found.append(int(status.parent.name))
    return found


def _grade(root: Path, students: dict, cgroups: bool = True) -> tuple[Path, int, list]:
    """Grade ``students`` (name: notebook) on notebook 01 with the test's limits, through the command line; with
    ``cgroups`` False, as on a machine that gives the grader none. Returns the output folder, the exit code and
    the jobs' scratch folders."""
    subs = root / "submissions"
    for student, notebook in students.items():
        _write(subs, student, notebook)
    scratches = []

    def recording(*args, **kwargs):
        scratch = make_scratch(*args, **kwargs)
        scratches.append(scratch)
        return scratch

    make_scratch = grading.make_scratch
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(grading, "make_scratch", recording)
        if not cgroups:
            patch.setattr(grading, "cgroup_parents", lambda: None)
        code = main(["grade", str(subs), "--out", str(root / "out"), "--jobs", str(len(students)), "--timeout",
                     "300", "--notebooks", "01", "--memory-limit", MEMORY, "--process-limit", str(PROCESSES)])
    return root / "out", code, scratches


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return _grade(tmp_path_factory.mktemp("limits"), {"finished": with_answers(_handout(), _solution()),
                                                      "hog": _runaway(HOG), "forker": _runaway(FORKER)})


@pytest.fixture(scope="module")
def graded_by_rlimits(tmp_path_factory):
    """The two runaways again, limited by rlimits alone (the forker only where RLIMIT_NPROC can hold it)."""
    students = {"hog": _runaway(HOG), **({"forker": _runaway(FORKER)} if AS_ROOT else {})}
    return _grade(tmp_path_factory.mktemp("rlimits"), students, cgroups=False)


def test_a_job_over_its_memory_limit_is_recorded_as_memory(graded):
    out, code, _ = graded
    assert code == 0
    rows = _hidden(out, "hog")
    assert {r["status"] for r in rows.values()} == {"memory"} and {r["points"] for r in rows.values()} == {"0"}
    per_process = "" if CGROUPS is not None else " per process"
    assert all(r["message"] == f"the notebook went over its memory limit (2 GiB{per_process}) and was stopped"
               for r in rows.values())


def test_a_job_over_its_process_limit_is_recorded_as_processes(graded):
    out, *_ = graded
    rows = _hidden(out, "forker")
    assert {r["points"] for r in rows.values()} == {"0"}
    if not PROCESSES_ENFORCED:  # a grader that is neither root nor has cgroups sets no process limit (it says so)
        assert {r["status"] for r in rows.values()} <= {"error", "timeout"}
        return
    assert {r["status"] for r in rows.values()} == {"processes"}
    assert all(r["message"] == f"the notebook went over its process limit ({PROCESSES} processes and threads) "
               "and was stopped" for r in rows.values())


def test_the_rest_of_the_batch_is_graded_in_full(graded):
    out, *_ = graded
    rows = _hidden(out, "finished")
    assert {e: (r["status"], r["points"]) for e, r in rows.items()} == {"toy_step": ("pass", "2"),
                                                                        "fid": ("pass", "1")}


def test_no_process_of_any_job_is_left(graded):
    _, _, scratches = graded
    assert len(scratches) == 3
    assert not _processes_with([str(s.root) for s in scratches])
    if AS_ROOT:
        uids = {s.identity.uid for s in scratches}
        assert len(uids) == 3 and all(60000 < uid < 65000 for uid in uids)
        assert not _processes_of(uids)
    if CGROUPS is not None:  # each job's cgroup is removed
        names = {f"{s.root.parent.name}-{s.root.name}" for s in scratches}
        assert not [folder / n for folder in CGROUPS.values() for n in names if (folder / n).exists()]


# The limits on plain processes (no notebook): quick, and what each kind of limit does.
ALLOCATE = "import sys; sys.stdin.read(); chunks = []\nwhile True: chunks.append(bytearray(10**7))"
THREADS = ("import sys, threading, time; sys.stdin.read()\nwhile True: threading.Thread(target=time.sleep, "
           "args=(600,), daemon=True).start()")


def _run(job, code: str, wrap=lambda argv: argv, **popen) -> subprocess.CompletedProcess:
    """``code`` in a new Python (its command line through ``wrap``) attached to ``job`` before it reads its (empty)
    standard input, after setting the job's rlimits on itself as the runner does."""
    code = f"import runner; runner.set_rlimits({job.rlimits()!r})\n{code}"
    popen["env"] = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(Path(runner.__file__).parent)}
    proc = subprocess.Popen(wrap([sys.executable, "-c", code]), stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                            **popen)
    job.attach(proc.pid)
    _, err = proc.communicate(b"", timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, None, err.decode())


def test_rlimits_stop_an_allocation_without_end():
    limits = Limits(600 * MiB, 64)
    with job_limits(limits, None, "unused", None) as job:
        done = _run(job, ALLOCATE)
    assert done.returncode == 1 and done.stderr.rstrip().endswith("MemoryError")
    assert job.exceeded() is None  # what shows it is the MemoryError the runner reports


@pytest.mark.skipif(not AS_ROOT, reason="RLIMIT_NPROC counts a uid's processes: only a job with its own uid "
                                        "(the grader is root) has one")
def test_rlimits_stop_threads_without_end_under_the_jobs_own_uid(tmp_path):
    drop = privileges(tmp_path)
    with claimed_uid(bool(drop)) as identity:
        done = _run(RlimitJob(Limits(600 * MiB, 40), identity.uid), THREADS, identity.command, cwd=tmp_path,
                    **identity.popen_kwargs())
    assert "can't start new thread" in done.stderr, done.stderr[-500:]


@pytest.mark.skipif(CGROUPS is None, reason="this machine gives the grader no writable cgroup")
def test_a_cgroup_counts_oom_kills_and_refused_forks():
    limits = Limits(600 * MiB, 40)
    with job_limits(limits, CGROUPS, f"gan-kit-grade-test-{os.getpid()}-1", None) as job:
        done = _run(job, ALLOCATE)
        assert done.returncode == -9 and job.exceeded() == "memory"
    with job_limits(limits, CGROUPS, f"gan-kit-grade-test-{os.getpid()}-2", None) as job:
        done = _run(job, THREADS)
        assert "can't start new thread" in done.stderr and job.exceeded() == "processes"
    assert not [p for folder in CGROUPS.values() for p in folder.glob(f"gan-kit-grade-test-{os.getpid()}-*")]


def test_limit_values_and_what_is_enforced():
    assert [parse_size(s) for s in ("4G", "1.5GiB", "512M", "2048", 1024)] == [4 * 2**30, 3 * 2**29, 512 * MiB,
                                                                               2048, 1024]
    assert format_size(parse_size("1.5G")) == "1.5 GiB" and format_size(512 * MiB) == "512 MiB"
    with pytest.raises(ValueError, match="write a size such as 4G"):
        parse_size("lots")
    with pytest.raises(ValueError, match="give a larger --memory-limit"):
        Limits(100 * MiB, 512)
    with pytest.raises(ValueError, match="give a larger --process-limit"):
        Limits(parse_size("2G"), 8)
    default = Limits.chosen(jobs=4)
    assert 512 * MiB <= default.memory <= 16 * 2**30 and default.processes >= 512
    assert "no process limit: the grader is not root" in describe(default, None, own_uid=False)
    assert "(RLIMIT_NPROC)" in describe(default, None, own_uid=True)


def test_a_bad_limit_on_the_command_line_is_refused(tmp_path, capsys):
    (tmp_path / "subs" / "someone").mkdir(parents=True)
    assert main(["grade", str(tmp_path / "subs"), "--out", str(tmp_path / "out"), "--memory-limit", "huge"]) != 0
    assert "memory limit 'huge'" in capsys.readouterr().err


def test_without_cgroups_rlimits_stop_both_runaways(graded_by_rlimits):
    out, code, scratches = graded_by_rlimits
    assert code == 0
    assert {(r["status"], r["message"]) for r in _hidden(out, "hog").values()} == {
        ("memory", "the notebook went over its memory limit (2 GiB per process) and was stopped")}
    if AS_ROOT:
        assert {r["status"] for r in _hidden(out, "forker").values()} == {"processes"}
        assert not _processes_of({s.identity.uid for s in scratches})
    assert not _processes_with([str(s.root) for s in scratches])
