"""Run folders: layout, atomic writes, listing and loading runs.

This module alone knows the layout of ``outputs/runs/<name>-<timestamp>/``::

    config.json  history.csv  samples/epoch_0001.png ...  progress.gif
    generator.keras  discriminator.keras  status.json
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

CONFIG_FILE = "config.json"
HISTORY_FILE = "history.csv"
STATUS_FILE = "status.json"
SAMPLES_DIR = "samples"
GIF_FILE = "progress.gif"
GENERATOR_FILE = "generator.keras"
EMA_GENERATOR_FILE = "generator_ema.keras"
DISCRIMINATOR_FILE = "discriminator.keras"
CHECKPOINT_DIR = "checkpoints"
RUNTIME_FILE = "runtime.json"


class RunFolderError(OSError):
    """A run folder cannot be created, written or read."""


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temp file and a rename, so a kill leaves the old file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, value: Any) -> Path:
    """Atomically write ``value`` as indented JSON (NaN/Inf written as null)."""
    return atomic_write_text(path, json.dumps(_json_safe(value), indent=2, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file, raising ``RunFolderError`` naming the file when it is missing or corrupt."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise RunFolderError(f"{path} does not exist.") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise RunFolderError(f"{path} cannot be read as JSON ({exc}).") from exc


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _json_safe(value.item())
    return value


def create_run_dir(output_dir: str | os.PathLike, name: str, *, timestamp: str | None = None) -> Path:
    """Create a new, empty run folder ``<output_dir>/<name>-<timestamp>``; never reuses an existing one.

    Raises:
        RunFolderError: when ``output_dir`` cannot be created or written.
    """
    root = Path(output_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunFolderError(
            f"Cannot create the output folder {root} ({exc}). Set config output_dir to a writable folder."
        ) from exc
    if not os.access(root, os.W_OK):
        raise RunFolderError(f"The output folder {root} is not writable. Set config output_dir to a writable folder.")
    stamp = timestamp or time.strftime("%Y%m%d-%H%M%S")
    base = f"{name}-{stamp}"
    for i in range(1000):
        candidate = root / (base if i == 0 else f"{base}-{i}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise RunFolderError(f"Cannot create run folder {candidate} ({exc}).") from exc
        (candidate / SAMPLES_DIR).mkdir()
        return candidate
    raise RunFolderError(f"Could not find a free run folder name for {base} in {root}.")


def write_history(run_dir: str | os.PathLike, history: Mapping[str, Sequence[float]]) -> Path:
    """Atomically write the history table (one row per epoch) as CSV."""
    columns = list(history)
    rows = max((len(v) for v in history.values()), default=0)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for i in range(rows):
        writer.writerow([_fmt(history[c][i]) if i < len(history[c]) else "" for c in columns])
    return atomic_write_text(Path(run_dir) / HISTORY_FILE, buffer.getvalue())


def _fmt(value: Any) -> str:
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return str(value)
    return repr(float(value))


def load_history(run_dir: str | os.PathLike) -> dict[str, list[float]]:
    """History columns of a run as lists of floats (empty dict when the run has none yet)."""
    path = Path(run_dir) / HISTORY_FILE
    if not path.exists():
        return {}
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            return {}
        columns: dict[str, list[float]] = {c: [] for c in header}
        for row in reader:
            for c, cell in zip(header, row):
                columns[c].append(float(cell) if cell not in ("", None) else math.nan)
    return columns


def truncate_history(run_dir: str | os.PathLike, epochs: int) -> dict[str, list[float]]:
    """Keep the first ``epochs`` rows of a run's history (rows past its last checkpoint); returns what is kept."""
    history = load_history(run_dir)
    if not history:
        return {}
    kept = {k: v[:epochs] for k, v in history.items()}
    write_history(run_dir, kept)
    return kept


def read_config(run_dir: str | os.PathLike):
    """The ``Config`` a run was made with."""
    from .config import Config

    return Config.from_dict(read_json(Path(run_dir) / CONFIG_FILE))


def write_status(run_dir: str | os.PathLike, state: str, **details: Any) -> Path:
    """Record the run's state (``running``, ``finished``, ``failed``, ``diverged``) with details."""
    return write_json(Path(run_dir) / STATUS_FILE, {"state": state, "time": time.time(), **details})


def read_status(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The run's recorded state, or ``{"state": "unknown"}`` when none was written."""
    path = Path(run_dir) / STATUS_FILE
    return read_json(path) if path.exists() else {"state": "unknown"}


def sample_paths(run_dir: str | os.PathLike) -> list[Path]:
    """Saved fixed-noise grids of a run, in epoch order."""
    return sorted((Path(run_dir) / SAMPLES_DIR).glob("epoch_*.png"))


def list_runs(output_dir: str | os.PathLike = "outputs/runs") -> list[Path]:
    """Run folders (those holding a config.json) under ``output_dir``, oldest first."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    runs = [p for p in root.iterdir() if (p / CONFIG_FILE).is_file()]
    return sorted(runs, key=lambda p: (p.stat().st_mtime, p.name))


__all__ = [
    "RunFolderError",
    "atomic_write_bytes",
    "atomic_write_text",
    "create_run_dir",
    "list_runs",
    "load_history",
    "read_config",
    "read_json",
    "read_status",
    "sample_paths",
    "truncate_history",
    "write_history",
    "write_json",
    "write_status",
]
