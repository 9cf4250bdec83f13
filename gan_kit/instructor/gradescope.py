"""Grading on Gradescope: the autograder zip of one assignment, and what it runs for each submission.

``python -m gan_kit release --assignment NN --gradescope`` writes, beside the student release,
``autograder-NN.zip`` in Gradescope's layout (its "Autograder Specifications"): at the zip's root ``setup.sh``
(run once, as root, when Gradescope builds the image: a virtual environment with the kit's requirements, and the
Keras datasets the notebooks read) and ``run_autograder`` (run for each submission), with what grading needs:

- ``gan_kit/``: the kit's full package, instructor part included; the grader builds the student package of the
  assignment's release from it, as ``grade`` does (:func:`.grading.release_packages`);
- ``notebooks/NN_*.ipynb``: the assignment's solution notebook (its hidden tests and the course's parameters).
  The zip is for the instructor to upload to Gradescope: students never see it;
- ``requirements.txt``, ``pyproject.toml`` and ``gradescope.json`` (the notebook and the time limit).

Gradescope unpacks the zip into ``/autograder/source``, puts the submission in ``/autograder/submission`` and
reads ``/autograder/results/results.json``. ``run_autograder`` calls ``python -m gan_kit.instructor.gradescope
run``, which grades the submitted notebook with the kit's own grader (:func:`.grading.grade`, one student, that
notebook only) and writes one Gradescope test per hidden test (name, score, max_score, status, output: the
grader's message). ``$GAN_KIT_AUTOGRADER_ROOT`` replaces ``/autograder`` (tests build the layout in a temporary
folder). A fault of the grader itself exits non-zero without results, which Gradescope reports as an autograder
failure rather than a grade.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .grades import Row

ROOT_ENV = "GAN_KIT_AUTOGRADER_ROOT"
DEFAULT_ROOT = "/autograder"
CONFIG = "gradescope.json"
STUDENT = "submission"  # the one student folder the grader sees
BY_HAND = ("pending", "marked", "manual")  # statuses of written answers, marked by hand: not the autograder's score
DEFAULT_TIMEOUT = 900.0
COPIED = ("requirements.txt", "pyproject.toml")
DATASETS = ("mnist", "fashion_mnist", "cifar10")  # what the graded notebooks read, fetched once by setup.sh

SETUP_SH = f"""\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image: Python 3.11 or later (choose an Ubuntu
# base image that has it), the kit's requirements in a virtual environment, and the datasets the notebooks read.
set -euo pipefail
apt-get update -q && apt-get install -y -q --no-install-recommends python3 python3-venv python3-pip
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11) and "gan-kit needs Python 3.11 or later")'
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --quiet --upgrade pip
/autograder/venv/bin/pip install --quiet -r /autograder/source/requirements.txt
KERAS_HOME=/autograder/keras /autograder/venv/bin/python -c \\
  'import keras; [getattr(keras.datasets, n).load_data() for n in {DATASETS!r}]'
"""

RUN_AUTOGRADER = f"""\
#!/usr/bin/env bash
# Gradescope runs this for each submission: the kit's grader on it, then results/results.json.
set -euo pipefail
ROOT="${{{ROOT_ENV}:-{DEFAULT_ROOT}}}"
PY="$ROOT/venv/bin/python"
[ -x "$PY" ] || PY="$(command -v python3)"
if [ -z "${{GAN_KIT_DATA_DIR:-}}" ] && [ -d "$ROOT/keras/datasets" ]; then
  export GAN_KIT_DATA_DIR="$ROOT/keras/datasets"
fi
cd "$ROOT/source"
exec "$PY" -m gan_kit.instructor.gradescope run
"""


def autograder_path(release_zip: str | Path, assignment: int) -> Path:
    """Where the autograder zip of ``assignment`` goes: beside the release's zip, ``autograder-NN.zip``."""
    return Path(release_zip).parent / f"autograder-{assignment:02d}.zip"


def _package_files(package: Path) -> list[Path]:
    skip = {"__pycache__", ".ipynb_checkpoints"}
    return sorted(p for p in package.rglob("*") if p.is_file() and not skip & set(p.relative_to(package).parts)
                  and p.suffix != ".pyc")


def graded_notebook(repo: str | Path, assignment: int | None) -> str:
    """The file name of the solution notebook of ``assignment``; ``ReleaseError`` when there is none or it has no
    hidden test."""
    from .grades import course_tests
    from .release import ReleaseError, course_notebooks

    if assignment is None:
        raise ReleaseError("--gradescope needs --assignment NN: an autograder grades one assignment's notebook.")
    repo = Path(repo)
    names = course_notebooks(repo / "notebooks")
    if assignment not in names:
        raise ReleaseError(f"no notebook {assignment:02d} in {repo / 'notebooks'}; the course's notebooks are "
                           f"{', '.join(f'{n:02d}' for n in names)}.")
    notebook = f"{names[assignment]}.ipynb"
    try:
        course_tests(repo / "notebooks", [notebook])
    except ValueError:
        raise ReleaseError(f"{notebook} has no hidden-test cell: Gradescope would have nothing to grade. Mark its "
                           "tests (docs/instructors.md, assignment mode) or release it without --gradescope.") from None
    return notebook


def autograder_files(repo: str | Path, assignment: int, timeout: float = DEFAULT_TIMEOUT) -> dict[str, bytes]:
    """``{path in the zip: content}`` of the autograder of ``assignment``."""
    repo = Path(repo)
    notebook = graded_notebook(repo, assignment)
    files = {"setup.sh": SETUP_SH.encode(), "run_autograder": RUN_AUTOGRADER.encode(),
             CONFIG: json.dumps({"notebook": notebook, "timeout": timeout}, indent=1).encode() + b"\n",
             f"notebooks/{notebook}": (repo / "notebooks" / notebook).read_bytes()}
    files.update({name: (repo / name).read_bytes() for name in COPIED})
    package = repo / "gan_kit"
    files.update({f"gan_kit/{p.relative_to(package).as_posix()}": p.read_bytes() for p in _package_files(package)})
    return files


