"""A convolutional variational autoencoder (Kingma & Welling 2014) as a keras.Model, and ``train_vae(config)``.

The VAE is the GAN's counterpart in story 3's lab: an encoder maps an image to the mean
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
run is started again.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from . import callbacks as cbs
from . import runs
from .config import Config
from .training import ResumeError, Run

HISTORY_COLUMNS = ["loss", "recon_loss", "kl_loss", "epoch_time"]
RECON_LOSSES = ("bce", "mse")
ENCODER_FILE = "encoder.keras"
DECODER_FILE = "decoder.keras"
RECONSTRUCTIONS_FILE = "reconstructions.png"
INTERPOLATIONS_FILE = "interpolations.png"
LATENT_SCATTER_FILE = "latent_scatter.png"
LOGITS_LAYER = "logits"
PICK_POOL = 200  # test images the reconstruction and interpolation examples are picked from
_SIZES = {28: 7, 32: 4}  # image size -> side of the decoder's first feature map


def _check_shape(image_shape: tuple[int, int, int]) -> tuple[int, int]:
    if len(image_shape) != 3:
        raise ValueError(f"image_shape must be (height, width, channels). Received: image_shape={image_shape}.")
    h, w, c = (int(v) for v in image_shape)
    if h != w or h not in _SIZES or c not in (1, 3):
        raise ValueError(f"The VAE builds square 28x28 or 32x32 images with 1 or 3 channels. "
                         f"Received: image_shape={image_shape}.")
    return h, c


# ------------------------------------------------------------------------------------------- builders


def build_encoder(latent_dim: int = 16, image_shape: tuple[int, int, int] = (28, 28, 1), width: int = 32,
                  name: str = "encoder") -> keras.Sequential:
    """Conv encoder: stride-2 convs with LeakyReLU, then one Dense layer giving mean and log-variance.

    For 28x28 two stride-2 convs (28 -> 14 -> 7) with ``width`` and ``2 * width`` filters;
    for 32x32 three (32 -> 16 -> 8 -> 4). The output ``mean_logvar`` has ``2 * latent_dim``
    units: the first half is the mean, the second the log-variance (``split_moments``).

    Args:
        latent_dim: size of the latent vector z.
        image_shape: (size, size, channels) with size 28 or 32 and channels 1 or 3.
        width: filters of the first conv; doubled at each following conv.
        name: Keras model name.

    Returns:
        A ``keras.Sequential`` mapping images in [-1, 1] to (batch, 2 * latent_dim).
    """
    size, _ = _check_shape(image_shape)
    if int(latent_dim) < 1:
        raise ValueError(f"latent_dim must be >= 1. Received: latent_dim={latent_dim}.")
    model = keras.Sequential(name=name)
    model.add(keras.Input(shape=tuple(image_shape), name="image"))
    for i in range(3 if size == 32 else 2):
        model.add(layers.Conv2D(width * 2**i, 4, strides=2, padding="same", name=f"down{i + 1}"))
        model.add(layers.LeakyReLU(0.2, name=f"down{i + 1}_act"))
    model.add(layers.Flatten(name="features"))
    model.add(layers.Dense(2 * int(latent_dim), name="mean_logvar"))
    return model


def build_decoder(latent_dim: int = 16, image_shape: tuple[int, int, int] = (28, 28, 1), width: int = 32,
                  recon_loss: str = "bce", name: str = "decoder") -> keras.Sequential:
    """Conv decoder: Dense to a small feature map, stride-2 transposed convs, a ``logits`` conv, images in [-1, 1].

    Mirrors ``build_encoder``: for 28x28 Dense to 7x7x(2*width) and two transposed convs
    (14, 28) with ``2 * width`` and ``width`` filters; for 32x32 Dense to 4x4x(4*width) and
    three (8, 16, 32). A 3x3 conv named ``logits`` gives one value per pixel and channel;
    the output layer maps it to [-1, 1]: ``tanh(logits / 2)`` (= ``2 * sigmoid - 1``) for
    ``bce``, ``tanh(logits)`` for ``mse`` (see the module docstring).

    Args:
        latent_dim: size of the latent vector z.
        image_shape: (size, size, channels) with size 28 or 32 and channels 1 or 3.
        width: filters of the last transposed conv; doubled towards the input.
        recon_loss: ``bce`` or ``mse``; picks the output mapping.
        name: Keras model name.

    Returns:
        A ``keras.Sequential`` mapping (batch, latent_dim) to images in [-1, 1].
    """
    size, channels = _check_shape(image_shape)
    if recon_loss not in RECON_LOSSES:
        raise ValueError(f"recon_loss must be one of {list(RECON_LOSSES)}. Received: recon_loss={recon_loss!r}.")
    n_up = 3 if size == 32 else 2
    filters = [width * 2 ** (n_up - 1 - i) for i in range(n_up)]
    base = _SIZES[size]
    model = keras.Sequential(name=name)
    model.add(keras.Input(shape=(int(latent_dim),), name="z"))
    model.add(layers.Dense(base * base * filters[0], name="project"))
    model.add(layers.LeakyReLU(0.2, name="project_act"))
    model.add(layers.Reshape((base, base, filters[0]), name="to_map"))
    for i, f in enumerate(filters):
        model.add(layers.Conv2DTranspose(f, 4, strides=2, padding="same", name=f"up{i + 1}"))
        model.add(layers.LeakyReLU(0.2, name=f"up{i + 1}_act"))
    model.add(layers.Conv2D(channels, 3, padding="same", name=LOGITS_LAYER))
    if recon_loss == "bce":
        model.add(layers.Rescaling(0.5, name="half_logits"))
    model.add(layers.Activation("tanh", dtype="float32", name="to_image"))
    return model


# ------------------------------------------------------------------------------------------- losses


def split_moments(mean_logvar: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """The encoder output (batch, 2 * d) split into mean (batch, d) and log-variance (batch, d)."""
    mean, log_var = tf.split(tf.cast(mean_logvar, tf.float32), 2, axis=-1)
    return mean, log_var


def kl_divergence(mean: tf.Tensor, log_var: tf.Tensor) -> tf.Tensor:
    """KL divergence of N(mean, exp(log_var)) from the prior N(0, I), per example (Kingma & Welling 2014, App. B).

    ``KL = 0.5 * sum_j (mean_j^2 + exp(log_var_j) - 1 - log_var_j)``, summed over the latent
    dimensions.

    Args:
        mean: (batch, d) means of the approximate posterior.
        log_var: (batch, d) log-variances.

    Returns:
        (batch,) float32 KL values, each >= 0.
    """
    mean, log_var = tf.cast(mean, tf.float32), tf.cast(log_var, tf.float32)
    return 0.5 * tf.reduce_sum(tf.square(mean) + tf.exp(log_var) - 1.0 - log_var, axis=-1)


def reconstruction_loss(images: tf.Tensor, logits: tf.Tensor, kind: str = "bce") -> tf.Tensor:
    """Reconstruction loss per example, summed over pixels and channels.

    Args:
        images: targets in [-1, 1], (batch, H, W, C).
        logits: the decoder's ``logits`` layer output for them, same shape.
        kind: ``bce`` (Bernoulli cross-entropy from logits against ``(images + 1) / 2``) or
            ``mse`` (squared error of ``tanh(logits)`` against ``images``).

    Returns:
        (batch,) float32 losses.

    Raises:
        ValueError: for an unknown ``kind``.
    """
    images, logits = tf.cast(images, tf.float32), tf.cast(logits, tf.float32)
    if kind == "bce":
        per_pixel = tf.nn.sigmoid_cross_entropy_with_logits(labels=(images + 1.0) / 2.0, logits=logits)
    elif kind == "mse":
        per_pixel = tf.square(tf.tanh(logits) - images)
    else:
        raise ValueError(f"kind must be one of {list(RECON_LOSSES)}. Received: kind={kind!r}.")
    return tf.reduce_sum(per_pixel, axis=[1, 2, 3])


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
        if not 0.0 <= float(beta) <= 1000.0:
            raise ValueError(f"beta must be in [0, 1000]. Received: beta={beta}.")
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
        """``mean + exp(log_var / 2) * eps`` with ``eps ~ N(0, I)`` from the model's seed generator."""
        eps = keras.random.normal(tf.shape(mean), seed=self.seed_generator)
        return mean + tf.exp(0.5 * log_var) * eps

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
        kl = kl_divergence(mean, log_var)
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
            batch = _as_float_images(images[start : start + batch_size])
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


