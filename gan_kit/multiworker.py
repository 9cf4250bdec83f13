"""Training on several workers (``distribute="multi_worker"``): this process's role, the data split across
workers, and the scratch folder a non-chief worker trains in.

Every worker runs the same lifecycle (they must run the same collective ops, callbacks included); only the
chief writes the run folder. ``training.train`` asks ``process_role`` first and hands a non-chief worker's
lifecycle to ``train_in_scratch``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import tensorflow as tf

from . import devices
from .config import Config

R = TypeVar("R")

__all__ = ["process_role", "shard_by_data", "train_in_scratch"]


def process_role(config: Config, family: str, runtime_of: Callable[[dict[str, Any]], dict[str, Any]]
                ) -> dict[str, Any] | None:
    """None unless the config trains on several workers; else this process's ``TF_CONFIG`` task, with the
    process's ``MultiWorkerMirroredStrategy`` made (TensorFlow needs it before it runs anything).

    Args:
        config: the run's config.
        family: the model family's name, for the message.
        runtime_of: the family's adjustment of the device's runtime choice (a family that trains on one device
            turns ``distribute`` off).

    Raises:
        ValueError: for a family that trains on one device.
        devices.ClusterError: without a usable ``TF_CONFIG``.
    """
    if config.distribute != "multi_worker":
        return None
    probe = runtime_of({"distribute": "multi_worker", "mixed_precision": "float32", "reasons": {}})
    if probe["distribute"] != "multi_worker":
        raise ValueError(f"distribute='multi_worker' trains the kit's GANs; the {family} family trains on one "
                         f"device ({probe['reasons'].get('distribute', 'one device')}). Set distribute='off'.")
    role = devices.worker_role()
    devices.multi_worker_strategy()
    return role


def shard_by_data(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """The batches split across workers by data: every worker reads the whole (seeded, in-memory) pipeline and
    keeps its replicas' shares of each global batch (there are no files to shard by)."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def train_in_scratch(config: Config, resume: str | os.PathLike | None, role: dict[str, Any],
                     lifecycle: Callable[[Config, Path | None], R]) -> R:
    """A non-chief worker's part of a run: ``lifecycle(config, resume)`` in a temporary folder that is removed
    afterwards; the chief writes the run folder.

    Resuming, the worker starts from a private copy of the chief's run folder (it must be readable here:
    a shared file system, or a copy at the same path). The result (a ``Run``) carries the chief's run folder
    (resuming) or output folder as its ``path`` and the config it was given.
    """
    scratch = Path(tempfile.mkdtemp(prefix=f"gan_kit-{role['type']}{role['index']}-"))
    try:
        if resume is not None:
            local = scratch / Path(resume).name
            shutil.copytree(resume, local, ignore=shutil.ignore_patterns("tensorboard", "*.tmp*"))
            run = lifecycle(config, local)
        else:
            run = lifecycle(config.replace(output_dir=str(scratch)), None)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    run.path = Path(resume) if resume is not None else Path(config.output_dir)  # type: ignore[attr-defined]
    run.config = config  # type: ignore[attr-defined]
    return run
