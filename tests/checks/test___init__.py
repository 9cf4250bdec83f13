"""The checks package as a whole (``gan_kit.checks``): no reference computation in its source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gan_kit import checks

# Imported under other names before any check runs: the checks must refuse these too.

# ----------------------------------------------------------------- no reference computation ships in gan_kit/checks
CHECKS_DIR = Path(checks.__file__).parent


# Calls that compute an expected value (or a known mistake's): none may remain in gan_kit/checks/.
REFERENCE_CALLS = {"softplus", "logaddexp", "sqrtm", "cov", "svd", "eigvals", "exp", "log", "sigmoid", "tanh",
                   "one_hot", "eye", "concatenate", "sigmoid_cross_entropy_with_logits", "assign_sub",
                   "apply_gradients", "gradient", "norm", "reduce_mean", "clone_model", "GradientTape"}


def _calls(tree: ast.AST) -> list[tuple[str, str]]:
    """(enclosing top-level function, called name) for every call in a module."""
    found = []
    for top in tree.body:
        for node in ast.walk(top):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                found.append((getattr(top, "name", ""), called))
    return found


@pytest.mark.parametrize("path", sorted(CHECKS_DIR.glob("*.py")), ids=lambda p: p.name)
def test_checks_source_holds_no_reference_computation(path):
    source = path.read_text()
    for text in ("logaddexp", "softplus", "tf.exp(0.5", "np.cov(a", "linalg.sqrtm(", "_fid_numpy",
                 "def _reference(rule", "_bce_d", "_bce_g", "GradientTape(persistent"):
        assert text not in source, f"{path.name} contains {text!r}"
    if path.name == "networks.py":  # the specification, and a network built from it: the assignment itself
        return
    calls = [(where, name) for where, name in _calls(ast.parse(source)) if name in REFERENCE_CALLS]
    # The exceptions: a tape around the student's penalty, to see whether *its* backward pass is finite, and the
    # distances from the points the student's critic saw to the real -> fake segments (which alpha was drawn).
    allowed = [("collect_gradient_penalty", "GradientTape"), ("collect_gradient_penalty", "gradient"),
               ("_judge_drawn_alpha", "norm")]
    assert [c for c in calls if c not in allowed] == [], path.name
    if path.name == "steps.py":
        assert "GradientTape" not in source
