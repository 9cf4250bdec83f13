"""The student release: ``outputs/release/`` and ``outputs/release.zip``, everything a student needs and nothing more.

It holds the student version of every notebook (``notebooks/``: :func:`~.handouts.make_handout`), the package
(``gan_kit/``, without ``__pycache__``), ``requirements.txt``, ``pyproject.toml``, ``data/README.md``, a student
``README.md`` (set-up, checking, what is graded) and a student ``Makefile`` (``venv``, ``lab``). No solution
notebook, hidden test, model answer or instructor-only cell, and no ``tests/``, ``.ci/``, ``outputs/``.

Before it replaces the previous release, :func:`build_release` scans every file it wrote (zip included) for the
secrets of the solution notebooks (:mod:`.leaks`) and refuses to finish if one is there.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path

import nbformat

from .handouts import build_handouts, hidden_tests, solution_notebooks
from .leaks import course_secrets, files_under, package_source, scan

MARKER = ".gan-kit-release"  # marks a folder build_release may replace
ZIP_ROOT = "gan-kit"  # the folder the zip unpacks to
COPIED = ("requirements.txt", "pyproject.toml", "data/README.md")

STUDENT_MAKEFILE = """\
# gan-kit for students: `make venv` installs everything, `make lab` opens the notebooks.
PYTHON_BOOT ?= python3
VENV        ?= .venv
PY          := $(VENV)/bin/python

.PHONY: venv lab

$(VENV)/.installed: requirements.txt pyproject.toml
\t@test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
\t$(PY) -m pip install --quiet -r requirements.txt -e .
\t$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (gan-kit)" >/dev/null
\t@touch $@

venv: $(VENV)/.installed

lab: venv
\t$(VENV)/bin/jupyter lab notebooks/
"""

STUDENT_README = """\
# gan-kit: the GAN course, student edition

Notebooks on Generative Adversarial Networks (`notebooks/`) and the small package behind them
(`gan_kit/`). Needs Python 3.11.

## Set up (two commands)

```bash
make venv        # or: python3 -m venv .venv && .venv/bin/pip install -r requirements.txt -e .
make lab         # or: .venv/bin/jupyter lab notebooks/
```

Datasets are read offline: see `data/README.md` for where to put them (`python -m gan_kit info`
lists what the kit finds). Every notebook has a `profile` parameter: `smoke` runs in seconds
(a code check), `quick` in minutes on a laptop, `full` is the assignment's own size.

## Do the exercises

Each exercise is a code cell whose body raises `NotImplementedError("<hint>")`: replace that line
with your code. Questions have an answer cell, **Your answer:** (write it here): write yours there.

## Check your work

Run the check cell right after each exercise (`checks.check_...(your_function)`). It prints a line
starting with `passed`, or raises `CheckFailed` saying what was expected, on which input, and a
hint; `NotImplementedError` means the exercise is not done yet. The checks compare your code with
an independent computation and switch the kit's own implementation off while they run, so calling
the kit's function instead of writing the code does not pass.

## What is graded

Hand in your notebooks under their original file names. The grader runs each one from the top,
under the `smoke` profile and within a time limit, then runs hidden tests: the same checks on
other inputs. A notebook that stops at an error still earns the points of the exercises that work,
so keep the names of the functions you were asked to write. Answer cells are read by your
instructor.

{graded}
"""


def graded_table(notebooks_dir: str | Path = "notebooks") -> str:
    """A markdown table of the graded exercises and their points, from the hidden tests' metadata (never their
    code)."""
    rows = ["| notebook | exercise | points |", "| --- | --- | --- |"]
    for path in solution_notebooks(notebooks_dir):
        for test in hidden_tests(nbformat.read(path, as_version=4), path.name):
            rows.append(f"| `{path.name}` | `{test.exercise}` | {test.points} |")
    return "\n".join(rows) if len(rows) > 2 else "No exercise is autograded."


def _copy_package(source: Path, target: Path) -> None:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints"))


def write_zip(folder: Path, archive: Path, root: str = ZIP_ROOT) -> Path:
    """Zip ``folder``'s files under ``root/``, sorted and with a fixed date, so the same release gives the same
    bytes."""
    tmp = archive.with_name(f".{archive.name}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(f"{root}/{path.relative_to(folder).as_posix()}", date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            out.writestr(info, path.read_bytes())
    tmp.replace(archive)
    return archive


def _replace(built: Path, target: Path) -> None:
    if target.exists():
        if not (target / MARKER).is_file():
            raise FileExistsError(f"{target} exists and is not a release folder (no {MARKER} file); move it away "
                                  "or choose another --out.")
        shutil.rmtree(target)
    built.rename(target)


def build_release(repo: str | Path = ".", out_dir: str | Path = "outputs/release",
                  zip_path: str | Path | None = None) -> tuple[Path, Path]:
    """Build the student release of the kit in ``repo`` into ``out_dir`` and ``zip_path`` (default: ``out_dir``
    with ``.zip``); returns both. ``ValueError`` (nothing replaced) if a secret of a solution notebook leaked."""
    repo, out_dir = Path(repo), Path(out_dir)
    zip_path = Path(zip_path) if zip_path else out_dir.with_suffix(".zip")
    notebooks = repo / "notebooks"
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    tree, archive = staging / out_dir.name, staging / zip_path.name
    try:
        build_handouts(notebooks, tree / "notebooks", every=True, quiet=True)
        _copy_package(repo / "gan_kit", tree / "gan_kit")
        for name in COPIED:
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(repo / name, tree / name)
        (tree / "README.md").write_text(STUDENT_README.format(graded=graded_table(notebooks)), encoding="utf-8")
        (tree / "Makefile").write_text(STUDENT_MAKEFILE, encoding="utf-8")
        write_zip(tree, archive)
        leaks = scan(files_under(staging), course_secrets(solution_notebooks(notebooks)),
                     exempt=package_source(repo / "gan_kit"))
        if leaks:
            shown = "\n".join(f"  {leak.file}: {leak.secret.kind} of {leak.secret.notebook}: {leak.secret.text[:80]}"
                              for leak in leaks[:20])
            raise ValueError(f"the release would leak {len(leaks)} secret(s) of the solution notebooks:\n{shown}")
        (tree / MARKER).write_text("built by python -m gan_kit release; the next build replaces this folder\n")
        _replace(tree, out_dir)
        archive.replace(zip_path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir, zip_path


__all__ = ["STUDENT_MAKEFILE", "STUDENT_README", "build_release", "graded_table", "write_zip"]