def _as_float_images(images: np.ndarray) -> np.ndarray:
    arr = np.asarray(images)
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
    return arr.astype(np.float32)


# ------------------------------------------------------------------------------------------- runs


@dataclass
class VAERun(Run):
    """A finished (or stopped) VAE run: ``generator`` is the decoder; ``encoder`` and ``vae`` are added."""

    encoder: keras.Model | None = None
    vae: VAE | None = None


def build_vae(config: Config, runtime: dict[str, Any] | None = None) -> VAE:
    """A compiled ``VAE`` as the config says: encoder width ``d_width``, decoder width ``g_width``,
    ``latent_dim``, ``beta``, ``recon_loss``; the optimizer from ``g_optimizer``, ``g_lr``, ``g_beta1``,
    ``g_beta2``. ``runtime`` (``gan_kit.devices.choose_runtime``) sets XLA and steps per execution;
    the VAE always computes in float32."""
    from .training import make_optimizer

    encoder = build_encoder(config.latent_dim, config.image_shape, config.d_width)
    decoder = build_decoder(config.latent_dim, config.image_shape, config.g_width, config.recon_loss)
    vae = VAE(encoder, decoder, config.latent_dim, beta=config.beta, recon_loss=config.recon_loss,
              seed=config.seed, name="vae")
    runtime = runtime or {"jit_compile": False, "steps_per_execution": 1}
    vae.runtime = runtime
    vae.compile(make_optimizer(config.g_optimizer, config.g_lr, config.g_beta1, config.g_beta2),
                jit_compile=runtime["jit_compile"], steps_per_execution=runtime["steps_per_execution"])
    return vae


