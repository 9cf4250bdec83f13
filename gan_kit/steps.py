"""Training steps written as plain functions, and the ``keras.Model`` that runs one inside ``fit()``.

A *step factory* takes the two networks and their optimizers and returns a step: a function
``step(real_images, noise) -> dict`` that makes one update of D and one of G and returns at
least ``g_loss`` and ``d_loss`` (and, when it has them, ``d_real_prob`` and ``d_fake_prob``).
The noise comes in as an argument, so the kit draws it from a seeded, checkpointed generator
(a resumed run sees the same noise) and a check can hand two steps the same batch.

``StepModel`` wraps a factory so that ``gan_kit.train(config, train_step=factory, ...)`` gives
a student-written step the kit's whole run lifecycle: run folder, ``history.csv``, fixed-noise
grids, ``progress.gif``, diagnostics, checkpoints and resume.

Two reference factories:

- ``story1_train_step``: the one-pass rule (the TensorFlow DCGAN tutorial's): G makes one batch
  under two tapes, D judges it once, and both losses (BCE from logits, non-saturating for G)
  come from that one forward pass; both networks then update.
- ``alternating_train_step``: D updates first; then G's loss is computed through the updated
  D from the same noise (d2l's GAN chapter, the keras.io examples).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from .losses import bce_discriminator_loss, bce_generator_loss

StepFactory = Callable[..., Callable[[tf.Tensor, tf.Tensor], dict[str, tf.Tensor]]]
REQUIRED_LOGS = ("g_loss", "d_loss")
OPTIONAL_LOGS = ("d_real_prob", "d_fake_prob")

__all__ = ["OPTIONAL_LOGS", "REQUIRED_LOGS", "StepModel", "alternating_train_step", "story1_train_step"]


def _probabilities(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> dict[str, tf.Tensor]:
    return {"d_real_prob": tf.reduce_mean(tf.sigmoid(tf.cast(real_logits, tf.float32))),
            "d_fake_prob": tf.reduce_mean(tf.sigmoid(tf.cast(fake_logits, tf.float32)))}


def story1_train_step(generator: keras.Model, discriminator: keras.Model, g_optimizer: keras.optimizers.Optimizer,
                      d_optimizer: keras.optimizers.Optimizer) -> Callable:
    """The one-pass step: one forward pass under two tapes, then both updates (the TF DCGAN tutorial's rule)."""

    @tf.function
    def train_step(real_images: tf.Tensor, noise: tf.Tensor) -> dict[str, tf.Tensor]:
        # BEGIN SOLUTION 02 train_step
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake_images = generator(noise, training=True)
            real_logits = discriminator(real_images, training=True)
            fake_logits = discriminator(fake_images, training=True)
            g_loss = bce_generator_loss(fake_logits)
            d_loss = bce_discriminator_loss(real_logits, fake_logits)
        g_grads = g_tape.gradient(g_loss, generator.trainable_variables)
        d_grads = d_tape.gradient(d_loss, discriminator.trainable_variables)
        g_optimizer.apply_gradients(zip(g_grads, generator.trainable_variables))
        d_optimizer.apply_gradients(zip(d_grads, discriminator.trainable_variables))
        return {"g_loss": g_loss, "d_loss": d_loss, **_probabilities(real_logits, fake_logits)}
        # END SOLUTION

    return train_step


def alternating_train_step(generator: keras.Model, discriminator: keras.Model,
                           g_optimizer: keras.optimizers.Optimizer,
                           d_optimizer: keras.optimizers.Optimizer) -> Callable:
    """The alternating step: update D on real and generated images, then G through the updated D (same noise)."""

    @tf.function
    def train_step(real_images: tf.Tensor, noise: tf.Tensor) -> dict[str, tf.Tensor]:
        # BEGIN SOLUTION 01 toy_step, 02 train_step
        with tf.GradientTape() as d_tape:
            fake_images = generator(noise, training=True)
            real_logits = discriminator(real_images, training=True)
            fake_logits = discriminator(fake_images, training=True)
            d_loss = bce_discriminator_loss(real_logits, fake_logits)
        d_grads = d_tape.gradient(d_loss, discriminator.trainable_variables)
        d_optimizer.apply_gradients(zip(d_grads, discriminator.trainable_variables))
        with tf.GradientTape() as g_tape:
            g_loss = bce_generator_loss(discriminator(generator(noise, training=True), training=True))
        g_grads = g_tape.gradient(g_loss, generator.trainable_variables)
        g_optimizer.apply_gradients(zip(g_grads, generator.trainable_variables))
        return {"g_loss": g_loss, "d_loss": d_loss, **_probabilities(real_logits, fake_logits)}
        # END SOLUTION

    return train_step


class StepModel(keras.Model):
    """A generator and a discriminator trained by ``fit()`` with a step written as a plain function.

    ``compile`` calls ``make_step(generator, discriminator, g_optimizer, d_optimizer)`` once; every
    ``train_step`` draws a batch of standard normal noise from the model's seed generator and calls
    the step with the real batch and that noise. The step's ``g_loss``, ``d_loss`` (required) and
    ``d_real_prob``, ``d_fake_prob`` (NaN when the step does not return them) are averaged over the
    epoch like ``GAN``'s, so history, plots and diagnostics read the same columns.

    Example:
        >>> model = StepModel(G, D, latent_dim=100, make_step=story1_train_step)
        >>> model.compile(keras.optimizers.Adam(1e-4, 0.5), keras.optimizers.Adam(1e-4, 0.5))
        >>> model.fit(dataset, epochs=5)

    Args:
        generator: maps (batch, latent_dim) noise to images in [-1, 1].
        discriminator: maps images to logits (batch, 1).
        latent_dim: size of the noise vector.
        make_step: the step factory (see the module docstring).
        seed: seed of the noise.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, latent_dim: int, make_step: StepFactory,
                 seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        if not callable(make_step):
            raise TypeError(f"make_step must be a step factory (a function). Received: {type(make_step).__name__}.")
        if int(latent_dim) < 1:
            raise ValueError(f"latent_dim must be >= 1. Received: latent_dim={latent_dim}.")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim)
        self.make_step = make_step
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in (*REQUIRED_LOGS, *OPTIONAL_LOGS)}
        self._step: Callable | None = None
        self.built = True

    def compile(self, g_optimizer: keras.optimizers.Optimizer, d_optimizer: keras.optimizers.Optimizer,
                **kwargs: Any) -> None:
        """Set the two optimizers and build the step from them; ``kwargs`` go to ``keras.Model.compile``."""
        super().compile(**kwargs)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        self._step = self.make_step(self.generator, self.discriminator, g_optimizer, d_optimizer)
        if not callable(self._step):
            raise TypeError(f"{getattr(self.make_step, '__name__', 'make_step')}(...) must return the step function "
                            f"train_step(real_images, noise). It returned {type(self._step).__name__}.")

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return list(self.trackers.values())

    @property
    def sampler(self) -> keras.Model:
        """The generator (what grids and metrics sample)."""
        return self.generator

    def call(self, z, training: bool = False):
        """Generated images for the noise ``z``."""
        return self.generator(z, training=training)

    def train_step(self, data):
        if self._step is None:
            raise RuntimeError("StepModel.compile(g_optimizer, d_optimizer) must run before fit().")
        real = data[0] if isinstance(data, (tuple, list)) else data
        noise = keras.random.normal((tf.shape(real)[0], self.latent_dim), seed=self.seed_generator)
        logs = self._step(real, noise)
        name = getattr(self.make_step, "__name__", "the step")
        if not isinstance(logs, dict) or any(k not in logs for k in REQUIRED_LOGS):
            got = sorted(logs) if isinstance(logs, dict) else type(logs).__name__
            raise ValueError(f"The step made by {name} must return a dict with at least {list(REQUIRED_LOGS)} (and "
                             f"optionally {list(OPTIONAL_LOGS)}). It returned {got}.")
        for key, tracker in self.trackers.items():
            value = logs.get(key)
            tracker.update_state(tf.constant(float("nan")) if value is None else tf.cast(value, tf.float32))
        return {key: tracker.result() for key, tracker in self.trackers.items()}
