"""What the analysis layer reads from run folders: one ``RunRecord`` per run, and the one meaning of a
"final value", a formatted number and a short reason, shared by reports, comparisons and notebooks.

Reads files only (``config.json``, ``status.json``, ``history.csv``, ``metrics.json``); never a model,
never TensorFlow.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import fileio, runs
from .config import Config

NOT_COMPUTED = "not computed"
NOT_APPLICABLE = "n/a"

__all__ = [
    "NOT_APPLICABLE",
    "NOT_COMPUTED",
    "ReportData",
    "RunRecord",
    "collect",
    "default_label",
    "final_value",
    "fmt",
    "load_run",
    "short_reason",
    "step_noise",
]


def final_value(history: Mapping[str, Sequence[float]], key: str) -> float | None:
    """The final value of a history column: its last finite entry (None when it has none).

    A column measured every few epochs (``fid``) has NaN on the other rows, and a diverged run
    ends on NaN; both report the last value that was measured.
    """
    for value in reversed(list(history.get(key) or [])):
        if value is not None and math.isfinite(value):
            return float(value)
    return None


def step_noise(values: Sequence[float], window: int = 16) -> float:
    """How much a per-step series (``steps.csv``) jumps from step to step: the standard deviation of its
    values around their centred moving mean over ``window`` steps (NaN for a series shorter than ``window``)."""
    finite = [float(v) for v in values if math.isfinite(float(v))]
    if window < 1 or len(finite) < window:
        return math.nan
    half = window // 2
    residuals = []
    for i in range(half, len(finite) - (window - half) + 1):
        chunk = finite[i - half:i - half + window]
        residuals.append(finite[i] - sum(chunk) / window)
    mean = sum(residuals) / len(residuals)
    return math.sqrt(sum((r - mean) ** 2 for r in residuals) / len(residuals))


def short_reason(reason: str) -> str:
    """The first sentence of a skip reason: ``DatasetNotFoundError: Dataset 'mnist' (split 'train') was not found.``

    (the loader's message goes on with the places it looked, which the report shows in full).
    """
    first = (reason or "unavailable").strip().splitlines()[0].strip()
    if first.endswith(":") and ". " in first:
        first = first[: first.rindex(". ") + 1]
    return first


def fmt(value: Any) -> str:
    """A number as the report writes it: 4 significant digits; None or NaN as "not computed"."""
    if value is None:
        return NOT_COMPUTED
    value = float(value)
    if not math.isfinite(value):
        return NOT_COMPUTED
    return f"{value:.4g}"


# =============================================================================== reading runs


@dataclass
class RunRecord:
    """What a report needs from one run folder (read by ``load_run``)."""

    path: Path
    config: Config
    status: dict[str, Any]
    history: dict[str, list[float]]
    metrics: dict[str, Any] | None = None
    metrics_note: str | None = None
    label: str = ""

    @property
    def family(self) -> str:
        """``GAN`` or ``VAE``."""
        return "VAE" if self.config.model == "vae" else "GAN"

    @property
    def dataset(self) -> str:
        return self.config.dataset

    @property
    def state(self) -> str:
        return str(self.status.get("state", "unknown"))

    @property
    def epochs(self) -> int:
        return len(self.history.get("epoch", []))

    def final(self, key: str) -> float | None:
        """The final value of a history column (``final_value``)."""
        return final_value(self.history, key)

    def best_fid(self) -> tuple[int, float] | None:
        """(epoch, FID) of the lowest FID in ``history.csv``; None without an ``fid`` column."""
        pairs = [(int(e), float(v)) for e, v in zip(self.history.get("epoch", []), self.history.get("fid", []))
                 if math.isfinite(v)]
        return min(pairs, key=lambda p: p[1]) if pairs else None

    def metric(self, key: str) -> float | None:
        """A number from ``metrics.json`` (None when there is none)."""
        if not self.metrics or self.metrics.get(key) is None:
            return None
        value = float(self.metrics[key])
        return value if math.isfinite(value) else None

    @property
    def train_seconds(self) -> float | None:
        times = [t for t in self.history.get("epoch_time", []) if math.isfinite(t)]
        return sum(times) if times else None


def default_label(config: Config) -> str:
    """``GAN hinge z64`` / ``VAE z16`` (the lab's labels)."""
    if config.model == "vae":
        return f"VAE z{config.latent_dim}"
    return f"GAN {config.loss} z{config.latent_dim}"


def load_run(run_dir: str | os.PathLike, metrics_note: str | None = None) -> RunRecord:
    """Read one run folder."""
    path = Path(run_dir)
    config = runs.read_config(path)
    metrics = runs.read_metrics(path)
    if metrics is None and metrics_note is None:
        metrics_note = f"no {runs.METRICS_FILE} in the run folder"
    return RunRecord(path=path, config=config, status=runs.read_status(path), history=runs.load_history(path),
                     metrics=metrics, metrics_note=metrics_note, label=default_label(config))


@dataclass
class ReportData:
    """The runs of a report, plus what a lab folder's ``lab.json`` adds (skipped datasets, failed points)."""

    records: list[RunRecord]
    lab: dict[str, Any] | None = None
    source: str = ""
    failed_without_folder: list[dict[str, Any]] = field(default_factory=list)

    @property
    def skipped(self) -> dict[str, str]:
        """Dataset -> reason, for datasets the lab could not read."""
        if not self.lab:
            return {}
        return {ds: info.get("reason") or "" for ds, info in self.lab.get("datasets", {}).items()
                if info.get("status") == "skipped"}

    @property
    def datasets(self) -> list[str]:
        return list(dict.fromkeys(r.dataset for r in self.records))


def collect(source: str | os.PathLike | Iterable[str | os.PathLike]) -> ReportData:
    """The runs behind a report.

    Args:
        source: a lab folder (with ``lab.json``: its points' run folders, in lab order), a
            folder of run folders, a single run folder, or an iterable of run folders.

    Raises:
        ValueError: when no run folder is found.
    """
    lab = None
    notes: dict[Path, str] = {}
    failed: list[dict[str, Any]] = []
    if isinstance(source, (str, os.PathLike)):
        folder = Path(source)
        if (folder / runs.LAB_FILE).is_file():
            lab = fileio.read_json(folder / runs.LAB_FILE)
            paths = []
            for entry in lab.get("runs", []):
                if entry.get("path"):
                    paths.append(folder / entry["path"])
                    if entry.get("metrics_error"):
                        notes[folder / entry["path"]] = entry["metrics_error"]
                else:
                    failed.append(entry)
        elif runs.is_run(folder):
            paths = [folder]
        else:
            paths = runs.list_runs(folder) or runs.list_runs(folder / runs.LAB_RUNS_DIR)
        text = str(folder)
    else:
        paths = [Path(p) for p in source]
        text = ", ".join(str(p) for p in paths)
    if not paths and not failed:
        raise ValueError(f"No run folders (folders holding {runs.CONFIG_FILE}) found in {text or source!r}.")
    records = [load_run(p, notes.get(p)) for p in paths]
    seen: dict[str, int] = {}
    for r in records:
        seen[r.label] = seen.get(r.label, 0) + 1
    for r in records:  # the same configuration twice (or on two datasets in one table): add the folder name
        if seen[r.label] > 1 and len({x.dataset for x in records if x.label == r.label}) < seen[r.label]:
            r.label = f"{r.label} ({r.path.name})"
    return ReportData(records=records, lab=lab, source=text, failed_without_folder=failed)
