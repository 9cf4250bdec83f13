"""Issue 10: handouts generated from solution notebooks, and the self-checks students run."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest

from gan_kit.handouts import BEGIN, END, HandoutError, build_handouts, make_handout, strip_blocks

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _solution_lines(source: str) -> list[str]:
    lines, inside = [], False
    for line in source.splitlines():
        if BEGIN.match(line):
            inside = True
        elif END.match(line):
            inside = False
        elif inside and line.strip() and not line.strip().startswith("#"):
            lines.append(line.strip())
    return lines


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
    whole = nbformat.v4.new_code_cell("# Compute the answer\nanswer = 42", metadata={"tags": ["solution"]})
    only = nbformat.v4.new_code_cell("secret = 1", metadata={"tags": ["solution-only"]})
    nb.cells = [keep, whole, only]
    handout, n = make_handout(nb)
    assert n == 1 and len(handout.cells) == 2
    assert handout.cells[0] == keep
    assert "answer = 42" not in handout.cells[1].source
    assert "raise NotImplementedError('Compute the answer')" in handout.cells[1].source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_handout_is_valid_and_holds_no_solution(path):
    solution = nbformat.read(path, as_version=4)
    handout, exercises = make_handout(solution, path.name)
    nbformat.validate(handout)
    text = nbformat.writes(handout)
    for cell in solution.cells:
        for line in _solution_lines(cell.source):
            assert line not in text, f"{path.name}: solution line leaked: {line}"
    kept = [c for c in solution.cells if "solution-only" not in c.metadata.get("tags", [])]
    assert len(kept) == len(handout.cells)
    for before, after in zip(kept, handout.cells):
        marked = "solution" in before.metadata.get("tags", []) or BEGIN.search(before.source or "") is not None
        if before.cell_type != "code" or not any(BEGIN.match(line) for line in before.source.splitlines()):
            if not marked:
                assert before == after, f"{path.name}: a non-solution cell changed"


def test_build_handouts_writes_only_notebooks_with_exercises(tmp_path):
    written = build_handouts(REPO / "notebooks", tmp_path)
    with_exercises = [p.name for p in NOTEBOOKS if make_handout(nbformat.read(p, as_version=4))[1]]
    assert sorted(p.name for p in written) == sorted(with_exercises)
    assert {"01_gan_theory.ipynb", "02_dcgan_cifar10.ipynb", "03_stabilizing_gans.ipynb", "05_gan_vs_vae.ipynb",
            "08_conditional_gan.ipynb"} <= set(with_exercises)


def _smoke_parameters(path: Path) -> dict:
    """profile=smoke, and scikit-learn's digits (always at hand) where the notebook takes a dataset."""
    cells = nbformat.read(path, as_version=4).cells
    source = next(c.source for c in cells if "parameters" in c.metadata.get("tags", []))
    return {"profile": "smoke", **({"dataset": "digits"} if re.search(r"^dataset\s*=", source, re.M) else {})}


WITH_EXERCISES = [p for p in NOTEBOOKS if make_handout(nbformat.read(p, as_version=4))[1]]


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=lambda p: p.name)
def test_handout_fails_at_the_first_stub(path, tmp_path):
    import papermill

    (handout,) = [p for p in build_handouts(REPO / "notebooks", tmp_path) if p.name == path.name]
    nb = nbformat.read(handout, as_version=4)
    first_stub = next(i for i, c in enumerate(nb.cells) if "exercise" in c.metadata.get("tags", []))
    env = {"GAN_KIT_PROFILE": "smoke", "MPLBACKEND": "Agg"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with pytest.raises(papermill.PapermillExecutionError) as info:
            # scikit-learn's digits are always at hand, so the run needs no dataset files.
            papermill.execute_notebook(str(handout), str(tmp_path / "out.ipynb"), kernel_name="python3",
                                       cwd=str(REPO), progress_bar=False,
                                       parameters=_smoke_parameters(handout))
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert info.value.ename == "NotImplementedError"
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    failed = [i for i, c in enumerate(executed.cells)
              if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    # papermill adds cells (injected parameters, error banners): find the stub by its source. The first
    # code cell after it (its self-check, which calls the stub) is the one and only failure.
    stub_source = nb.cells[first_stub].source
    stub_index = next(i for i, c in enumerate(executed.cells) if c.source == stub_source)
    next_code = next(i for i in range(stub_index + 1, len(executed.cells)) if executed.cells[i].cell_type == "code")
    assert failed == [next_code]
    assert re.search(r"checks\.check_", executed.cells[next_code].source)