def release_with_autograder(repo: str | Path = ".", out_dir: str | Path | None = None,
                            assignment: int | None = None, past_solutions: bool = False) -> tuple[Path, Path, Path]:
    """The student release of ``assignment`` (:func:`.release.build_release`) and, beside its zip, the
    instructor's Gradescope autograder zip of it; what Gradescope could not grade is refused before anything is
    built. Returns the release folder, its zip and the autograder zip."""
    from .release import build_release

    graded_notebook(repo, assignment)
    folder, archive = build_release(repo, out_dir, assignment=assignment, past_solutions=past_solutions)
    return folder, archive, build_autograder_zip(repo, int(assignment), autograder_path(archive, int(assignment)))


def build_autograder_zip(repo: str | Path, assignment: int, zip_path: str | Path,
                         timeout: float = DEFAULT_TIMEOUT) -> Path:
    """Write the Gradescope autograder zip of ``assignment`` (files at the root, the scripts executable, sorted
    with a fixed date: the same sources give the same bytes); returns its path."""
    zip_path = Path(zip_path)
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = zip_path.with_name(f".{zip_path.name}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in sorted(autograder_files(repo, assignment, timeout).items()):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if name in ("setup.sh", "run_autograder") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            out.writestr(info, data)
    tmp.replace(zip_path)
    return zip_path


def _test_output(row: Row) -> str:
    return f"{row.status}: {row.message}" if row.message else row.status


def results_json(rows: Sequence[Row], output: str = "", execution_time: float | None = None,
                 autograded: Collection[str] | None = None) -> dict:
    """Gradescope's results.json for the grader's rows of one submission: a test per hidden test (the exercises
    named in ``autograded``; by default every row whose status is not one of :data:`BY_HAND`). The written answers,
    marked by hand, are named in the overall output, not scored."""
    graded = [r for r in rows if (r.exercise in autograded if autograded is not None else r.status not in BY_HAND)]
    pending = [r for r in rows if r not in graded]
    score, most = sum(r.points for r in graded), sum(r.max_points for r in graded)
    lines = [f"Autograded: {score} / {most} points. Each test below is a hidden test of your notebook, run after "
             "your cells under the smoke profile; a test that did not pass says why."]
    if pending:
        lines.append(f"Marked by hand later: {', '.join(r.exercise for r in pending)} "
                     f"({sum(r.max_points for r in pending)} points).")
    if output:
        lines.append(output)
    result = {"score": score, "output": "\n".join(lines),
              "tests": [{"name": f"{r.exercise} ({r.notebook})", "score": r.points, "max_score": r.max_points,
                         "status": "passed" if r.status == "pass" else "failed", "output": _test_output(r)}
                        for r in graded]}
    if execution_time is not None:
        result["execution_time"] = round(execution_time)
    return result


def find_submission(folder: Path, notebook: str) -> tuple[Path | None, str]:
    """The submitted notebook in ``folder`` (the file named ``notebook``, else its only ``.ipynb``), and a note
    for the student when it is not simply that file."""
    found = sorted((p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts),
                   key=lambda p: (len(p.parts), p.as_posix()))
    named = [p for p in found if p.name == notebook]
    if named:
        return named[0], ""
    if len(found) == 1:
        return found[0], f"Graded {found[0].relative_to(folder).as_posix()} as {notebook}."
    shown = ", ".join(p.relative_to(folder).as_posix() for p in found[:10]) or "no notebook"
    return None, f"Upload your notebook as {notebook}: the submission holds {shown}."


def autograder_root() -> Path:
    """``$GAN_KIT_AUTOGRADER_ROOT``, else ``/autograder``."""
    return Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)


def run(root: str | Path | None = None) -> Path:
    """Grade ``root/submission`` with the autograder in ``root/source``; writes and returns
    ``root/results/results.json``."""
    from .grades import course_tests
    from .grading import grade

    root = Path(root) if root is not None else autograder_root()
    source = root / "source"
    config = json.loads((source / CONFIG).read_text(encoding="utf-8"))
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="gan-kit-gradescope-"))
    try:
        folder = work / "submissions" / STUDENT
        folder.mkdir(parents=True)
        found, note = find_submission(root / STUDENT, config["notebook"])
        if found is not None:
            shutil.copyfile(found, folder / config["notebook"])
        rows = grade(work / "submissions", work / "grades", notebooks_dir=source / "notebooks",
                     timeout=config["timeout"], only=[config["notebook"]], package=source / "gan_kit")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    hidden = {t.exercise for t in course_tests(source / "notebooks", [config["notebook"]])[config["notebook"]]}
    results = root / "results" / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(results_json(rows, note, time.monotonic() - started, hidden), indent=1) + "\n",
                       encoding="utf-8")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gan_kit.instructor.gradescope run``: what ``run_autograder`` calls."""
    parser = argparse.ArgumentParser(prog="python -m gan_kit.instructor.gradescope", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["run"], help="grade the submission of the autograder layout")
    parser.parse_args(argv)
    print(f"results: {run()}")
    return 0


__all__ = ["BY_HAND", "CONFIG", "DEFAULT_ROOT", "ROOT_ENV", "autograder_files", "autograder_path", "autograder_root",
           "build_autograder_zip", "find_submission", "graded_notebook", "release_with_autograder", "results_json",
           "run"]

if __name__ == "__main__":
    sys.exit(main())