def is_vae_run(config: Config | None, resume: str | os.PathLike | None = None) -> bool:
    """Whether ``train(config, resume=...)`` is about a VAE (``model == "vae"`` in the config or the run's)."""
    if config is not None:
        return getattr(config, "model", None) == "vae"
    if resume is not None and (Path(resume) / runs.CONFIG_FILE).is_file():
        try:
            return runs.read_json(Path(resume) / runs.CONFIG_FILE).get("model") == "vae"
        except runs.RunFolderError:
            return False
    return False


def save_models(vae: VAE, run_dir: str | os.PathLike) -> None:
    """Write ``encoder.keras`` and ``decoder.keras`` through temp files and renames."""
    run_dir = Path(run_dir)
    for model, name in ((vae.encoder, ENCODER_FILE), (vae.decoder, DECODER_FILE)):
        tmp = run_dir / f".{name}.tmp.keras"
        model.save(tmp)
        os.replace(tmp, run_dir / name)


def load_decoder(run_dir: str | os.PathLike) -> keras.Model:
    """The saved decoder of a VAE run, loaded with Keras' safe mode."""
    return _load(Path(run_dir) / DECODER_FILE)


def load_encoder(run_dir: str | os.PathLike) -> keras.Model:
    """The saved encoder of a VAE run, loaded with Keras' safe mode."""
    return _load(Path(run_dir) / ENCODER_FILE)


def _load(path: Path) -> keras.Model:
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: the run has not saved it (not finished, or not a VAE run).")
    return keras.models.load_model(path, safe_mode=True, compile=False)


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


