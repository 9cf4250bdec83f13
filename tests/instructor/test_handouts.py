"""Handouts generated from the solution notebooks leak nothing (solutions, model answers,
hidden tests, outputs) and stop at their first stub."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from gan_kit.instructor.handouts import (
    ANSWER,
    ANSWER_PLACEHOLDER,
    BEGIN,
    EXERCISE,
    HIDDEN_TEST,
    SOLUTION,
    SOLUTION_ONLY,
    HandoutError,
    answer_placeholder,
    answer_points,
    build_handouts,
    hidden_tests,
    make_handout,
    strip_blocks,
    strip_check_markers,
    tags,
)
from gan_kit.instructor.leaks import readable_text, scan, secrets
from tests.conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MARKED = {SOLUTION, SOLUTION_ONLY, ANSWER, HIDDEN_TEST}


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _handout(path: Path) -> nbformat.NotebookNode:
    return make_handout(_read(path), path.name)[0]


def test_strip_blocks_keeps_indentation_and_hint():
    source = "def f(x):\n    # BEGIN SOLUTION hint: double it\n    return 2 * x\n    # END SOLUTION\n\nprint(1)"
    out, blocks = strip_blocks(source)
    assert blocks == 1
    assert out == "def f(x):\n    # TODO: double it\n    raise NotImplementedError('double it')\n\nprint(1)"
    namespace: dict = {}
    exec(out, namespace)
    with pytest.raises(NotImplementedError, match="double it"):
        namespace["f"](1)


@pytest.mark.parametrize("bad", ["# BEGIN SOLUTION\nx = 1", "x = 1\n# END SOLUTION",
                                 "# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION"])
def test_malformed_markers_are_errors(bad):
    with pytest.raises(HandoutError):
        strip_blocks(bad)


def test_tagged_cells():
    nb = nbformat.v4.new_notebook()
    keep = nbformat.v4.new_markdown_cell("# Title")
    whole = nbformat.v4.new_code_cell("# Compute the answer\nanswer = 42", metadata={"tags": [SOLUTION]})
    only = nbformat.v4.new_code_cell("secret = 1", metadata={"tags": [SOLUTION_ONLY]})
    question = nbformat.v4.new_markdown_cell("### Q1. Why?")
    model = nbformat.v4.new_markdown_cell("Because the model answer says so.", metadata={"tags": [ANSWER]})
    test = nbformat.v4.new_code_cell("check(answer)", metadata={"tags": [HIDDEN_TEST],
                                                                 "grade": {"exercise": "answer", "points": 2}})
    ran = nbformat.v4.new_code_cell("print(1)", execution_count=3,
                                    outputs=[nbformat.v4.new_output("stream", text="1\n")])
    nb.cells = [keep, whole, only, question, model, test, ran]
    handout, n = make_handout(nb)
    assert n == 1 and len(handout.cells) == 5
    assert handout.cells[0] == keep and handout.cells[2] == question
    assert "answer = 42" not in handout.cells[1].source
    assert "raise NotImplementedError('Compute the answer')" in handout.cells[1].source
    assert handout.cells[3].cell_type == "markdown" and handout.cells[3].source == ANSWER_PLACEHOLDER
    assert handout.cells[3].metadata == {"tags": [ANSWER]} and handout.cells[3].id == model.id
    assert handout.cells[4].source == "print(1)" and handout.cells[4].outputs == []
    assert handout.cells[4].execution_count is None
    assert hidden_tests(nb)[0].exercise == "answer" and hidden_tests(nb)[0].points == 2


@pytest.mark.parametrize("grade", [None, {"points": 1}, {"exercise": "x", "points": -1},
                                   {"exercise": "x", "points": "2"}])
def test_malformed_hidden_tests_are_errors(grade):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("check()", metadata={"tags": [HIDDEN_TEST], "grade": grade})]
    with pytest.raises(HandoutError, match="grade"):
        make_handout(nb)


def _without_outputs(cell) -> dict:
    return {k: v for k, v in cell.items() if k not in ("outputs", "execution_count")}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_handout_is_valid_and_leaks_nothing(path):
    solution = _read(path)
    handout = _handout(path)
    nbformat.validate(handout)
    found = secrets(solution, path.name)
    leaks = scan([(path.name, readable_text(path.name, nbformat.writes(handout).encode()))], found)
    assert not leaks, f"{path.name} leaks: {[(leak.secret.kind, leak.secret.text) for leak in leaks]}"
    source = "\n".join(c.source for c in handout.cells)
    for test in hidden_tests(solution, path.name):
        assert test.source not in source
    assert not any(HIDDEN_TEST in tags(c) for c in handout.cells)
    assert all(c.outputs == [] and c.execution_count is None for c in handout.cells if c.cell_type == "code")
    kept = [c for c in solution.cells if not tags(c) & {SOLUTION_ONLY, HIDDEN_TEST}]
    assert len(kept) == len(handout.cells)
    for before, after in zip(kept, handout.cells):
        if ANSWER in tags(before):
            assert after.source == answer_placeholder(answer_points(before)) and ANSWER in tags(after)
        elif EXERCISE in tags(after):
            assert "NotImplementedError" in after.source
        else:  # every unmarked cell is the same, but for its cleared outputs and its NBVAL marker lines
            assert not tags(before) & MARKED and not any(BEGIN.match(line) for line in before.source.splitlines())
            if before.cell_type == "code":
                before = {**before, "source": strip_check_markers(before.source)}
            assert _without_outputs(before) == _without_outputs(after), f"{path.name}: an unmarked cell changed"


def test_the_secrets_are_found_where_they_are():
    """The leak scan is not vacuous: every secret of notebook 02 is found in the solution notebook itself, and the
    notebooks with exercises have secrets of each kind they mark."""
    path = REPO / "notebooks" / "02_dcgan_cifar10.ipynb"
    found = secrets(_read(path), path.name)
    assert {s.kind for s in found} == {"solution", "answer", "hidden-test"}
    leaks = scan([(path.name, readable_text(path.name, path.read_bytes()))], found)
    assert {leak.secret for leak in leaks} == set(found)


def _stubs(nb: nbformat.NotebookNode) -> int:
    return sum(c.source.count("raise NotImplementedError(") for c in nb.cells if EXERCISE in tags(c))


def test_the_course_handouts_have_their_exercises():
    dcgan = _handout(REPO / "notebooks" / "02_dcgan_cifar10.ipynb")
    assert _stubs(dcgan) >= 4  # generator, discriminator, losses, train step
    assert sum(c.source.startswith("**Your answer** (") for c in dcgan.cells) >= 4
    theory = _handout(REPO / "notebooks" / "01_gan_theory.ipynb")
    stubbed = {name for c in theory.cells if EXERCISE in tags(c) for name in ("make_toy_step", "fid_by_hand")
               if f"def {name}(" in c.source and "NotImplementedError" in c.source}
    assert stubbed == {"make_toy_step", "fid_by_hand"}


def test_build_handouts_writes_only_notebooks_with_exercises(tmp_path):
    written = build_handouts(REPO / "notebooks", tmp_path)
    with_exercises = [p.name for p in NOTEBOOKS if make_handout(_read(p))[1]]
    assert sorted(p.name for p in written) == sorted(with_exercises)
    assert {"01_gan_theory.ipynb", "02_dcgan_cifar10.ipynb", "03_stabilizing_gans.ipynb", "05_gan_vs_vae.ipynb",
            "08_conditional_gan.ipynb"} <= set(with_exercises)
    assert len(build_handouts(REPO / "notebooks", tmp_path / "all", every=True)) == len(NOTEBOOKS)


def test_handouts_for_some_notebooks_by_name_or_prefix(tmp_path, capsys):
    from gan_kit.__main__ import main

    written = build_handouts(REPO / "notebooks", tmp_path / "some", only=["02", "03_stabilizing"])
    assert sorted(p.name for p in written) == ["02_dcgan_cifar10.ipynb", "03_stabilizing_gans.ipynb"]
    out = tmp_path / "cli"
    assert main(["handouts", "--notebooks", str(REPO / "notebooks"), "--only", "01,05", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["01_gan_theory.ipynb", "05_gan_vs_vae.ipynb"]


def test_handouts_refuse_a_folder_without_notebooks_and_an_unknown_name(tmp_path, capsys):
    """``--notebooks 02,03`` (a selection passed where the folder goes) wrote "0 handout(s)" and exited 0."""
    from gan_kit.__main__ import main

    out = tmp_path / "out"
    assert main(["handouts", "--notebooks", "02,03", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "02,03 holds no course notebooks" in err and "--only 02,03" in err
    assert not out.exists()
    with pytest.raises(HandoutError, match="no notebook in .* matches 99; the notebooks are: 00_setup_and_data"):
        build_handouts(REPO / "notebooks", out, only=["99"])
    assert not out.exists()


def _smoke_parameters(path: Path) -> dict:
    """profile=smoke, and scikit-learn's digits (always at hand) where the notebook takes a dataset."""
    source = next(c.source for c in _read(path).cells if "parameters" in tags(c))
    return {"profile": "smoke", **({"dataset": "digits"} if re.search(r"^dataset\s*=", source, re.M) else {})}


