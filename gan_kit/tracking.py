"""Experiment tracking: TensorBoard event files and Weights & Biases runs (offline by default), one per run
folder, and a reader of what an offline W&B run logged."""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
from pathlib import Path
from typing import Any

import keras

from . import runs
from .images import png_size
from .runs import RunFolder

__all__ = ["TensorBoardLogger", "WandbLogger", "wandb_history", "wandb_records"]


def diverged(model) -> bool:
    """Whether ``DivergenceGuard`` stopped this model's training on a NaN or Inf (the loggers skip its grids)."""
    return getattr(model, "diverged", None) is not None


def _summary_metadata(plugin: str):
    """Metadata marking a summary for TensorBoard's ``scalars`` or ``images`` dashboard (plugin data version 0)."""
    from tensorflow.core.framework import summary_pb2

    metadata = summary_pb2.SummaryMetadata()
    metadata.plugin_data.plugin_name = plugin
    metadata.plugin_data.content = b""
    return metadata


class TensorBoardLogger(keras.callbacks.Callback):
    """Writes each epoch's logs as TensorBoard scalars and each saved fixed-noise grid as an image.

    Events go to ``<run>/tensorboard/``, so ``tensorboard --logdir outputs/runs`` shows and
    compares every run, sample grids included. The step is the 1-based epoch, as in
    ``history.csv`` (the grid before training is step 0). Every numeric log key becomes a
    scalar with the same name; the grid ``SampleGrid`` saved for an epoch becomes the image
    ``samples``, so place this callback after ``SampleGrid`` (and after callbacks that add
    keys to the logs). It writes through TensorFlow's own summary writer with the scalar and
    image plugins' metadata, so writing needs no ``tensorboard`` package; the viewer (and
    the event reader ``tests/test_tracking.py`` checks the files with) is the ``tensorboard``
    pin in requirements.txt, which TensorFlow 2.21 no longer installs by itself.

    Example:
        >>> gan.fit(data, epochs=10, callbacks=[SampleGrid(run_dir, noise, every=1), TensorBoardLogger(run_dir)])

    Args:
        run_dir: the run folder, or its writer (``RunFolder``), which makes the ``tensorboard/`` folder.
    """

    def __init__(self, run_dir: str | os.PathLike | RunFolder):
        super().__init__()
        self.folder = RunFolder.of(run_dir)
        self.run_dir = self.folder.path
        self.log_dir = self.run_dir / runs.TENSORBOARD_DIR
        self._writer = None

    def on_train_begin(self, logs=None):
        import tensorflow as tf

        fresh = not any(self.log_dir.glob("events.out.tfevents*"))
        self.folder.folder(runs.TENSORBOARD_DIR)  # the event files' folder, made by the run's writer
        self._writer = tf.summary.create_file_writer(str(self.log_dir))
        if fresh:
            self._image(0)

    def _image(self, epoch: int) -> None:
        import tensorflow as tf

        path = runs.sample_path(self.run_dir, epoch)
        if not path.exists():
            return
        png = path.read_bytes()
        width, height = png_size(png)
        with self._writer.as_default():
            tf.summary.write("samples", tf.constant([str(width).encode(), str(height).encode(), png]), step=epoch,
                             metadata=_summary_metadata("images"))

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf

        if self._writer is None:
            return
        with self._writer.as_default():
            for key, value in sorted((logs or {}).items()):
                try:
                    number = float(value)
                except (TypeError, ValueError):
                    continue
                tf.summary.write(key, tf.constant(number, tf.float32), step=epoch + 1,
                                 metadata=_summary_metadata("scalars"))
        if not diverged(self.model):
            self._image(epoch + 1)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _wandb_id(name: str) -> str:
    """A W&B run id from a run folder's name: letters, digits, ``-``, ``_`` and ``.`` only, at most 64 characters."""
    clean = re.sub(r"[^A-Za-z0-9_.-]", "-", name)
    if len(clean) > 64:
        clean = clean[:55] + "-" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    return clean


