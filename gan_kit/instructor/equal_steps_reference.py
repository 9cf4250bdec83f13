"""The expected values of notebook 04's check (``check_compare_at_equal_steps``), computed independently of the
kit's ``compare.compare_at_equal_steps``: runs' histories on different step grids, each run's value at the largest
step every run reached, and what the known wrong answers give there (layout in :mod:`gan_kit.checks.fixtures`).

Two cases per seed: three runs with different steps per epoch (one logged every other epoch), where the equal
step falls between two rows of one run, on a row of another and at the end of the third; and a rarely measured
column (``fid``) whose first row in one run comes after the equal step, where the answer is NaN. The seed draws
the values, the column compared and the order of the runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["equal_steps_cases"]

History = dict[str, list[float]]

# Each mistake's text (what the check's message quotes) -> how a student making it computes (step, values).
LAST_VALUES = ("each run's last logged value, each at its own last step: compare every run at the one step all of "
               "them reached instead")
LARGEST_STEP = ("the largest of the runs' last steps: the shorter runs never got there. Take the smallest of the "
                "runs' last steps")
EPOCHS = ("epochs instead of steps: runs with different steps per epoch are at different steps after the same "
          "epoch. Use the step column")
SAME_ROW = ("the same row of every run (the shortest run's last row), not the same step: rows of runs with other "
            "step grids are logged at other steps. Look the step up in each run's step column")
NEAREST = ("the nearest logged row instead of interpolating linearly between the two rows around the step")
PREVIOUS = ("the last row at or before the step instead of interpolating linearly between the two rows around it")
HOLD_FIRST = ("the first logged value for a run whose first row comes after the step (np.interp's default): no run "
              "may be extrapolated, give NaN there (np.interp(..., left=np.nan))")
EXTRAPOLATED = ("a value extrapolated from the run's first two rows, before its first logged step: no run may be "
                "extrapolated, give NaN there")


def _at(xs: list[float], ys: list[float], x: float, before: str = "nan", between: str = "linear") -> float:
    """``ys`` at ``x`` on the grid ``xs``: ``before`` the first row NaN, the first value or a linear extrapolation;
    ``between`` two rows linear, the nearest row or the previous row."""
    if x < xs[0]:
        if before == "first":
            return ys[0]
        if before == "extrapolate":
            return ys[0] + (ys[1] - ys[0]) * (x - xs[0]) / (xs[1] - xs[0])
        return float("nan")
    i = max(j for j, s in enumerate(xs) if s <= x)
    if xs[i] == x or i == len(xs) - 1:
        return ys[i]
    if between == "nearest":
        return ys[i] if x - xs[i] <= xs[i + 1] - x else ys[i + 1]
    if between == "previous":
        return ys[i]
    return ys[i] + (ys[i + 1] - ys[i]) * (x - xs[i]) / (xs[i + 1] - xs[i])


def _variant(axis: str = "step", where: str = "min", **kwargs: str) -> Callable[[list[History], str], tuple]:
    def answer(histories: list[History], metric: str) -> tuple[float, list[float]]:
        ends = [h[axis][-1] for h in histories]
        x = min(ends) if where == "min" else max(ends)
        return x, [_at(h[axis], h[metric], x, **kwargs) for h in histories]
    return answer


def _same_row(histories: list[History], metric: str) -> tuple[float, list[float]]:
    row = min(len(h["step"]) for h in histories) - 1
    return min(h["step"][-1] for h in histories), [h[metric][row] for h in histories]


def _last_values(histories: list[History], metric: str) -> tuple[float, list[float]]:
    return min(h["step"][-1] for h in histories), [h[metric][-1] for h in histories]


RIGHT = _variant()
STEP_MISTAKES: dict[str, Callable] = {LARGEST_STEP: _variant(where="max", before="first"),
                                      EPOCHS: _variant(axis="epoch")}
VALUE_MISTAKES: dict[str, Callable] = {
    LAST_VALUES: _last_values, EPOCHS: _variant(axis="epoch"), SAME_ROW: _same_row,
    HOLD_FIRST: _variant(before="first"), EXTRAPOLATED: _variant(before="extrapolate"),
    NEAREST: _variant(between="nearest", before="first"), PREVIOUS: _variant(between="previous"),
}  # in this order: the first whose values match is the one the check names


def _history(rng: np.random.Generator, per_epoch: int, epochs: list[int], columns: list[str]) -> History:
    """One run's rows at ``epochs``: ``epoch``, ``step`` and a random walk per column (4 decimals)."""
    table: History = {"epoch": [float(e) for e in epochs], "step": [float(e * per_epoch) for e in epochs]}
    for column in columns:
        walk = 1.0 + np.cumsum(rng.choice([-1.0, 1.0], len(epochs)) * rng.uniform(0.1, 0.5, len(epochs)))
        table[column] = [round(float(v), 4) for v in walk]
    return table


def _plain(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def _case(where: str, histories: list[History], metric: str) -> dict[str, Any]:
    step, values = RIGHT(histories, metric)
    mistakes: dict[str, dict[str, Any]] = {"step": {}, "values": {}}
    for text, answer in STEP_MISTAKES.items():
        wrong, _ = answer(histories, metric)
        if wrong != step:
            mistakes["step"][text] = wrong
    for text, answer in VALUE_MISTAKES.items():
        _, wrong = answer(histories, metric)
        if not np.allclose(wrong, values, equal_nan=True):
            mistakes["values"].setdefault(text, [_plain(v) for v in wrong])
    return {"where": where, "inputs": {"histories": histories, "metric": metric},
            "expected": {"step": step, "values": [_plain(v) for v in values]}, "mistakes": mistakes}


def equal_steps_cases(seed: int) -> list[dict[str, Any]]:
    """The two cases of ``seed`` (the run order, the values and the column compared vary with it)."""
    rng = np.random.default_rng(seed)
    metric = str(rng.choice(["d_loss", "g_loss"]))
    runs = [_history(rng, 64, [1, 2, 3, 4], ["d_loss", "g_loss"]),  # ends at step 256
            _history(rng, 48, [1, 2, 3, 4, 5, 6], ["d_loss", "g_loss"]),  # ends at 288; logged 240
            _history(rng, 40, [2, 4, 6], ["d_loss", "g_loss"])]  # every other epoch; ends at 240
    order = [int(i) for i in rng.permutation(3)]
    fid = [_history(rng, 64, [3, 4], ["fid"]), _history(rng, 32, [1, 2, 3, 4], ["fid"])]  # first fid at 192 > 128
    fid_order = [int(i) for i in rng.permutation(2)]
    labels = ["64 steps per epoch", "48 steps per epoch", "40 steps per epoch logged every other epoch"]
    return [_case(f"three runs of {'; '.join(labels[i] for i in order)} (in this order; {metric}, the equal step "
                  "is 240)", [runs[i] for i in order], metric),
            _case("fid, measured at steps 192 and 256 in one run and every 32 steps up to 128 in the other (the equal "
                  "step is 128)", [fid[i] for i in fid_order], "fid")]
