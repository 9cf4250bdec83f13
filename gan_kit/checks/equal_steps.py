"""The check of notebook 04's exercise: comparing runs at an equal number of train steps.

``compare_at_equal_steps(histories, metric)`` returns ``(step, values)``: the largest step every run reached (the
smallest of the runs' last logged steps) and each run's ``metric`` there, interpolated linearly between the two
logged rows around it, NaN for a run whose first row comes after it. The stored cases (fixture ``equal_steps``)
put runs on different step grids (other steps per epoch, a column logged every other epoch, a rarely measured
one), where the usual mistakes give other numbers: each run's last value, the largest step instead of the
smallest, epochs instead of steps, the same row instead of the same step, the nearest or previous row instead of
interpolation, a value held or extrapolated before a run's first row. As the formula checks, it is
``collect_equal_steps`` (runs the student's function with the kit's own switched off) then ``judge_equal_steps``.

The public names live in ``gan_kit.checks`` (import them from there); this module's own ``__all__`` lists only
what it alone adds.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from . import fixtures
from ._base import CheckFailed, as_output, collected, kit_disabled, passed, run_answer

__all__ = ["collect_equal_steps", "judge_equal_steps"]

NAME = "compare_at_equal_steps"
KIT = ("compare:compare_at_equal_steps", "compare:at_equal_steps")
HINT = ("take the smallest of the runs' last steps; for each run, find the two rows whose steps enclose it and "
        "interpolate linearly between their values (NaN when the run's first row comes after it)")
Outputs = dict[str, np.ndarray]


def _pair(got: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    """The answer's ``(step, values)`` as a float64 scalar and a 1-D array; ``CheckFailed`` for another shape."""
    if got is None:
        raise CheckFailed(f"{NAME}{where}: returned None. Did you forget the return statement?")
    if isinstance(got, (str, bytes)) or not hasattr(got, "__len__") or len(got) != 2:
        raise CheckFailed(f"{NAME}{where}: return a pair (step, values), the step and one value per run; got "
                          f"{type(got).__name__}" + (f" of length {len(got)}." if hasattr(got, "__len__") else "."))
    step, values = as_output(NAME, got[0], where), as_output(NAME, got[1], where)
    if step.size != 1:
        raise CheckFailed(f"{NAME}{where}: the step (the first item returned) must be one number; got shape "
                          f"{step.shape}.")
    return step.reshape(()), values if values.ndim <= 1 else values.reshape(-1)


def collect_equal_steps(student_fns: Mapping[str, Callable], fixture: Mapping[str, Any]) -> Outputs:
    """``{"<case>/step": ..., "<case>/values": ...}``: the student's function on each case's stored histories (a
    fresh copy each, lists of floats), or the error it gave, stored for the judge."""
    out: Outputs = {}
    for i, case in enumerate(fixture["cases"]):
        where = f" on {case['where']}"
        histories = copy.deepcopy(case["inputs"]["histories"])
        try:
            with kit_disabled(KIT):
                got = run_answer(NAME, student_fns[NAME], histories, case["inputs"]["metric"])
            out[f"{i}/step"], out[f"{i}/values"] = _pair(got, where)
        except CheckFailed as exc:
            out[f"error/{i}/values"] = np.array(str(exc))
    return out


def _matches(got: np.ndarray, wanted: Any) -> bool:
    want = np.asarray(wanted, dtype=np.float64)  # null (JSON) -> NaN
    return got.shape == want.shape and bool(np.allclose(got, want, rtol=1e-5, atol=1e-6, equal_nan=True))


def _show(x: np.ndarray) -> str:
    return "[" + ", ".join("nan" if np.isnan(v) else f"{v:.6g}" for v in np.asarray(x, np.float64).reshape(-1)) + "]"


def judge_equal_steps(outputs: Outputs, fixture: Mapping[str, Any]) -> None:
    """Each case's step, then its values, against the stored ones; a wrong one that matches a known mistake's
    output is named."""
    for i, case in enumerate(fixture["cases"]):
        where = f" on {case['where']}"
        values = np.asarray(collected(outputs, f"{i}/values"), np.float64)
        step = float(np.asarray(collected(outputs, f"{i}/step"), np.float64).reshape(()))
        expected, mistakes = case["expected"], case["mistakes"]
        if not np.isclose(step, expected["step"]):
            known = next((text for text, wrong in mistakes.get("step", {}).items() if np.isclose(step, wrong)), "")
            raise CheckFailed(f"{NAME}{where}: compared at step {step:g}, expected step {expected['step']:g}."
                              + (f" Your step matches a known mistake: {known}." if known else f" Hint: {HINT}."))
        want = np.asarray(expected["values"], dtype=np.float64)
        if values.shape != want.shape:
            raise CheckFailed(f"{NAME}{where}: expected one value per run ({want.size}), got shape {values.shape}.")
        if _matches(values, want):
            continue
        known = next((text for text, wrong in mistakes.get("values", {}).items() if _matches(values, wrong)), "")
        raise CheckFailed(f"{NAME}{where}: expected values {_show(want)} at step {expected['step']:g}, got "
                          f"{_show(values)}."
                          + (f" Your values match a known mistake: {known}." if known else f" Hint: {HINT}."))


def check_compare_at_equal_steps(compare_at_equal_steps: Callable, seed: int = 0) -> None:
    """Runs compared at an equal number of steps (notebook 04): the step every run reached and each run's value
    there, on runs with different steps per epoch and on a rarely measured column."""
    fixture = fixtures.load("equal_steps", seed)
    judge_equal_steps(collect_equal_steps({NAME: compare_at_equal_steps}, fixture), fixture)
    passed("runs compared at an equal step: different steps per epoch, a column logged every other epoch, and a "
           "run whose first row comes after the equal step (NaN)")