class WandbLogger(keras.callbacks.Callback):
    """Weights & Biases logging (``Config.wandb``): each epoch's logs and the fixed-noise grid, per run.

    ``wandb`` is in the kit's requirements; where it cannot be imported this callback prints
    one line and does nothing. It runs in W&B's **offline** mode unless
    ``$WANDB_MODE`` (or ``mode``) says otherwise, writing under ``<run>/wandb/``; upload
    later with ``wandb sync``. The W&B run's name is the run folder's name and its id is
    derived from it, so a resumed run continues the same W&B run. A W&B error turns logging
    off with a message; it never stops training.

    Args:
        run_dir: the run folder, or its writer (``RunFolder``), which makes the ``wandb/`` folder.
        config: values recorded as the W&B run's config (e.g. ``Config.to_dict()``).
        project: the W&B project.
        mode: ``"offline"``, ``"online"`` or ``"disabled"`` (default: ``$WANDB_MODE``, else offline).
    """

    def __init__(self, run_dir: str | os.PathLike | RunFolder, config: dict | None = None, project: str = "gan-kit",
                 mode: str | None = None):
        super().__init__()
        self.folder = RunFolder.of(run_dir)
        self.run_dir = self.folder.path
        self.config = dict(config or {})
        self.project = project
        self.mode = mode
        self._run = None
        self._wandb = None

    def on_train_begin(self, logs=None):
        import importlib

        try:
            self._wandb = importlib.import_module("wandb")
        except ImportError:
            print("gan_kit: wandb=True but the wandb package is not installed, so this run is not logged to "
                  "W&B (its run folder still records everything). Turn W&B on with: pip install wandb")
            return
        mode = self.mode or os.environ.get("WANDB_MODE") or "offline"
        try:
            # W&B writes under <dir>/wandb/, a folder the run's writer makes (none when W&B is disabled)
            where = self.run_dir if mode == "disabled" else self.folder.folder(runs.WANDB_DIR).parent
            self._run = self._wandb.init(project=self.project, name=self.run_dir.name, id=_wandb_id(self.run_dir.name),
                                         dir=str(where), mode=mode, config=self.config, resume="allow")
        except Exception as exc:
            print(f"gan_kit: W&B logging is off ({type(exc).__name__}: {exc}).")
            self._run = None

    def on_epoch_end(self, epoch, logs=None):
        if self._run is None:
            return
        data = {}
        for key, value in (logs or {}).items():
            try:
                data[key] = float(value)
            except (TypeError, ValueError):
                continue
        grid = runs.sample_path(self.run_dir, epoch + 1)
        if grid.exists() and not diverged(self.model):
            data["samples"] = self._wandb.Image(str(grid), caption=f"epoch {epoch + 1}")
        try:
            self._run.log(data, step=epoch + 1)
        except Exception as exc:
            print(f"gan_kit: W&B logging is off ({type(exc).__name__}: {exc}).")
            self._run = None

    def on_train_end(self, logs=None):
        if self._run is not None:
            self._run.finish()
            self._run = None


_BLOCK = 32768  # the W&B transaction log's block size


def wandb_records(run_dir: str | os.PathLike) -> list[Any]:
    """Every record of the run's offline W&B log (``<run>/wandb/offline-run-*/run-*.wandb``), as wandb's own
    protobuf ``Record`` messages, in the order they were written.

    wandb (0.31) has no Python reader for this file, so it is read here: a 7-byte header, then
    LevelDB-style records in 32 KiB blocks (a 4-byte checksum, a 2-byte length and a 1-byte type:
    full, first, middle or last piece).

    Raises:
        FileNotFoundError: when the run folder holds no offline W&B log.
    """
    from wandb.proto import wandb_internal_pb2

    found = sorted(Path(run_dir).glob("wandb/offline-run-*/run-*.wandb"))
    if not found:
        raise FileNotFoundError(f"{run_dir} holds no offline W&B log: train it with wandb=True (and WANDB_MODE "
                                f"unset or 'offline').")
    raw, pos, pieces, records = found[-1].read_bytes(), 7, b"", []
    while pos + 7 <= len(raw):
        if _BLOCK - pos % _BLOCK < 7:  # a block's tail too short for a record header is padding
            pos += _BLOCK - pos % _BLOCK
            continue
        _, length, kind = struct.unpack("<IHB", raw[pos : pos + 7])
        if length == kind == 0:
            break
        data, pos = raw[pos + 7 : pos + 7 + length], pos + 7 + length
        pieces = data if kind in (1, 2) else pieces + data
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pieces)
            records.append(record)
    return records


def wandb_history(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """The rows the run logged to W&B (one per ``log`` call: ``_step``, each scalar, the grid's file), decoded
    from the offline log."""
    return [{(item.key or "/".join(item.nested_key)): json.loads(item.value_json) for item in record.history.item}
            for record in wandb_records(run_dir) if record.WhichOneof("record_type") == "history"]
