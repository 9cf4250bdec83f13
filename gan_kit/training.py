"""``train(config)``: one run lifecycle for every model family.

A family (``FAMILIES``) says how to build, watch and save one kind of model: the GAN, the
class-conditional GAN and the VAE today. The lifecycle around it is the same for all:

1. resolve the config (or the run's own, to resume) and check it against the family;
2. load the data, so data and config problems raise before any folder exists;
3. create the run folder, write ``config.json`` and the status ``running``;
4. choose the device's fast path (``runtime.json``), build the model in its strategy's
   scope, restore the last checkpoint when resuming, and ``fit()`` with the kit's callbacks;
5. save the models and the family's artifacts, the status ``finished`` (or ``diverged``), and
   ``progress.gif``.

Anything that raises after step 3 marks the run ``failed`` with the error (``stopped`` for
Ctrl-C), so no run stays ``running`` unless its process was killed. Adding a model family
means adding one ``Family`` entry. The lifecycle makes one writer of the run folder
(``gan_kit.runs.RunFolder``) and hands it to the callbacks that write and to the family's ``save``.

A student-written step plugs into the same lifecycle: ``train(config, train_step=make_step,
generator=G, discriminator=D)`` runs ``make_step`` (a step factory, ``gan_kit.steps``) through the
``step`` family, so the run folder, grids, plots and diagnostics come from the student's code.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from . import callbacks as cbs
from . import checkpoints, devices, multiworker, runs, tracking
from .checkpoints import ResumeError
from .conditional import build_conditional_gan
from .config import Config
from .gan import HISTORY_COLUMNS as _GAN_HISTORY
from .gan import build_gan, config_optimizers
from .models import build_models
from .runs import Run, RunFolder
from .steps import StepModel
from .vae import HISTORY_COLUMNS as VAE_COLUMNS
from .vae import VAERun, build_vae, save_artifacts
from .vae import save_models as save_vae_models

GAN_COLUMNS = tuple(_GAN_HISTORY)

__all__ = [
    "FAMILIES",
    "Family",
    "build_model",
    "family_of",
    "build_step_model",
    "make_dataset",
    "train",
]


# ----------------------------------------------------------------- model families
@dataclass(frozen=True)
class Family:
    """How the run lifecycle builds, watches and saves one kind of model.

    Attributes:
        name: the family's key in ``FAMILIES``.
        build: ``(config, runtime, **parts) -> compiled keras.Model``, called inside the strategy's scope;
            ``parts`` are what the caller of ``train`` handed in (``train_step``, ``generator``, ``discriminator``).
        columns: the ``history.csv`` columns that lead the table.
        losses: log keys whose NaN/Inf stops training (``DivergenceGuard``).
        resumable: whether the full training state is saved after every epoch (``checkpoints``).
        diagnostics: whether the GAN training-health checks apply (``DiagnosticsCallback``).
        instance_noise: whether the model has the GAN step's instance noise (``InstanceNoiseSchedule``).
        check: ``(config, **parts)``: raises ``ValueError`` for a config (or networks) the family cannot train,
            before the run folder exists.
        runtime: adjusts the device's runtime choice (e.g. the VAE computes in float32).
        save: ``(model, folder, config)``: the models and artifacts written when training finished, through
            the run's writer ``folder`` (a ``RunFolder``, path-like).
        result: ``(run, model) -> Run``: the object ``train`` returns.
    """

    name: str
    build: Callable[..., keras.Model]
    columns: Sequence[str]
    losses: Sequence[str]
    resumable: bool = True
    diagnostics: bool = True
    instance_noise: bool = True
    check: Callable[..., None] = lambda config, **parts: None
    runtime: Callable[[dict[str, Any]], dict[str, Any]] = lambda runtime: runtime
    save: Callable[[Any, RunFolder, Config], None] = lambda model, folder, config: cbs.save_models(model, folder)
    result: Callable[[Run, Any], Run] = field(default=lambda run, model: run)


def _no_parts(build: Callable[[Config, dict[str, Any]], keras.Model], family: str) -> Callable[..., keras.Model]:
    """``build`` for a family whose models come from the config alone."""

    def build_from_config(config: Config, runtime: dict[str, Any], **parts: Any) -> keras.Model:
        given = sorted(k for k, v in parts.items() if v is not None)
        if given:
            raise ValueError(f"The {family} family builds its models from the config; it takes no {given}. "
                             "Pass train_step= (with generator= and discriminator=) for your own step and networks.")
        return build(config, runtime)

    return build_from_config


def build_step_model(config: Config, runtime: dict[str, Any] | None = None, *, train_step: Any = None,
                     generator: keras.Model | None = None, discriminator: keras.Model | None = None) -> StepModel:
    """A compiled ``StepModel`` running the step factory ``train_step`` on ``generator`` and ``discriminator``
    (the config's DCGAN pair when not given), with the config's optimizers (``g_lr``, betas, ...).

    Raises:
        ValueError: when a network does not fit the config's latent size or image shape.
    """
    runtime = runtime or devices.choose_runtime(config)
    if generator is None or discriminator is None:
        built_g, built_d = build_models(config)
        generator, discriminator = generator or built_g, discriminator or built_d
    _check_networks(config, generator, discriminator)
    model = StepModel(generator, discriminator, config.latent_dim, train_step, seed=config.seed, name="step_model")
    model.runtime = runtime
    model.compile(*config_optimizers(config), jit_compile=runtime["jit_compile"],
                  steps_per_execution=runtime["steps_per_execution"])
    return model


def _check_networks(config: Config, generator: keras.Model, discriminator: keras.Model) -> None:
    z, image = tuple(generator.inputs[0].shape[1:]), tuple(generator.outputs[0].shape[1:])
    if z != (config.latent_dim,) or image != config.image_shape:
        raise ValueError(f"The generator maps {z} to {image}, but the config trains on noise "
                         f"({config.latent_dim},) and images {config.image_shape}. Build it with the config's "
                         "latent_dim and image size.")
    seen = tuple(discriminator.inputs[0].shape[1:])
    if seen != config.image_shape:
        raise ValueError(f"The discriminator takes images {seen}, but the config's images are "
                         f"{config.image_shape}.")


def _step_runtime(runtime: dict[str, Any]) -> dict[str, Any]:
    reasons = {**runtime.get("reasons", {}), "mixed_precision": "a step written as a function computes in float32",
               "distribute": "a step written as a function trains on one device",
               "fused_batch_norm": "a step written as a function runs its networks as they are"}
    return {**runtime, "mixed_precision": "float32", "distribute": "default", "fused_batch_norm": False,
            "reasons": reasons}


def _gan_result(run: Run, gan: Any) -> Run:
    run.generator, run.discriminator = gan.sampler, gan.discriminator
    return run


def _check_vae(config: Config, **parts: Any) -> None:
    if config.conditional:
        raise ValueError("The VAE is unconditional. Received: conditional=True; set conditional=False.")


def _vae_runtime(runtime: dict[str, Any]) -> dict[str, Any]:
    reasons = {**runtime.get("reasons", {}), "mixed_precision": "the VAE computes in float32",
               "distribute": "the VAE trains on one device"}
    return {**runtime, "mixed_precision": "float32", "distribute": "default", "reasons": reasons}


def _save_vae(vae: Any, folder: RunFolder, config: Config) -> None:
    save_vae_models(vae, folder)
    save_artifacts(vae, folder, config)


def _vae_result(run: Run, vae: Any) -> Run:
    return VAERun(path=run.path, config=run.config, history=run.history, generator=vae.decoder, model=vae,
                  status=run.status, encoder=vae.encoder)


def _check_step(config: Config, train_step: Any = None, generator: keras.Model | None = None,
                discriminator: keras.Model | None = None) -> None:
    if config.model != "gan" or config.conditional:
        raise ValueError(f"train_step= trains an unconditional GAN; this config has model={config.model!r}, "
                         f"conditional={config.conditional}.")
    if not callable(train_step):
        raise TypeError(f"train_step must be a step factory (a function). Received: {type(train_step).__name__}.")
    for name, net in (("generator", generator), ("discriminator", discriminator)):
        if net is not None and not isinstance(net, keras.Model):
            raise TypeError(f"{name} must be a keras.Model. Received: {type(net).__name__}.")
    if generator is not None and discriminator is not None:
        _check_networks(config, generator, discriminator)


FAMILIES: dict[str, Family] = {
    "gan": Family("gan", _no_parts(lambda c, r: build_gan(c, r), "gan"), GAN_COLUMNS, ("g_loss", "d_loss"),
                  result=_gan_result),
    "conditional": Family("conditional", _no_parts(lambda c, r: build_conditional_gan(c, r), "conditional"),
                          GAN_COLUMNS, ("g_loss", "d_loss"), result=_gan_result),
    "vae": Family("vae", _no_parts(lambda c, r: build_vae(c, r), "vae"), VAE_COLUMNS,
                  ("loss", "recon_loss", "kl_loss"), resumable=False, diagnostics=False, instance_noise=False,
                  check=_check_vae, runtime=_vae_runtime, save=_save_vae, result=_vae_result),
    "step": Family("step", lambda c, r, **parts: build_step_model(c, r, **parts), GAN_COLUMNS,
                   ("g_loss", "d_loss"), instance_noise=False, check=_check_step, runtime=_step_runtime,
                   result=_gan_result),
}


def family_of(config: Config, train_step: Any = None) -> Family:
    """The family that trains ``config``: ``step`` when a step factory is given, ``vae`` for ``model="vae"``,
    ``conditional`` for ``conditional=True``, else ``gan``."""
    if train_step is not None:
        return FAMILIES["step"]
    if config.model == "vae":
        return FAMILIES["vae"]
    return FAMILIES["conditional" if config.conditional else "gan"]


def build_model(config: Config, runtime: dict[str, Any] | None = None, **parts: Any) -> keras.Model:
    """The compiled model of the config's family, on the device's fast path (``devices.choose_runtime``).

    ``parts`` are ``train`` 's ``train_step``, ``generator`` and ``discriminator``. Call it inside a
    ``tf.distribute`` strategy's scope to train on several devices or machines.
    """
    family = family_of(config, parts.get("train_step"))
    return family.build(config, family.runtime(runtime or devices.choose_runtime(config)), **parts)


# ----------------------------------------------------------------- data
def load_training_arrays(config: Config) -> tuple[np.ndarray, np.ndarray]:
    """The config's training images as uint8 N x H x W x C (resized / converted as configured) and labels."""
    from . import data

    x, y, _ = data.load_arrays(config.dataset, "train", path=config.data_path, image_size=config.image_size,
                               channels=config.channels, max_examples=config.max_examples)
    return x, y


def make_dataset(config: Config, start_epoch: int = 0) -> tuple[tf.data.Dataset, int]:
    """The training batches for epochs ``start_epoch`` onwards, in an order fixed by (seed, epoch), and the
    steps per epoch."""
    from . import data

    x, y = load_training_arrays(config)
    return data.epoch_dataset(x, y, with_labels=config.conditional, batch_size=config.batch_size, seed=config.seed,
                              start_epoch=start_epoch, epochs=config.epochs, steps_per_epoch=config.steps_per_epoch)


def _seed_and_batches(config: Config, dataset: tf.data.Dataset | None, start_epoch: int
                      ) -> tuple[tf.data.Dataset, int | None]:
    """Seed Keras/TensorFlow (op determinism when asked); the batches and steps per epoch: the config's from
    ``start_epoch`` on, or ``dataset`` (repeated when ``steps_per_epoch`` is set)."""
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(config.seed)
    steps = config.steps_per_epoch
    if dataset is None:
        dataset, steps = make_dataset(config, start_epoch)
    elif steps is not None:
        dataset = dataset.repeat()
    return dataset, steps


# ----------------------------------------------------------------- the lifecycle
def _callbacks(family: Family, config: Config, folder: RunFolder, dataset: Any, guard: cbs.DivergenceGuard,
               history_cb: cbs.HistoryWriter) -> list[keras.callbacks.Callback]:
    """The kit's callbacks for a run, in the order they must run; those that write get the run's writer."""
    own: list[keras.callbacks.Callback] = [guard, cbs.EpochTimer()]
    if family.instance_noise:  # the GAN step's instance noise; a no-op at 0
        own.append(cbs.InstanceNoiseSchedule(config.instance_noise, config.instance_noise_epochs))
    own.append(cbs.SampleGrid(folder, checkpoints.fixed_noise_for(folder, config), every=config.sample_every))
    if family.resumable:
        own.append(cbs.ModelCheckpoints(folder, every=config.checkpoint_every))
    if config.metrics_every > 0:  # FID/KID into history.csv every metrics_every epochs
        own.append(cbs.metrics_callback(config))
    if config.log_steps:  # every step's losses -> steps.csv
        own.append(cbs.StepLogger(folder, keys=tuple(c for c in family.columns if c != "epoch_time")))
    own.append(history_cb)
    if family.resumable:
        own.append(checkpoints.TrainingState(folder))
    if config.diagnostics and family.diagnostics:  # training-health checks -> diagnostics.json
        own.append(cbs.DiagnosticsCallback(folder, real=dataset, seed=config.seed))
    if config.tensorboard:  # scalars and sample grids under <run>/tensorboard/
        own.append(tracking.TensorBoardLogger(folder))
    if config.wandb:  # optional; skipped with a note when wandb is not installed
        own.append(tracking.WandbLogger(folder, config.to_dict()))
    return own


def train(
    config: Config | None,
    *,
    resume: str | os.PathLike | None = None,
    callbacks: list[keras.callbacks.Callback] | None = None,
    verbose: int | str = "auto",
    dataset: tf.data.Dataset | None = None,
    train_step: Any = None,
    generator: keras.Model | None = None,
    discriminator: keras.Model | None = None,
) -> Run:
    """Train the config's model (``family_of``) in a new run folder under ``config.output_dir``, or continue one.

    The folder gets ``config.json``, ``runtime.json``, ``history.csv`` (one row per epoch),
    fixed-noise grids in ``samples/``, ``progress.gif``, the saved models, ``status.json`` and,
    for GANs, ``checkpoints/`` with the full training state after every epoch (weights,
    optimizers, random-generator states) and ``diagnostics.json``. Data and config problems
    are raised before the folder is created; a failure after that marks the run ``failed``.
    A NaN or Inf loss stops training, marks the run ``diverged`` and keeps the last good
    checkpoint and samples.

    Args:
        config: the experiment; with ``resume`` it may be None (use the run's own).
        resume: a run folder to continue from its last complete epoch. Its config must
            match (only ``epochs`` may grow); the result equals an uninterrupted run.
        callbacks: extra Keras callbacks, run after the kit's own.
        verbose: passed to ``fit`` (``"auto"``, 0, 1 or 2).
        dataset: an already-built pipeline to use instead of the config's dataset
            (then the per-epoch order, and so bit-exact resuming, is the caller's).
        train_step: a step factory ``make_step(generator, discriminator, g_optimizer, d_optimizer)``
            returning ``step(real_images, noise) -> {"g_loss", "d_loss", ...}`` (``gan_kit.steps``): your
            own training step, run through the kit's lifecycle (the ``step`` family). Resuming such a run
            needs the same factory again.
        generator, discriminator: the networks ``train_step`` trains (default: the config's DCGAN pair).
            They train as they are: build them fresh (and seeded) for each run.

    Returns:
        The ``Run`` with its folder, history and models.

    Raises:
        ConfigError, DatasetNotFoundError, DatasetError, RunFolderError, ResumeError, ValueError: before any
        training; any error of training itself, after marking the run ``failed``.
    """
    config, family, parts = _prepare(config, resume, train_step, generator, discriminator)
    role = multiworker.process_role(config, family.name, family.runtime)  # its strategy is made now
    lifecycle = functools.partial(_lifecycle, family=family, parts=parts, callbacks=callbacks, verbose=verbose,
                                  dataset=dataset, role=role)
    if role is not None and not role["chief"]:
        return multiworker.train_in_scratch(config, resume, role, lifecycle)
    return lifecycle(config, resume)


def _prepare(config: Config | None, resume: str | os.PathLike | None, train_step: Any,
             generator: keras.Model | None, discriminator: keras.Model | None
             ) -> tuple[Config, Family, dict[str, Any]]:
    """The run's config (the run's own, resuming), its family and the caller's parts, checked before any
    folder exists."""
    if resume is not None:
        config = checkpoints.resume_config(resume, config)
    elif not isinstance(config, Config):
        raise TypeError(f"train() needs a gan_kit.Config. Received: {type(config).__name__}.")
    parts = {"train_step": train_step, "generator": generator, "discriminator": discriminator}
    family = family_of(config, train_step)
    if train_step is None and (generator is not None or discriminator is not None):
        raise ValueError("generator= and discriminator= go with train_step= (your own step); the kit's own families "
                         "build their networks from the config.")
    family.check(config, **parts)
    if resume is not None and not family.resumable:
        raise ResumeError(f"{family.name.upper()} runs cannot be resumed ({resume}): they keep no training state. "
                          "Start a new run with train(config).")
    return config, family, parts


def _lifecycle(config: Config, resume: str | os.PathLike | None, *, family: Family, parts: dict[str, Any],
               callbacks: list[keras.callbacks.Callback] | None, verbose: int | str,
               dataset: tf.data.Dataset | None, role: dict[str, Any] | None) -> Run:
    """Data, run folder, fit and finish: steps 2 to 5 of the lifecycle (module docstring)."""
    state = checkpoints.read_state(resume) if resume is not None else None
    start_epoch = int(state["epoch"]) if state is not None else 0
    dataset, steps = _seed_and_batches(config, dataset, start_epoch)
    if role is not None:
        dataset = multiworker.shard_by_data(dataset)
    folder = _open_run_dir(config, resume, start_epoch)
    history = folder.truncate_history(start_epoch) if state is not None else {}
    guard = cbs.DivergenceGuard(keys=tuple(family.losses))
    history_cb = cbs.HistoryWriter(folder, list(family.columns), history=history)
    started = time.perf_counter()
    try:
        model = _build(family, config, folder, state, parts)
        own = _callbacks(family, config, folder, dataset, guard, history_cb)
        if start_epoch < config.epochs:
            model.fit(dataset, epochs=config.epochs, callbacks=own + list(callbacks or []), verbose=verbose,
                      shuffle=False, initial_epoch=start_epoch, **({"steps_per_epoch": steps} if steps else {}))
        _finish(family, config, folder, model, guard, history_cb, start_epoch, started)
    except BaseException as exc:
        epoch = len(history_cb.history.get("epoch", []))
        state_name = "stopped" if isinstance(exc, KeyboardInterrupt) else "failed"
        folder.write_status(state_name, error=f"{type(exc).__name__}: {exc}", epoch=epoch or start_epoch)
        raise
    folder.save_progress_gif()
    run = Run(path=folder.path, config=config, history=runs.load_history(folder.path), model=model,
              status=runs.read_state(folder.path))
    return family.result(run, model)


def _open_run_dir(config: Config, resume: str | os.PathLike | None, start_epoch: int) -> RunFolder:
    """The writer of a new run folder with ``config.json`` (or of the folder resumed), its status set to
    ``running``."""
    if resume is None:
        folder = RunFolder.create(config.output_dir, config.name)
        folder.write_config(config)
    else:
        folder = RunFolder(resume)
    folder.write_status("running", epoch=start_epoch)
    return folder


def _build(family: Family, config: Config, folder: RunFolder, state: dict[str, Any] | None,
           parts: dict[str, Any]) -> keras.Model:
    """The family's model on the device's fast path (``runtime.json``), restored from ``state`` when resuming."""
    runtime = family.runtime(devices.choose_runtime(config))
    train_step = parts.get("train_step")
    if train_step is not None:
        name = getattr(train_step, "__qualname__", type(train_step).__name__)
        runtime["train_step"] = f"{getattr(train_step, '__module__', '?')}.{name}"
    folder.write_json(runs.RUNTIME_FILE, runtime)
    with devices.make_strategy(runtime).scope():
        model = family.build(config, runtime, **parts)
        devices.apply_runtime(model, runtime)  # fused BatchNorm; several replicas: one device's global batch
        if state is not None:
            checkpoints.restore(model, folder.path, state)
    return model


def _finish(family: Family, config: Config, folder: RunFolder, model: keras.Model, guard: cbs.DivergenceGuard,
            history_cb: cbs.HistoryWriter, start_epoch: int, started: float) -> None:
    """The status ``diverged``, or the family's saved models and the status ``finished``."""
    if guard.diverged is not None:
        folder.write_status("diverged", **guard.diverged)
        return
    family.save(model, folder, config)
    done = history_cb.history.get("epoch") or [start_epoch]
    folder.write_status("finished", epochs=int(max(done)), seconds=round(time.perf_counter() - started, 2))
