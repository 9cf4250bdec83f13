"""The student release of one assignment: ``outputs/release-NN/`` and ``outputs/release-NN.zip``.

The course order is the notebook order (``notebooks/NN_*.ipynb``). The release of assignment NN holds:

- the handouts of the notebooks up to NN (``notebooks/``: :func:`~.handouts.make_handout`);
- the student package (``gan_kit/`` without ``gan_kit/instructor/``), where every answer block of notebook NN or
  later is a stub that names its notebook and exercise (:mod:`.package`); blocks of earlier notebooks keep
  their code, those assignments being past;
- the checks' public fixture files, when the instructor part can compute them;
- ``requirements.txt``, ``pyproject.toml``, ``data/README.md``, a student ``README.md`` and ``Makefile``.

Before it replaces the previous release, :func:`build_release` refuses to finish when an included notebook calls
a kit function that the release stubs (the exercise then has to change), or when any file it wrote, the package
and the zip included, holds a secret of notebook NN or later, or a hidden test or model answer of any notebook
(:mod:`.leaks`).

Without an assignment, the release is the whole course at once: every handout and the package with every
answer the kit holds (printed as a warning), as before per-assignment releases existed.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path

import nbformat

from .handouts import (
    BEGIN,
    CHECK_MARKER,
    END,
    HIDDEN_TEST,
    build_handouts,
    clear_outputs,
    hidden_tests,
    solution_notebooks,
    tags,
)
from .leaks import (
    MIN_LENGTH,
    Secret,
    files_under,
    normalize,
    package_source,
    public_text,
    rubric_secrets,
    scan,
    secrets,
)
from .package import Block, package_blocks, student_package, unmarked_source, uses

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
with your code; the first line of the cell gives its points. Questions have an answer cell,
**Your answer** (N points): (write it here): write yours there.

## Check your work

Run the check cell right after each exercise (`checks.check_...(your_function)`). It prints a line
starting with `passed`, or raises `CheckFailed` saying what was expected, on which input, and a
hint; `NotImplementedError` means the exercise is not done yet. The checks compare what your code
returns with stored expected values (`gan_kit/checks/fixtures/`), and the kit's own version of an
exercise is not in your copy of the package until that assignment is past: write the code yourself.
Once a check passes, the notebook hands your function to the kit (`gan_kit.exercises`), so the
runs and figures that follow are made with your code.

## What is graded

Hand in your notebooks under their original file names. The grader runs each one from the top,
under the `smoke` profile (whatever your parameters cell says) and within a time limit, with the
package of this release, then runs hidden tests: your functions on other inputs, judged by the
grader. A notebook that stops at an error still earns the points of the exercises that work,
so keep the names of the functions you were asked to write. Answer cells are read by your
instructor.

{graded}
"""


PAST_SOLUTIONS_NOTE = """
## The past assignments' solutions

The notebooks before {assignment:02d} are their solutions, with the model answers to their questions:
compare them with your own work.
"""


class ReleaseError(ValueError):
    """The release cannot be built as asked (a conflict, a leak, an unknown assignment)."""


def number(path: Path) -> int:
    """A course notebook's number: ``02_dcgan_cifar10.ipynb`` -> 2."""
    return int(path.name[:2])


def course_notebooks(notebooks_dir: str | Path) -> dict[int, str]:
    """``{number: notebook name without .ipynb}`` in course order."""
    return {number(p): p.stem for p in solution_notebooks(notebooks_dir)}


def graded_table(notebooks_dir: str | Path = "notebooks", upto: int | None = None) -> str:
    """A markdown table of the graded exercises and their points, from the hidden tests' metadata (never their
    code); ``upto``: the notebooks up to that number only."""
    rows = ["| notebook | exercise | points |", "| --- | --- | --- |"]
    for path in solution_notebooks(notebooks_dir):
        if upto is not None and number(path) > upto:
            continue
        for test in hidden_tests(nbformat.read(path, as_version=4), path.name):
            rows.append(f"| `{path.name}` | `{test.exercise}` | {test.points} |")
    return "\n".join(rows) if len(rows) > 2 else "No exercise is autograded."


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


