"""Compare run folders side by side: a table of the config fields that differ, final values, metrics and
the diagnostics that fired, and an overlay plot of history columns; and the same columns at an equal number of
train steps (``at_equal_steps``: runs with other batch sizes or epoch counts stop at other steps). Reads run
folders only; TensorFlow-free.

Example:
    >>> print(compare(["outputs/runs/a-20261201-100000", "outputs/runs/b-20261201-101500"]).to_markdown())
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from . import diagnostics, exercises, fileio, runs
from .config import Config
from .plotting import plot_overlay
from .records import final_value

DEFAULT_COLUMNS = ("g_loss", "d_loss", "d_real_prob", "d_fake_prob")

__all__ = ["DEFAULT_COLUMNS", "Comparison", "at_equal_steps", "compare", "compare_at_equal_steps",
           "step_history"]


@dataclass
class Comparison:
    """Runs side by side.

    Attributes:
        runs: the run folders, in the order given.
        columns: the history columns compared.
        table: one dict per run: ``run`` (folder name), ``status``, the config fields that
            differ between the runs, the final (last finite) value of each column,
            ``metrics.json`` values when present, and ``diagnostics`` (the codes that fired).
        figure: a matplotlib figure with one panel per column, one line per run.
    """

    runs: list[Path]
    columns: list[str]
    table: list[dict[str, Any]]
    figure: Any = None

    def to_markdown(self, digits: int = 4) -> str:
        """The table as GitHub-flavoured markdown (numbers to ``digits`` significant digits)."""
        if not self.table:
            return "_No runs to compare._"
        header: list[str] = []
        for row in self.table:
            header.extend(k for k in row if k not in header)
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        for row in self.table:
            lines.append("| " + " | ".join(_cell(row.get(k), digits) for k in header) + " |")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:  # shown as a table in Jupyter
        return self.to_markdown()


def _cell(value: Any, digits: int) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.{digits}g}"
    return str(value).replace("|", "\\|")


def _differing(configs: Sequence[Mapping[str, Any]]) -> list[str]:
    """The config fields (in ``Config`` order, names and folders left out) whose values differ between runs."""
    order = [f.name for f in fields(Config)]
    return [k for k in order if k not in runs.IDENTITY_IGNORED and len({json.dumps(c.get(k), sort_keys=True)
                                                                     for c in configs}) > 1]


def compare(
    runs_: Sequence[str | os.PathLike],
    columns: Sequence[str] = DEFAULT_COLUMNS,
    save_to: str | os.PathLike | None = None,
) -> Comparison:
    """Compare run folders: a table of config differences and final values, and overlay plots.

    Reads only the run folders (``config.json``, ``history.csv``, ``status.json``, and
    ``metrics.json`` / ``diagnostics.json`` when present); never a model.

    Args:
        runs_: run folders (e.g. ``SweepResult.runs``); a sweep folder stands for its runs.
        columns: history columns to report and plot.
        save_to: optional PNG path for the figure (written atomically).

    Returns:
        A :class:`Comparison`.

    Raises:
        ValueError: when an item is neither a run folder nor a sweep folder, or no run is given.
    """
    paths = runs.expand_runs(runs_)
    if not paths:
        raise ValueError("compare() needs at least one run folder.")
    configs = [fileio.read_json(p / runs.CONFIG_FILE) for p in paths]
    keys = _differing(configs)
    histories = [runs.load_history(p) for p in paths]
    table = []
    for path, config, history in zip(paths, configs, histories):
        row: dict[str, Any] = {"run": path.name, "status": runs.read_state(path)}
        row.update({k: config.get(k) for k in keys})
        row["epochs_done"] = int(final_value(history, "epoch") or 0)
        for column in columns:
            value = final_value(history, column)
            row[column] = math.nan if value is None else value
        try:
            values = runs.read_metrics(path) or {}
        except fileio.RunFolderError:
            values = {}
        for k, v in values.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in ("seed", "samples", "seconds"):
                row[k if k not in row else f"metrics.{k}"] = v
        row["diagnostics"] = ", ".join(dict.fromkeys(f.code for f in diagnostics.summarize(path)))
        table.append(row)
    labels = [", ".join(f"{k}={c.get(k)}" for k in keys) or p.name for p, c in zip(paths, configs)]
    figure = plot_overlay(histories, list(columns), labels, save_to=save_to)
    return Comparison(runs=paths, columns=list(columns), table=table, figure=figure)


# =============================================================================== at an equal number of steps


def compare_at_equal_steps(histories: Sequence[Mapping[str, Sequence[float]]], metric: str
                           ) -> tuple[float, list[float]]:
    """Each run's ``metric`` at the largest train step every run reached (the exercise of notebook 04).

    Args:
        histories: one table per run, each with a ``step`` column (the train step at which each row was
            logged, increasing) and a ``metric`` column of the same length (finite values).
        metric: the column to compare.

    Returns:
        ``(step, values)``: the smallest of the runs' last logged steps, and each run's value there, linearly
        interpolated between its two logged rows around that step (its own value when it logged that step);
        NaN for a run whose first logged row comes after that step (no extrapolation).
    """
    # BEGIN SOLUTION 04 compare_at_equal_steps
    step = min(float(history["step"][-1]) for history in histories)
    values = []
    for history in histories:
        steps, column = history["step"], history[metric]
        after = next(i for i, s in enumerate(steps) if s >= step)
        if steps[after] == step:
            values.append(float(column[after]))
        elif after == 0:
            values.append(math.nan)
        else:
            s0, s1, v0, v1 = steps[after - 1], steps[after], column[after - 1], column[after]
            values.append(float(v0 + (v1 - v0) * (step - s0) / (s1 - s0)))
    return step, values
    # END SOLUTION


def step_history(run_dir: str | os.PathLike) -> dict[str, list[float]]:
    """A run's ``history.csv`` with a ``step`` column: the train step at the end of each epoch (from ``steps.csv``
    when the run logged steps, else epoch times the config's ``steps_per_epoch``).

    Raises:
        ValueError: for a run that logged no steps and has no ``steps_per_epoch`` in its config.
    """
    history = runs.load_history(run_dir)
    epochs = [int(e) for e in history.get("epoch", [])]
    logged = runs.load_steps(run_dir)
    if logged.get("step"):
        last = {int(e): int(s) for e, s in zip(logged["epoch"], logged["step"])}  # the last step of each epoch
        if all(e in last for e in epochs):
            return {**history, "step": [float(last[e]) for e in epochs]}
    per_epoch = fileio.read_json(Path(run_dir) / runs.CONFIG_FILE).get("steps_per_epoch")
    if not per_epoch:
        raise ValueError(f"{Path(run_dir).name}: no steps.csv and no steps_per_epoch in its config, so its epochs "
                         "cannot be placed on a step axis. Train it with log_steps=True or a fixed steps_per_epoch.")
    return {**history, "step": [float(e * int(per_epoch)) for e in epochs]}


def at_equal_steps(runs_: Sequence[str | os.PathLike], columns: Sequence[str] = DEFAULT_COLUMNS) -> Comparison:
    """Run folders compared at an equal number of train steps: for each column, every run's value at the largest
    step all of them logged it (``compare_at_equal_steps``, or the student's answer registered with
    ``exercises.use``); rows where a column is NaN (not measured that epoch, a diverged run's last) are left out
    first.

    Returns:
        A :class:`Comparison` whose table has, per run, ``run``, the config fields that differ, ``steps done``
        and ``<column> @ step <n>`` (NaN where a run logged nothing at or before that step); no figure.

    Raises:
        ValueError: when no run is given or a run cannot be placed on a step axis (``step_history``).
    """
    paths = runs.expand_runs(runs_)
    if not paths:
        raise ValueError("at_equal_steps() needs at least one run folder.")
    histories = [step_history(p) for p in paths]
    configs = [fileio.read_json(p / runs.CONFIG_FILE) for p in paths]
    keys = _differing(configs)
    table: list[dict[str, Any]] = [{"run": p.name, **{k: c.get(k) for k in keys},
                                    "steps done": int(h["step"][-1]) if h["step"] else 0}
                                   for p, c, h in zip(paths, configs, histories)]
    align = exercises.answer("compare_at_equal_steps") or compare_at_equal_steps
    for column in columns:
        kept = [_finite_rows(h, column) for h in histories]
        if not all(k["step"] for k in kept):
            for row in table:
                row[column] = math.nan
            continue
        step, values = align(kept, column)
        for row, v in zip(table, list(values)):
            row[f"{column} @ step {float(step):g}"] = float(v)
    return Comparison(runs=paths, columns=list(columns), table=table)


def _finite_rows(history: Mapping[str, Sequence[float]], column: str) -> dict[str, list[float]]:
    """The ``epoch``, ``step`` and ``column`` of the rows where ``column`` is finite."""
    rows = [i for i, v in enumerate(history.get(column) or []) if v is not None and math.isfinite(v)]
    keys = [k for k in ("epoch", "step", column) if k in history]
    return {k: [float(history[k][i]) for i in rows] for k in dict.fromkeys(["step", *keys])}
