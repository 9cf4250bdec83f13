"""The kit's answers marked in the package source, and the student package of each release made from it
(``gan_kit.instructor.package``): every answer of notebook NN or later a stub, nothing of the instructor's part."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from gan_kit.instructor import release
from gan_kit.instructor.leaks import files_under, scan
from gan_kit.instructor.package import (
    Block,
    PackageMarkerError,
    file_blocks,
    package_blocks,
    strip_source,
    student_package,
    unmarked_source,
    uses,
)
from tests.conftest import REPO

ASSIGNMENTS = sorted({b.notebook for b in package_blocks(REPO / "gan_kit")})


INSTRUCTOR_MODULES = {"grading", "sandbox", "guard", "runner", "release", "handouts", "leaks", "package", "bench",
                      "quality", "references"}


UNMARKED = unmarked_source(REPO / "gan_kit")


_BUILT: dict[int, Path] = {}


def built(assignment: int, tmp_path_factory) -> Path:
    if assignment not in _BUILT:
        out = tmp_path_factory.mktemp(f"release{assignment:02d}") / f"release-{assignment:02d}"
        _BUILT[assignment] = release.build_release(REPO, out, assignment=assignment)[0]
    return _BUILT[assignment]


# This venv installs the project in editable mode, whose import hook would find gan_kit.instructor in the project
# even when gan_kit itself comes from a release; a student's Python has no such hook.
NO_PROJECT = ("import sys\nsys.meta_path[:] = [f for f in sys.meta_path if not "
              "getattr(f, '__module__', '').startswith('__editable__')]\n")


def student_python(folder: Path, code: str, module_args: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Python with only the release folder on the path (the project's editable install switched off), started
    outside the project; ``module_args``: run ``python -m gan_kit ARGS`` instead of ``code``."""
    env = {**os.environ, "PYTHONPATH": str(folder), "TF_CPP_MIN_LOG_LEVEL": "3"}
    if module_args:
        code = f"import runpy\nsys.argv = ['gan_kit', *{list(module_args)!r}]\nrunpy.run_module('gan_kit', " \
               "run_name='__main__', alter_sys=True)\n"
    argv = [sys.executable, "-c", NO_PROJECT + code]
    return subprocess.run(argv, cwd=folder.parent, env=env, capture_output=True, text=True, timeout=300)


def test_the_package_marks_the_answers_of_the_graded_notebooks():
    blocks = package_blocks(REPO / "gan_kit")
    marked = {pair for b in blocks for pair in b.answers}
    assert {(1, "fid"), (1, "toy_step"), (2, "generator"), (2, "discriminator"), (2, "train_step"),
            (3, "gradient_penalty"), (4, "compare_at_equal_steps"), (5, "kl_divergence"), (5, "reparameterize"),
            (7, "prepare_image"), (8, "conditional_input"), (8, "projection_logit")} <= marked
    names = release.course_notebooks(REPO / "notebooks")
    assert all(b.notebook in names for b in blocks)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_holds_no_answer_of_its_assignment_or_later(assignment, tmp_path_factory):
    folder = built(assignment, tmp_path_factory)
    names = release.course_notebooks(REPO / "notebooks")
    assert sorted(p.name for p in (folder / "notebooks").iterdir()) == [f"{names[n]}.ipynb" for n in names
                                                                          if n <= assignment]
    package = folder / "gan_kit"
    assert not (package / "instructor").exists()
    sources = {p.relative_to(package).as_posix(): p.read_text() for p in package.rglob("*.py")}
    assert not any("# BEGIN SOLUTION" in text or "# END SOLUTION" in text for text in sources.values())
    for block in package_blocks(REPO / "gan_kit"):
        number, exercise = block.exercise_at(assignment)
        stub = f"exercise '{exercise}' of {names[number]}"
        kept = [line.strip() for line in block.text if len(line.strip()) > 20]
        if block.notebook >= assignment:
            assert stub in sources[block.file], block
            assert not any(line in sources[block.file] for line in kept if line not in UNMARKED), block
        else:
            assert stub not in sources[block.file] and all(line in sources[block.file] for line in kept), block
    secrets = release.release_secrets(release.solution_notebooks(REPO / "notebooks"), REPO / "gan_kit", assignment)
    assert {s.kind for s in secrets} >= {"hidden-test", "answer", "package answer"}
    leaks = scan(files_under(folder.parent), secrets)
    assert not leaks, [f"{leak.file}: {leak.secret.text}" for leak in leaks[:5]]
    for handout in (folder / "notebooks").iterdir():
        text = nbformat.writes(nbformat.read(handout, as_version=4))
        assert '"hidden-test"' not in text and "# BEGIN SOLUTION" not in text


