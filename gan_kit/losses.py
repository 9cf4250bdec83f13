"""Every loss the kit trains with, as pure functions of model outputs: the GAN families by name, the
gradient penalty, feature matching, the AC-GAN class term and the VAE's reconstruction and KL terms.

Naming: ``<family>_generator_loss(fake_logits)`` and
``<family>_discriminator_loss(real_logits, fake_logits, real_labels, fake_labels)``.
Label-based families (``minimax``, ``bce``, ``least_squares``) read the targets;
``hinge`` and ``wasserstein`` ignore them. Every GAN loss returns a float32 scalar; the VAE
terms return one float32 value per example.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import tensorflow as tf

from .config import RECON_LOSSES

Labels = tf.Tensor | float


def _f32(x) -> tf.Tensor:
    return tf.cast(x, tf.float32)


def _targets(labels: Labels, logits: tf.Tensor) -> tf.Tensor:
    """Targets shaped like ``logits`` (batch, 1) from a number or one value per example."""
    labels = _f32(labels)
    if labels.shape.rank not in (0, None):
        labels = tf.reshape(labels, [-1, 1])
    return tf.broadcast_to(labels, tf.shape(logits))


# BCE is not an answer block a release stubs (gan_kit.instructor.package): notebook 01 trains the toy GAN with it
# before any exercise, and 01's toy-step exercise has the student write these BCE terms; notebook 02's losses
# exercise restates them as two functions, and its check refuses calls of these.
def _bce(labels: Labels, logits: tf.Tensor) -> tf.Tensor:
    logits = _f32(logits)
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=_targets(labels, logits), logits=logits))


# ------------------------------------------------------------------ minimax / bce
def bce_discriminator_loss(
    real_logits: tf.Tensor, fake_logits: tf.Tensor, real_labels: Labels = 1.0, fake_labels: Labels = 0.0
) -> tf.Tensor:
    """Binary cross-entropy for D (Goodfellow et al. 2014): -log D(x) - log(1 - D(G(z))).

    Args:
        real_logits: D's raw outputs on real images, shape (batch, 1).
        fake_logits: D's raw outputs on generated images.
        real_labels: targets for real images: a number (0.9 is one-sided smoothing) or one per example.
        fake_labels: targets for generated images.

    Returns:
        Scalar: mean BCE on real plus mean BCE on fake.
    """
    return _bce(real_labels, real_logits) + _bce(fake_labels, fake_logits)


def bce_generator_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """Non-saturating generator loss (Goodfellow et al. 2014, sec. 3): -log D(G(z))."""
    return _bce(1.0, fake_logits)


minimax_discriminator_loss = bce_discriminator_loss


def minimax_generator_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """Saturating generator loss from the original minimax game: log(1 - D(G(z))).

    Its gradient vanishes when D confidently rejects the samples (D(G(z)) near 0),
    which is why ``bce`` is used in practice; kept for teaching.
    Equal to ``-mean(softplus(fake_logits))``.
    """
    return -tf.reduce_mean(tf.nn.softplus(_f32(fake_logits)))


# ------------------------------------------------------------------ hinge
def hinge_discriminator_loss(
    real_logits: tf.Tensor, fake_logits: tf.Tensor, real_labels: Labels = 1.0, fake_labels: Labels = 0.0
) -> tf.Tensor:
    """Hinge loss for D (Lim & Ye 2017; Miyato et al. 2018): E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]."""
    del real_labels, fake_labels
    return tf.reduce_mean(tf.nn.relu(1.0 - _f32(real_logits))) + tf.reduce_mean(tf.nn.relu(1.0 + _f32(fake_logits)))


def hinge_generator_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """Hinge generator loss: -E[D(G(z))]."""
    return -tf.reduce_mean(_f32(fake_logits))


# ------------------------------------------------------------------ wasserstein
def wasserstein_discriminator_loss(
    real_logits: tf.Tensor, fake_logits: tf.Tensor, real_labels: Labels = 1.0, fake_labels: Labels = 0.0
) -> tf.Tensor:
    """Critic loss of WGAN (Arjovsky et al. 2017): E[D(G(z))] - E[D(x)]; pair it with ``gradient_penalty``."""
    del real_labels, fake_labels
    return tf.reduce_mean(_f32(fake_logits)) - tf.reduce_mean(_f32(real_logits))


def wasserstein_generator_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """WGAN generator loss: -E[D(G(z))]."""
    return -tf.reduce_mean(_f32(fake_logits))


# ------------------------------------------------------------------ least squares
def least_squares_discriminator_loss(
    real_logits: tf.Tensor, fake_logits: tf.Tensor, real_labels: Labels = 1.0, fake_labels: Labels = 0.0
) -> tf.Tensor:
    """LSGAN loss for D (Mao et al. 2017): 1/2 E[(D(x) - a)^2] + 1/2 E[(D(G(z)) - b)^2], a=1, b=0."""
    real_logits, fake_logits = _f32(real_logits), _f32(fake_logits)
    real = tf.reduce_mean(tf.square(real_logits - _targets(real_labels, real_logits)))
    fake = tf.reduce_mean(tf.square(fake_logits - _targets(fake_labels, fake_logits)))
    return 0.5 * (real + fake)


def least_squares_generator_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """LSGAN generator loss: 1/2 E[(D(G(z)) - 1)^2]."""
    return 0.5 * tf.reduce_mean(tf.square(_f32(fake_logits) - 1.0))


# ------------------------------------------------------------------ penalties and extras
def gradient_penalty(
    critic: Callable[[tf.Tensor], tf.Tensor],
    real: tf.Tensor,
    fake: tf.Tensor,
    alpha: tf.Tensor | None = None,
    epsilon: float = 1e-12,
) -> tf.Tensor:
    """WGAN-GP penalty (Gulrajani et al. 2017): E[(||grad D(x_hat)||_2 - 1)^2].

    ``x_hat = real + alpha * (fake - real)`` with ``alpha ~ U(0, 1)`` drawn once per
    example. The norm is ``sqrt(sum(g^2) + epsilon)``, so a zero gradient gives a
    penalty of about 1 and a finite gradient instead of NaN.

    Args:
        critic: callable mapping images to outputs (batch, 1), e.g. ``lambda x: D(x, training=True)``.
        real: a batch of real images.
        fake: a batch of generated images of the same shape.
        alpha: optional interpolation weights of shape (batch,); drawn uniformly when None.
        epsilon: added inside the square root.

    Returns:
        Scalar penalty (float32), to be multiplied by its weight (10 in the paper).
    """
    # BEGIN SOLUTION 03 gradient_penalty
    real, fake = _f32(real), _f32(fake)
    batch = tf.shape(real)[0]
    if alpha is None:
        alpha = tf.random.uniform([batch], 0.0, 1.0)
    alpha = tf.reshape(_f32(alpha), tf.concat([[batch], tf.ones([tf.rank(real) - 1], tf.int32)], 0))
    mixed = real + alpha * (fake - real)
    with tf.GradientTape() as tape:
        tape.watch(mixed)
        out = _f32(critic(mixed))
    grads = tape.gradient(out, mixed, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    norms = tf.sqrt(tf.reduce_sum(tf.square(tf.reshape(grads, [batch, -1])), axis=1) + epsilon)
    return tf.reduce_mean(tf.square(norms - 1.0))
    # END SOLUTION


def feature_matching_loss(real_features: tf.Tensor, fake_features: tf.Tensor) -> tf.Tensor:
    """Feature matching (Salimans et al. 2016): ||E[f(x)] - E[f(G(z))]||^2 over D's intermediate features."""
    real_mean = tf.reduce_mean(tf.reshape(_f32(real_features), [tf.shape(real_features)[0], -1]), axis=0)
    fake_mean = tf.reduce_mean(tf.reshape(_f32(fake_features), [tf.shape(fake_features)[0], -1]), axis=0)
    return tf.reduce_mean(tf.square(real_mean - fake_mean))


