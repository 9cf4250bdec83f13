"""Run folders: every file name inside one, creating, listing, finding and loading runs.

This module alone knows the layout of ``outputs/runs/<name>-<timestamp>/``::

    config.json  status.json  runtime.json  history.csv  diagnostics.json  metrics.json
    samples/epoch_0000.png ...  progress.gif  tensorboard/  wandb/
    generator.keras  generator_ema.keras  discriminator.keras        (GAN runs)
    encoder.keras  decoder.keras  reconstructions.png  latent_scatter.png   (VAE runs)
    interpolations.png  metrics_per_class.json
    checkpoints/state.json  checkpoints/epoch_0003.weights.h5  checkpoints/fixed_noise.npy

and of the folders that group runs: a sweep folder (``sweep.json`` beside its run folders) and
a lab folder (``lab.json``, ``runs/``, ``report/``). Everything else asks for a name here.
``RunFolder`` is the one writer of a run folder: training makes one per run and hands it to the
callbacks that write. Nothing here imports TensorFlow; ``load_model`` imports Keras when it is called.
"""

from __future__ import annotations

import csv
import io
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Config
from .fileio import RunFolderError, atomic_write_bytes, atomic_write_text, read_json, write_json
from .images import save_gif, save_image_grid

# ----------------------------------------------------------------- file names inside a run folder
CONFIG_FILE = "config.json"
HISTORY_FILE = "history.csv"
STEPS_FILE = "steps.csv"  # per-step losses, when the config's log_steps is on
STATUS_FILE = "status.json"
RUNTIME_FILE = "runtime.json"
METRICS_FILE = "metrics.json"
PER_CLASS_FILE = "metrics_per_class.json"
DIAGNOSTICS_FILE = "diagnostics.json"
SAMPLES_DIR = "samples"
GIF_FILE = "progress.gif"
TENSORBOARD_DIR = "tensorboard"
WANDB_DIR = "wandb"
GENERATOR_FILE = "generator.keras"
EMA_GENERATOR_FILE = "generator_ema.keras"
DISCRIMINATOR_FILE = "discriminator.keras"
ENCODER_FILE = "encoder.keras"
DECODER_FILE = "decoder.keras"
RECONSTRUCTIONS_FILE = "reconstructions.png"
INTERPOLATIONS_FILE = "interpolations.png"
LATENT_SCATTER_FILE = "latent_scatter.png"
CHECKPOINT_DIR = "checkpoints"
STATE_FILE = "state.json"  # inside checkpoints/
NOISE_FILE = "fixed_noise.npy"  # inside checkpoints/
# ----------------------------------------------------------------- folders that group runs
SWEEP_FILE = "sweep.json"
LAB_FILE = "lab.json"
LAB_RUNS_DIR = "runs"
LAB_REPORT_DIR = "report"

STATES = ("running", "finished", "diverged", "failed", "stopped")
"""Run states: training (or killed while training), done, stopped on a NaN/Inf, raised, interrupted."""
DONE_STATES = ("finished", "diverged")
"""States that count as done: a sweep or lab does not train these again (a diverged run is a result)."""
IDENTITY_IGNORED = ("name", "output_dir")
"""Config fields that do not make two runs different experiments: the run's label and where it is written."""

__all__ = [
    "CONFIG_FILE",
    "DIAGNOSTICS_FILE",
    "DONE_STATES",
    "HISTORY_FILE",
    "IDENTITY_IGNORED",
    "LAB_FILE",
    "METRICS_FILE",
    "PER_CLASS_FILE",
    "STATES",
    "STATUS_FILE",
    "STEPS_FILE",
    "SWEEP_FILE",
    "Run",
    "RunFolder",
    "checkpoint_path",
    "create_run_dir",
    "find_runs",
    "list_runs",
    "load_generator",
    "load_history",
    "load_model",
    "load_steps",
    "read_config",
    "read_per_class",
    "read_state",
    "read_status",
    "read_sweep",
    "sample_path",
    "sample_paths",
    "truncate_history",
    "write_history",
    "write_status",
]