WITH_EXERCISES = [p for p in NOTEBOOKS if make_handout(_read(p))[1]]


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=lambda p: p.name)
def test_handout_fails_at_the_first_stub(path, tmp_path, monkeypatch):
    import papermill

    (handout,) = [p for p in build_handouts(REPO / "notebooks", tmp_path) if p.name == path.name]
    nb = _read(handout)
    first_stub = next(i for i, c in enumerate(nb.cells) if EXERCISE in tags(c))
    monkeypatch.setenv("GAN_KIT_PROFILE", "smoke")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    with pytest.raises(papermill.PapermillExecutionError) as info:
        # scikit-learn's digits are always at hand, so the run needs no dataset files.
        papermill.execute_notebook(str(handout), str(tmp_path / "out.ipynb"), kernel_name="python3",
                                   cwd=str(REPO), progress_bar=False, parameters=_smoke_parameters(handout))
    assert info.value.ename == "NotImplementedError"
    executed = _read(tmp_path / "out.ipynb")
    failed = [i for i, c in enumerate(executed.cells)
              if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    # papermill adds cells (injected parameters, error banners): find the stub by its source. The first code cell
    # after it (its self-check, which calls the stub; the hidden test that followed it is gone) is the one and only
    # failure.
    stub_index = next(i for i, c in enumerate(executed.cells) if c.source == nb.cells[first_stub].source)
    next_code = next(i for i in range(stub_index + 1, len(executed.cells)) if executed.cells[i].cell_type == "code")
    assert failed == [next_code]
    assert re.search(r"checks\.check_", executed.cells[next_code].source)
    assert "Hidden test" not in executed.cells[next_code].source
