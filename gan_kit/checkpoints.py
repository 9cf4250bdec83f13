"""The full training state of a run, written after every epoch, so a killed run can be resumed exactly.

Layout inside the run folder::

    checkpoints/state.json             {"epoch": k, "weights": "epoch_000k.weights.h5", "seeds": [...]}
    checkpoints/epoch_000k.weights.h5  G, D (and EMA) weights and both optimizers' variables
    checkpoints/fixed_noise.npy        the latent batch behind every sample grid

The weights file is written first under a new name and ``state.json`` is switched to it
atomically afterwards, so a kill at any moment leaves a complete, consistent previous state.
Every file is written through the run folder's writer (``gan_kit.runs.RunFolder``).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import keras
import numpy as np

from . import fileio, runs
from .config import Config
from .runs import CHECKPOINT_DIR, NOISE_FILE, STATE_FILE, RunFolder

KEEP = 2  # weight files kept: the current one and the one before

__all__ = ["ResumeError", "TrainingState", "fixed_noise", "fixed_noise_for", "read_state", "restore",
           "resume_config", "save"]


class ResumeError(ValueError):
    """A run folder cannot be resumed (missing state, or a config that differs from the run's)."""


def _dir(run_dir: str | os.PathLike) -> Path:
    return runs.checkpoint_path(run_dir)


def _name(file: str) -> str:
    """The name of ``file`` inside the checkpoint folder, relative to the run folder."""
    return f"{CHECKPOINT_DIR}/{file}"


def fixed_noise(config: Config) -> np.ndarray:
    """The fixed latent batch used for every sample grid of a run (seeded by the config)."""
    rng = np.random.default_rng(config.seed + 1_000_003)
    return rng.standard_normal((config.grid_size**2, config.latent_dim)).astype(np.float32)


def resume_config(run_dir: str | os.PathLike, config: Config | None) -> Config:
    """The config to resume ``run_dir`` with: the run's own, or ``config`` when it differs only in ``epochs``.

    Raises:
        ResumeError: when ``run_dir`` is not a run folder, or ``config`` changes another field (all are listed).
    """
    run_dir = Path(run_dir)
    if not runs.is_run(run_dir):
        raise ResumeError(f"{run_dir} is not a run folder (no {runs.CONFIG_FILE}); pass the folder train() made.")
    saved = runs.read_config(run_dir)
    if config is None:
        return saved
    changed = {k: v for k, v in saved.diff(config).items() if k != "epochs"}
    if changed:
        lines = "\n".join(f"  {k}: run has {a!r}, new config has {b!r}" for k, (a, b) in sorted(changed.items()))
        raise ResumeError(
            f"Refusing to resume {run_dir} under a different config (only `epochs` may change):\n{lines}\n"
            "Resume with the run's own config (train(None, resume=...) or --resume alone), or start a new run."
        )
    return config


def _seed_states(gan) -> list:
    """The states of every random-number generator inside the model, in a stable order."""
    return [v for v in gan.variables if "seed_generator_state" in v.path]


def read_state(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The run's last complete checkpoint (``None`` when it has none yet)."""
    path = _dir(run_dir) / STATE_FILE
    if not path.exists():
        return None
    state = fileio.read_json(path)
    if not (_dir(run_dir) / state.get("weights", "")).is_file():
        raise fileio.RunFolderError(
            f"{path} points to {state.get('weights')!r}, which is missing; the checkpoint folder was altered. "
            "Start a new run, or restore the weights file."
        )
    return state


def save(gan, run_dir: str | os.PathLike | RunFolder, epoch: int) -> Path:
    """Write the state after ``epoch`` completed epochs into the run folder (a path or its ``RunFolder``)."""
    writer = RunFolder.of(run_dir)
    name = f"epoch_{epoch:04d}.weights.h5"
    path = writer.save_weights(gan, _name(name))
    seeds = [np.asarray(keras.ops.convert_to_numpy(v)).tolist() for v in _seed_states(gan)]
    writer.write_json(_name(STATE_FILE), {"epoch": int(epoch), "weights": name, "seeds": seeds})
    for old in sorted(path.parent.glob("epoch_*.weights.h5"))[:-KEEP]:
        writer.remove(_name(old.name))
    return path


def restore(gan, run_dir: str | os.PathLike, state: dict[str, Any]) -> None:
    """Load weights, optimizer variables and random-generator states saved by :func:`save`."""
    for optimizer, model in ((gan.g_optimizer, gan.generator), (gan.d_optimizer, gan.discriminator)):
        if not optimizer.built:
            optimizer.build(model.trainable_variables)
    gan.load_weights(_dir(run_dir) / state["weights"])
    variables = _seed_states(gan)
    if len(variables) != len(state["seeds"]):
        raise fileio.RunFolderError(
            f"The checkpoint in {_dir(run_dir)} holds {len(state['seeds'])} random-generator states but the model has "
            f"{len(variables)}: the model code changed since the run was made. Start a new run."
        )
    for variable, value in zip(variables, state["seeds"]):
        variable.assign(np.asarray(value, dtype=variable.dtype))


def fixed_noise_for(run_dir: str | os.PathLike | RunFolder, config: Config) -> np.ndarray:
    """The run's fixed latent batch: read from its checkpoint folder, or made from the config and stored there
    (``run_dir`` is a path or the run's ``RunFolder``)."""
    writer = RunFolder.of(run_dir)
    path = _dir(writer.path) / NOISE_FILE
    if path.exists():
        return np.load(path, allow_pickle=False)
    noise = fixed_noise(config)
    buffer = io.BytesIO()
    np.save(buffer, noise, allow_pickle=False)
    writer.write_bytes(_name(NOISE_FILE), buffer.getvalue())
    return noise


class TrainingState(keras.callbacks.Callback):
    """Saves the complete training state at the end of every epoch (skipped once training diverged).

    Args:
        run_dir: the run folder, or its writer (``RunFolder``).
    """

    def __init__(self, run_dir: str | os.PathLike | RunFolder):
        super().__init__()
        self.folder = RunFolder.of(run_dir)
        self.run_dir = self.folder.path

    def on_epoch_end(self, epoch, logs=None):
        if getattr(self.model, "diverged", None) is None:
            save(self.model, self.folder, epoch + 1)