def sample_path(run_dir: str | os.PathLike, epoch: int) -> Path:
    """Where the fixed-noise grid after ``epoch`` epochs goes (epoch 0: before training)."""
    return Path(run_dir) / SAMPLES_DIR / f"epoch_{int(epoch):04d}.png"


def sample_paths(run_dir: str | os.PathLike) -> list[Path]:
    """Saved fixed-noise grids of a run, in epoch order."""
    return sorted((Path(run_dir) / SAMPLES_DIR).glob("epoch_*.png"))


def checkpoint_path(run_dir: str | os.PathLike, name: str = "") -> Path:
    """A file in the run's ``checkpoints/`` folder (the folder itself for ``name=""``)."""
    return Path(run_dir) / CHECKPOINT_DIR / name if name else Path(run_dir) / CHECKPOINT_DIR


# ----------------------------------------------------------------- creating and writing
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


def write_history(run_dir: str | os.PathLike, history: Mapping[str, Sequence[float]], file: str = HISTORY_FILE
                  ) -> Path:
    """Atomically write the history table (one row per epoch; per step for ``STEPS_FILE``) as CSV."""
    return RunFolder.of(run_dir).write_history(history, file)


def _history_csv(history: Mapping[str, Sequence[float]]) -> str:
    """The text of ``history.csv``: a header of the columns, then one row per entry (missing cells empty)."""
    columns = list(history)
    rows = max((len(v) for v in history.values()), default=0)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for i in range(rows):
        writer.writerow([_fmt(history[c][i]) if i < len(history[c]) else "" for c in columns])
    return buffer.getvalue()