def conflicts(handouts: list[Path], stubbed: list[Block], assignment: int = 0) -> list[str]:
    """Each place where an included notebook calls a kit function that release ``assignment`` stubs."""
    found = []
    for path in handouts:
        cells = nbformat.read(path, as_version=4).cells
        for index, cell in enumerate(cells):
            for block in stubbed:
                if cell.cell_type == "code" and uses(cell.source, block.function):
                    notebook, exercise = block.exercise_at(assignment)
                    found.append(f"{path.name} cell {index} calls {block.file}:{block.function}, which is exercise "
                                 f"'{exercise}' of notebook {notebook:02d}")
    return sorted(set(found))


def release_secrets(notebooks: list[Path], package: Path, assignment: int | None,
                    past_solutions: bool = False) -> list[Secret]:
    """What release ``assignment`` may not hold: every secret of notebook ``assignment`` or later, the hidden tests
    and model answers of every notebook (``past_solutions``: but the model answers of earlier notebooks), the
    rubrics of the written questions, and the lines of the package's answer blocks of those notebooks. A line that
    a notebook shows students on purpose, or that the package holds outside its answer blocks, is no secret."""
    first = assignment if assignment is not None else 0
    past = ("solution", "answer") if past_solutions else ("solution",)
    books = {path: nbformat.read(path, as_version=4) for path in notebooks}
    shown = normalize("\n".join(public_text(book) for book in books.values()))
    # A past model answer's sentence that a later one repeats ("Model answer (instructor's notes).") is public
    answered = normalize("\n".join(cell.source for path, book in books.items() if past_solutions and
                                   number(path) < first for cell in past_solution(book).cells))
    every = [s for path, book in books.items() for s in (*secrets(book, path.name), *rubric_secrets(book, path.name))]
    found = [s for s in every if (s.kind not in past or int(s.notebook[:2]) >= first) and s.text not in shown
             and not (s.kind == "answer" and s.text in answered)]
    if assignment is None:
        return found
    public = normalize(unmarked_source(package)) + "\n" + shown
    for block in package_blocks(package):
        if block.notebook >= assignment:
            found += [Secret(f"gan_kit/{block.file}", "package answer", text) for text in map(normalize, block.text)
                      if len(text) >= MIN_LENGTH and text not in public]
    return found


CHECK_NOTEBOOKS = {"toy_step": 1, "fid": 1, "gan_losses": 2, "train_step": 2, "gradient_penalty": 3,
                   "equal_steps": 4, "reparameterize": 5, "kl": 5, "kid": 6,
                   "prepare_image": 7, "conditional_input": 8, "projection": 8}  # each check's first notebook


def write_check_fixtures(package: Path, upto: int | None) -> list[Path]:
    """The stored expected values of the checks' public inputs (``checks.fixtures.PUBLIC_SEEDS``) for the notebooks
    up to ``upto``, in ``package/checks/fixtures``: the checks of a release read them, the references stay here."""
    from ..checks.fixtures import PUBLIC_SEEDS
    from .references import write_fixtures

    missing = sorted(set(PUBLIC_SEEDS) - set(CHECK_NOTEBOOKS))
    if missing:
        raise ReleaseError(f"add the first notebook of check(s) {missing} to CHECK_NOTEBOOKS in {__name__}.")
    seeds = {name: s for name, s in PUBLIC_SEEDS.items() if upto is None or CHECK_NOTEBOOKS[name] <= upto}
    return write_fixtures(package / "checks" / "fixtures", seeds)


def _refuse_leaks(staging: Path, secrets: list[Secret], exempt: str) -> None:
    leaks = scan(files_under(staging), secrets, exempt=exempt)
    if leaks:
        shown = "\n".join(f"  {leak.file}: {leak.secret.kind} of {leak.secret.notebook}: {leak.secret.text[:80]}"
                          for leak in leaks[:20])
        raise ReleaseError(f"the release would leak {len(leaks)} secret(s):\n{shown}")


