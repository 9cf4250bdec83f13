"""Compare run folders side by side: a table of the config fields that differ, final values, metrics and
the diagnostics that fired, and an overlay plot of history columns. Reads run folders only; TensorFlow-free.

Example:
    >>> print(compare(["outputs/runs/a-20261201-100000", "outputs/runs/b-20261201-101500"]).to_markdown())
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from . import diagnostics, runs
from .config import Config
from .plotting import plot_overlay
from .records import final_value

DEFAULT_COLUMNS = ("g_loss", "d_loss", "d_real_prob", "d_fake_prob")
_IDENTITY_EXCLUDED = ("name", "output_dir")

__all__ = ["DEFAULT_COLUMNS", "Comparison", "compare"]


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
    configs = [runs.read_json(p / runs.CONFIG_FILE) for p in paths]
    order = [f.name for f in fields(Config)]
    keys = [k for k in order if k not in _IDENTITY_EXCLUDED and len({json.dumps(c.get(k), sort_keys=True)
                                                                      for c in configs}) > 1]
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
        except runs.RunFolderError:
            values = {}
        for k, v in values.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in ("seed", "samples", "seconds"):
                row[k if k not in row else f"metrics.{k}"] = v
        row["diagnostics"] = ", ".join(dict.fromkeys(f.code for f in diagnostics.summarize(path)))
        table.append(row)
    labels = [", ".join(f"{k}={c.get(k)}" for k in keys) or p.name for p, c in zip(paths, configs)]
    figure = plot_overlay(histories, list(columns), labels, save_to=save_to)
    return Comparison(runs=paths, columns=list(columns), table=table, figure=figure)
