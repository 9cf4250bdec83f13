"""The Gradescope autograder zip of assignment 01 (``release --assignment 01 --gradescope``), run in a
simulated ``/autograder`` layout on a finished notebook 01 (one grade run, about a minute), and results.json."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from gan_kit.__main__ import main
from gan_kit.instructor.grades import Row, course_tests
from gan_kit.instructor.gradescope import (
    BY_HAND,
    CONFIG,
    ROOT_ENV,
    autograder_path,
    build_autograder_zip,
    find_submission,
    release_with_autograder,
    results_json,
)
from gan_kit.instructor.handouts import clear_outputs
from gan_kit.instructor.release import ReleaseError
from tests.conftest import REPO

NAME = "01_gan_theory.ipynb"


def _finished_notebook() -> nbformat.NotebookNode:
    """The solution as a student who finished it would hand it in: no hidden tests, no outputs."""
    nb = nbformat.read(REPO / "notebooks" / NAME, as_version=4)
    nb.cells = [c for c in nb.cells if "hidden-test" not in c.metadata.get("tags", [])]
    for cell in nb.cells:
        clear_outputs(cell)
    return nb


@pytest.fixture(scope="module")
def autograder(tmp_path_factory) -> Path:
    """The zip, built by the CLI as an instructor would."""
    work = tmp_path_factory.mktemp("gradescope-release")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO)
        assert main(["release", "--assignment", "1", "--gradescope", "--out", str(work / "release-01")]) == 0
    archive = autograder_path(work / "release-01.zip", 1)
    assert archive == work / "autograder-01.zip" and archive.is_file()
    return archive


@pytest.fixture(scope="module")
def graded(autograder, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """``<root>/source`` (the zip unpacked), ``<root>/submission`` (a finished 01), then ``run_autograder``."""
    root = tmp_path_factory.mktemp("autograder")
    with zipfile.ZipFile(autograder) as zf:
        zf.extractall(root / "source")
        for info in zf.infolist():  # extractall drops the modes; Gradescope's unzip keeps them
            os.chmod(root / "source" / info.filename, info.external_attr >> 16)
    (root / "submission" / "work").mkdir(parents=True)  # Gradescope keeps the folders of an uploaded zip
    nbformat.write(_finished_notebook(), root / "submission" / "work" / NAME)
    env = {**os.environ, ROOT_ENV: str(root), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    if env.get("GAN_KIT_DATA_DIR"):
        env["GAN_KIT_DATA_DIR"] = str(Path(env["GAN_KIT_DATA_DIR"]).resolve())  # run_autograder changes folder
    done = subprocess.run([str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True,
                          timeout=900, check=False)
    return root, done


def test_the_zip_has_gradescope_layout_and_what_grading_needs(autograder):
    with zipfile.ZipFile(autograder) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        config = json.loads(zf.read(CONFIG))
        run_script = zf.read("run_autograder").decode()
    for script in ("setup.sh", "run_autograder"):  # at the root, executable
        assert infos[script].external_attr >> 16 & stat.S_IXUSR, script
    assert run_script.startswith("#!/usr/bin/env bash") and "gan_kit.instructor.gradescope run" in run_script
    assert {"requirements.txt", "pyproject.toml", "gan_kit/__init__.py", "gan_kit/instructor/grading.py",
            "gan_kit/instructor/references.py", f"notebooks/{NAME}"} <= set(infos)
    assert [n for n in infos if n.startswith("notebooks/")] == [f"notebooks/{NAME}"]  # this assignment's only
    assert not [n for n in infos if "__pycache__" in n or n.endswith(".pyc") or n.startswith(("/", "gan-kit/"))]
    assert config == {"notebook": NAME, "timeout": 900.0}


def test_the_zip_is_the_same_bytes_each_build(autograder, tmp_path):
    again = build_autograder_zip(REPO, 1, tmp_path / "again.zip")
    assert again.read_bytes() == autograder.read_bytes()


def test_run_autograder_writes_full_marks_in_gradescope_format(graded):
    root, done = graded
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((root / "results" / "results.json").read_text())
    hidden = course_tests(REPO / "notebooks", ["01"])[NAME]
    assert [(t["name"], t["score"], t["max_score"], t["status"]) for t in results["tests"]] == [
        (f"{t.exercise} ({NAME})", t.points, t.points, "passed") for t in hidden]
    assert results["score"] == sum(t.points for t in hidden) == 3
    assert all(t["output"] == "pass" for t in results["tests"])
    assert results["output"].startswith("Autograded: 3 / 3 points.")
    assert isinstance(results["execution_time"], int) and results["execution_time"] > 0


def _row(exercise: str, points: int, most: int, status: str, message: str = "") -> Row:
    return Row("submission", NAME, exercise, points, most, status, message)


def test_results_json_of_passes_failures_timeouts_and_written_answers():
    rows = [_row("toy_step", 2, 2, "pass"), _row("fid", 0, 1, "fail", "CheckFailed: fid of equal sets is 0.3"),
            _row("extra", 0, 4, "timeout", "the notebook's time limit (900 s) was reached"),
            _row("theory_1", 0, 3, "pending", "marked by hand")]
    results = results_json(rows, output="Graded work/nb.ipynb as 01_gan_theory.ipynb.", execution_time=41.6)
    assert results["score"] == 2 and results["execution_time"] == 42
    assert results["tests"] == [
        {"name": f"toy_step ({NAME})", "score": 2, "max_score": 2, "status": "passed", "output": "pass"},
        {"name": f"fid ({NAME})", "score": 0, "max_score": 1, "status": "failed",
         "output": "fail: CheckFailed: fid of equal sets is 0.3"},
        {"name": f"extra ({NAME})", "score": 0, "max_score": 4, "status": "failed",
         "output": "timeout: the notebook's time limit (900 s) was reached"}]
    assert results["output"].splitlines() == [
        results["output"].splitlines()[0], "Marked by hand later: theory_1 (3 points).",
        "Graded work/nb.ipynb as 01_gan_theory.ipynb."]
    assert results["output"].startswith("Autograded: 2 / 7 points.") and "pending" in BY_HAND
    # the exercises that have hidden tests decide, whatever the status of a written answer's row
    written_missing = [_row("toy_step", 0, 2, "missing"), _row("theory_1", 0, 3, "missing")]
    assert [t["name"] for t in results_json(written_missing, autograded={"toy_step"})["tests"]] == [
        f"toy_step ({NAME})"]
    json.dumps(results)  # plain JSON


def test_the_submitted_notebook_is_found(tmp_path):
    (tmp_path / "a" / ".ipynb_checkpoints").mkdir(parents=True)
    (tmp_path / "a" / ".ipynb_checkpoints" / NAME).write_text("{}")
    assert find_submission(tmp_path, NAME) == (None, f"Upload your notebook as {NAME}: the submission holds "
                                                     "no notebook.")
    (tmp_path / "a" / "mine.ipynb").write_text("{}")
    assert find_submission(tmp_path, NAME) == (tmp_path / "a" / "mine.ipynb", f"Graded a/mine.ipynb as {NAME}.")
    (tmp_path / "b.ipynb").write_text("{}")
    assert find_submission(tmp_path, NAME)[0] is None
    (tmp_path / "a" / NAME).write_text("{}")
    assert find_submission(tmp_path, NAME) == (tmp_path / "a" / NAME, "")


def test_gradescope_needs_an_assignment_with_hidden_tests(tmp_path):
    with pytest.raises(ReleaseError, match="needs --assignment"):
        release_with_autograder(REPO, tmp_path / "release")
    with pytest.raises(ReleaseError, match="00_setup_and_data.ipynb has no hidden-test cell"):
        release_with_autograder(REPO, tmp_path / "release-00", assignment=0)
    assert not any(tmp_path.iterdir())  # refused before anything was built
