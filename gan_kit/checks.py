"""Self-checks students run after each exercise: a student's function against the kit's on fixed inputs.

Each check prints a line starting with "passed" or raises ``CheckFailed`` with a message that
says what was expected and a hint. A stub that still raises ``NotImplementedError`` is let
through unchanged, so an unfinished exercise is easy to spot.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

REAL_LOGITS = np.array([[2.0], [-0.5], [0.3], [1.2]], np.float32)
FAKE_LOGITS = np.array([[-1.0], [0.5], [-2.2], [0.1]], np.float32)


class CheckFailed(AssertionError):
    """A student's function gave a wrong value; the message says what was expected."""


def _value(x) -> np.ndarray:
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x, dtype=np.float64)


def _compare(name: str, got, expected, hint: str, rtol: float = 1e-4, atol: float = 1e-5) -> None:
    got, expected = _value(got), _value(expected)
    if got.shape != expected.shape and got.size == expected.size == 1:
        got, expected = got.reshape(()), expected.reshape(())
    if got.shape != expected.shape:
        raise CheckFailed(f"{name}: expected shape {expected.shape}, got {got.shape}. Hint: {hint}")
    if not np.allclose(got, expected, rtol=rtol, atol=atol):
        raise CheckFailed(f"{name}: expected {np.round(expected, 5)}, got {np.round(got, 5)}. Hint: {hint}")


def _passed(name: str) -> None:
    print(f"passed: {name}")


def check_gan_losses(discriminator_loss: Callable, generator_loss: Callable) -> None:
    """Non-saturating BCE losses (notebook 02) against ``gan_kit.losses`` on fixed logits."""
    import tensorflow as tf

    from . import losses

    real, fake = tf.constant(REAL_LOGITS), tf.constant(FAKE_LOGITS)
    _compare("discriminator_loss", discriminator_loss(real, fake), losses.bce_discriminator_loss(real, fake),
             "mean BCE of D(real) against 1 plus mean BCE of D(fake) against 0, from logits "
             "(tf.nn.sigmoid_cross_entropy_with_logits).")
    _compare("generator_loss", generator_loss(fake), losses.bce_generator_loss(fake),
             "the non-saturating loss: BCE of D(G(z)) against the label 1 ('real').")
    _passed("both losses match the kit's on fixed logits")


def check_gradient_penalty(gradient_penalty: Callable) -> None:
    """A WGAN-GP penalty (notebook 03): a linear critic with gradient norm 5 gives (5 - 1)^2 = 16."""
    import tensorflow as tf

    w = tf.constant([3.0, 4.0])

    def critic(x):
        return tf.reduce_sum(x * w, axis=1, keepdims=True)

    real = tf.constant(np.random.default_rng(0).standard_normal((8, 2)), tf.float32)
    fake = tf.constant(np.random.default_rng(1).standard_normal((8, 2)), tf.float32)
    _compare("gradient_penalty (|grad| = 5)", gradient_penalty(critic, real, fake), 16.0,
             "mean over examples of (||dD/dx_hat||_2 - 1)^2 with x_hat = real + alpha (fake - real).")

    def flat(x):
        return tf.zeros([tf.shape(x)[0], 1]) + 0.0 * tf.reduce_sum(x)

    value = _value(gradient_penalty(flat, real, fake))
    if not np.isfinite(value) or abs(value - 1.0) > 1e-3:
        raise CheckFailed(f"gradient_penalty of a flat critic should be 1 (gradient norm 0), got {value}. "
                          "Hint: add a small epsilon inside the square root so a zero gradient gives no NaN.")
    _passed("gradient penalty: known norm and zero gradient")


def check_reparameterize(reparameterize: Callable) -> None:
    """The reparameterization trick (notebook 05): z = mean + exp(log_var / 2) * eps."""
    mean = np.array([[0.0, 1.0], [-2.0, 0.5]], np.float32)
    log_var = np.array([[0.0, np.log(4.0)], [np.log(0.25), 0.0]], np.float32)
    eps = np.array([[1.0, -1.0], [2.0, 0.5]], np.float32)
    _compare("reparameterize", reparameterize(mean, log_var, eps), mean + np.exp(0.5 * log_var) * eps,
             "the standard deviation is exp(log_var / 2), not exp(log_var).")
    _passed("reparameterization")


def check_kl(kl_divergence: Callable) -> None:
    """KL(N(mean, var) || N(0, 1)) per example, summed over latent dimensions (notebook 05)."""
    mean = np.array([[0.0, 0.0], [1.0, -1.0]], np.float32)
    log_var = np.array([[0.0, 0.0], [np.log(2.0), 0.0]], np.float32)
    expected = -0.5 * np.sum(1 + log_var - mean**2 - np.exp(log_var), axis=1)
    _compare("kl_divergence", kl_divergence(mean, log_var), expected,
             "-0.5 * sum(1 + log_var - mean^2 - exp(log_var)) over the latent axis, one value per example.")
    _passed("KL term against the closed form")


def check_fid(fid_from_features: Callable) -> None:
    """FID from two feature sets (notebooks 01 / 06) against a direct computation."""
    from scipy import linalg

    rng = np.random.default_rng(0)
    a = rng.standard_normal((500, 4))
    b = rng.standard_normal((500, 4)) @ np.diag([1.0, 2.0, 0.5, 1.0]) + 0.3
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    _compare("fid_from_features", fid_from_features(a, b), expected,
             "||mu1 - mu2||^2 + Tr(S1 + S2 - 2 sqrtm(S1 S2)), with covariances over examples (rowvar=False).",
             rtol=1e-5)
    _compare("fid_from_features(a, a)", fid_from_features(a, a), 0.0, "a set compared with itself has FID 0.",
             atol=1e-6)
    _passed("FID from features")


def check_conditional_input(conditional_input: Callable, num_classes: int = 10) -> None:
    """The conditional generator's input (notebook 08): noise joined with the one-hot label."""
    z = np.arange(6, dtype=np.float32).reshape(2, 3)
    labels = np.array([2, 0])
    expected = np.concatenate([z, np.eye(num_classes, dtype=np.float32)[labels]], axis=1)
    _compare("conditional_input", conditional_input(z, labels, num_classes), expected,
             "concatenate z and tf.one_hot(labels, num_classes) along the last axis.")
    _passed("conditional input")


__all__ = [
    "CheckFailed",
    "check_conditional_input",
    "check_fid",
    "check_gan_losses",
    "check_gradient_penalty",
    "check_kl",
    "check_reparameterize",
]