def _fmt(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return repr(float(value))


def write_status(run_dir: str | os.PathLike, state: str, **details: Any) -> Path:
    """Record the run's state (one of ``STATES``) with details."""
    return RunFolder.of(run_dir).write_status(state, **details)


class RunFolder:
    """The one writer of a run folder: it knows the names of the files inside and writes each of them.

    ``train`` makes one per run (``RunFolder.create``, or ``RunFolder(path)`` to resume) and hands it to the
    callbacks that write; a callback given a plain path makes its own (``RunFolder.of``). Every file goes
    through ``file(name)``, which keeps it inside the folder. A ``RunFolder`` is path-like, so the readers
    (``load_history``, ``read_status`` ...) take it too.

    Raises:
        RunFolderError: when ``path`` exists and is not a folder.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise RunFolderError(f"{self.path} is a file, not a run folder. Pass the folder train() made "
                                 "(outputs/runs/<name>-<timestamp>), or a new folder's path.")

    @classmethod
    def create(cls, output_dir: str | os.PathLike, name: str, *, timestamp: str | None = None) -> RunFolder:
        """A new, empty run folder ``<output_dir>/<name>-<timestamp>`` (``create_run_dir``)."""
        return cls(create_run_dir(output_dir, name, timestamp=timestamp))

    @classmethod
    def of(cls, run_dir: str | os.PathLike | RunFolder) -> RunFolder:
        """``run_dir`` itself when it is a ``RunFolder``, else a writer of that folder."""
        return run_dir if isinstance(run_dir, RunFolder) else cls(run_dir)

    def __fspath__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def file(self, name: str) -> Path:
        """Where ``name`` (relative to the run folder, e.g. ``"checkpoints/state.json"``) is written.

        Raises:
            RunFolderError: for an empty or absolute name, or one that climbs out with ``..``.
        """
        relative = Path(name)
        if not str(name) or relative.is_absolute() or ".." in relative.parts:
            raise RunFolderError(f"{name!r} is not a name inside the run folder {self.path}. Give a relative "
                                 f"name such as {CONFIG_FILE!r} or 'checkpoints/state.json', without '..'.")
        return self.path / relative

    # ------------------------------------------------------------ files
    def write_bytes(self, name: str, data: bytes) -> Path:
        """Atomically write ``data`` to the file ``name``."""
        return atomic_write_bytes(self.file(name), data)

    def write_json(self, name: str, value: Any) -> Path:
        """Atomically write ``value`` as indented JSON (``fileio.write_json``) to the file ``name``."""
        return write_json(self.file(name), value)

    def write_config(self, config: Config) -> Path:
        """Write ``config.json``."""
        path = self.file(CONFIG_FILE)
        config.to_json(path)
        return path

    def write_status(self, state: str, **details: Any) -> Path:
        """Write ``status.json``: the run's state (one of ``STATES``), the time and ``details``."""
        if state not in STATES:
            raise ValueError(f"Unknown run state {state!r}. Expected one of {list(STATES)}.")
        return self.write_json(STATUS_FILE, {"state": state, "time": time.time(), **details})

    def write_history(self, history: Mapping[str, Sequence[float]], file: str = HISTORY_FILE) -> Path:
        """Atomically write a column table as CSV: ``history.csv`` (one row per epoch), or ``file``
        (``STEPS_FILE``: one row per step)."""
        return atomic_write_text(self.file(file), _history_csv(history))

    def truncate_history(self, epochs: int) -> dict[str, list[float]]:
        """Keep the first ``epochs`` rows of ``history.csv`` (rows past the last checkpoint); returns them."""
        history = load_history(self.path)
        if not history:
            return {}
        kept = {k: v[:epochs] for k, v in history.items()}
        self.write_history(kept)
        return kept

    def save_samples(self, images: Any, epoch: int, ncols: int | None = None) -> Path:
        """Save the fixed-noise grid after ``epoch`` epochs (``samples/epoch_XXXX.png``; 0: before training)."""
        return save_image_grid(images, self.file(f"{SAMPLES_DIR}/epoch_{int(epoch):04d}.png"), ncols)

    def save_progress_gif(self) -> Path | None:
        """Write ``progress.gif`` from the saved grids, in epoch order (None when there is no grid)."""
        frames = sample_paths(self.path)
        return save_gif(frames, self.file(GIF_FILE)) if frames else None

    # ------------------------------------------------------------ models and folders others fill
    def save_models(self, models: Mapping[str, Any]) -> None:
        """Save Keras models as ``{file name: model}`` (e.g. ``generator.keras``), each through a temp file and
        a rename."""
        for name, model in models.items():
            _save_through_temp(self.file(name), ".keras", model.save)

    def save_weights(self, model: Any, name: str) -> Path:
        """Save ``model.save_weights`` to the file ``name`` (ending ``.weights.h5``) through a temp file and a
        rename."""
        return _save_through_temp(self.file(name), ".weights.h5", model.save_weights)

    def remove(self, name: str) -> None:
        """Delete the file ``name`` (nothing happens when it does not exist)."""
        self.file(name).unlink(missing_ok=True)

    def folder(self, name: str) -> Path:
        """The sub-folder ``name``, created, for a writer that fills it itself (TensorBoard's event files,
        W&B's offline run)."""
        path = self.file(name)
        path.mkdir(parents=True, exist_ok=True)
        return path


def _save_through_temp(path: Path, suffix: str, save: Any) -> Path:
    """Call ``save`` on a hidden temp file beside ``path`` (ending ``suffix``, which Keras reads the format from),
    then rename it to ``path``, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{suffix}")
    save(tmp)
    os.replace(tmp, path)
    return path


# ----------------------------------------------------------------- reading
def load_history(run_dir: str | os.PathLike, file: str = HISTORY_FILE) -> dict[str, list[float]]:
    """History columns of a run as lists of floats (empty dict when the run has none yet); ``file=STEPS_FILE``
    reads the per-step table instead."""
    path = Path(run_dir) / file
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


def load_steps(run_dir: str | os.PathLike) -> dict[str, list[float]]:
    """The run's per-step table (``steps.csv``: ``step``, ``epoch`` and each loss per train step), or an empty
    dict when the run did not log steps (``Config.log_steps``)."""
    return load_history(run_dir, STEPS_FILE)


def truncate_history(run_dir: str | os.PathLike, epochs: int) -> dict[str, list[float]]:
    """Keep the first ``epochs`` rows of a run's history (rows past its last checkpoint); returns what is kept."""
    return RunFolder.of(run_dir).truncate_history(epochs)


def read_config(run_dir: str | os.PathLike) -> Config:
    """The ``Config`` a run was made with; an unreadable file or a bad value raises an error naming the file."""
    path = Path(run_dir) / CONFIG_FILE
    return Config.from_dict(read_json(path), source=path)


def read_status(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The run's recorded state, or ``{"state": "unknown"}`` when none was written."""
    path = Path(run_dir) / STATUS_FILE
    return read_json(path) if path.exists() else {"state": "unknown"}


def read_state(run_dir: str | os.PathLike) -> str:
    """Only the state string of ``read_status`` (``"unknown"`` when the status file is missing or unreadable)."""
    try:
        return str(read_status(run_dir).get("state", "unknown"))
    except RunFolderError:
        return "unknown"


def read_metrics(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The run's ``metrics.json``, or None when it has none (an unreadable file raises ``RunFolderError``)."""
    path = Path(run_dir) / METRICS_FILE
    return read_json(path) if path.is_file() else None


def read_per_class(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """The per-class table saved in a run folder's ``metrics_per_class.json``."""
    return list(read_json(Path(run_dir) / PER_CLASS_FILE)["table"])


def is_run(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a run folder (it holds a ``config.json``)."""
    return (Path(path) / CONFIG_FILE).is_file()


# ----------------------------------------------------------------- listing and finding
def list_runs(output_dir: str | os.PathLike = "outputs/runs") -> list[Path]:
    """Run folders (those holding a config.json) directly under ``output_dir``, oldest first."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if is_run(p)]
    return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))


def config_identity(config: Config | Mapping[str, Any], ignore: Iterable[str] = IDENTITY_IGNORED
                    ) -> dict[str, Any]:
    """The config's fields without the ``ignore``d ones: what makes two runs the same experiment."""
    values = config.to_dict() if isinstance(config, Config) else dict(config)
    skip = set(ignore)
    return {k: v for k, v in values.items() if k not in skip}


def find_runs(
    folders: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    name: str | None = None,
    config: Config | None = None,
    ignore: Iterable[str] = IDENTITY_IGNORED,
    states: Sequence[str] | None = None,
    where: Callable[[Path], bool] | None = None,
) -> list[Path]:
    """Run folders under ``folders`` that match, oldest first.

    Args:
        folders: one folder of run folders, or several.
        name: keep runs whose config ``name`` is this (the folder is ``<name>-<timestamp>``).
        config: keep runs made with this config, the ``ignore``d fields aside.
        ignore: config fields that do not make two runs different.
        states: keep runs in one of these states (``read_state``).
        where: any further test on the folder.
    """
    roots = [folders] if isinstance(folders, (str, os.PathLike)) else list(folders)
    wanted = config_identity(config, ignore) if config is not None else None
    found: list[Path] = []
    for root in roots:
        for path in list_runs(root):
            if name is not None and not path.name.startswith(f"{name}-"):
                continue
            if name is not None or wanted is not None:
                try:
                    saved = read_json(path / CONFIG_FILE)
                except RunFolderError:
                    continue  # an unreadable or foreign folder is simply not a match
                if name is not None and saved.get("name") != name:
                    continue
                if wanted is not None:
                    try:
                        if config_identity(Config.from_dict(saved), ignore) != wanted:
                            continue
                    except ValueError:
                        continue
            if states is not None and read_state(path) not in states:
                continue
            if where is not None and not where(path):
                continue
            found.append(path)
    return found


# ----------------------------------------------------------------- runs in memory
@dataclass
class Run:
    """A finished (or stopped) training run: its folder, config, history and, when trained here, its models.

    Attributes:
        path: the run folder.
        config: the config it was made with.
        history: the ``history.csv`` columns.
        generator: the model that makes samples from noise (a GAN's generator or EMA copy, a VAE's decoder).
        discriminator: a GAN's discriminator (None for a VAE).
        model: the trained ``keras.Model`` (a ``GAN``, ``ConditionalGAN``, ``VAE`` or ``StepModel``).
        status: the run's final state.
    """

    path: Path
    config: Config
    history: dict[str, list[float]] = field(default_factory=dict)
    generator: Any = None
    discriminator: Any = None
    model: Any = None
    status: str = "finished"

    @classmethod
    def load(cls, run_dir: str | os.PathLike) -> Run:
        """A run read back from its folder, with its saved generator (None when it has not saved one)."""
        path = Path(run_dir)
        config = read_config(path)
        try:
            generator = load_generator(path)
        except FileNotFoundError:
            generator = None
        return cls(path=path, config=config, history=load_history(path), generator=generator,
                   status=read_state(path))

    def sample(self, n: int = 64, seed: int = 0) -> Any:
        """``n`` generated images in [-1, 1] (a NumPy array) from seeded noise."""
        import numpy as np

        if self.generator is None:
            raise ValueError(f"This Run has no generator in memory and {self.path} has no saved one yet.")
        z = np.random.default_rng(seed).standard_normal((n, self.config.latent_dim)).astype(np.float32)
        out = self.generator(z, training=False)
        return np.asarray(out.numpy() if hasattr(out, "numpy") else out, np.float32)


def load_model(path: str | os.PathLike) -> Any:
    """A saved ``.keras`` model, loaded with Keras' safe mode (Keras is imported here, when needed).

    Raises:
        FileNotFoundError: when the file does not exist, saying the run has not saved it yet.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: the run has not saved it yet (not finished, or another "
                                "kind of run).")
    import keras

    return keras.models.load_model(path, safe_mode=True, compile=False)


def load_generator(run_dir: str | os.PathLike) -> Any:
    """The model that makes a run's samples from noise, as during training: ``generator_ema.keras`` when the run
    keeps an EMA of G (``ema`` > 0), else ``generator.keras``, or a VAE run's ``decoder.keras``. G's own weights
    stay in ``generator.keras`` (``load_model``)."""
    run_dir = Path(run_dir)
    if (run_dir / EMA_GENERATOR_FILE).exists():
        return load_model(run_dir / EMA_GENERATOR_FILE)
    if not (run_dir / GENERATOR_FILE).exists() and (run_dir / DECODER_FILE).exists():
        return load_model(run_dir / DECODER_FILE)
    return load_model(run_dir / GENERATOR_FILE)


def save_keras(run_dir: str | os.PathLike, models: Mapping[str, Any]) -> None:
    """Save Keras models into the run folder as ``{file name: model}``, each through a temp file and a rename."""
    RunFolder.of(run_dir).save_models(models)


# ----------------------------------------------------------------- sweep folders
def read_sweep(folder: str | os.PathLike) -> dict[str, Any]:
    """The contents of a sweep folder's ``sweep.json``.

    Raises:
        RunFolderError: when the folder has no readable ``sweep.json``.
    """
    return read_json(Path(folder) / SWEEP_FILE)


def expand_runs(items: Iterable[str | os.PathLike]) -> list[Path]:
    """Run folders from run folders and sweep folders (a sweep folder stands for its runs, in grid order).

    Raises:
        ValueError: for an item that is neither a run folder nor a sweep folder.
    """
    paths: list[Path] = []
    for item in items:
        if item is None:
            continue
        path = Path(item)
        if is_run(path):
            paths.append(path)
        elif (path / SWEEP_FILE).is_file():
            for record in read_sweep(path).get("points", []):
                run_dir = Path(os.path.normpath(path / record["folder"])) if record.get("folder") else None
                if run_dir is not None and is_run(run_dir):
                    paths.append(run_dir)
        else:
            raise ValueError(f"{path} is not a run folder (no {CONFIG_FILE}) nor a sweep folder (no {SWEEP_FILE}).")
    return paths
