"""Keras callbacks that each do one thing and write only inside the run folder they are given.

A callback that writes takes the run folder as a path or as the run's writer (``gan_kit.runs.RunFolder``),
and writes every file through that writer; given a path, it makes its own.

Training-health diagnostics, FID/KID during training and fixed-noise grids are here; the
TensorBoard and W&B loggers are in ``gan_kit.tracking`` (re-exported here).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from . import diagnostics, exercises, runs
from .metrics import maths
from .metrics.reference import check_extractor
from .runs import RunFolder
from .tracking import diverged as _diverged

__all__ = [
    "DiagnosticsCallback",
    "DivergenceGuard",
    "EpochTimer",
    "HistoryWriter",
    "InstanceNoiseSchedule",
    "MetricsCallback",
    "ModelCheckpoints",
    "SampleGrid",
    "StepLogger",
    "instance_noise_std",
    "metrics_callback",
    "save_models",
]


class DivergenceGuard(keras.callbacks.Callback):
    """Stops training at the first NaN or Inf loss and records where it happened.

    It sets ``model.diverged`` (and ``self.diverged``) to ``{"epoch", "step", "metric",
    "value"}``; the sample, checkpoint and state callbacks then skip their writes, so
    the last good files stay in the run folder.
    """

    def __init__(self, keys: tuple[str, ...] = ("g_loss", "d_loss")):
        super().__init__()
        self.keys = keys
        self.diverged: dict | None = None
        self._epoch = 0

    def on_train_begin(self, logs=None):
        self.diverged = None  # a guard reused for a second fit() watches that one afresh
        self.model.diverged = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.diverged is not None or not logs:
            return
        for key in self.keys:
            value = logs.get(key)
            if value is not None and not math.isfinite(float(value)):
                self.diverged = {"epoch": self._epoch + 1, "step": int(batch) + 1, "metric": key,
                                 "value": str(float(value))}
                self.model.diverged = self.diverged
                self.model.stop_training = True
                print(f"gan_kit: {key} became {float(value)} at epoch {self._epoch + 1}, step {batch + 1}: "
                      "training stopped, the run is marked diverged and keeps its last good checkpoint. "
                      "Try a lower learning rate, label smoothing, or gradient penalty.")
                return


class EpochTimer(keras.callbacks.Callback):
    """Adds ``epoch_time`` (seconds) to each epoch's logs."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_time"] = time.perf_counter() - self._start


def _append_row(table: dict[str, list[float]], epoch: int, logs: dict[str, Any], columns: Sequence[str] = ()
               ) -> None:
    """Append one epoch's logs to a column table in place: ``epoch`` first, then ``columns`` (for a new table),
    then any other key in sorted order; a key new at this epoch reads NaN for the earlier ones."""
    if "epoch" not in table:
        table.update({"epoch": [], **{c: [] for c in columns if c not in table}})
    done = len(table["epoch"])
    for key in sorted(k for k in logs if k not in table):
        table[key] = [math.nan] * done
    table["epoch"].append(epoch)
    for key, values in table.items():
        if key != "epoch":
            values.append(float(logs.get(key, math.nan)))


class HistoryWriter(keras.callbacks.Callback):
    """Appends each epoch's logs to ``history.csv`` in the run folder (atomic rewrite).

    Args:
        run_dir: the run folder, or its writer (``RunFolder``).
        columns: log keys that lead the table, in order; ``epoch`` (1-based) is always
            first, and any other key a callback logs follows in sorted order (missing
            epochs are NaN).
        history: rows already written (when continuing a run).
    """

    def __init__(self, run_dir: str | os.PathLike | RunFolder, columns: list[str] | None = None,
                 history: dict[str, list[float]] | None = None):
        super().__init__()
        self.folder = RunFolder.of(run_dir)
        self.run_dir = self.folder.path
        self.columns = list(columns or [])
        self.history: dict[str, list[float]] = {k: list(v) for k, v in (history or {}).items()}

    def on_epoch_end(self, epoch, logs=None):
        _append_row(self.history, epoch + 1, logs or {}, self.columns)
        self.folder.write_history(self.history)


