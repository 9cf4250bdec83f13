"""The releases (``gan_kit.instructor.release``): the whole-course release (no --assignment) holds what students
need and none of the solution notebooks' secrets; an assignment's release takes only known assignments, and
--past-solutions gives the earlier notebooks' solutions and nothing of the assignment."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest

from gan_kit.instructor import release
from gan_kit.instructor.handouts import solution_notebooks
from gan_kit.instructor.leaks import (
    MIN_LENGTH,
    course_secrets,
    files_under,
    package_source,
    rubric_secrets,
    scan,
    zip_members,
)
from gan_kit.instructor.package import package_blocks
from tests.conftest import REPO


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "release"
    return release.build_release(REPO, out)


def test_the_release_holds_what_students_need(built):
    folder, archive = built
    names = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    notebooks = {p.name for p in solution_notebooks(REPO / "notebooks")}
    assert {f"notebooks/{n}" for n in notebooks} <= names
    assert {"README.md", "Makefile", "requirements.txt", "pyproject.toml", "data/README.md",
            "gan_kit/__init__.py", "gan_kit/checks/__init__.py"} <= names
    assert (folder / "requirements.txt").read_bytes() == (REPO / "requirements.txt").read_bytes()
    for name in names:
        top = name.split("/")[0]
        assert top not in {"tests", ".ci", "outputs", "scripts"} and "__pycache__" not in name, name
    with zipfile.ZipFile(archive) as zipped:
        members = {m.removeprefix(f"{release.ZIP_ROOT}/") for m in zipped.namelist()}
    assert members == names - {release.MARKER}
    readme = (folder / "README.md").read_text()
    assert "make venv" in readme and "jupyter lab notebooks/" in readme and "pip install -r requirements.txt" in readme
    assert "| `02_dcgan_cifar10.ipynb` | `train_step` | 4 |" in readme  # what is graded, from the hidden tests
    targets = [line.split(":")[0] for line in (folder / "Makefile").read_text().splitlines()
               if line and not line[0].isspace() and ":" in line and not line.startswith(("#", "$", ".")) and
               "=" not in line]
    assert targets == ["venv", "lab"]
    for name in notebooks:  # student versions only: no solution block, no hidden test, no model answer
        handout = nbformat.read(folder / "notebooks" / name, as_version=4)
        text = nbformat.writes(handout)
        assert "# BEGIN SOLUTION" not in text and '"hidden-test"' not in text and "Model answer" not in text


def test_no_secret_of_a_solution_notebook_is_in_the_release(built):
    """Every file of the release, and every member of its zip, grepped for each solution line, each hidden-test
    line and each sentence of each model answer.

    Lines and sentences shorter than MIN_LENGTH (25) characters are not looked for: below that a line is generic
    Python (``return model``, ``if i > 0:``, ``x = layers.ReLU()(x)``) that the kit's own package legitimately
    contains; from 25 characters on it names an exercise's own variables and calls, and finding it means copied
    code. Lines a solution notebook shows students on purpose (the unmarked cells and hints of any notebook) do not
    count, nor, in files that are not notebooks, lines of the kit's package: this is the whole course at once,
    whose package keeps every answer (gan_kit/instructor/release.py says so when it builds one; the per-assignment
    releases are scanned with no exemption in tests/instructor/test_package.py)."""
    folder, archive = built
    found = release.release_secrets(solution_notebooks(REPO / "notebooks"), REPO / "gan_kit", None)
    assert MIN_LENGTH == 25 and all(len(s.text) >= MIN_LENGTH for s in found)
    assert {s.kind for s in found} == {"solution", "hidden-test", "answer", "rubric"}
    books = solution_notebooks(REPO / "notebooks")
    rubrics = {s for path in books for s in rubric_secrets(nbformat.read(path, as_version=4), path.name)}
    assert rubrics and set(found) <= set(course_secrets(books)) | rubrics
    files = [*files_under(folder), *zip_members(archive)]
    assert any(name.endswith(".ipynb") for name, _ in files) and any("!" in name for name, _ in files)
    leaks = scan(files, found, exempt=package_source(REPO / "gan_kit"))
    assert not leaks, [f"{leak.file}: {leak.secret.kind}: {leak.secret.text}" for leak in leaks[:10]]


def test_the_scan_finds_a_planted_solution_notebook(built, tmp_path):
    folder, _ = built
    planted = tmp_path / "planted"
    shutil.copytree(folder, planted)
    shutil.copy(REPO / "notebooks" / "01_gan_theory.ipynb", planted / "gan_kit" / "theory.ipynb")
    found = course_secrets([REPO / "notebooks" / "01_gan_theory.ipynb"])
    leaks = scan(files_under(planted), found, exempt=package_source(REPO / "gan_kit"))
    assert {leak.file for leak in leaks} == {"gan_kit/theory.ipynb"}
    assert {leak.secret for leak in leaks} == set(found) and {"solution", "hidden-test"} <= {s.kind for s in found}


def test_a_leaking_release_is_refused_and_the_old_one_kept(built, tmp_path, monkeypatch):
    out = tmp_path / "release"
    release.build_release(REPO, out)
    before = sorted(p.name for p in out.rglob("*"))

    def solutions_as_handouts(notebooks, target, **kwargs):
        shutil.copytree(notebooks, target)
        return sorted(Path(target).glob("*.ipynb"))

    monkeypatch.setattr(release, "build_handouts", solutions_as_handouts)
    with pytest.raises(ValueError, match="leak"):
        release.build_release(REPO, out)
    assert sorted(p.name for p in out.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["release", "release.zip"]  # no staging folder left


def test_release_will_not_replace_a_folder_it_did_not_build(tmp_path):
    (tmp_path / "release").mkdir()
    (tmp_path / "release" / "mine.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        release.build_release(REPO, tmp_path / "release")
    assert (tmp_path / "release" / "mine.txt").read_text() == "keep me"


def test_an_unknown_assignment_is_refused(tmp_path):
    with pytest.raises(release.ReleaseError, match="no notebook 42"):
        release.build_release(REPO, tmp_path / "r", assignment=42)


def test_a_block_that_answers_two_exercises_is_named_by_the_one_still_open():
    block = next(b for b in package_blocks(REPO / "gan_kit") if b.function == "alternating_train_step")
    assert block.answers == ((1, "toy_step"), (2, "train_step"))
    assert block.exercise_at(1) == (1, "toy_step") and block.exercise_at(2) == (2, "train_step")
    assert "01 toy_step, 02 train_step (steps.py:alternating_train_step)" in release.given_away(REPO)


def test_past_solutions_give_the_earlier_notebooks_as_solutions_and_nothing_of_the_assignment(tmp_path):
    folder, archive = release.build_release(REPO, tmp_path / "release-03", assignment=3, past_solutions=True)
    books = {p.name[:2]: nbformat.read(p, as_version=4) for p in (folder / "notebooks").iterdir()}
    assert sorted(books) == ["00", "01", "02", "03"]
    for name in ("01", "02"):
        cells = books[name].cells
        text = "\n".join(c.source for c in cells)
        assert "NotImplementedError" not in text and "# BEGIN SOLUTION" not in text and "NBVAL" not in text
        assert not any("hidden-test" in c.metadata.get("tags", []) for c in cells)
        assert not any(c.get("outputs") for c in cells if c.cell_type == "code")
        assert not any("gan_kit" in c.metadata for c in cells)  # no rubric
        solution = nbformat.read(next((REPO / "notebooks").glob(f"{name}_*.ipynb")), as_version=4)
        answers = [c.source for c in solution.cells if "answer" in c.metadata.get("tags", [])]
        assert answers and all(a in text for a in answers)  # the model answers, for the student to compare
    handout = "\n".join(c.source for c in books["03"].cells)
    assert "NotImplementedError" in handout  # the assignment itself stays a handout
    assert "The notebooks before 03 are their solutions" in (folder / "README.md").read_text()
    leaks = scan(files_under(folder), release.release_secrets(sorted((REPO / "notebooks").glob("[0-9]*.ipynb")),
                                                              REPO / "gan_kit", 3, past_solutions=True))
    assert leaks == []


def test_past_solutions_need_an_assignment(tmp_path):
    with pytest.raises(release.ReleaseError, match="past solutions need an assignment"):
        release.build_release(REPO, tmp_path / "release", past_solutions=True)
    assert not (tmp_path / "release").exists()


def test_a_rubric_is_a_secret_of_every_release(tmp_path):
    secrets = release.release_secrets(sorted((REPO / "notebooks").glob("[0-9]*.ipynb")), REPO / "gan_kit", 8,
                                      past_solutions=True)
    rubrics = [s for s in secrets if s.kind == "rubric"]
    assert {s.notebook[:2] for s in rubrics} >= {"01", "02", "08"}
    (tmp_path / "notes.md").write_text(f"copied from the course:\n{rubrics[0].text}\n")
    assert [leak.secret for leak in scan(files_under(tmp_path), secrets)] == [rubrics[0]]
