"""A 2-D toy GAN: a ring of Gaussians, tiny MLPs, and a count of the modes the generator covers.

Trains in seconds on a CPU, so mode collapse can be watched happen (and prevented)
before any image is involved. The models are trained by the same ``GAN`` class as
the image models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from .training import GAN, make_optimizer


def ring_centers(modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """The (modes, 2) centres of the Gaussians, evenly spaced on a circle."""
    angles = 2 * np.pi * np.arange(modes) / modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def ring_data(n: int, modes: int = 8, radius: float = 2.0, std: float = 0.05, seed: int = 0) -> np.ndarray:
    """``n`` float32 points from an equal mixture of ``modes`` Gaussians on a ring."""
    rng = np.random.default_rng(seed)
    centers = ring_centers(modes, radius)
    which = rng.integers(0, modes, n)
    return (centers[which] + std * rng.standard_normal((n, 2))).astype(np.float32)


def mode_coverage_2d(
    samples: np.ndarray,
    modes: int = 8,
    radius: float = 2.0,
    std: float = 0.05,
    n_std: float = 3.0,
    min_fraction: float = 0.02,
) -> dict[str, Any]:
    """How many ring modes the samples cover.

    A sample belongs to a mode when it lies within ``n_std`` standard deviations of
    its centre; a mode is covered when at least ``min_fraction`` of all samples
    belong to it.

    Returns:
        ``covered`` (int), ``counts`` (samples per mode), ``high_quality`` (fraction of
        samples near any mode), and the thresholds used.
    """
    samples = np.asarray(samples, np.float64)
    if samples.ndim != 2 or samples.shape[1] != 2 or len(samples) == 0:
        raise ValueError(f"Expected samples of shape (n, 2). Received shape {samples.shape}.")
    centers = ring_centers(modes, radius)
    dist = np.linalg.norm(samples[:, None, :] - centers[None], axis=-1)
    nearest = dist.argmin(axis=1)
    close = dist[np.arange(len(samples)), nearest] <= n_std * std
    counts = np.bincount(nearest[close], minlength=modes)
    covered = int((counts >= min_fraction * len(samples)).sum())
    return {
        "covered": covered,
        "modes": modes,
        "counts": counts.tolist(),
        "high_quality": float(close.mean()),
        "n_std": n_std,
        "min_fraction": min_fraction,
    }


def build_toy_generator(latent_dim: int = 2, hidden: int = 64, depth: int = 2) -> keras.Sequential:
    """MLP generator: ``depth`` ReLU layers of ``hidden`` units, 2-D linear output."""
    model = keras.Sequential(name="toy_generator")
    model.add(keras.Input(shape=(latent_dim,)))
    for i in range(depth):
        model.add(layers.Dense(hidden, activation="relu", name=f"hidden{i + 1}"))
    model.add(layers.Dense(2, name="point"))
    return model


def build_toy_discriminator(hidden: int = 64, depth: int = 2, spectral_norm: bool = False,
                            dropout: float = 0.0) -> keras.Sequential:
    """MLP discriminator: ``depth`` LeakyReLU layers of ``hidden`` units, one logit out.

    The last hidden activation is named ``features`` (what feature matching compares).
    ``dropout`` > 0 adds a Dropout layer after each hidden activation; ``spectral_norm``
    wraps every Dense layer in Keras' ``SpectralNormalization``.
    """
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1). Received: dropout={dropout}.")

    def wrap(layer):
        return layers.SpectralNormalization(layer, name=f"{layer.name}_sn") if spectral_norm else layer

    model = keras.Sequential(name="toy_discriminator")
    model.add(keras.Input(shape=(2,)))
    for i in range(depth):
        model.add(wrap(layers.Dense(hidden, name=f"hidden{i + 1}")))
        model.add(layers.LeakyReLU(0.2, name=f"act{i + 1}" if i < depth - 1 else "features"))
        if dropout > 0:
            model.add(layers.Dropout(dropout, name=f"drop{i + 1}"))
    model.add(wrap(layers.Dense(1, name="logit")))
    return model


# Two setups the notebooks and tests share. "collapsing": plain BCE with a large D that
# learns 100x faster than a small G; "stabilized": WGAN-GP with 5 critic steps per G step
# and a modest critic.
TOY_PRESETS: dict[str, dict[str, Any]] = {
    "collapsing": {"loss": "bce", "steps": 1500, "latent_dim": 2, "g_hidden": 32, "d_hidden": 256, "d_depth": 3,
                   "d_lr": 1e-2, "g_lr": 1e-4},
    "stabilized": {"loss": "wasserstein", "gp_weight": 0.1, "n_critic": 5, "steps": 1500, "latent_dim": 2,
                   "g_hidden": 32, "d_hidden": 64, "d_depth": 2, "d_lr": 1e-3, "g_lr": 1e-3},
}


@dataclass
class ToyResult:
    """Samples and mode coverage of a trained toy GAN, with its per-epoch history."""

    samples: np.ndarray
    coverage: dict[str, Any]
    history: dict[str, list[float]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    gan: GAN | None = None


def train_toy(
    loss: str = "bce",
    steps: int = 1500,
    batch_size: int = 256,
    latent_dim: int = 2,
    g_hidden: int = 64,
    d_hidden: int = 64,
    d_depth: int = 2,
    g_lr: float = 1e-3,
    d_lr: float = 1e-3,
    beta1: float = 0.5,
    n_critic: int = 1,
    gp_weight: float = 0.0,
    spectral_norm: bool = False,
    label_smoothing: float = 0.0,
    instance_noise: float = 0.0,
    d_dropout: float = 0.0,
    feature_matching: float = 0.0,
    g_steps: int = 1,
    modes: int = 8,
    std: float = 0.05,
    n_samples: int = 2000,
    seed: int = 0,
) -> ToyResult:
    """Train a GAN on the 2-D ring and count the modes it covers.

    Args:
        loss: a loss name from ``gan_kit.losses.LOSSES``.
        steps: train steps (each ``n_critic`` D updates and ``g_steps`` G updates), in 10 epochs, so
            the history has 10 rows; rounded down to a multiple of 10 (at least 1 step).
        d_hidden, d_depth: size of D (a large, fast-learning D overpowers G).
        n_critic, gp_weight, spectral_norm, label_smoothing, instance_noise, d_dropout, feature_matching,
            g_steps: stabilization switches, as in ``GAN.compile`` and ``build_toy_discriminator``
            (instance noise stays constant here: the toy has no epochs to decay it over).
        modes, std: the ring's shape.
        n_samples: generated points used to measure coverage.
        seed: seeds data, weights and noise.

    Returns:
        A ``ToyResult`` with the final samples and their ``mode_coverage_2d``.
    """
    if int(steps) < 1:
        raise ValueError(f"train_toy needs steps >= 1. Received: steps={steps}.")
    epochs = min(10, int(steps))
    steps_per_epoch = int(steps) // epochs
    # Several steps per call hide Python overhead; the count must divide the epoch, or Keras would
    # run whole calls past the end of it (the step count would not be the one asked for).
    per_call = max(d for d in range(1, min(50, steps_per_epoch) + 1) if steps_per_epoch % d == 0)
    keras.utils.set_random_seed(seed)
    data = ring_data(max(batch_size * 50, 10_000), modes=modes, std=std, seed=seed)
    dataset = (
        tf.data.Dataset.from_tensor_slices(data)
        .shuffle(len(data), seed=seed)
        .repeat()
        .batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
    gan = GAN(
        build_toy_generator(latent_dim, g_hidden),
        build_toy_discriminator(d_hidden, d_depth, spectral_norm, d_dropout),
        latent_dim,
        seed=seed,
        name="toy_gan",
    )
    gan.compile(
        make_optimizer("adam", g_lr, beta1, 0.999),
        make_optimizer("adam", d_lr, beta1, 0.999),
        loss=loss,
        label_smoothing=label_smoothing,
        gp_weight=gp_weight,
        n_critic=n_critic,
        g_steps=g_steps,
        feature_matching=feature_matching,
        steps_per_execution=per_call,
    )
    gan.instance_noise_std.assign(instance_noise)
    hist = gan.fit(dataset, epochs=epochs, steps_per_epoch=steps_per_epoch, verbose=0, shuffle=False)
    z = np.random.default_rng(seed + 1).standard_normal((n_samples, latent_dim)).astype(np.float32)
    samples = keras.ops.convert_to_numpy(gan.generator(z, training=False))
    settings = {
        "loss": loss, "steps": epochs * steps_per_epoch, "d_hidden": d_hidden, "d_depth": d_depth, "g_lr": g_lr,
        "d_lr": d_lr, "n_critic": n_critic, "gp_weight": gp_weight, "spectral_norm": spectral_norm,
        "label_smoothing": label_smoothing, "instance_noise": instance_noise, "d_dropout": d_dropout,
        "feature_matching": feature_matching, "g_steps": g_steps, "seed": seed,
    }
    return ToyResult(
        samples=samples,
        coverage=mode_coverage_2d(samples, modes=modes, std=std),
        history={k: [float(v) for v in vals] for k, vals in hist.history.items()},
        settings=settings,
        gan=gan,
    )


__all__ = [
    "TOY_PRESETS",
    "ToyResult",
    "build_toy_discriminator",
    "build_toy_generator",
    "mode_coverage_2d",
    "ring_centers",
    "ring_data",
    "train_toy",
]
