"""Submissions that try to earn points without the code: each gets 0 on every exercise it does not solve.

Graded on notebook 01 (toy_step, 2 points; fid, 1 point) in one batch: a notebook that clones the kit's own
functions (their code objects) before anything runs; one that pastes the release package's source of them; one
that replaces every check and every recorder with a no-op and fakes a record; and one that solves fid and replaces
the checks with no-ops, which earns fid's point and nothing else. The hidden expected values are never in a job's
folder.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from gan_kit.instructor.grades import course_tests
from gan_kit.instructor.grading import grade, release_packages
from gan_kit.instructor.handouts import make_handout
from gan_kit.instructor.verdicts import full_fixture, hidden_calls
from tests.conftest import REPO

NAME = "01_gan_theory.ipynb"

CLONE = """\
import types
from gan_kit.metrics import maths
from gan_kit import steps

def _clone(f):
    return types.FunctionType(f.__code__, f.__globals__, "mine", f.__defaults__, f.__closure__)

_distance = _clone(maths.frechet_distance)

def fid_by_hand(real_features, fake_features):
    mu1, s1 = maths.feature_statistics(real_features)
    mu2, s2 = maths.feature_statistics(fake_features)
    return _distance(mu1, s1, mu2, s2)

make_toy_step = _clone(steps.alternating_train_step)
"""

NO_CHECKS = """\
import gan_kit.checks as checks_module

def _nothing(*args, **kwargs):
    print("passed: (patched)")

for name in dir(checks_module):
    if name.startswith("check_"):
        setattr(checks_module, name, _nothing)
"""
NO_RECORDERS = NO_CHECKS + """\
import numpy as np, os
from gan_kit.checks import recording

for name in dir(recording):
    if name.startswith("check_"):
        setattr(recording, name, _nothing)
