"""The check of notebook 06's exercise: KID on one pair of feature sets, written by the student as
``kid_from_features(real_features, fake_features) -> float``.

The expected values are stored (fixture ``kid``, computed by the instructor's references), with the values the
known wrong answers give: the biased estimate, the wrong denominators, a kernel without its scale, with the
wrong scale, degree or offset, the cross term once or with the wrong sign, the means' kernel or distance, the
square root. As the other formula checks, it is two steps a grader can run apart: :func:`collect_kid` runs the
student's function on the stored float64 features (the kit's own KID switched off) and :func:`judge_kid`
compares what it returned with the stored values.

The public names live in ``gan_kit.checks`` (import them from there); this module's own ``__all__`` lists only
what it alone adds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from . import fixtures
from ._base import CheckFailed, collect_output, collected, compare, kit_disabled, passed, value
from .formulas import _diagnose

__all__ = ["KID_HINT", "KID_KIT", "collect_kid", "judge_kid"]

KID_KIT = ("metrics.maths:kid_from_features", "metrics.maths:kid_mmd2", "metrics.maths:_mmd2_unbiased",
           "metrics.maths:_poly_kernel")
KID_HINT = ("k(x, y) = (x . y / d + 1)^3 with d the number of features; the estimate is the mean of k over pairs of "
            "distinct real examples (n (n - 1) pairs: leave out each example paired with itself), plus the same for "
            "the fake examples, minus twice the mean of k over all n m (real, fake) pairs")
Outputs = dict[str, np.ndarray]


def collect_kid(student_fns: Mapping[str, Callable], fixture: Mapping[str, Any]) -> Outputs:
    """``{"<case>/kid": ...}``: the student's ``kid_from_features(a, b)`` on each case's float64 features (a case
    without ``b`` compares ``a`` with itself)."""
    out: Outputs = {}
    for i, case in enumerate(fixture["cases"]):
        a = np.asarray(case["inputs"]["a"], np.float64)
        b = np.asarray(case["inputs"]["b"], np.float64) if "b" in case["inputs"] else a
        with kit_disabled(KID_KIT):
            collect_output(out, f"{i}/kid", "kid_from_features", student_fns["kid_from_features"], a.copy(),
                           b.copy(), where=f" on {case['where']}")
    return out


def judge_kid(outputs: Outputs, fixture: Mapping[str, Any]) -> None:
    """Each case's estimate against the stored value, within the case's tolerance: first that it is one number,
    then its value; a wrong value is matched against the case's known mistakes."""
    for i, case in enumerate(fixture["cases"]):
        got, tolerance = collected(outputs, f"{i}/kid"), case.get("tolerance", {})
        where = f" on {case['where']}"
        if not np.iscomplexobj(got) and np.size(got) != 1:
            raise CheckFailed(f"kid_from_features{where}: returned {np.size(got)} numbers (shape {np.shape(got)}); "
                              "expected one: the estimate on the whole of both sets. Hint: average the kernel "
                              "matrices down to three numbers, then combine them (the kit draws the subsets "
                              "itself and averages your estimates).")
        try:
            compare("kid_from_features", got, case["expected"]["kid"], KID_HINT, rtol=tolerance.get("rtol", 1e-4),
                    atol=tolerance.get("atol", 1e-5), where=where)
        except CheckFailed as exc:
            extra = "" if np.iscomplexobj(got) else _diagnose(value(got).reshape(()), case["mistakes"]["kid"],
                                                               rtol=1e-5)
            raise CheckFailed(str(exc) + extra) from None


def check_kid(kid_from_features: Callable, seed: int = 0) -> None:
    """KID's unbiased MMD^2 estimate with the kernel ``(x . y / d + 1)^3`` (notebook 06), for
    ``kid_from_features(real_features, fake_features) -> float``, on two feature sets of equal size, on sets of
    different sizes, and on a set compared with itself (slightly negative: the estimate is unbiased)."""
    fixture = fixtures.load("kid", seed)
    judge_kid(collect_kid({"kid_from_features": kid_from_features}, fixture), fixture)
    passed("KID from features: equal and different set sizes, and a set compared with itself")