class StepLogger(keras.callbacks.Callback):
    """Writes every train step's losses to ``steps.csv`` in the run folder, at the end of each epoch.

    Keras hands a callback the epoch's running means, not the step's values; the value of
    steps ``j+1 .. k`` is recovered as ``((k+1) m_k - (j+1) m_j) / (k - j)`` from the means
    ``m`` after steps ``j`` and ``k`` (one row per step on a CPU, one per call of
    ``steps_per_execution`` steps otherwise). A continued run keeps the rows of the epochs
    it resumes after.

    Args:
        run_dir: the run folder, or its writer (``RunFolder``).
        keys: the log keys to record (those missing from the logs are skipped).
    """

    def __init__(self, run_dir: str | os.PathLike | RunFolder,
                 keys: tuple[str, ...] = ("g_loss", "d_loss", "d_real_prob", "d_fake_prob")):
        super().__init__()
        self.folder = RunFolder.of(run_dir)
        self.run_dir = self.folder.path
        self.keys = tuple(keys)
        self.table: dict[str, list[float]] | None = None
        self._steps_per_epoch = 0
        self._epoch = 0
        self._last: tuple[int, dict[str, float]] = (-1, {})

    def on_epoch_begin(self, epoch, logs=None):
        if self.table is None:  # keep what earlier epochs of this run wrote, drop what a resume retrains
            kept = runs.load_steps(self.run_dir)
            rows = sum(1 for e in kept.get("epoch", []) if e <= epoch)
            self.table = {"step": [], "epoch": [], **{k: [] for k in self.keys}}
            for key in self.table:
                self.table[key] = list(kept.get(key, [math.nan] * rows))[:rows]
        self._epoch = epoch
        self._last = (-1, {})

    def on_train_batch_end(self, batch, logs=None):
        if self.table is None:
            return
        means = {k: float(logs[k]) for k in self.keys if logs and k in logs}
        last_batch, last_means = self._last
        span = batch - last_batch
        if span < 1:
            return
        self._steps_per_epoch = max(self._steps_per_epoch, batch + 1)
        self.table["step"].append(self._epoch * self._steps_per_epoch + batch + 1)
        self.table["epoch"].append(self._epoch + 1)
        for key in self.keys:
            if key not in means:
                self.table[key].append(math.nan)
            else:
                before = (last_batch + 1) * last_means.get(key, 0.0)
                self.table[key].append(((batch + 1) * means[key] - before) / span)
        self._last = (batch, means)

    def on_epoch_end(self, epoch, logs=None):
        if self.table is not None:
            self.folder.write_history(self.table, file=runs.STEPS_FILE)


class SampleGrid(keras.callbacks.Callback):
    """Saves a grid of generator samples from one fixed noise batch every ``every`` epochs.

    The grid before training is saved as epoch 0, and the last epoch is always saved.

    Args:
        run_dir: the run folder (grids go to ``samples/epoch_XXXX.png``), or its writer (``RunFolder``).
        noise: the fixed latent batch, reused at every save.
        every: cadence in epochs.
        generator: the model to sample (defaults to ``self.model.generator``).
    """

    def __init__(self, run_dir: str | os.PathLike | RunFolder, noise: np.ndarray, every: int = 10, generator=None):
        super().__init__()
        if every < 1:
            raise ValueError(f"SampleGrid needs every >= 1. Received: every={every}.")
        self.folder = RunFolder.of(run_dir)
        self.run_dir = self.folder.path
        self.noise = np.asarray(noise, np.float32)
        self.every = every
        self._generator = generator

    def _save(self, epoch: int) -> None:
        if self._generator is None and hasattr(self.model, "grid_images"):
            images = self.model.grid_images(self.noise)  # e.g. a conditional GAN: one row per class
        else:
            generator = self._generator or self.model.sampler
            images = generator(self.noise, training=False)
        images = keras.ops.convert_to_numpy(images)
        ncols = int(math.ceil(math.sqrt(len(self.noise))))
        self.folder.save_samples(images, epoch, ncols)

    def on_train_begin(self, logs=None):
        self._last_epoch = self.params.get("epochs", 0)
        if not runs.sample_path(self.run_dir, 0).exists():
            self._save(0)

    def on_epoch_end(self, epoch, logs=None):
        if _diverged(self.model):
            return
        if (epoch + 1) % self.every == 0 or epoch + 1 == self._last_epoch:
            self._save(epoch + 1)


def instance_noise_std(epoch: int, initial: float, decay_epochs: int) -> float:
    """Instance-noise std at 0-based ``epoch``: linear from ``initial`` to 0 over ``decay_epochs`` (0: constant)."""
    if decay_epochs <= 0:
        return float(initial)
    return float(initial) * max(0.0, 1.0 - epoch / decay_epochs)