# A fake record too, where the grader's recorder would write.
folder = os.environ.get("GAN_KIT_RECORD_DIR", "record")
os.makedirs(folder, exist_ok=True)
np.savez(os.path.join(folder, "fid-seed=11.npz"), **{"0/fid": np.zeros(())})
"""


def _solution() -> nbformat.NotebookNode:
    return nbformat.read(REPO / "notebooks" / NAME, as_version=4)


def _handout_with(*extra: str, replace: dict[str, str] | None = None) -> nbformat.NotebookNode:
    nb = make_handout(_solution(), NAME)[0]
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source = params.source.replace("toy_steps = None", "toy_steps = 20")
    for function, source in (replace or {}).items():
        next(c for c in nb.cells if c.cell_type == "code" and f"def {function}(" in c.source).source = source
    nb.cells += [nbformat.v4.new_code_cell(s) for s in extra]
    return nb


def _package_source(tmp_path: Path, module: str, function: str) -> str:
    """``function``'s source as the student package of release 01 has it."""
    import ast

    packages = release_packages(REPO / "gan_kit", REPO / "notebooks", course_tests(REPO / "notebooks", ["01"]),
                                tmp_path / "packages")
    text = (packages[NAME] / module).read_text()
    node = next(n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef) and n.name == function)
    return ast.get_source_segment(text, node)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("forgery")
    subs = root / "submissions"
    pasted = _package_source(root, "metrics/maths.py", "frechet_distance")
    solution_fid = next(c.source for c in _solution().cells if "def fid_by_hand(" in c.source)
    notebooks = {
        "cloner": _handout_with(CLONE),
        "paster": _handout_with("from gan_kit.metrics.maths import _sqrtm_product, feature_statistics\n" + pasted +
                                "\n\ndef fid_by_hand(a, b):\n    return frechet_distance(*feature_statistics(a), "
                                "*feature_statistics(b))\n"),
        "patcher": _handout_with(NO_RECORDERS),
        "honest_patcher": _handout_with(NO_CHECKS, replace={"fid_by_hand": solution_fid}),
    }
    for student, nb in notebooks.items():
        (subs / student).mkdir(parents=True)
        nbformat.write(nb, subs / student / NAME)
    grade(subs, root / "out", notebooks_dir=REPO / "notebooks", jobs=2, timeout=300, only=["01"])
    with open(root / "out" / "grades.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {(r["student"], r["exercise"]): r for r in rows}, pasted


@pytest.mark.parametrize("student", ["cloner", "paster", "patcher"])
def test_a_forged_submission_gets_nothing(graded, student):
    rows, _ = graded
    assert {exercise: rows[(student, exercise)]["points"] for exercise in ("toy_step", "fid")} == {
        "toy_step": "0", "fid": "0"}, {k: v for k, v in rows.items() if k[0] == student}


def test_the_pasted_package_code_is_a_stub(graded):
    _, pasted = graded
    assert "NotImplementedError" in pasted and "exercise 'fid' of 01_gan_theory" in pasted


def test_patching_the_checks_cannot_take_points_an_answer_earns(graded):
    rows, _ = graded
    assert rows[("honest_patcher", "fid")]["points"] == "1"
    assert rows[("honest_patcher", "toy_step")]["points"] == "0"
    assert rows[("patcher", "fid")]["status"] == "fail" and rows[("patcher", "fid")]["message"]


def test_no_hidden_expected_value_is_in_a_jobs_package(tmp_path):
    """Everything a graded notebook of 01 can read of the kit: its release's package with the hidden tests'
    inputs. None of the grader's expected values (or the values of known mistakes) is in any of its files."""
    tests = course_tests(REPO / "notebooks", ["01"])
    package = release_packages(REPO / "gan_kit", REPO / "notebooks", tests, tmp_path / "packages")[NAME]
    calls = [c for t in tests[NAME] for c in hidden_calls(t.source)]
    assert {c.check for c in calls} == {"check_toy_step", "check_fid"}
    text = "\n".join(p.read_text(errors="replace") for p in package.rglob("*") if p.is_file())
    # numbers the package gives as inputs (weights a step leaves unchanged, features drawn from the same generator)
    given = {v for p in (package / "checks" / "fixtures").glob("*.json")
             for case in json.loads(p.read_text())["cases"] for v in _numbers(case["inputs"])}
    assert not (package.parent.parent / "instructor").exists() and not (package / "instructor").exists()
    public = json.loads((package / "checks" / "fixtures" / "fid-0.json").read_text())
    assert all(case["expected"] for case in public["cases"])  # the notebook's own check cells still work
    for call in calls:
        fixture = full_fixture(call)
        stored = json.loads((package / "checks" / "fixtures" / f"{call.name}-{call.seed}.json").read_text())
        assert all(not case["expected"] and not case["mistakes"] for case in stored["cases"])
        for case in fixture["cases"]:
            for value in _numbers(case["expected"]) + _numbers(case["mistakes"]):
                if abs(value) > 1e-3 and value not in (1.0, -1.0, 0.5) and value not in given:
                    short = re.compile(rf"(?<![\d.]){re.escape(f'{value:.6g}')}(?![\d])")
                    assert repr(value) not in text and not short.search(text), (call.name, value)


def _numbers(tree) -> list[float]:
    if isinstance(tree, dict):
        return [v for item in tree.values() for v in _numbers(item)]
    if isinstance(tree, list):
        return [v for item in tree for v in _numbers(item)]
    return [float(tree)] if isinstance(tree, int | float) and np.isfinite(tree) else []


def test_a_hidden_test_that_uses_public_inputs_keeps_the_public_fixture(tmp_path):
    """reparameterize and kl have no seed: their hidden test is the public one, whose file the release ships with
    its expected values; the grader's inputs-only file must not replace it (the notebook's check cell reads it)."""
    from gan_kit.instructor.references import write_fixtures
    from gan_kit.instructor.verdicts import HiddenCall, write_inputs

    folder = tmp_path / "fixtures"
    write_fixtures(folder, {"reparameterize": [None]})
    before = (folder / "reparameterize-none.json").read_text()
    write_inputs([HiddenCall("check_reparameterize"), HiddenCall("check_fid", {"seed": 11})], folder)
    assert (folder / "reparameterize-none.json").read_text() == before
    hidden = json.loads((folder / "fid-11.json").read_text())
    assert all(not case["expected"] for case in hidden["cases"])