def past_solution(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A past assignment's notebook as students may get it once it is past: the solution's code and model answers,
    without its hidden tests, its solution markers, its outputs or its grading metadata."""
    solution = nbformat.from_dict(nbformat.v4.new_notebook(metadata=notebook.metadata))
    for cell in notebook.cells:
        if HIDDEN_TEST in tags(cell):
            continue
        copy = nbformat.from_dict(dict(cell))
        copy.metadata = nbformat.NotebookNode({"tags": sorted(tags(cell))} if tags(cell) else {})
        lines = copy.source.splitlines()
        if copy.cell_type == "code":
            lines = [line for line in lines if not (BEGIN.match(line) or END.match(line) or CHECK_MARKER.match(line))]
        copy.source = "\n".join(lines)
        clear_outputs(copy)
        solution.cells.append(copy)
    return solution


def write_past_solutions(notebooks: Path, out: Path, assignment: int) -> list[Path]:
    """Replace the handouts of the notebooks before ``assignment`` in ``out`` with :func:`past_solution`."""
    written = []
    for path in solution_notebooks(notebooks):
        if number(path) < assignment:
            nbformat.write(past_solution(nbformat.read(path, as_version=4)), out / path.name)
            written.append(out / path.name)
    return written


def _stage(repo: Path, tree: Path, assignment: int | None, past_solutions: bool = False) -> list[Block]:
    """Write the release's files into ``tree``; returns the package blocks it stubbed."""
    notebooks = repo / "notebooks"
    names = course_notebooks(notebooks)
    if assignment is not None and assignment not in names:
        raise ReleaseError(f"no notebook {assignment:02d} in {notebooks}; the course's notebooks are "
                           f"{', '.join(f'{n:02d}' for n in names)}.")
    only = None if assignment is None else [f"{n:02d}" for n in names if n <= assignment]
    handouts = build_handouts(notebooks, tree / "notebooks", every=True, quiet=True, only=only)
    if past_solutions:
        if assignment is None:
            raise ReleaseError("past solutions need an assignment: the notebooks before it go as solutions "
                               "(--assignment NN --past-solutions).")
        write_past_solutions(notebooks, tree / "notebooks", assignment)
    stubbed = student_package(repo / "gan_kit", tree / "gan_kit", assignment, names)
    clashes = conflicts(handouts, stubbed, assignment or 0)
    if clashes:
        raise ReleaseError("an earlier notebook needs a kit function this release stubs; change that exercise or "
                           "that notebook:\n  " + "\n  ".join(clashes))
    write_check_fixtures(tree / "gan_kit", assignment)
    for name in COPIED:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / name, tree / name)
    readme = STUDENT_README.format(graded=graded_table(notebooks, assignment))
    if past_solutions:
        readme += PAST_SOLUTIONS_NOTE.format(assignment=assignment)
    (tree / "README.md").write_text(readme, encoding="utf-8")
    (tree / "Makefile").write_text(STUDENT_MAKEFILE, encoding="utf-8")
    return stubbed


def default_out(assignment: int | None) -> Path:
    """``outputs/release-NN`` for one assignment, ``outputs/release`` for the whole course."""
    return Path("outputs") / ("release" if assignment is None else f"release-{assignment:02d}")


def build_release(repo: str | Path = ".", out_dir: str | Path | None = None, zip_path: str | Path | None = None,
                  assignment: int | None = None, past_solutions: bool = False) -> tuple[Path, Path]:
    """Build the student release of ``assignment`` (None: the whole course at once, the package's answers
    included) into ``out_dir`` and ``zip_path`` (default: ``out_dir`` with ``.zip``); returns both.
    ``ReleaseError`` (nothing replaced) on a conflict or a leak. ``past_solutions``: the notebooks before
    ``assignment`` go as their solutions (:func:`past_solution`), not as handouts. (The Gradescope autograder:
    :func:`.gradescope.release_with_autograder`.)"""
    repo = Path(repo)
    out_dir = Path(out_dir) if out_dir else repo / default_out(assignment)
    zip_path = Path(zip_path) if zip_path else out_dir.with_suffix(".zip")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    tree, archive = staging / out_dir.name, staging / zip_path.name
    try:
        _stage(repo, tree, assignment, past_solutions)
        write_zip(tree, archive)
        exempt = package_source(repo / "gan_kit") if assignment is None else ""
        _refuse_leaks(staging, release_secrets(solution_notebooks(repo / "notebooks"), repo / "gan_kit",
                                               assignment, past_solutions), exempt)
        (tree / MARKER).write_text("built by python -m gan_kit release; the next build replaces this folder\n")
        _replace(tree, out_dir)
        archive.replace(zip_path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir, zip_path


def given_away(repo: str | Path = ".") -> list[str]:
    """The exercises whose answers a whole-course release ships in its package."""
    blocks = package_blocks(Path(repo) / "gan_kit")
    return sorted({", ".join(f"{n:02d} {e}" for n, e in b.answers) + f" ({b.file}:{b.function})" for b in blocks})


__all__ = ["STUDENT_MAKEFILE", "STUDENT_README", "ReleaseError", "build_release", "conflicts", "course_notebooks",
           "default_out", "given_away", "write_check_fixtures", "graded_table", "release_secrets", "write_zip"]