def save_artifacts(vae: VAE, run_dir: str | os.PathLike, config: Config, *, n_recon: int = 10,
                   n_pairs: int = 4, steps: int = 10, n_scatter: int = 2000) -> dict[str, Path]:
    """Write reconstructions, interpolations and (2-D latent only) the latent scatter into the run folder.

    The reconstructed and interpolated images are the first of each class among the first
    ``PICK_POOL`` images of ``evaluation_images`` (test split), so every run of a dataset shows
    the same ones; the scatter encodes ``n_scatter`` test images.

    Args:
        vae: the trained model.
        run_dir: the run folder.
        config: the run's config (dataset and image shape).
        n_recon: images in the reconstruction grid (originals above, reconstructions below).
        n_pairs: rows of the interpolation grid, each between two images of different classes.
        steps: decoded points per interpolation (real images are added at both ends).
        n_scatter: test images encoded for the 2-D scatter.

    Returns:
        ``{"reconstructions": path, "interpolations": path[, "latent_scatter": path]}``.
    """
    from . import plotting

    run_dir = Path(run_dir)
    x, y, names = evaluation_images(config, max(PICK_POOL, n_recon, 2 * n_pairs))
    real = _as_float_images(x)
    written: dict[str, Path] = {}
    idx = _one_per_class(y, min(n_recon, len(x)))
    written["reconstructions"] = plotting.save_reconstructions(
        real[idx], vae.reconstruct(real[idx]), run_dir / RECONSTRUCTIONS_FILE)
    ends = _one_per_class(y, min(2 * n_pairs, len(x)))
    rows = []
    for a, b in zip(ends[0::2], ends[1::2]):
        path = vae.interpolate(real[a], real[b], steps)
        rows.append(np.concatenate([real[a : a + 1], path, real[b : b + 1]]))
    if rows:
        written["interpolations"] = plotting.save_interpolations(rows, run_dir / INTERPOLATIONS_FILE)
    if vae.latent_dim == 2:
        import matplotlib.pyplot as plt

        xs, ys, _ = evaluation_images(config, n_scatter)
        codes = vae.encode_means(xs)
        fig = plotting.plot_latent_scatter(codes, ys, names, save_to=run_dir / LATENT_SCATTER_FILE,
                                           title=f"{config.dataset} test encodings (posterior means), "
                                                 f"{len(codes)} images")
        plt.close(fig)
        written["latent_scatter"] = run_dir / LATENT_SCATTER_FILE
    return written