class InstanceNoiseSchedule(keras.callbacks.Callback):
    """Sets the GAN's instance-noise std at each epoch start and logs it as ``instance_noise``.

    Args:
        initial: std of the Gaussian noise added to D's inputs at epoch 0 (images are in [-1, 1]).
        decay_epochs: epochs over which it decays linearly to 0 (0 keeps it constant).
    """

    def __init__(self, initial: float, decay_epochs: int = 0):
        super().__init__()
        if initial < 0 or decay_epochs < 0:
            raise ValueError(
                f"InstanceNoiseSchedule needs initial >= 0 and decay_epochs >= 0. "
                f"Received: initial={initial}, decay_epochs={decay_epochs}."
            )
        self.initial = float(initial)
        self.decay_epochs = int(decay_epochs)

    def on_epoch_begin(self, epoch, logs=None):
        self._std = instance_noise_std(epoch, self.initial, self.decay_epochs)
        self.model.instance_noise_std.assign(self._std)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self.initial > 0:
            logs["instance_noise"] = self._std


class ModelCheckpoints(keras.callbacks.Callback):
    """Saves the generator and discriminator as ``.keras`` files every ``every`` epochs (atomic).

    Args:
        run_dir: the run folder, or its writer (``RunFolder``).
        every: cadence in epochs.
    """

    def __init__(self, run_dir: str | os.PathLike | RunFolder, every: int = 10):
        super().__init__()
        if every < 1:
            raise ValueError(f"ModelCheckpoints needs every >= 1. Received: every={every}.")
        self.folder = RunFolder.of(run_dir)
        self.run_dir = self.folder.path
        self.every = every

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0 and not _diverged(self.model):
            save_models(self.model, self.folder)


def save_models(gan, run_dir: str | os.PathLike | RunFolder) -> None:
    """Write ``generator.keras`` and ``discriminator.keras`` (and ``generator_ema.keras`` when the GAN keeps an
    EMA of G) into the run folder (a path or its ``RunFolder``) through temp files and renames."""
    models = {runs.GENERATOR_FILE: gan.generator, runs.DISCRIMINATOR_FILE: gan.discriminator}
    if getattr(gan, "ema_generator", None) is not None:
        models[runs.EMA_GENERATOR_FILE] = gan.ema_generator
    RunFolder.of(run_dir).save_models(models)




class MetricsCallback(keras.callbacks.Callback):
    """Adds ``fid`` and ``kid`` of the generator's samples to the logs every ``every`` epochs.

    The samples come from the same seeded noise at every evaluation, and the real side is
    a fixed ``gan_kit.metrics.ReferenceStats``, so the numbers are comparable across epochs.
    Place it before ``HistoryWriter`` so the values land in ``history.csv`` (other epochs
    get NaN). The last epoch is always evaluated. Build it from a config with
    ``metrics_callback(config)``.

    Example:
        >>> ext = metrics.get_extractor("classifier", dataset="fashion_mnist")
        >>> ref = metrics.reference_statistics("fashion_mnist", ext, max_examples=1000)
        >>> gan.fit(data, epochs=10, callbacks=[MetricsCallback(ref, ext, every=2), HistoryWriter(run_dir)])

    Args:
        reference: real-data statistics computed with ``extractor``.
        extractor: a ``gan_kit.metrics.FeatureExtractor``.
        every: cadence in epochs (>= 1).
        samples: generated images per evaluation (>= 2).
        seed: seed of the noise.
        kid_subsets: KID subsets (their size is capped at the smaller image set).
        batch_size: generated images per batch.
        generator: the model to sample (defaults to the GAN's ``sampler``, else its ``generator``).
    """

    def __init__(self, reference, extractor, every: int = 1, samples: int = 1000, seed: int = 0,
                 kid_subsets: int = 100, batch_size: int = 250, generator=None):
        super().__init__()
        if every < 1 or samples < 2:
            raise ValueError(f"MetricsCallback needs every >= 1 and samples >= 2. Received: every={every}, "
                             f"samples={samples}.")
        check_extractor(reference, extractor)
        self.reference = reference
        self.extractor = extractor
        self.every = int(every)
        self.samples = int(samples)
        self.seed = int(seed)
        self.kid_subsets = int(kid_subsets)
        self.batch_size = int(batch_size)
        self._generator = generator

    def on_epoch_end(self, epoch, logs=None):
        last = epoch + 1 == self.params.get("epochs")
        if logs is None or ((epoch + 1) % self.every != 0 and not last):
            return
        from .metrics.batches import generated_batches

        generator = self._generator or self.model.sampler
        batches = generated_batches(generator, self.samples, seed=self.seed, batch_size=self.batch_size)
        fake = self.extractor.features(batches)
        logs["fid"] = maths.frechet_distance(self.reference.mu, self.reference.sigma, *maths.feature_statistics(fake))
        logs["kid"], _ = maths.kid_from_features(self.reference.features, fake, subsets=self.kid_subsets,
                                                 subset_size=1000, seed=self.seed,
                                                 mmd2=exercises.answer("kid_from_features"))


