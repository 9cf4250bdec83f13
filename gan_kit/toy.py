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

from .gan import GAN, make_optimizer
from .models import build_toy_discriminator, build_toy_generator
from .ring import mode_coverage_2d, ring_data
from .steps import StepFactory, StepModel

# Two setups the notebooks and tests share. "collapsing": plain BCE with a large D that
# learns 100x faster than a small G; "stabilized": a modest D at the same learning rate as G, with instance noise
# and one-sided label smoothing. No exercise's answer is in "stabilized" (notebook 01 trains it before any
# exercise): measured 8/8/8 modes on seeds 0-2 at 1500 steps, as the WGAN-GP preset it replaces was; spectral
# norm with hinge, Wasserstein or BCE losses covered 0-3 modes there.
TOY_PRESETS: dict[str, dict[str, Any]] = {
    "collapsing": {"loss": "bce", "steps": 1500, "latent_dim": 2, "g_hidden": 32, "d_hidden": 256, "d_depth": 3,
                   "d_lr": 1e-2, "g_lr": 1e-4},
    "stabilized": {"loss": "bce", "instance_noise": 0.15, "label_smoothing": 0.1, "steps": 1500, "latent_dim": 2,
                   "g_hidden": 32, "d_hidden": 64, "d_depth": 2, "d_lr": 1e-3, "g_lr": 1e-3},
}


@dataclass
class ToyResult:
    """Samples and mode coverage of a trained toy GAN, with its per-epoch history."""

    samples: np.ndarray
    coverage: dict[str, Any]
    history: dict[str, list[float]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    gan: GAN | StepModel | None = None


def _toy_schedule(steps: int) -> tuple[int, int, int]:
    """Epochs (at most 10), steps per epoch, and train steps per call for ``steps`` train steps.

    Several steps per call hide Python overhead; the count divides the epoch, or Keras would run whole calls
    past the end of it (the step count would not be the one asked for).
    """
    epochs = min(10, steps)
    steps_per_epoch = steps // epochs
    per_call = max(d for d in range(1, min(50, steps_per_epoch) + 1) if steps_per_epoch % d == 0)
    return epochs, steps_per_epoch, per_call


def _ring_batches(batch_size: int, modes: int, std: float, seed: int) -> tf.data.Dataset:
    """Endless shuffled batches of ring points (a fixed sample of at least 10,000, seeded)."""
    data = ring_data(max(batch_size * 50, 10_000), modes=modes, std=std, seed=seed)
    return (
        tf.data.Dataset.from_tensor_slices(data)
        .shuffle(len(data), seed=seed)
        .repeat()
        .batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )


def _check_no_tricks(**switches: tuple[Any, Any]) -> None:
    """Raise ``ValueError`` when a stabilization switch (name -> (value, default)) is not at its default:
    with ``train_step=`` the student's step decides."""
    changed = sorted(k for k, (v, default) in switches.items() if v != default)
    if changed:
        raise ValueError(f"{changed} switch the kit's GAN step; with train_step= your step decides. Leave them "
                         "at their defaults.")


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
    beta2: float = 0.999,
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
    train_step: StepFactory | None = None,
) -> ToyResult:
    """Train a GAN on the 2-D ring and count the modes it covers.

    Args:
        loss: a loss name from ``gan_kit.losses.LOSSES``.
        steps: train steps (each ``n_critic`` D updates and ``g_steps`` G updates), in 10 epochs, so
            the history has 10 rows; rounded down to a multiple of 10 (at least 1 step).
        d_hidden, d_depth: size of D (a large, fast-learning D overpowers G).
        beta1, beta2: Adam's betas for both networks.
        n_critic, gp_weight, spectral_norm, label_smoothing, instance_noise, d_dropout, feature_matching,
            g_steps: stabilization switches, as in ``GAN.compile`` and ``build_toy_discriminator``
            (instance noise stays constant here: the toy has no epochs to decay it over).
        modes, std: the ring's shape.
        n_samples: generated points used to measure coverage.
        seed: seeds data, weights and noise.
        train_step: a step factory of your own (``gan_kit.steps``: ``make_step(G, D, g_optimizer,
            d_optimizer)`` returning ``step(real_points, noise)``) to train with instead of the kit's
            ``GAN`` step; the networks, optimizers, data and noise are the same. The stabilization
            switches belong to the kit's step and must stay off.

    Returns:
        A ``ToyResult`` with the final samples and their ``mode_coverage_2d``.
    """
    if int(steps) < 1:
        raise ValueError(f"train_toy needs steps >= 1. Received: steps={steps}.")
    epochs, steps_per_epoch, per_call = _toy_schedule(int(steps))
    keras.utils.set_random_seed(seed)
    dataset = _ring_batches(batch_size, modes, std, seed)
    generator = build_toy_generator(latent_dim, g_hidden)
    discriminator = build_toy_discriminator(d_hidden, d_depth, spectral_norm, d_dropout)
    optimizers = make_optimizer("adam", g_lr, beta1, beta2), make_optimizer("adam", d_lr, beta1, beta2)
    if train_step is not None:
        _check_no_tricks(loss=(loss, "bce"), n_critic=(n_critic, 1), gp_weight=(gp_weight, 0.0),
                         label_smoothing=(label_smoothing, 0.0), instance_noise=(instance_noise, 0.0),
                         feature_matching=(feature_matching, 0.0), g_steps=(g_steps, 1))
        gan = StepModel(generator, discriminator, latent_dim, train_step, seed=seed, name="toy_step_model")
        gan.compile(*optimizers, steps_per_execution=per_call)
    else:
        gan = GAN(generator, discriminator, latent_dim, seed=seed, name="toy_gan")
        gan.compile(*optimizers, loss=loss, label_smoothing=label_smoothing, gp_weight=gp_weight, n_critic=n_critic,
                    g_steps=g_steps, feature_matching=feature_matching, steps_per_execution=per_call)
        gan.instance_noise_std.assign(instance_noise)
    hist = gan.fit(dataset, epochs=epochs, steps_per_epoch=steps_per_epoch, verbose=0, shuffle=False)
    z = np.random.default_rng(seed + 1).standard_normal((n_samples, latent_dim)).astype(np.float32)
    samples = keras.ops.convert_to_numpy(gan.generator(z, training=False))
    settings = {
        "loss": loss, "steps": epochs * steps_per_epoch, "d_hidden": d_hidden, "d_depth": d_depth, "g_lr": g_lr,
        "d_lr": d_lr, "beta1": beta1, "beta2": beta2, "n_critic": n_critic, "gp_weight": gp_weight,
        "spectral_norm": spectral_norm, "label_smoothing": label_smoothing, "instance_noise": instance_noise,
        "d_dropout": d_dropout, "feature_matching": feature_matching, "g_steps": g_steps, "seed": seed,
        "train_step": getattr(train_step, "__name__", None) if train_step is not None else "the kit's GAN step"}
    return ToyResult(samples=samples, coverage=mode_coverage_2d(samples, modes=modes, std=std),
                     history={k: [float(v) for v in vals] for k, vals in hist.history.items()}, settings=settings,
                     gan=gan)


__all__ = [
    "TOY_PRESETS",
    "ToyResult",
    "train_toy",
]