def train_vae(
    config: Config | None,
    *,
    resume: str | os.PathLike | None = None,
    callbacks: list[keras.callbacks.Callback] | None = None,
    verbose: int | str = "auto",
    dataset: tf.data.Dataset | None = None,
) -> VAERun:
    """Train a VAE as the config says (``model="vae"``), in a new run folder under ``config.output_dir``.

    ``gan_kit.train`` calls this for VAE configs. The folder gets the files the module
    docstring lists. Data and config problems are raised before the folder is created. A
    NaN or Inf loss stops training and marks the run ``diverged``. With ``metrics_every > 0``
    FID and KID of decoded prior samples go into ``history.csv`` (``gan_kit.metrics``).

    Args:
        config: the experiment (``model`` must be ``"vae"``; ``conditional`` must be off).
        resume: not supported for VAE runs (raises ``ResumeError``).
        callbacks: extra Keras callbacks, run after the kit's own.
        verbose: passed to ``fit``.
        dataset: an already-built pipeline of images in [-1, 1] to use instead of the config's dataset.

    Returns:
        The ``VAERun`` with its folder, history and models.

    Raises:
        ResumeError, TypeError, ValueError, ConfigError, DatasetNotFoundError, DatasetError, RunFolderError.
    """
    from . import devices
    from .training import fixed_noise, save_progress_gif, seed_and_batches

    if resume is not None:
        raise ResumeError(f"VAE runs cannot be resumed ({resume}): they keep no training state. "
                          "Start a new run with train(config).")
    if not isinstance(config, Config):
        raise TypeError(f"train_vae() needs a gan_kit.Config. Received: {type(config).__name__}.")
    if config.model != "vae":
        raise ValueError(f"train_vae() needs config.model='vae'. Received: model={config.model!r}.")
    if config.conditional:
        raise ValueError("The VAE is unconditional. Received: conditional=True; set conditional=False.")
    dataset, steps = seed_and_batches(config, dataset)
    run_dir = runs.create_run_dir(config.output_dir, config.name)
    config.to_json(run_dir / runs.CONFIG_FILE)
    runs.write_status(run_dir, "running", epoch=0)

    runtime = devices.choose_runtime(config)
    runtime["mixed_precision"] = "float32"
    runtime["distribute"] = "default"
    runtime["reasons"] = {**runtime.get("reasons", {}),
                          "mixed_precision": "the VAE computes in float32",
                          "distribute": "the VAE trains on one device"}
    runs.write_json(run_dir / runs.RUNTIME_FILE, runtime)
    vae = build_vae(config, runtime)

    guard = cbs.DivergenceGuard(keys=("loss", "recon_loss", "kl_loss"))
    history_cb = cbs.HistoryWriter(run_dir, HISTORY_COLUMNS)
    own: list[keras.callbacks.Callback] = [
        guard,
        cbs.EpochTimer(),
        cbs.SampleGrid(run_dir, fixed_noise(config), every=config.sample_every),
        history_cb,
    ]
    if config.metrics_every > 0:
        from .metrics import metrics_callback

        own.insert(own.index(history_cb), metrics_callback(config))
    fit_kwargs: dict[str, Any] = {}
    if steps is not None:
        fit_kwargs["steps_per_epoch"] = steps
    start = time.perf_counter()
    try:
        vae.fit(dataset, epochs=config.epochs, callbacks=own + list(callbacks or []), verbose=verbose,
                shuffle=False, **fit_kwargs)
        if guard.diverged is not None:
            runs.write_status(run_dir, "diverged", **guard.diverged)
        else:
            save_models(vae, run_dir)
            save_artifacts(vae, run_dir, config)
            epochs_done = len(history_cb.history.get("epoch", []))
            runs.write_status(run_dir, "finished", epochs=epochs_done,
                              seconds=round(time.perf_counter() - start, 2))
    except BaseException as exc:
        runs.write_status(run_dir, "failed", error=f"{type(exc).__name__}: {exc}",
                          epoch=len(history_cb.history.get("epoch", [])))
        raise
    save_progress_gif(run_dir)
    return VAERun(
        path=run_dir,
        config=config,
        history=runs.load_history(run_dir),
        generator=vae.decoder,
        discriminator=None,
        gan=None,
        status=runs.read_status(run_dir)["state"],
        encoder=vae.encoder,
        vae=vae,
    )


def evaluate(run_folder: str | os.PathLike, **kwargs: Any) -> dict[str, Any]:
    """``gan_kit.metrics.evaluate`` for a VAE run: the saved decoder on seeded prior noise is the generator.

    Same keyword arguments, same ``metrics.json`` (written into the run folder), so GAN and VAE
    numbers in one report come from the same extractor, reference statistics and sample count.
    """
    from . import metrics

    return metrics.evaluate(run_folder, generator=load_decoder(run_folder), **kwargs)


__all__ = [
    "DECODER_FILE",
    "ENCODER_FILE",
    "HISTORY_COLUMNS",
    "INTERPOLATIONS_FILE",
    "LATENT_SCATTER_FILE",
    "PICK_POOL",
    "RECONSTRUCTIONS_FILE",
    "VAE",
    "VAERun",
    "build_decoder",
    "build_encoder",
    "build_vae",
    "evaluate",
    "evaluation_images",
    "interpolate_latents",
    "is_vae_run",
    "kl_divergence",
    "lerp",
    "load_decoder",
    "load_encoder",
    "load_vae",
    "reconstruction_loss",
    "save_artifacts",
    "save_models",
    "slerp",
    "train_vae",
]