class DiagnosticsCallback(keras.callbacks.Callback):
    """Runs ``gan_kit.diagnostics``' training-health checks after every epoch and keeps the findings.

    Each finding (D overpowering G, mode collapse, divergence, a loss jump, stagnation,
    oscillation) is printed with its explanation and suggested fix the first time it fires,
    and every episode of it is stored in ``<run>/diagnostics.json`` (atomic rewrite after
    each epoch; read it back with ``diagnostics.summarize``). Every ``every`` epochs it
    generates ``samples`` images from its own fixed noise and records their diversity
    (mean pairwise distance, in pixels or in ``extractor``'s feature space) against real
    images', and how far they moved since the last measurement. It adds nothing to the
    epoch logs, so ``history.csv`` keeps its columns. Place it after ``DivergenceGuard``,
    whose record it reports when training stops on a NaN/Inf. A problem while sampling
    turns the sample checks off with a message; it never stops training.

    Example:
        >>> gan.fit(data, epochs=20, callbacks=[DivergenceGuard(), DiagnosticsCallback(run_dir, real=data)])

    Args:
        run_dir: the run folder, or its writer (``RunFolder``).
        real: real images in [-1, 1] (an array, or a ``tf.data.Dataset`` of batches or
            ``(images, labels)`` pairs), of which the first ``samples`` are the reference;
            None turns the diversity comparison off.
        samples: images generated (and real images kept) per measurement (>= 2).
        every: cadence of the sample measurements in epochs (>= 1).
        seed: seed of the fixed noise.
        extractor: an optional ``gan_kit.metrics.FeatureExtractor``: diversity in its feature
            space, plus the number of classes covered among the samples.
        verbose: print findings when they first fire.
    """

    def __init__(self, run_dir: str | os.PathLike | RunFolder, real=None, samples: int = 64, every: int = 1,
                 seed: int = 0, extractor=None, verbose: bool = True):
        super().__init__()
        if samples < 2 or every < 1:
            raise ValueError(f"DiagnosticsCallback needs samples >= 2 and every >= 1. Received: samples={samples}, "
                             f"every={every}.")
        self.folder = RunFolder.of(run_dir)
        self.run_dir = self.folder.path
        self.real = real
        self.samples = int(samples)
        self.every = int(every)
        self.seed = int(seed)
        self.extractor = extractor
        self.verbose = bool(verbose)
        self.findings: list = []

    # ------------------------------------------------------------ setup
    def on_train_begin(self, logs=None):
        self._history = runs.load_history(self.run_dir)
        done = len(self._history.get("epoch", []))
        previous = diagnostics.read(self.run_dir)
        self.findings = [f for f in diagnostics.summarize(self.run_dir) if f.epoch <= done]
        self._printed = {f.code for f in self.findings}
        self._active = set(previous.get("active", [])) if previous.get("epoch") == done else set()
        self._recorded_divergence = False
        self._sampling = True
        self.series = {"epoch": [], "diversity": [], "sample_change": [], "real_diversity": None}
        old = previous.get("series") or {}
        keep = sum(1 for e in old.get("epoch", []) if e <= done)
        for key in ("epoch", "diversity", "sample_change", "classes_covered"):
            if key in old:
                self.series[key] = list(old[key])[:keep]
        try:
            latent_dim = int(getattr(self.model, "latent_dim", 0) or self.model.generator.input_shape[-1])
            rng = np.random.default_rng(self.seed + 2_000_003)
            self._noise = rng.standard_normal((self.samples, latent_dim)).astype(np.float32)
            self._previous = self._generate()
            if self.real is not None:
                real = _first_images(self.real, self.samples)
                self.series["real_diversity"] = diagnostics.sample_diversity(self._features(real)[0])
                if self.extractor is not None:
                    self._real_probs = self._features(real)[1]
                    self.series["num_classes"] = int(self.extractor.num_classes)
                    self.series.setdefault("classes_covered", [])
        except Exception as exc:  # diagnostics must never stop a training run
            self._sampling = False
            print(f"gan_kit: diagnostics cannot sample this model ({type(exc).__name__}: {exc}); "
                  "the mode-collapse and frozen-sample checks are off for this run.")

    def _generate(self) -> np.ndarray:
        generator = self.model.sampler  # conditional: cycles classes
        images = generator(self._noise, training=False)
        return np.asarray(keras.ops.convert_to_numpy(images), np.float32)

    def _features(self, images: np.ndarray):
        if self.extractor is None:
            return images, None
        return self.extractor.features_and_probabilities(images)

    # ------------------------------------------------------------ per epoch
    def _measure(self, epoch: int) -> None:
        images = self._generate()
        features, probs = self._features(images)
        self.series["epoch"].append(epoch)
        self.series["diversity"].append(diagnostics.sample_diversity(features))
        self.series["sample_change"].append(diagnostics.sample_change(self._previous, images))
        self._previous = images
        if probs is not None and getattr(self, "_real_probs", None) is not None:
            coverage = maths.mode_coverage(probs, self._real_probs, self.extractor.num_classes)
            self.series["classes_covered"].append(coverage["classes_covered"])

    def on_epoch_end(self, epoch, logs=None):
        if _diverged(self.model):
            self._record_divergence()
            return
        _append_row(self._history, epoch + 1, logs or {})
        if self._sampling and (epoch + 1) % self.every == 0:
            try:
                self._measure(epoch + 1)
            except Exception as exc:
                self._sampling = False
                print(f"gan_kit: diagnostics stopped sampling ({type(exc).__name__}: {exc}).")
        now = diagnostics.check_all(self._history, self.series if self._sampling else None,
                                    loss=getattr(self.model, "loss_name", None))
        for finding in now:
            if finding.code not in self._active:
                self._add(finding)
        self._active = {f.code for f in now}
        self._write(epoch + 1)

    def _add(self, finding) -> None:
        self.findings.append(finding)
        if self.verbose and finding.code not in self._printed and finding.code != "divergence":
            print(f"gan_kit diagnostics: {finding}")  # DivergenceGuard has already printed a divergence
        self._printed.add(finding.code)

    def _record_divergence(self) -> None:
        if self._recorded_divergence:
            return
        guard = getattr(self.model, "diverged", None)
        finding = diagnostics.check_divergence(self._history, guard)
        if finding is not None:
            self._add(finding)
            self._active.add(finding.code)
        self._recorded_divergence = True
        self._write(len(self._history.get("epoch", [])))

    def _write(self, epoch: int) -> None:
        diagnostics.write(self.folder, self.findings, self.series, active=sorted(self._active), epoch=epoch)

    def on_train_end(self, logs=None):
        if _diverged(self.model):
            self._record_divergence()


