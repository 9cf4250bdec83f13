"""A convolutional variational autoencoder (Kingma & Welling 2014) as a keras.Model, and ``train_vae(config)``.

The VAE is the GAN's counterpart in the GAN vs VAE lab (``gan_kit.lab``): an encoder maps an image to the mean
and log-variance of a Gaussian over the latent space, a decoder maps a latent vector back
to an image, and training minimises, per image,

    reconstruction loss (summed over pixels) + beta * KL(q(z|x) || N(0, I)).

**Output convention.** Images are in [-1, 1] everywhere in the kit, so the decoder's
output is too, and a saved ``decoder.keras`` is a drop-in generator (same input and output
as a GAN's ``generator.keras``). Its last conv layer is named ``logits``:

- ``recon_loss="bce"``: the decoder ends ``logits -> Rescaling(0.5) -> tanh``, i.e.
  ``tanh(l / 2) = 2 * sigmoid(l) - 1``. The loss is Bernoulli cross-entropy computed from
  the logits ``l`` (numerically stable) against the targets rescaled to [0, 1],
  ``(x + 1) / 2``. Grey levels are not binary, so this loss has a floor above zero (the
  entropy of the targets); compare BCE values between runs, not with 0.
- ``recon_loss="mse"``: the decoder ends ``logits -> tanh``, and the loss is the sum of
  squared errors between ``tanh(l)`` and the target in [-1, 1] (a unit-variance Gaussian
  likelihood up to a factor 1/2 and a constant).

A run folder has the GAN layout (``config.json``, ``history.csv`` with ``loss``,
``recon_loss``, ``kl_loss`` and ``epoch_time``, ``samples/epoch_XXXX.png`` decoded from one
fixed batch of prior noise, ``progress.gif``, ``runtime.json``, ``status.json``) plus
``encoder.keras``, ``decoder.keras`` (load with ``safe_mode=True``),
``reconstructions.png`` (originals above, reconstructions below), ``interpolations.png``
(linear paths between the encodings of two real test images, the real images at both
ends) and, for a 2-D latent, ``latent_scatter.png``. VAE runs are not resumable: a killed
run is started again. ``gan_kit.train`` trains one (the ``vae`` family of ``gan_kit.training``);
its builders are ``gan_kit.models.build_encoder`` / ``build_decoder``, its loss terms
``gan_kit.losses.reconstruction_loss`` / ``kl_divergence``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from . import exercises, runs
from .config import RECON_LOSSES, Config, check_range
from .gan import make_optimizer
from .images import as_images, save_interpolations, save_reconstructions
from .losses import kl_divergence, reconstruction_loss, reparameterize
from .models import LOGITS_LAYER, build_decoder, build_encoder
from .plotting import plot_latent_scatter
from .runs import (
    DECODER_FILE,
    ENCODER_FILE,
    INTERPOLATIONS_FILE,
    LATENT_SCATTER_FILE,
    RECONSTRUCTIONS_FILE,
    Run,
    RunFolder,
    load_model,
    save_keras,
)

HISTORY_COLUMNS = ["loss", "recon_loss", "kl_loss", "epoch_time"]
PICK_POOL = 200  # test images the reconstruction and interpolation examples are picked from


def split_moments(mean_logvar: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """The encoder output (batch, 2 * d) split into mean (batch, d) and log-variance (batch, d)."""
    mean, log_var = tf.split(tf.cast(mean_logvar, tf.float32), 2, axis=-1)
    return mean, log_var


# ------------------------------------------------------------------------------------------- latent paths


def lerp(a: np.ndarray, b: np.ndarray, steps: int = 10) -> np.ndarray:
    """``steps`` points on the straight line from ``a`` to ``b`` (both included), shape (steps, d)."""
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    t = np.linspace(0.0, 1.0, int(steps))[:, None]
    return ((1.0 - t) * a + t * b).astype(np.float32)


def slerp(a: np.ndarray, b: np.ndarray, steps: int = 10) -> np.ndarray:
    """``steps`` points on the great-circle path from ``a`` to ``b`` (White 2016, "Sampling generative networks").

    Gaussian latents of a GAN concentrate near a sphere of radius sqrt(d); the straight
    line between two of them passes through lower-norm points the generator rarely saw,
    while the spherical path keeps norms near the endpoints'. Falls back to ``lerp`` when
    the vectors are (anti)parallel.

    Returns:
        (steps, d) float32, the first row ``a`` and the last ``b``.
    """
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return lerp(a, b, steps)
    omega = math.acos(float(np.clip(a @ b / (na * nb), -1.0, 1.0)))
    if abs(math.sin(omega)) < 1e-6:
        return lerp(a, b, steps)
    t = np.linspace(0.0, 1.0, int(steps))[:, None]
    out = (np.sin((1.0 - t) * omega) * a + np.sin(t * omega) * b) / math.sin(omega)
    out[0], out[-1] = a, b
    return out.astype(np.float32)


def interpolate_latents(a: np.ndarray, b: np.ndarray, steps: int = 10, method: str = "linear") -> np.ndarray:
    """Latent path from ``a`` to ``b``: ``method="linear"`` (VAE codes) or ``"spherical"`` (GAN noise)."""
    if method == "linear":
        return lerp(a, b, steps)
    if method == "spherical":
        return slerp(a, b, steps)
    raise ValueError(f"method must be 'linear' or 'spherical'. Received: method={method!r}.")


# ------------------------------------------------------------------------------------------- the model


class VAE(keras.Model):
    """An encoder and a decoder trained by ``fit()`` on reconstruction loss plus beta-weighted KL.

    Each ``train_step`` encodes the batch to (mean, log-variance), draws
    ``z = mean + exp(log_var / 2) * eps`` with ``eps ~ N(0, I)`` from the model's own seed
    generator (the reparameterization trick, so gradients flow through the sampling),
    decodes z, and minimises the batch mean of ``recon + beta * KL``. It reports
    ``loss``, ``recon_loss`` and ``kl_loss`` (batch means of the per-image values),
    averaged over the epoch.

    Example:
        >>> vae = VAE(build_encoder(16), build_decoder(16), latent_dim=16)
        >>> vae.compile(keras.optimizers.Adam(1e-3))
        >>> vae.fit(dataset, epochs=5)

    Args:
        encoder: maps images in [-1, 1] to (batch, 2 * latent_dim) (mean, log-variance).
        decoder: maps (batch, latent_dim) to images in [-1, 1]; has a layer named ``logits``.
        latent_dim: size of z.
        beta: weight of the KL term (1: the VAE; > 1: beta-VAE).
        recon_loss: ``bce`` or ``mse`` (must match the decoder's output mapping).
        seed: seed of the reparameterization noise.
    """

    def __init__(self, encoder: keras.Model, decoder: keras.Model, latent_dim: int, beta: float = 1.0,
                 recon_loss: str = "bce", seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        if int(latent_dim) < 1:
            raise ValueError(f"latent_dim must be >= 1. Received: latent_dim={latent_dim}.")
        check_range("beta", float(beta), "VAE argument")
        if recon_loss not in RECON_LOSSES:
            raise ValueError(f"recon_loss must be one of {list(RECON_LOSSES)}. Received: recon_loss={recon_loss!r}.")
        names = [layer.name for layer in decoder.layers]
        if LOGITS_LAYER not in names:
            raise ValueError(f"The decoder needs a layer named {LOGITS_LAYER!r} (the pre-activation output). "
                             f"Received layers: {names}.")
        out_units = int(encoder.outputs[0].shape[-1])
        if out_units != 2 * int(latent_dim):
            raise ValueError(f"The encoder must output 2 * latent_dim = {2 * int(latent_dim)} values (mean and "
                             f"log-variance). Received: {out_units}.")
        self.encoder = encoder
        self.decoder = decoder
        self.latent_dim = int(latent_dim)
        self.beta = float(beta)
        self.recon_loss_name = recon_loss
        self._logits_index = names.index(LOGITS_LAYER)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.recon_tracker = keras.metrics.Mean(name="recon_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")
        self.built = True

    def compile(self, optimizer: keras.optimizers.Optimizer, **kwargs: Any) -> None:
        """Set the optimizer (encoder and decoder share it); ``kwargs`` go to ``keras.Model.compile``."""
        super().compile(optimizer=optimizer, **kwargs)

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [self.loss_tracker, self.recon_tracker, self.kl_tracker]

    @property
    def sampler(self) -> keras.Model:
        """The decoder: what sample grids and FID callbacks draw from (noise from the prior N(0, I))."""
        return self.decoder

    @property
    def generator(self) -> keras.Model:
        """The decoder, under the name GAN code uses."""
        return self.decoder

    # -- pieces of the step
    def encode(self, images, training: bool = False) -> tuple[tf.Tensor, tf.Tensor]:
        """Mean and log-variance of q(z | x), each (batch, latent_dim)."""
        return split_moments(self.encoder(images, training=training))

    def reparameterize(self, mean: tf.Tensor, log_var: tf.Tensor) -> tf.Tensor:
        """``mean + exp(log_var / 2) * eps`` with ``eps ~ N(0, I)`` from the model's seed generator (the student's
        ``reparameterize(mean, log_var, eps)`` when one is registered: :mod:`gan_kit.exercises`)."""
        eps = keras.random.normal(tf.shape(mean), seed=self.seed_generator)
        student = exercises.answer("reparameterize")
        if student is not None:
            return tf.convert_to_tensor(student(mean, log_var, eps), dtype=mean.dtype)
        return reparameterize(mean, log_var, eps)

    def decode_logits(self, z, training: bool = False) -> tf.Tensor:
        """The decoder's ``logits`` layer output for ``z`` (the layers before the output mapping)."""
        x = z
        for layer in self.decoder.layers[: self._logits_index + 1]:
            x = layer(x, training=training)
        return x

    def decode(self, z, training: bool = False) -> tf.Tensor:
        """Images in [-1, 1] for latent vectors ``z``."""
        return self.decoder(z, training=training)

    def call(self, images, training: bool = False):
        """Deterministic reconstructions: the decoded posterior means."""
        mean, _ = self.encode(images, training=training)
        return self.decode(mean, training=training)

    def compute_losses(self, images, training: bool = False) -> dict[str, tf.Tensor]:
        """Batch means of the per-image ``recon_loss``, ``kl_loss`` and ``loss = recon + beta * KL``."""
        mean, log_var = self.encode(images, training=training)
        z = self.reparameterize(mean, log_var)
        recon = reconstruction_loss(images, self.decode_logits(z, training=training), self.recon_loss_name)
        kl = (exercises.answer("kl_divergence") or kl_divergence)(mean, log_var)
        recon, kl = tf.reduce_mean(recon), tf.reduce_mean(kl)
        return {"loss": recon + self.beta * kl, "recon_loss": recon, "kl_loss": kl}

    def _update(self, out: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        self.loss_tracker.update_state(out["loss"])
        self.recon_tracker.update_state(out["recon_loss"])
        self.kl_tracker.update_state(out["kl_loss"])
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        images = data[0] if isinstance(data, (tuple, list)) else data
        weights = self.encoder.trainable_weights + self.decoder.trainable_weights
        with tf.GradientTape() as tape:
            out = self.compute_losses(images, training=True)
            loss = out["loss"]
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            if replicas > 1:
                loss = loss / tf.cast(replicas, loss.dtype)
        grads = tape.gradient(loss, weights)
        self.optimizer.apply_gradients(zip(grads, weights))
        return self._update(out)

    def test_step(self, data):
        images = data[0] if isinstance(data, (tuple, list)) else data
        return self._update(self.compute_losses(images, training=False))

    # -- numpy helpers for notebooks and artifacts
    def encode_means(self, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
        """Posterior means of images in [-1, 1] (or uint8), as a float32 array (n, latent_dim)."""
        out = []
        for start in range(0, len(images), batch_size):
            batch = as_images(images[start : start + batch_size])
            out.append(keras.ops.convert_to_numpy(self.encode(batch)[0]))
        return np.concatenate(out).astype(np.float32)

    def decode_numpy(self, z: np.ndarray) -> np.ndarray:
        """Decoded images in [-1, 1] for latent vectors ``z`` as a float32 array."""
        return np.asarray(keras.ops.convert_to_numpy(self.decode(np.asarray(z, np.float32))), np.float32)

    def reconstruct(self, images: np.ndarray) -> np.ndarray:
        """Deterministic reconstructions (decoded posterior means) of images in [-1, 1] (or uint8)."""
        return self.decode_numpy(self.encode_means(images))

    def sample(self, n: int = 64, seed: int = 0) -> np.ndarray:
        """``n`` images decoded from seeded prior noise N(0, I)."""
        z = np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype(np.float32)
        return self.decode_numpy(z)

    def interpolate(self, image_a: np.ndarray, image_b: np.ndarray, steps: int = 10) -> np.ndarray:
        """Decoded images along the straight line between the encodings (means) of two images.

        The first and the last images are the reconstructions of ``image_a`` and ``image_b``.

        Returns:
            (steps, H, W, C) float32 images in [-1, 1].
        """
        codes = self.encode_means(np.stack([np.asarray(image_a), np.asarray(image_b)]))
        return self.decode_numpy(lerp(codes[0], codes[1], steps))


# ------------------------------------------------------------------------------------------- runs


@dataclass
class VAERun(Run):
    """A finished (or stopped) VAE run: ``generator`` is the decoder, ``model`` the ``VAE``; ``encoder`` is added."""

    encoder: keras.Model | None = None

    @property
    def vae(self) -> VAE | None:
        """The trained ``VAE`` (``model``)."""
        return self.model


def save_models(vae: VAE, run_dir: str | os.PathLike) -> None:
    """Write ``encoder.keras`` and ``decoder.keras`` through temp files and renames."""
    save_keras(run_dir, {ENCODER_FILE: vae.encoder, DECODER_FILE: vae.decoder})


def build_vae(config: Config, runtime: dict[str, Any] | None = None) -> VAE:
    """A compiled ``VAE`` as the config says: encoder width ``d_width``, decoder width ``g_width``,
    ``latent_dim``, ``beta``, ``recon_loss``; the optimizer from ``g_optimizer``, ``g_lr``, ``g_beta1``,
    ``g_beta2``. ``runtime`` (``gan_kit.devices.choose_runtime``) sets XLA and steps per execution;
    the VAE always computes in float32."""
    encoder = build_encoder(config.latent_dim, config.image_shape, config.d_width)
    decoder = build_decoder(config.latent_dim, config.image_shape, config.g_width, config.recon_loss)
    vae = VAE(encoder, decoder, config.latent_dim, beta=config.beta, recon_loss=config.recon_loss,
              seed=config.seed, name="vae")
    runtime = runtime or {"jit_compile": False, "steps_per_execution": 1}
    vae.runtime = runtime
    vae.compile(make_optimizer(config.g_optimizer, config.g_lr, config.g_beta1, config.g_beta2, config.sgd_momentum),
                jit_compile=runtime["jit_compile"], steps_per_execution=runtime["steps_per_execution"])
    return vae


def load_decoder(run_dir: str | os.PathLike) -> keras.Model:
    """The saved decoder of a VAE run, loaded with Keras' safe mode."""
    return load_model(Path(run_dir) / DECODER_FILE)


def load_encoder(run_dir: str | os.PathLike) -> keras.Model:
    """The saved encoder of a VAE run, loaded with Keras' safe mode."""
    return load_model(Path(run_dir) / ENCODER_FILE)


def load_vae(run_dir: str | os.PathLike) -> VAE:
    """A VAE (uncompiled) from a run folder's saved encoder and decoder and its config."""
    config = runs.read_config(run_dir)
    return VAE(load_encoder(run_dir), load_decoder(run_dir), config.latent_dim, beta=config.beta,
               recon_loss=config.recon_loss, seed=config.seed, name="vae")


def evaluation_images(config: Config, n: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Up to ``n`` real images (uint8) for artifacts: a class-balanced subset of the test split (the train
    split when the dataset has no test split here), with labels and class names."""
    from . import data

    kwargs = {"path": config.data_path, "image_size": config.image_size, "channels": config.channels,
              "max_examples": n}
    try:
        return data.load_arrays(config.dataset, "test", **kwargs)
    except (data.DatasetNotFoundError, data.DatasetError):
        return data.load_arrays(config.dataset, "train", **kwargs)


def _one_per_class(labels: np.ndarray, count: int) -> list[int]:
    """Indices of the first image of each class (in class order), topped up in order to ``count``."""
    picked: list[int] = []
    for c in np.unique(labels):
        picked.append(int(np.flatnonzero(labels == c)[0]))
        if len(picked) == count:
            return picked
    rest = [i for i in range(len(labels)) if i not in picked]
    return picked + rest[: count - len(picked)]


def save_artifacts(vae: VAE, run_dir: str | os.PathLike | RunFolder, config: Config, *, n_recon: int = 10,
                   n_pairs: int = 4, steps: int = 10, n_scatter: int = 2000) -> dict[str, Path]:
    """Write reconstructions, interpolations and (2-D latent only) the latent scatter into the run folder.

    The reconstructed and interpolated images are the first of each class among the first
    ``PICK_POOL`` images of ``evaluation_images`` (test split), so every run of a dataset shows
    the same ones; the scatter encodes ``n_scatter`` test images.

    Args:
        vae: the trained model.
        run_dir: the run folder, or its writer (``RunFolder``), which gives the path of each file.
        config: the run's config (dataset and image shape).
        n_recon: images in the reconstruction grid (originals above, reconstructions below).
        n_pairs: rows of the interpolation grid, each between two images of different classes.
        steps: decoded points per interpolation (real images are added at both ends).
        n_scatter: test images encoded for the 2-D scatter.

    Returns:
        ``{"reconstructions": path, "interpolations": path[, "latent_scatter": path]}``.
    """
    folder = RunFolder.of(run_dir)
    x, y, names = evaluation_images(config, max(PICK_POOL, n_recon, 2 * n_pairs))
    real = as_images(x)
    written: dict[str, Path] = {}
    idx = _one_per_class(y, min(n_recon, len(x)))
    written["reconstructions"] = save_reconstructions(
        real[idx], vae.reconstruct(real[idx]), folder.file(RECONSTRUCTIONS_FILE))
    ends = _one_per_class(y, min(2 * n_pairs, len(x)))
    rows = []
    for a, b in zip(ends[0::2], ends[1::2]):
        path = vae.interpolate(real[a], real[b], steps)
        rows.append(np.concatenate([real[a : a + 1], path, real[b : b + 1]]))
    if rows:
        written["interpolations"] = save_interpolations(rows, folder.file(INTERPOLATIONS_FILE))
    if vae.latent_dim == 2:
        import matplotlib.pyplot as plt

        xs, ys, _ = evaluation_images(config, n_scatter)
        codes = vae.encode_means(xs)
        written["latent_scatter"] = folder.file(LATENT_SCATTER_FILE)
        fig = plot_latent_scatter(codes, ys, names, save_to=written["latent_scatter"],
                                  title=f"{config.dataset} test encodings (posterior means), {len(codes)} images")
        plt.close(fig)
    return written


__all__ = [
    "HISTORY_COLUMNS",
    "PICK_POOL",
    "VAE",
    "VAERun",
    "build_vae",
    "evaluation_images",
    "interpolate_latents",
    "lerp",
    "load_decoder",
    "load_encoder",
    "load_vae",
    "save_artifacts",
    "slerp",
    "split_moments",
]