@pytest.mark.parametrize("assignment", ASSIGNMENTS[-1:])
def test_the_student_package_has_no_instructor_module_and_stands_alone(assignment, tmp_path_factory):
    folder = built(assignment, tmp_path_factory)
    modules = {p.stem for p in (folder / "gan_kit").rglob("*.py")}
    assert not modules & INSTRUCTOR_MODULES, modules & INSTRUCTOR_MODULES
    out = student_python(folder, "import gan_kit, gan_kit.checks, gan_kit.exercises; print(gan_kit.__file__)\n"
                                 "try:\n    import gan_kit.instructor\nexcept ModuleNotFoundError:\n"
                                 "    print('no instructor part')\n")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.splitlines() == [str(folder / "gan_kit" / "__init__.py"), "no instructor part"]
    cli = student_python(folder, "", ("release", "--assignment", "2"))
    assert cli.returncode == 2 and "instructor's" in cli.stderr and "Traceback" not in cli.stderr


def test_a_stub_names_the_notebook_and_the_exercise(tmp_path):
    names = release.course_notebooks(REPO / "notebooks")
    student_package(REPO / "gan_kit", tmp_path / "gan_kit", 5, names)
    out = student_python(tmp_path, "import tensorflow as tf\nfrom gan_kit import losses\n"
                                   "x = tf.zeros((2, 3))\n"
                                   "try:\n    losses.kl_divergence(x, x)\n"
                                   "except NotImplementedError as exc:\n    print(exc)\n"
                                   "from gan_kit import models\n"
                                   "print(models.build_generator(8, width=4).count_params())\n")
    assert out.returncode == 0, out.stderr[-2000:]
    first, second = out.stdout.splitlines()[-2:]
    assert "exercise 'kl_divergence' of 05_gan_vs_vae" in first
    assert int(second) > 0  # 02's networks are past in release 05: the kit's own code is back


def test_copying_the_kits_code_object_copies_only_a_stub(tmp_path):
    """A submission that clones the kit's functions (their code objects) before any check runs gets the stub's
    code: in the student package there is no answer to clone."""
    names = release.course_notebooks(REPO / "notebooks")
    student_package(REPO / "gan_kit", tmp_path / "gan_kit", 1, names)
    code = ("import types, numpy as np\nfrom gan_kit.metrics import maths\nfrom gan_kit import steps\n"
            "f = maths.frechet_distance\nclone = types.FunctionType(f.__code__, f.__globals__, 'mine', "
            "f.__defaults__)\nfor fn, args in ((clone, (np.zeros(2), np.eye(2), np.ones(2), np.eye(2))),):\n"
            "    try:\n        fn(*args)\n    except NotImplementedError as exc:\n        print('stub:', exc)\n"
            "import inspect\nprint('GradientTape' in inspect.getsource(steps.alternating_train_step))\n")
    out = student_python(tmp_path, code)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "stub: gan_kit: this part of the kit is exercise 'fid' of 01_gan_theory" in out.stdout
    assert out.stdout.splitlines()[-1] == "False"


def test_an_earlier_notebook_that_needs_a_stubbed_function_stops_the_build(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("from gan_kit import losses\nloss = losses.gradient_penalty(c, r, f)"),
                      nbformat.v4.new_code_cell("def gradient_penalty(critic, real, fake):\n    return 0.0")]
    path = tmp_path / "01_intro.ipynb"
    nbformat.write(notebook, path)
    block = Block("losses.py", 10, 3, "gradient_penalty", "gradient_penalty", ("return x",))
    assert release.conflicts([path], [block]) == [
        "01_intro.ipynb cell 0 calls losses.py:gradient_penalty, which is exercise 'gradient_penalty' of notebook 03"]
    assert uses("from gan_kit.losses import kl_divergence as kl", "kl_divergence")
    assert not uses("def kl_divergence(mean, log_var):\n    return kl_divergence_of(mean)", "kl_divergence")


def test_strip_source_stubs_later_blocks_and_keeps_earlier_ones():
    source = ("def a():\n    # BEGIN SOLUTION 02 first\n    return 1\n    # END SOLUTION\n\n\n"
              "class B:\n    def c(self):\n        # BEGIN SOLUTION 05 second\n        return 2\n"
              "        # END SOLUTION\n")
    blocks = file_blocks(source, "m.py")
    assert [(b.notebook, b.exercise, b.function) for b in blocks] == [(2, "first", "a"), (5, "second", "B.c")]
    out, stubbed = strip_source(source, "m.py", 3, {5: "05_vae"})
    assert [b.exercise for b in stubbed] == ["second"]
    assert "    return 1\n" in out and "return 2" not in out and "SOLUTION" not in out
    assert "        raise NotImplementedError(\"gan_kit: this part of the kit is exercise 'second' of 05_vae." in out
    compile(out, "m.py", "exec")


@pytest.mark.parametrize("bad", ["    # BEGIN SOLUTION 02 a\n    # BEGIN SOLUTION 02 b\n", "    # END SOLUTION\n",
                                 "    # BEGIN SOLUTION 02 a\n", "    # BEGIN SOLUTION hint: x\n"])
def test_malformed_package_markers_are_errors(bad):
    with pytest.raises(PackageMarkerError, match="m.py, line"):
        file_blocks(bad, "m.py")