def _first_images(source, n: int) -> np.ndarray:
    """The first ``n`` images of an array or of a dataset of batches (``(images, labels)`` pairs allowed)."""
    if isinstance(source, np.ndarray) or not hasattr(source, "take"):
        return np.asarray(source, np.float32)[:n]
    chunks, count = [], 0
    for batch in source:
        images = batch[0] if isinstance(batch, (tuple, list)) else batch
        images = np.asarray(keras.ops.convert_to_numpy(images), np.float32)
        chunks.append(images)
        count += len(images)
        if count >= n:
            break
    if not chunks:
        raise ValueError("the real-image dataset is empty")
    return np.concatenate(chunks)[:n]


def metrics_callback(config: Any, *, data_dir: str | os.PathLike | None = None,
                     cache_dir: str | os.PathLike | None = None) -> MetricsCallback:
    """The ``MetricsCallback`` a config asks for (``metrics_every`` epochs, ``metrics_extractor``, ``metrics_samples``).

    Builds (or loads) the extractor and the test-split reference statistics up front, so a
    missing dataset or weights file fails before training starts.
    """
    from .metrics import config_extractor, config_reference

    extractor = config_extractor(config, cache_dir=cache_dir, data_dir=data_dir)
    reference = config_reference(config, extractor, max_examples=config.metrics_samples, data_dir=data_dir,
                                 cache_dir=cache_dir)
    return MetricsCallback(reference, extractor, every=config.metrics_every, samples=config.metrics_samples,
                           seed=config.seed)