def class_loss(labels: tf.Tensor, class_logits: tf.Tensor) -> tf.Tensor:
    """AC-GAN's auxiliary classification loss (Odena et al. 2017): mean sparse softmax cross-entropy."""
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(labels, tf.int32), logits=_f32(class_logits)))


# ------------------------------------------------------------------ VAE terms (kinds: config.RECON_LOSSES)


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
    # BEGIN SOLUTION 05 kl_divergence
    mean, log_var = _f32(mean), _f32(log_var)
    return 0.5 * tf.reduce_sum(tf.square(mean) + tf.exp(log_var) - 1.0 - log_var, axis=-1)
    # END SOLUTION


def reparameterize(mean: tf.Tensor, log_var: tf.Tensor, eps: tf.Tensor) -> tf.Tensor:
    """A sample of N(mean, exp(log_var)) written as ``mean + exp(log_var / 2) * eps`` (the reparameterization trick,
    Kingma & Welling 2014), so that gradients reach ``mean`` and ``log_var``; ``eps`` is standard normal noise."""
    # BEGIN SOLUTION 05 reparameterize
    return _f32(mean) + tf.exp(0.5 * _f32(log_var)) * _f32(eps)
    # END SOLUTION


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
    images, logits = _f32(images), _f32(logits)
    if kind == "bce":
        per_pixel = tf.nn.sigmoid_cross_entropy_with_logits(labels=(images + 1.0) / 2.0, logits=logits)
    elif kind == "mse":
        per_pixel = tf.square(tf.tanh(logits) - images)
    else:
        raise ValueError(f"kind must be one of {list(RECON_LOSSES)}. Received: kind={kind!r}.")
    return tf.reduce_sum(per_pixel, axis=[1, 2, 3])


@dataclass(frozen=True)
class LossPair:
    """A registered loss family: generator loss, discriminator loss, and whether D reads targets."""

    generator: Callable[..., tf.Tensor]
    discriminator: Callable[..., tf.Tensor]
    uses_labels: bool


# config name (one of config.LOSS_NAMES; a test keeps the two equal) -> loss family
LOSSES: dict[str, LossPair] = {
    "minimax": LossPair(minimax_generator_loss, minimax_discriminator_loss, True),
    "bce": LossPair(bce_generator_loss, bce_discriminator_loss, True),
    "hinge": LossPair(hinge_generator_loss, hinge_discriminator_loss, False),
    "wasserstein": LossPair(wasserstein_generator_loss, wasserstein_discriminator_loss, False),
    "least_squares": LossPair(least_squares_generator_loss, least_squares_discriminator_loss, True),
}


def get_losses(name: str) -> LossPair:
    """The loss family registered under ``name``.

    Raises:
        ValueError: for an unknown name, listing the valid ones.
    """
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"Unknown loss {name!r}. Valid losses: {sorted(LOSSES)}.") from None


__all__ = [
    "LOSSES",
    "LossPair",
    "bce_discriminator_loss",
    "bce_generator_loss",
    "class_loss",
    "feature_matching_loss",
    "get_losses",
    "gradient_penalty",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
    "kl_divergence",
    "least_squares_discriminator_loss",
    "least_squares_generator_loss",
    "minimax_discriminator_loss",
    "minimax_generator_loss",
    "reconstruction_loss",
    "reparameterize",
    "wasserstein_discriminator_loss",
    "wasserstein_generator_loss",
]
