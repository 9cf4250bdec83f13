"""Keras callbacks that each do one thing and write only inside the run folder they are given."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import keras
import numpy as np

from . import plotting, runs


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


def _diverged(model) -> bool:
    return getattr(model, "diverged", None) is not None


class EpochTimer(keras.callbacks.Callback):
    """Adds ``epoch_time`` (seconds) to each epoch's logs."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_time"] = time.perf_counter() - self._start


class HistoryWriter(keras.callbacks.Callback):
    """Appends each epoch's logs to ``history.csv`` in the run folder (atomic rewrite).

    Args:
        run_dir: the run folder.
        columns: log keys that lead the table, in order; ``epoch`` (1-based) is always
            first, and any other key a callback logs follows in sorted order (missing
            epochs are NaN).
        history: rows already written (when continuing a run).
    """

    def __init__(self, run_dir: str | os.PathLike, columns: list[str] | None = None,
                 history: dict[str, list[float]] | None = None):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.columns = list(columns or [])
        self.history: dict[str, list[float]] = {k: list(v) for k, v in (history or {}).items()}

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if not self.history:
            self.history = {"epoch": [], **{c: [] for c in self.columns}}
        done = len(self.history["epoch"])
        for key in sorted(k for k in logs if k not in self.history):
            self.history[key] = [math.nan] * done
        self.history["epoch"].append(epoch + 1)
        for key, values in self.history.items():
            if key != "epoch":
                values.append(float(logs.get(key, math.nan)))
        runs.write_history(self.run_dir, self.history)


class SampleGrid(keras.callbacks.Callback):
    """Saves a grid of generator samples from one fixed noise batch every ``every`` epochs.

    The grid before training is saved as epoch 0, and the last epoch is always saved.

    Args:
        run_dir: the run folder (grids go to ``samples/epoch_XXXX.png``).
        noise: the fixed latent batch, reused at every save.
        every: cadence in epochs.
        generator: the model to sample (defaults to ``self.model.generator``).
    """

    def __init__(self, run_dir: str | os.PathLike, noise: np.ndarray, every: int = 10, generator=None):
        super().__init__()
        if every < 1:
            raise ValueError(f"SampleGrid needs every >= 1. Received: every={every}.")
        self.run_dir = Path(run_dir)
        self.noise = np.asarray(noise, np.float32)
        self.every = every
        self._generator = generator

    def _save(self, epoch: int) -> None:
        if self._generator is None and hasattr(self.model, "grid_images"):
            images = self.model.grid_images(self.noise)  # e.g. a conditional GAN: one row per class
        else:
            generator = self._generator or getattr(self.model, "sampler", None) or self.model.generator
            images = generator(self.noise, training=False)
        images = keras.ops.convert_to_numpy(images)
        ncols = int(math.ceil(math.sqrt(len(self.noise))))
        plotting.save_image_grid(images, self.run_dir / runs.SAMPLES_DIR / f"epoch_{epoch:04d}.png", ncols)

    def on_train_begin(self, logs=None):
        self._last_epoch = self.params.get("epochs", 0)
        if not (self.run_dir / runs.SAMPLES_DIR / "epoch_0000.png").exists():
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
    """Saves the generator and discriminator as ``.keras`` files every ``every`` epochs (atomic)."""

    def __init__(self, run_dir: str | os.PathLike, every: int = 10):
        super().__init__()
        if every < 1:
            raise ValueError(f"ModelCheckpoints needs every >= 1. Received: every={every}.")
        self.run_dir = Path(run_dir)
        self.every = every

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0 and not _diverged(self.model):
            save_models(self.model, self.run_dir)


def save_models(gan, run_dir: str | os.PathLike) -> None:
    """Write ``generator.keras`` and ``discriminator.keras`` through temp files and renames."""
    run_dir = Path(run_dir)
    models = [(gan.generator, runs.GENERATOR_FILE), (gan.discriminator, runs.DISCRIMINATOR_FILE)]
    if getattr(gan, "ema_generator", None) is not None:
        models.append((gan.ema_generator, runs.EMA_GENERATOR_FILE))
    for model, name in models:
        tmp = run_dir / f".{name}.tmp.keras"
        model.save(tmp)
        os.replace(tmp, run_dir / name)


__all__ = [
    "DivergenceGuard",
    "EpochTimer",
    "HistoryWriter",
    "InstanceNoiseSchedule",
    "MetricsCallback",
    "ModelCheckpoints",
    "SampleGrid",
    "instance_noise_std",
    "save_models",
]


class MetricsCallback(keras.callbacks.Callback):
    """Adds ``fid`` and ``kid`` of the generator's samples to the logs every ``every`` epochs.

    The samples come from the same seeded noise at every evaluation, and the real side is
    a fixed ``gan_kit.metrics.ReferenceStats``, so the numbers are comparable across epochs.
    Place it before ``HistoryWriter`` so the values land in ``history.csv`` (other epochs
    get NaN). The last epoch is always evaluated. Build it from a config with
    ``gan_kit.metrics.metrics_callback(config)``.

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
        if reference.meta.get("extractor") != extractor.id:
            raise ValueError(f"MetricsCallback: the reference statistics were computed with "
                             f"{reference.meta.get('extractor')!r}, not with the extractor {extractor.id!r}.")
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
        from . import metrics

        generator = self._generator or getattr(self.model, "sampler", None) or self.model.generator
        batches = metrics.generated_batches(generator, self.samples, seed=self.seed, batch_size=self.batch_size)
        fake = self.extractor.features(batches)
        logs["fid"] = metrics.frechet_distance(self.reference.mu, self.reference.sigma,
                                                *metrics.feature_statistics(fake))
        logs["kid"], _ = metrics.kid_from_features(self.reference.features, fake, subsets=self.kid_subsets,
                                                   subset_size=1000, seed=self.seed)
