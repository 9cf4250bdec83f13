"""The students' self-checks (``gan_kit.checks``), check by check.

For every check: a correct answer written here the way a student would (never calling the kit) passes
and prints "passed"; typical wrong answers are rejected with ``CheckFailed`` and a message naming the
mistake or the fix; an answer that calls the kit's own implementation (directly, or through a name
imported before the check ran) is refused, and the kit works again afterwards; a stub's
``NotImplementedError`` comes through unchanged.

``xfail(strict=True)`` marks a wrong answer a check lets through (or a correct one it refuses, or a
message that misses the point): when the check is fixed the test XPASSes, and the marker should go.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers
from scipy import linalg

import gan_kit.losses
import gan_kit.metrics
import gan_kit.models
import gan_kit.steps
import gan_kit.vae
from gan_kit import checks
from gan_kit.checks import fixtures

# Imported under other names before any check runs: the checks must refuse these too.
from gan_kit.losses import bce_discriminator_loss as kit_d_loss
from gan_kit.losses import bce_generator_loss as kit_g_loss
from gan_kit.losses import gradient_penalty as kit_gp
from gan_kit.losses import kl_divergence as kit_kl
from gan_kit.metrics.maths import fid_from_features as kit_fid
from gan_kit.models import build_conditional_generator as kit_cond_g
from gan_kit.models import build_discriminator as kit_build_d
from gan_kit.models import build_generator as kit_build_g
from gan_kit.steps import alternating_train_step as kit_alternating
from gan_kit.steps import story1_train_step as kit_story1

KIT = "called the kit's own"


def assert_passes(capsys, check, *args, **kwargs):
    check(*args, **kwargs)
    out = capsys.readouterr().out
    assert any(line.startswith("passed") for line in out.splitlines()), out


def stub(*args, **kwargs):
    raise NotImplementedError("write this exercise")


def rejected(check, *args, match: str, **kwargs) -> str:
    with pytest.raises(checks.CheckFailed, match=match) as info:
        check(*args, **kwargs)
    return str(info.value)


def known_wrong(reason: str):
    """A wrong answer (or message) the check gets wrong today; strict, so fixing the check flags the marker."""
    return pytest.mark.xfail(strict=True, raises=(pytest.fail.Exception, AssertionError), reason=reason)


# ================================================================= check_gan_losses
def _bce(labels, logits):
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)


def d_loss(real, fake):
    return tf.reduce_mean(_bce(tf.ones_like(real), real)) + tf.reduce_mean(_bce(tf.zeros_like(fake), fake))


def g_loss(fake):
    return tf.reduce_mean(_bce(tf.ones_like(fake), fake))


_keras_bce = keras.losses.BinaryCrossentropy(from_logits=True)


def d_loss_keras(real, fake):
    return _keras_bce(tf.ones_like(real), real) + _keras_bce(tf.zeros_like(fake), fake)


def g_loss_keras(fake):
    return _keras_bce(tf.ones_like(fake), fake)


@pytest.mark.parametrize("d, g", [(d_loss, g_loss), (d_loss_keras, g_loss_keras)], ids=["tf.nn", "keras"])
def test_gan_losses_pass(capsys, d, g):
    assert_passes(capsys, checks.check_gan_losses, d, g)


_probs_bce = keras.losses.BinaryCrossentropy()  # expects probabilities: clips them to [1e-7, 1 - 1e-7]

WRONG_D = {
    "sum over the batch": (
        lambda r, f: tf.reduce_sum(_bce(tf.ones_like(r), r)) + tf.reduce_sum(_bce(tf.zeros_like(f), f)),
        "summing over the batch instead of averaging"),
    "swapped labels": (lambda r, f: d_loss(-r, -f), r"swapped labels \(real against 0, fake against 1\)"),
    "averaging the two terms": (lambda r, f: 0.5 * d_loss(r, f), r"averaging the two terms"),
    "sigmoid then a from-logits loss": (lambda r, f: d_loss(tf.sigmoid(r), tf.sigmoid(f)),
                                        "a sigmoid applied before a loss that takes logits"),
    "naive -log(sigmoid(x))": (
        lambda r, f: -tf.reduce_mean(tf.math.log(tf.sigmoid(r))) - tf.reduce_mean(tf.math.log(1.0 - tf.sigmoid(f))),
        r"(?s)on confident logits.*NaN or infinite.*log of a sigmoid overflows.*from the logits"),
    "keras BCE on sigmoid probabilities": (lambda r, f: _probs_bce(tf.ones_like(r), tf.sigmoid(r))
                                           + _probs_bce(tf.zeros_like(f), tf.sigmoid(f)),
                                           r"on confident logits.*sigmoid_cross_entropy_with_logits"),
    "only the real term": (lambda r, f: tf.reduce_mean(_bce(tf.ones_like(r), r)), "only the real term"),
}

WRONG_G = {
    "saturating log(1 - D(G(z)))": (lambda f: -tf.reduce_mean(_bce(tf.zeros_like(f), f)),
                                    r"non-saturating.*the saturating loss log\(1 - D\(G\(z\)\)\)"),
    "label 0 for G (saturating, sign flipped)": (lambda f: tf.reduce_mean(_bce(tf.zeros_like(f), f)),
                                                 "saturating loss with the sign flipped"),
    "sum over the batch": (lambda f: tf.reduce_sum(_bce(tf.ones_like(f), f)), "summing over the batch"),
    "sigmoid then a from-logits loss": (lambda f: g_loss(tf.sigmoid(f)), "a sigmoid applied before a loss"),
    "naive -log(sigmoid(x))": (lambda f: -tf.reduce_mean(tf.math.log(tf.sigmoid(f))),
                               r"(?s)on saturated logits \(\+-120\).*log of a sigmoid overflows"),
    "the kit's minimax loss": (gan_kit.losses.minimax_generator_loss, KIT),
}


@pytest.mark.parametrize("name", WRONG_D)
def test_gan_losses_reject_wrong_discriminator_loss(name):
    wrong, match = WRONG_D[name]
    msg = rejected(checks.check_gan_losses, wrong, g_loss, match=match)
    assert msg.startswith("discriminator_loss")


@pytest.mark.parametrize("name", WRONG_G)
def test_gan_losses_reject_wrong_generator_loss(name):
    wrong, match = WRONG_G[name]
    msg = rejected(checks.check_gan_losses, d_loss, wrong, match=match)
    assert msg.startswith("generator_loss")


@pytest.mark.parametrize("d, g, name", [
    (d_loss, lambda f: gan_kit.losses.bce_generator_loss(f), "bce_generator_loss"),
    (lambda r, f: gan_kit.losses.bce_discriminator_loss(r, f), g_loss, "bce_discriminator_loss"),
    (d_loss, lambda f: gan_kit.losses.get_losses("bce").generator(f), "get_losses"),
    (kit_d_loss, g_loss, "bce_discriminator_loss"),  # the alias itself
    (d_loss, lambda f: kit_g_loss(f), "bce_generator_loss"),  # an answer calling the alias
], ids=["module attr G", "module attr D", "registry", "alias D", "alias G"])
def test_gan_losses_refuse_the_kit(d, g, name):
    rejected(checks.check_gan_losses, d, g, match=f"{KIT} gan_kit.losses.{name}")
    assert np.isclose(float(kit_g_loss(tf.zeros((2, 1)))), np.log(2.0))
    assert np.isclose(float(gan_kit.losses.bce_discriminator_loss(tf.zeros((2, 1)), tf.zeros((2, 1)))), 2 * np.log(2.0))
    assert gan_kit.losses.get_losses("bce").generator is not None


def test_gan_losses_let_a_stub_through():
    with pytest.raises(NotImplementedError):
        checks.check_gan_losses(stub, g_loss)
    with pytest.raises(NotImplementedError):
        checks.check_gan_losses(d_loss, stub)


# ================================================================= check_gradient_penalty
def _interpolate(real, fake, alpha):
    if alpha is None:
        alpha = tf.random.uniform([tf.shape(real)[0]])
    return real + tf.reshape(alpha, [-1, 1, 1, 1]) * (fake - real)


def _input_gradients(critic, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = critic(x)
    return tf.reshape(tape.gradient(out, x), [tf.shape(x)[0], -1])


def gradient_penalty(critic, real, fake, alpha=None):
    grads = _input_gradients(critic, _interpolate(real, fake, alpha))
    norms = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=1) + 1e-12)
    return tf.reduce_mean(tf.square(norms - 1.0))


def _gp_with(mix=_interpolate, norm=lambda g: tf.sqrt(tf.reduce_sum(tf.square(g), axis=1) + 1e-12),
             reduce=lambda n: tf.reduce_mean(tf.square(n - 1.0))):
    def wrong_penalty(critic, real, fake, alpha=None):
        return reduce(norm(_input_gradients(critic, mix(real, fake, alpha))))
    return wrong_penalty


def _gp_axis_norm(critic, real, fake, alpha=None):  # the norm over the channel axis only (per pixel)
    x = _interpolate(real, fake, alpha)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = critic(x)
    norms = tf.sqrt(tf.reduce_sum(tf.square(tape.gradient(out, x)), axis=-1) + 1e-12)
    return tf.reduce_mean(tf.square(norms - 1.0))


def test_gradient_penalty_passes(capsys):
    assert_passes(capsys, checks.check_gradient_penalty, gradient_penalty)


WRONG_GP = {
    "x_hat = real": (_gp_with(mix=lambda r, f, a: r), r"x_hat = real \(no interpolation\)"),
    "alpha on the wrong side": (_gp_with(mix=lambda r, f, a: f + tf.reshape(a, [-1, 1, 1, 1]) * (r - f)),
                                "alpha on the wrong side"),
    "ignoring the given alpha": (_gp_with(mix=lambda r, f, a: _interpolate(r, f, None)), "alpha as given"),
    "tf.norm (no epsilon)": (_gp_with(norm=lambda g: tf.norm(g, axis=1)),
                             r"(?s)not a finite number.*sqrt\(sum\(g\^2\) \+ 1e-12\) instead of tf\.norm"),
    "sqrt without epsilon": (_gp_with(norm=lambda g: tf.sqrt(tf.reduce_sum(tf.square(g), axis=1))),
                             r"derivative of sqrt at 0 is infinite"),
    "epsilon outside the sqrt": (_gp_with(norm=lambda g: tf.sqrt(tf.reduce_sum(tf.square(g), axis=1)) + 1e-12),
                                 r"1e-12"),
    "(mean(norm) - 1)^2": (_gp_with(reduce=lambda n: tf.square(tf.reduce_mean(n) - 1.0)),
                           r"\(mean norm - 1\)\^2 instead of mean\(\(norm - 1\)\^2\)"),
    "the squared norm": (_gp_with(norm=lambda g: tf.reduce_sum(tf.square(g), axis=1)),
                         "the squared norm instead of the norm"),
    "norm per pixel, not per example": (_gp_axis_norm, "the norm per example"),
}


@pytest.mark.parametrize("name", WRONG_GP)
def test_gradient_penalty_rejects(name):
    wrong, match = WRONG_GP[name]
    rejected(checks.check_gradient_penalty, wrong, match=match)


@pytest.mark.parametrize("answer", [
    lambda critic, real, fake, alpha=None: gan_kit.losses.gradient_penalty(critic, real, fake, alpha),
    lambda critic, real, fake, alpha=None: kit_gp(critic, real, fake, alpha),
    kit_gp,
], ids=["module attr", "calls the alias", "the alias itself"])
def test_gradient_penalty_refuses_the_kit(answer):
    rejected(checks.check_gradient_penalty, answer, match=f"{KIT} gan_kit.losses.gradient_penalty")
    x = tf.zeros((2, 2, 2, 1))
    penalty = gan_kit.losses.gradient_penalty(lambda v: tf.reduce_sum(v, axis=[1, 2, 3])[:, None], x, x + 1.0)
    assert np.isclose(float(penalty), 1.0)  # the gradient is all ones: norm 2


def test_gradient_penalty_lets_a_stub_through():
    with pytest.raises(NotImplementedError):
        checks.check_gradient_penalty(stub)


# ================================================================= check_reparameterize
def reparameterize(mean, log_var, eps):
    return mean + tf.exp(0.5 * log_var) * eps


def test_reparameterize_passes(capsys):
    assert_passes(capsys, checks.check_reparameterize, reparameterize)
    assert_passes(capsys, checks.check_reparameterize, lambda m, lv, e: m + np.sqrt(np.exp(lv)) * e)


WRONG_REPARAMETERIZE = {
    "exp(log_var)": (lambda m, lv, e: m + tf.exp(lv) * e,
                     r"(?s)exp\(log_var / 2\).*exp\(log_var\) \* eps \(the variance, not the standard deviation\)"),
    "fresh noise instead of eps": (lambda m, lv, e: m + tf.exp(0.5 * lv) * tf.random.normal(tf.shape(m)),
                                   "use the eps given"),
    "log_var * eps": (lambda m, lv, e: m + lv * e, r"what log_var \* eps gives"),
    "sqrt(log_var)": (lambda m, lv, e: m + tf.sqrt(lv) * e, r"(?s)NaN or infinite.*exp\(log_var / 2\)"),
    "no mean": (lambda m, lv, e: tf.exp(0.5 * lv) * e, r"exp\(log_var / 2\)"),
}


@pytest.mark.parametrize("name", WRONG_REPARAMETERIZE)
def test_reparameterize_rejects(name):
    wrong, match = WRONG_REPARAMETERIZE[name]
    rejected(checks.check_reparameterize, wrong, match=match)


def test_reparameterize_refuses_the_kit():
    rejected(checks.check_reparameterize, lambda m, lv, e: gan_kit.vae.VAE.reparameterize(None, m, lv),
             match=f"{KIT} gan_kit.vae.VAE.reparameterize")
    assert "seed_generator" in gan_kit.vae.VAE.reparameterize.__code__.co_names  # its own code again


def test_reparameterize_lets_a_stub_through():
    with pytest.raises(NotImplementedError):
        checks.check_reparameterize(stub)


# ================================================================= check_kl
def kl_divergence(mean, log_var):
    return 0.5 * tf.reduce_sum(tf.square(mean) + tf.exp(log_var) - 1.0 - log_var, axis=-1)


def test_kl_passes(capsys):
    assert_passes(capsys, checks.check_kl, kl_divergence)
    assert_passes(capsys, checks.check_kl, lambda m, lv: -0.5 * np.sum(1 + lv - m**2 - np.exp(lv), axis=1))


WRONG_KL = {
    "mean over the latent axis": (lambda m, lv: 0.5 * tf.reduce_mean(tf.square(m) + tf.exp(lv) - 1.0 - lv, axis=-1),
                                  "the mean over the latent axis instead of the sum"),
    "missing 1/2": (lambda m, lv: tf.reduce_sum(tf.square(m) + tf.exp(lv) - 1.0 - lv, axis=-1),
                    "leaving out the factor 1/2"),
    "exp(log_var / 2) for the variance": (
        lambda m, lv: 0.5 * tf.reduce_sum(tf.square(m) + tf.exp(lv / 2) - 1.0 - lv, axis=-1),
        r"exp\(log_var / 2\) \(the standard deviation\) for the variance"),
    "log(exp(log_var))": (
        lambda m, lv: 0.5 * tf.reduce_sum(tf.square(m) + tf.exp(lv) - 1.0 - tf.math.log(tf.exp(lv)), axis=-1),
        r"(?s)NaN or infinite.*not log\(exp\(log_var\)\)"),
    "summed over the batch too (one number)": (
        lambda m, lv: 0.5 * tf.reduce_sum(tf.square(m) + tf.exp(lv) - 1.0 - lv),
        r"returned one number.*sum over the latent axis only \(axis=-1\)"),
    "averaged over the batch (one number)": (lambda m, lv: tf.reduce_mean(kl_divergence(m, lv)), "returned one number"),
    "the sign flipped": (lambda m, lv: 0.5 * tf.reduce_sum(1.0 + lv - tf.square(m) - tf.exp(lv), axis=-1),
                         "the negative of the KL"),
}


@pytest.mark.parametrize("name", WRONG_KL)
def test_kl_rejects(name):
    wrong, match = WRONG_KL[name]
    rejected(checks.check_kl, wrong, match=match)


@pytest.mark.parametrize("answer", [lambda m, lv: gan_kit.losses.kl_divergence(m, lv), kit_kl,
                                    lambda m, lv: kit_kl(m, lv)], ids=["module attr", "the alias", "calls the alias"])
def test_kl_refuses_the_kit(answer):
    rejected(checks.check_kl, answer, match=f"{KIT} gan_kit.losses.kl_divergence")
    assert np.allclose(gan_kit.losses.kl_divergence(tf.zeros((2, 3)), tf.zeros((2, 3))), 0.0)


def test_kl_lets_a_stub_through():
    with pytest.raises(NotImplementedError):
        checks.check_kl(stub)


# ================================================================= check_fid
def fid_from_features(a, b):
    mu1, mu2 = a.mean(axis=0), b.mean(axis=0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def _fid_with(cov=lambda x: np.cov(x, rowvar=False), root=lambda s1, s2: linalg.sqrtm(s1 @ s2).real, two=2.0):
    def wrong_fid(a, b):
        s1, s2 = cov(a), cov(b)
        return np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(s1 + s2) - two * np.trace(root(s1, s2))
    return wrong_fid


def fid_by_eigenvalues(real_features, fake_features):
    """The handout's route (notebook 01): the square roots of the eigenvalues of S_r S_g, real parts clipped at 0."""
    mu_r, mu_g = real_features.mean(axis=0), fake_features.mean(axis=0)
    s_r, s_g = np.cov(real_features, rowvar=False), np.cov(fake_features, rowvar=False)
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvals(s_r @ s_g).real, 0, None)).sum()
    return float(((mu_r - mu_g) ** 2).sum() + np.trace(s_r) + np.trace(s_g) - 2 * trace_sqrt)


@pytest.mark.parametrize("answer", [fid_from_features, fid_by_eigenvalues], ids=["sqrtm", "eigvals (the handout)"])
def test_fid_passes(capsys, answer):
    assert_passes(capsys, checks.check_fid, answer)


WRONG_FID = {
    "ddof=0": (_fid_with(cov=lambda x: np.cov(x, rowvar=False, ddof=0)), r"ddof=0 covariances"),
    "biased covariance by hand": (_fid_with(cov=lambda x: (x - x.mean(0)).T @ (x - x.mean(0)) / len(x)),
                                  r"ddof=0 covariances"),
    "np.sqrt(s1 * s2)": (_fid_with(root=lambda s1, s2: np.sqrt(np.abs(s1 * s2))),
                         r"an elementwise square root \(np\.sqrt\)"),
    "np.sqrt(s1 @ s2)": (_fid_with(root=lambda s1, s2: np.sqrt(np.abs(s1 @ s2))),
                         r"an elementwise square root of S1 S2 \(np\.sqrt\(S1 @ S2\)\)"),
    "missing the factor 2": (_fid_with(two=1.0), "leaving out the factor 2"),
    "rowvar=True (wrong axis)": (_fid_with(cov=np.cov), r"np\.cov\(\.\.\., rowvar=False\)"),
    "only the means": (lambda a, b: np.sum((a.mean(0) - b.mean(0)) ** 2), "only the distance between the means"),
}


@pytest.mark.parametrize("name", WRONG_FID)
def test_fid_rejects(name):
    wrong, match = WRONG_FID[name]
    rejected(checks.check_fid, wrong, match=match)


def test_fid_rejects_forgetting_real():
    rejected(checks.check_fid, _fid_with(root=lambda s1, s2: linalg.sqrtm(s1 @ s2)), match=r"\.real")


def _fid_eigenvalues_with(clip=True, real=True):
    def wrong_fid(a, b):
        s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
        eigenvalues = np.linalg.eigvals(s1 @ s2)
        eigenvalues = eigenvalues.real if real else eigenvalues
        eigenvalues = np.clip(eigenvalues, 0, None) if clip else eigenvalues
        with np.errstate(invalid="ignore"):
            root = np.sqrt(eigenvalues).sum()
        return np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(s1) + np.trace(s2) - 2 * root
    return wrong_fid


@pytest.mark.parametrize("answer, match", [
    (_fid_with(two=1.0), r"(?s)eigenvalues of S1 S2 \(np\.linalg\.eigvals\(S1 @ S2\), real parts clipped at 0\), "
                         r"or.*sqrtm\(S1 @ S2\)\.real"),
    (_fid_eigenvalues_with(clip=False), r"(?s)NaN.*clip their real parts at 0"),
    (_fid_eigenvalues_with(clip=False, real=False), r"(?s)complex.*real parts of np\.linalg\.eigvals.*sqrtm"),
    (_fid_with(root=lambda s1, s2: linalg.sqrtm(s1 @ s2)), r"(?s)complex.*sqrtm\(S1 @ S2\)\.real"),
], ids=["the hint", "eigenvalues not clipped", "eigenvalues' real part not taken", "sqrtm's real part not taken"])
def test_fid_hint_names_both_routes(answer, match):
    """The handout takes the eigenvalue route; the messages name it and sqrtm's, never sqrtm's alone."""
    rejected(checks.check_fid, answer, match=match)


@pytest.mark.parametrize("answer", [lambda a, b: gan_kit.metrics.fid_from_features(a, b), kit_fid,
                                    lambda a, b: gan_kit.metrics.frechet_distance(a.mean(0), np.cov(a, rowvar=False),
                                                                                 b.mean(0), np.cov(b, rowvar=False))],
                         ids=["module attr", "the alias", "own statistics, kit distance"])
def test_fid_refuses_the_kit(answer):
    rejected(checks.check_fid, answer, match=f"{KIT} gan_kit.metrics.maths.")
    a = np.random.default_rng(1).standard_normal((50, 3))
    assert gan_kit.metrics.fid_from_features(a, a) < 1e-6


def test_fid_lets_a_stub_through():
    with pytest.raises(NotImplementedError):
        checks.check_fid(stub)


# ================================================================= check_conditional_input
def conditional_input(z, labels, num_classes):
    return tf.concat([z, tf.one_hot(labels, num_classes)], axis=-1)


def test_conditional_input_passes(capsys):
    assert_passes(capsys, checks.check_conditional_input, conditional_input)
    assert_passes(capsys, checks.check_conditional_input, lambda z, y, k: np.concatenate([z, np.eye(k)[y]], axis=1))
    assert_passes(capsys, checks.check_conditional_input, conditional_input, num_classes=7)


WRONG_CONDITIONAL = {
    "raw label appended": (lambda z, y, k: tf.concat([z, tf.cast(y[:, None], tf.float32)], -1),
                           r"appended as one number.*tf\.one_hot\(labels, num_classes\)"),
    "one-hot first": (lambda z, y, k: tf.concat([tf.one_hot(y, k), z], -1), "the one-hot label comes first"),
    "num_classes + 1": (lambda z, y, k: tf.concat([z, tf.one_hot(y, k + 1)], -1),
                        r"expected 14 columns .*got 15.*use the num_classes argument"),
    "num_classes - 1": (lambda z, y, k: tf.concat([z, tf.one_hot(y, k - 1)], -1), r"expected 14 columns .*got 13"),
    "label scaled instead of one-hot": (lambda z, y, k: tf.concat([z, tf.cast(y[:, None], tf.float32) / k], -1),
                                        "appended as one number"),
}


@pytest.mark.parametrize("name", WRONG_CONDITIONAL)
def test_conditional_input_rejects(name):
    wrong, match = WRONG_CONDITIONAL[name]
    rejected(checks.check_conditional_input, wrong, match=match)


def test_conditional_input_with_other_num_classes_rejects_hard_coded_ten():
    rejected(checks.check_conditional_input, lambda z, y, k: tf.concat([z, tf.one_hot(y, 10)], -1), num_classes=7,
             match=r"\(num_classes=7\): expected 11 columns .*got 14")


@pytest.mark.parametrize("wrong", [lambda z, y, k: tf.concat([z, tf.one_hot(y, 10)], -1),
                                   lambda z, y, k: tf.concat([z, tf.one_hot(y, int(np.max(y)) + 1)], -1)],
                         ids=["hard-coded 10 classes", "classes counted from the labels"])
def test_conditional_input_default_rejects_ignoring_num_classes(wrong):
    rejected(checks.check_conditional_input, wrong, match="num_classes")


def _kit_joined(z, labels, num_classes, build=None):
    model = (build or gan_kit.models.build_conditional_generator)(num_classes, latent_dim=z.shape[1], width=2)
    return keras.Model(model.inputs, model.get_layer("joined").output)([z, labels])


@pytest.mark.parametrize("answer", [_kit_joined, lambda z, y, k: _kit_joined(z, y, k, build=kit_cond_g)],
                         ids=["module attr", "the alias"])
def test_conditional_input_refuses_the_kit(answer):
    rejected(checks.check_conditional_input, answer, match=f"{KIT} gan_kit.models.build_conditional_generator")
    assert gan_kit.models.build_conditional_generator(3, latent_dim=2, width=2).count_params() > 0


def test_conditional_input_lets_a_stub_through():
    with pytest.raises(NotImplementedError):
        checks.check_conditional_input(stub)


# ================================================================= check_generator (about 1 s a call: few calls)
def build_generator(latent_dim=100, width=64):
    model = keras.Sequential([keras.Input(shape=(latent_dim,)),
                              layers.Dense(4 * 4 * 8 * width, use_bias=False),
                              layers.BatchNormalization(),
                              layers.LeakyReLU(0.2),
                              layers.Reshape((4, 4, 8 * width))])
    for filters in (4 * width, 2 * width, width):
        model.add(layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False))
        model.add(layers.BatchNormalization())
        model.add(layers.LeakyReLU(0.2))
        model.add(layers.Conv2D(filters, 3, padding="same", use_bias=False))
        model.add(layers.BatchNormalization())
        model.add(layers.LeakyReLU(0.2))
    model.add(layers.Conv2D(3, 3, padding="same", activation="tanh"))
    return model


def _generator_with(slope=0.2, dense_bias=False, kernel=4, strides=2, refine=True, refine_bias=False, fixed_width=None,
                    output="tanh"):
    def wrong_generator(latent_dim=100, width=64):
        w = fixed_width or width
        leaky = (lambda: layers.LeakyReLU()) if slope is None else (lambda: layers.LeakyReLU(slope))
        model = keras.Sequential([keras.Input(shape=(latent_dim,)), layers.Dense(4 * 4 * 8 * w, use_bias=dense_bias),
                                  layers.BatchNormalization(), leaky(), layers.Reshape((4, 4, 8 * w))])
        for filters in (4 * w, 2 * w, w):
            model.add(layers.Conv2DTranspose(filters, kernel, strides=strides, padding="same", use_bias=False))
            model.add(layers.BatchNormalization())
            model.add(leaky())
            if refine:
                model.add(layers.Conv2D(filters, 3, padding="same", use_bias=refine_bias))
                model.add(layers.BatchNormalization())
                model.add(leaky())
        model.add(layers.Conv2D(3, 3, padding="same", activation=output))
        return model
    return wrong_generator


def test_generator_passes(capsys):
    assert_passes(capsys, checks.check_generator, build_generator)


WRONG_GENERATOR = {
    "LeakyReLU() with Keras' default slope": (_generator_with(slope=None),
                                              r"is activation\(leaky_relu\(0\.3\)\).*expected activation\("
                                              r"leaky_relu\(0\.2\)\).*default slope is 0\.3"),
    "bias before BatchNorm (Dense)": (_generator_with(dense_bias=True), r"dense\(8192, bias\).*use_bias=False"),
    "kernel 5 transposed conv": (_generator_with(kernel=5),
                                 r"conv_transpose\(256, 5x5.*expected conv_transpose\(256, 4x4"),
    "stride 1 transposed conv": (_generator_with(strides=1),
                                 r"stride 1.*expected conv_transpose\(256, 4x4, stride 2"),
    "no refinement conv": (_generator_with(refine=False),
                           r"is conv_transpose\(128, .*expected conv\(256, 3x3, stride 1"),
    "hard-coded width 64": (_generator_with(fixed_width=64),
                            r"\(latent_dim=8, width=4\).*is dense\(8192, no bias\).*expected dense\(512, no bias\)"),
    "sigmoid output": (_generator_with(output="sigmoid"), r"activation\(sigmoid\).*expected activation\(tanh\)"),
    "no output activation": (_generator_with(output=None),
                             r"stops after 23 operations; next expected: activation\(tanh\)"),
    "no width argument": (lambda latent_dim=100: build_generator(latent_dim),
                          r"must accept the keyword argument\(s\) \['width'\]"),
}


@pytest.mark.parametrize("name", WRONG_GENERATOR)
def test_generator_rejects(name):
    wrong, match = WRONG_GENERATOR[name]
    rejected(checks.check_generator, wrong, match=match)


def test_generator_bias_on_refinement_conv_names_use_bias():
    rejected(checks.check_generator, _generator_with(refine_bias=True), match=r"(?s)no bias.*use_bias=False")


@pytest.mark.parametrize("answer", [
    lambda latent_dim=100, width=64: gan_kit.models.build_generator(latent_dim, (32, 32, 3), width),
    lambda latent_dim=100, width=64: kit_build_g(latent_dim, (32, 32, 3), width),
    kit_build_g,
], ids=["module attr", "calls the alias", "the alias itself"])
def test_generator_refuses_the_kit(answer):
    rejected(checks.check_generator, answer, match=f"{KIT} gan_kit.models.build_generator")
    assert gan_kit.models.build_generator(8, (32, 32, 3), 4).output_shape == (None, 32, 32, 3)


def test_generator_lets_a_stub_through():
    def build_generator(latent_dim=100, width=64):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        checks.check_generator(build_generator)


# ================================================================= check_discriminator (about 1 s a call)
def build_discriminator(width=64, dropout=0.3):
    return keras.Sequential([
        keras.Input(shape=(32, 32, 3)),
        layers.Conv2D(width, 4, strides=2, padding="same"), layers.LeakyReLU(0.2), layers.Dropout(dropout),
        layers.Conv2D(2 * width, 4, strides=2, padding="same"), layers.BatchNormalization(), layers.LeakyReLU(0.2),
        layers.Dropout(dropout),
        layers.Conv2D(4 * width, 4, strides=2, padding="same"), layers.BatchNormalization(), layers.LeakyReLU(0.2),
        layers.Dropout(dropout),
        layers.Flatten(),
        layers.Dense(1),
    ])


def _discriminator_with(first_bn=False, dropout_rate=None, use_dropout=True, act=lambda: layers.LeakyReLU(0.2),
                        output=None, fixed_width=None):
    def wrong_discriminator(width=64, dropout=0.3):
        w, rate = fixed_width or width, dropout if dropout_rate is None else dropout_rate
        model = keras.Sequential([keras.Input(shape=(32, 32, 3))])
        for i, filters in enumerate((w, 2 * w, 4 * w)):
            model.add(layers.Conv2D(filters, 4, strides=2, padding="same"))
            if i > 0 or first_bn:
                model.add(layers.BatchNormalization())
            model.add(act())
            if use_dropout:
                model.add(layers.Dropout(rate))
        model.add(layers.Flatten())
        model.add(layers.Dense(1, activation=output))
        return model
    return wrong_discriminator


def test_discriminator_passes(capsys):
    assert_passes(capsys, checks.check_discriminator, build_discriminator)


WRONG_DISCRIMINATOR = {
    "sigmoid at the end": (_discriminator_with(output="sigmoid"), r"no sigmoid at the end"),
    "BatchNorm on the first conv": (_discriminator_with(first_bn=True),
                                    r"operation 2 .* is batchnorm.*expected activation\(leaky_relu\(0\.2\)\)"),
    "no Dropout": (_discriminator_with(use_dropout=False), r"expected dropout\(0\.3\).*it is missing"),
    "Dropout rate hard-coded (ignores dropout)": (
        _discriminator_with(dropout_rate=0.3),
        r"\(width=4, dropout=0\.25\).*is dropout\(0\.3\).*expected dropout\(0\.25\)"),
    "Dropout 0.5": (_discriminator_with(dropout_rate=0.5), r"is dropout\(0\.5\).*expected dropout\(0\.3\)"),
    "ReLU instead of LeakyReLU": (_discriminator_with(act=layers.ReLU),
                                  r"is activation\(relu\).*expected activation\(leaky_relu\(0\.2\)\)"),
    "hard-coded width 64": (_discriminator_with(fixed_width=64), r"\(width=4, dropout=0\.25\).*expected conv\(4, 4x4"),
    "no dropout argument": (lambda width=64: build_discriminator(width), r"keyword argument\(s\) \['dropout'\]"),
}


@pytest.mark.parametrize("name", WRONG_DISCRIMINATOR)
def test_discriminator_rejects(name):
    wrong, match = WRONG_DISCRIMINATOR[name]
    rejected(checks.check_discriminator, wrong, match=match)


def test_discriminator_first_batchnorm_message_says_so():
    rejected(checks.check_discriminator, _discriminator_with(first_bn=True), match=r"(?i)first conv.*batch ?norm")


def test_discriminator_accepts_the_leaky_relu_activation_string(capsys):
    assert_passes(capsys, checks.check_discriminator, _discriminator_with(act=lambda: layers.Activation("leaky_relu")))


def _discriminator_styled(bias_before_bn=True, first_bias=True, first_activation=None, act_before_bn=False,
                          act=lambda: layers.LeakyReLU(0.2)):
    """Story 1's discriminator in other styles: the bias of the convs BatchNorm follows, the first conv's bias, its
    activation given as ``activation=`` (folded into the conv), an activation placed before BatchNorm."""
    def build(width=64, dropout=0.3):
        model = keras.Sequential([keras.Input(shape=(32, 32, 3))])
        model.add(layers.Conv2D(width, 4, strides=2, padding="same", use_bias=first_bias,
                                activation=first_activation))
        if first_activation is None:
            model.add(act())
        model.add(layers.Dropout(dropout))
        for filters in (2 * width, 4 * width):
            model.add(layers.Conv2D(filters, 4, strides=2, padding="same", use_bias=bias_before_bn))
            model.add(act() if act_before_bn else layers.BatchNormalization())
            model.add(layers.BatchNormalization() if act_before_bn else act())
            model.add(layers.Dropout(dropout))
        model.add(layers.Flatten())
        model.add(layers.Dense(1))
        return model
    return build


@pytest.mark.parametrize("answer", [
    _discriminator_styled(bias_before_bn=False),
    _discriminator_styled(first_activation=layers.LeakyReLU(0.2)),
    _discriminator_styled(bias_before_bn=False, first_activation=tf.nn.leaky_relu),  # its default slope is 0.2
    _discriminator_styled(first_activation="leaky_relu", act=lambda: layers.ReLU(negative_slope=0.2)),
], ids=["use_bias=False before BatchNorm", "activation=LeakyReLU(0.2) layer", "activation=tf.nn.leaky_relu",
        "activation string, ReLU(negative_slope=0.2)"])
def test_discriminator_accepts_every_style_the_handout_allows(capsys, answer):
    """A bias right before BatchNorm is redundant, not wrong (the handout's table keeps Keras' default, its rule for
    the generator leaves it out): both pass, each compared with the spec's parameter count for that choice; an
    activation folded into the conv computes the same as a layer after it."""
    assert_passes(capsys, checks.check_discriminator, answer)


def test_discriminator_still_wants_the_bias_no_batchnorm_follows():
    msg = rejected(checks.check_discriminator, _discriminator_styled(first_bias=False),
                   match=r"is conv\(64, 4x4, stride 2, same, no bias\).*expected conv\(64, 4x4, stride 2, same, bias\)"
                         r".*keep the bias")
    assert "use_bias=False" not in msg


def test_discriminator_names_a_folded_activation_by_what_it_computes():
    msg = rejected(checks.check_discriminator, _discriminator_styled(first_activation=layers.LeakyReLU()),
                   match=r"activation\(leaky_relu\(0\.3\)\).*expected activation\(leaky_relu\(0\.2\)\).*default slope")
    assert " object at 0x" not in msg and "<" not in msg


@pytest.mark.parametrize("check, answer", [
    (checks.check_discriminator, _discriminator_styled(act_before_bn=True)),
    (checks.check_generator, lambda latent_dim=100, width=64: keras.Sequential(
        [keras.Input(shape=(latent_dim,)), layers.Dense(4 * 4 * 8 * width, use_bias=False), layers.LeakyReLU(0.2),
         layers.BatchNormalization(), *build_generator(latent_dim, width).layers[3:]])),
], ids=["discriminator", "generator"])
def test_network_names_leaky_relu_before_batchnorm(check, answer):
    msg = rejected(check, answer, match=re.escape("LeakyReLU before BatchNorm: put BatchNorm between the convolution "
                                                  "and the activation"))
    assert "missing" not in msg


def test_discriminator_relu_is_told_to_use_leaky_relu():
    msg = rejected(checks.check_discriminator, _discriminator_with(act=layers.ReLU),
                   match=r"(?s)is activation\(relu\).*Hint: .*not ReLU.*layers\.LeakyReLU\(0\.2\)")
    assert "tanh" not in msg


@pytest.mark.parametrize("answer", [
    lambda width=64, dropout=0.3: gan_kit.models.build_discriminator((32, 32, 3), width, dropout),
    lambda width=64, dropout=0.3: kit_build_d((32, 32, 3), width, dropout),
], ids=["module attr", "calls the alias"])
def test_discriminator_refuses_the_kit(answer):
    rejected(checks.check_discriminator, answer, match=f"{KIT} gan_kit.models.build_discriminator")
    assert gan_kit.models.build_discriminator((32, 32, 3), 4, 0.25).output_shape == (None, 1)


def test_discriminator_lets_a_stub_through():
    def build_discriminator(width=64, dropout=0.3):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        checks.check_discriminator(build_discriminator)


# ================================================================= check_train_step (story 1's rule)
def make_train_step(generator, discriminator, g_optimizer, d_optimizer):
    cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)

    @tf.function
    def train_step(real_images, noise):
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake_images = generator(noise, training=True)
            real_logits = discriminator(real_images, training=True)
            fake_logits = discriminator(fake_images, training=True)
            g_loss = cross_entropy(tf.ones_like(fake_logits), fake_logits)
            d_loss = (cross_entropy(tf.ones_like(real_logits), real_logits)
                      + cross_entropy(tf.zeros_like(fake_logits), fake_logits))
        g_grads = g_tape.gradient(g_loss, generator.trainable_variables)
        d_grads = d_tape.gradient(d_loss, discriminator.trainable_variables)
        g_optimizer.apply_gradients(zip(g_grads, generator.trainable_variables))
        d_optimizer.apply_gradients(zip(d_grads, discriminator.trainable_variables))
        return {"g_loss": g_loss, "d_loss": d_loss}

    return train_step


def make_alternating_step(generator, discriminator, g_optimizer, d_optimizer):
    def step(real, noise):
        with tf.GradientTape() as tape:
            fake_logits = discriminator(generator(noise, training=True), training=True)
            real_logits = discriminator(real, training=True)
            d_value = d_loss(real_logits, fake_logits)
        grads = tape.gradient(d_value, discriminator.trainable_variables)
        d_optimizer.apply_gradients(zip(grads, discriminator.trainable_variables))
        with tf.GradientTape() as tape:
            g_value = g_loss(discriminator(generator(noise, training=True), training=True))
        grads = tape.gradient(g_value, generator.trainable_variables)
        g_optimizer.apply_gradients(zip(grads, generator.trainable_variables))
        return {"g_loss": g_value, "d_loss": d_value}

    return step


def _step_with(rule="story1", training=True, apply_g=True, apply_d=True, decorate=True, returns="dict",
               swap_optimizers=False, new_noise=False, fake_first=False, losses=(d_loss, g_loss), g_training=None,
               d_real_training=None, d_fake_training=None, joined=False, swap_d_args=False, own_noise=False,
               mix_up=None):
    """A step factory with one mistake (or none: the defaults are story 1's rule). ``new_noise``: G's update (of
    the alternating rule) draws fresh noise; ``own_noise``: the step ignores its noise argument and draws its
    own; ``mix_up``: "g_grads_to_d" (G's gradients given to D's optimizer with D's variables) or "d_grads_to_g"
    (D's gradients zipped with G's variables)."""
    d_fn, g_fn = losses
    g_training = training if g_training is None else g_training
    d_real_training = training if d_real_training is None else d_real_training
    d_fake_training = training if d_fake_training is None else d_fake_training

    def make_step(generator, discriminator, g_optimizer, d_optimizer):
        g_opt, d_opt = (d_optimizer, g_optimizer) if swap_optimizers else (g_optimizer, d_optimizer)
        g_vars, d_vars = generator.trainable_variables, discriminator.trainable_variables

        def judge(real, fake_images):
            if joined:
                logits = discriminator(tf.concat([real, fake_images], 0), training=d_real_training)
                return logits[: tf.shape(real)[0]], logits[tf.shape(real)[0]:]
            if fake_first:
                fake_logits = discriminator(fake_images, training=d_fake_training)
                return discriminator(real, training=d_real_training), fake_logits
            return discriminator(real, training=d_real_training), discriminator(fake_images, training=d_fake_training)

        def d_value(real_logits, fake_logits):
            return d_fn(fake_logits, real_logits) if swap_d_args else d_fn(real_logits, fake_logits)

        def step(real, noise):
            if own_noise:
                noise = tf.random.normal(tf.shape(noise))
            if rule == "alternating":
                with tf.GradientTape() as tape:
                    real_logits, fake_logits = judge(real, generator(noise, training=g_training))
                    d_loss_value = d_value(real_logits, fake_logits)
                if apply_d:
                    d_opt.apply_gradients(zip(tape.gradient(d_loss_value, d_vars), d_vars))
                g_noise = tf.random.normal(tf.shape(noise)) if new_noise else noise
                with tf.GradientTape() as tape:
                    g_loss_value = g_fn(discriminator(generator(g_noise, training=g_training),
                                                      training=d_fake_training))
                if apply_g:
                    g_opt.apply_gradients(zip(tape.gradient(g_loss_value, g_vars), g_vars))
            else:
                with tf.GradientTape(persistent=True) as tape:
                    real_logits, fake_logits = judge(real, generator(noise, training=g_training))
                    g_loss_value, d_loss_value = g_fn(fake_logits), d_value(real_logits, fake_logits)
                    both = g_loss_value + d_loss_value
                g_target, d_target = {"story1": (g_loss_value, d_loss_value),
                                      "swapped": (d_loss_value, g_loss_value),
                                      "one_loss": (both, both)}[rule]
                g_grads, d_grads = tape.gradient(g_target, g_vars), tape.gradient(d_target, d_vars)
                if mix_up == "g_grads_to_d":
                    d_grads = g_grads
                if mix_up == "d_grads_to_g":
                    g_grads = d_grads
                if apply_g:
                    g_opt.apply_gradients(zip(g_grads, g_vars))
                if apply_d:
                    d_opt.apply_gradients(zip(d_grads, d_vars))
            if returns == "tuple":
                return g_loss_value, d_loss_value
            return {"g_loss": g_loss_value, "d_loss": d_loss_value}

        return tf.function(step) if decorate else step

    return make_step


def test_train_step_passes(capsys):
    assert_passes(capsys, checks.check_train_step, make_train_step)
    assert_passes(capsys, checks.check_train_step, _step_with())  # one persistent tape, tf.nn losses


def test_train_step_accepts_d_on_fake_first(capsys):
    assert_passes(capsys, checks.check_train_step, _step_with(fake_first=True))


WRONG_TRAIN_STEP = {
    "swapped gradients": (_step_with(rule="swapped"), "swapped gradients: D followed G's loss"),
    "one loss (g_loss + d_loss) for both": (_step_with(rule="one_loss"), r"one loss \(g_loss \+ d_loss\)"),
    "the alternating rule": (_step_with(rule="alternating"),
                             r"(?s)differs from story 1's rule.*what the alternating rule \(G's loss through the "
                             r"already updated D\) gives"),
    "no training=True": (_step_with(training=False), r"called without training=True"),
    "forgot G's update": (_step_with(apply_g=False), r"update of the generator's weights differs"),
    "forgot D's update": (_step_with(apply_d=False), r"update of the discriminator's weights differs"),
    "not a tf.function": (_step_with(decorate=False), r"@tf\.function"),
    "returns a tuple": (_step_with(returns="tuple"), r"must return a dict with at least 'g_loss' and 'd_loss'"),
    "saturating G loss inside": (_step_with(losses=(d_loss, WRONG_G["saturating log(1 - D(G(z)))"][0])),
                                 r"the generator's weights differs from story 1's rule"),
}


@pytest.mark.parametrize("name", WRONG_TRAIN_STEP)
def test_train_step_rejects(name):
    wrong, match = WRONG_TRAIN_STEP[name]
    rejected(checks.check_train_step, wrong, match=match)


def test_train_step_judges_the_maths_of_a_plain_function():
    """A step without @tf.function gets the verdict on its maths too: right maths, only the decorator to add; wrong
    maths, the mistake named, and the decorator."""
    msg = rejected(checks.check_train_step, _step_with(decorate=False),
                   match=re.escape("the update is right, but decorate train_step with @tf.function"))
    assert "differs" not in msg
    rejected(checks.check_train_step, _step_with(decorate=False, g_training=False),
             match=r"(?s)what calling G without training=True.*Also decorate train_step with @tf\.function")


def _no_dump(msg: str) -> None:
    """A message is sentences: no traceback, no TensorFlow frames, no tensor or weight dump."""
    assert "Traceback" not in msg and 'File "' not in msg and "in user code" not in msg, msg
    assert not re.search(r"(-?\d+\.\d+(e[-+]?\d+)?[,\s\]\[]+){7,}", msg), msg
    assert len(msg) < 1200, msg


NAMED_TRAIN_STEP = {
    "training=True missing from G": (_step_with(g_training=False),
                                     r"what calling G without training=True \(its BatchNorm"),
    "training=True missing from D": (_step_with(d_real_training=False, d_fake_training=False),
                                     r"what calling D without training=True \(its BatchNorm"),
    "training=True missing from D's real call": (_step_with(d_real_training=False),
                                                 r"what leaving training=True out of D's call on the real batch"),
    "training=True missing from D's fake call": (_step_with(d_fake_training=False),
                                                 r"what leaving training=True out of D's call on the generated batch"),
    "noise drawn in the step": (_step_with(own_noise=True), r"it draws its own noise\. Use the noise argument"),
    "D once on concat([real, fake])": (_step_with(joined=True), r"what calling D once on tf\.concat\(\[real, fake\]\)"),
    "D loss's arguments swapped": (_step_with(swap_d_args=True), r"what swapping discriminator_loss's arguments"),
    "optimizers swapped": (_step_with(swap_optimizers=True), r"what swapping the two optimizers"),
    "G's gradients to D's optimizer": (_step_with(mix_up="g_grads_to_d"),
                                       r"^the step: G's gradients were given to d_optimizer with D's variables"),
    "D's gradients zipped with G's variables": (
        _step_with(mix_up="d_grads_to_g"), r"^the step: D's gradients were given to g_optimizer with G's variables"),
    "G's gradients to D's optimizer (eager)": (_step_with(mix_up="g_grads_to_d", decorate=False),
                                               r"^the step: G's gradients were given to d_optimizer"),
    "saturating G loss": (_step_with(losses=(d_loss, WRONG_G["saturating log(1 - D(G(z)))"][0])),
                          r"what the saturating G loss log\(1 - D\(G\(z\)\)\)"),
}


@pytest.mark.parametrize("name", NAMED_TRAIN_STEP)
def test_train_step_names_each_mistake(name):
    wrong, match = NAMED_TRAIN_STEP[name]
    _no_dump(rejected(checks.check_train_step, wrong, match=match))


def test_train_step_reports_an_error_inside_the_tf_function_briefly():
    def make_step(generator, discriminator, g_optimizer, d_optimizer):
        @tf.function
        def step(real, noise):
            generator(tf.reshape(noise, [-1, 3]), training=True)  # a shape error inside the graph
            return {"g_loss": 0.0, "d_loss": 0.0}
        return step

    _no_dump(rejected(checks.check_train_step, make_step, match=r"^the step raised ValueError: (?!ValueError)"))


def test_train_step_names_a_gradient_mix_up_from_the_record(tmp_path):
    """At grading the step runs in the notebook and is judged from its record: the mix-up's message is recorded."""
    from gan_kit.checks import steps

    fixture = fixtures.load("train_step", 0)
    outputs = steps.collect_train_step({"make_train_step": _step_with(mix_up="d_grads_to_g")}, fixture)
    np.savez(tmp_path / "record.npz", **outputs)
    with np.load(tmp_path / "record.npz", allow_pickle=False) as stored:
        outputs = dict(stored)
    with pytest.raises(checks.CheckFailed, match=r"D's gradients were given to g_optimizer with G's variables"):
        steps.judge_train_step(outputs, fixture)


def test_train_step_forgotten_update_says_did_not_change():
    rejected(checks.check_train_step, _step_with(apply_g=False), match=r"G's weights did not change")


@pytest.mark.parametrize("answer", [lambda g, d, go, do: gan_kit.steps.story1_train_step(g, d, go, do), kit_story1],
                         ids=["module attr", "the alias"])
def test_train_step_refuses_the_kit(answer):
    rejected(checks.check_train_step, answer, match=f"{KIT} gan_kit.steps.story1_train_step")
    assert callable(gan_kit.steps.story1_train_step(None, None, None, None))


def test_train_step_refuses_a_kit_loss_inside_the_tf_function():
    rejected(checks.check_train_step, _step_with(losses=(kit_d_loss, g_loss)), match=KIT)
    assert np.isclose(float(kit_d_loss(tf.zeros((2, 1)), tf.zeros((2, 1)))), 2 * np.log(2.0))


def test_train_step_names_the_kit_loss_called_inside_the_tf_function():
    rejected(checks.check_train_step, _step_with(losses=(kit_d_loss, g_loss)),
             match=r"^the step: your answer called the kit's own gan_kit\.losses\.bce_discriminator_loss\(\)")


def test_train_step_lets_a_stub_through():
    with pytest.raises(NotImplementedError):
        checks.check_train_step(stub)


# ================================================================= check_toy_step (the alternating rule)
def test_toy_step_passes(capsys):
    assert_passes(capsys, checks.check_toy_step, make_alternating_step)
    assert_passes(capsys, checks.check_toy_step, _step_with(rule="alternating"))  # a tf.function is fine too


WRONG_TOY_STEP = {
    "story 1's rule": (_step_with(decorate=False),
                       r"(?s)differs from the alternating rule.*what story 1's rule \(both losses from one forward "
                       r"pass, before either update\) gives"),
    "forgot D's update": (_step_with(rule="alternating", apply_d=False), r"D's weights did not change"),
    "forgot G's update": (_step_with(rule="alternating", apply_g=False), r"G's weights did not change"),
    "new noise for G's step": (_step_with(rule="alternating", new_noise=True),
                               r"the generator's weights differs from the alternating rule.*G's update drew fresh "
                               r"noise"),
    "returns a tuple": (_step_with(rule="alternating", returns="tuple"), r"must return a dict"),
}


@pytest.mark.parametrize("name", WRONG_TOY_STEP)
def test_toy_step_rejects(name):
    wrong, match = WRONG_TOY_STEP[name]
    rejected(checks.check_toy_step, wrong, match=match)


def test_toy_step_rejects_swapped_optimizers():
    rejected(checks.check_toy_step, _step_with(rule="alternating", swap_optimizers=True),
             match="what swapping the two optimizers")


def _log_sigmoid_d(real, fake):
    return -tf.reduce_mean(tf.math.log_sigmoid(real)) - tf.reduce_mean(tf.math.log_sigmoid(-fake))


def _log_sigmoid_g(fake):
    return -tf.reduce_mean(tf.math.log_sigmoid(fake))


def _naive_d(real, fake):
    return -tf.reduce_mean(tf.math.log(tf.sigmoid(real))) - tf.reduce_mean(tf.math.log(1.0 - tf.sigmoid(fake)))


def _naive_g(fake):
    return -tf.reduce_mean(tf.math.log(tf.sigmoid(fake)))


@pytest.mark.parametrize("losses", [(d_loss_keras, g_loss_keras), (_log_sigmoid_d, _log_sigmoid_g)],
                         ids=["keras BCE from logits (the handout)", "tf.math.log_sigmoid"])
def test_toy_step_accepts_stable_losses_on_large_logits(capsys, losses):
    assert_passes(capsys, checks.check_toy_step, _step_with(rule="alternating", decorate=False, losses=losses))


NAMED_TOY_STEP = {
    "D's loss as log(sigmoid(x))": ((_naive_d, g_loss),
                                    r"(?s)NaN or infinite values in .*D's weights.*from the logits"),
    "G's loss as log(sigmoid(x))": ((d_loss, _naive_g), r"(?s)NaN or infinite values in G's weights.*from the logits"),
    "both losses as log(sigmoid(x))": ((_naive_d, _naive_g), r"overflow in float32"),
    "saturating G loss": ((d_loss, WRONG_G["saturating log(1 - D(G(z)))"][0]),
                          r"what the saturating G loss log\(1 - D\(G\(z\)\)\)"),
    "swapped labels": ((WRONG_D["swapped labels"][0], g_loss), r"what swapped labels in D's loss"),
    "halved D loss": ((WRONG_D["averaging the two terms"][0], g_loss), r"what halving D's loss"),
}


@pytest.mark.parametrize("name", NAMED_TOY_STEP)
def test_toy_step_names_each_mistake(name):
    losses, match = NAMED_TOY_STEP[name]
    _no_dump(rejected(checks.check_toy_step, _step_with(rule="alternating", decorate=False, losses=losses),
                      match=match))


@pytest.mark.parametrize("answer, match", [
    (_step_with(rule="alternating", new_noise=True), r"G's update drew fresh noise"),
    (_step_with(rule="alternating", own_noise=True), r"it draws its own noise"),
    (_step_with(rule="alternating", swap_optimizers=True), r"what swapping the two optimizers"),
], ids=["fresh noise for G's update", "noise drawn in the step", "optimizers swapped"])
def test_toy_step_names_noise_and_optimizer_mistakes(answer, match):
    _no_dump(rejected(checks.check_toy_step, answer, match=match))


def test_toy_step_messages_hold_no_weight_dump():
    for wrong, match in WRONG_TOY_STEP.values():
        _no_dump(rejected(checks.check_toy_step, wrong, match=match))


@pytest.mark.parametrize("name, seed", [("train_step", 0), ("toy_step", 0), ("train_step", 3), ("toy_step", 5)])
def test_step_fixtures_tell_every_mistake_apart(name, seed):
    """Each stored wrong variant's weights differ, at the check's tolerance, from the right ones and from every other
    variant's, so the message names the one the student made; the toy's D starts with logits beyond +-100."""
    from gan_kit.checks import steps
    from gan_kit.instructor import references

    case = references.build_fixture(name, seed)["cases"][0]
    trainable = case["inputs"]["trainable"]

    def same(a, b):
        return all(steps._same([np.asarray(w) for w in a[net]], b[net], trainable[net]) for net in steps.NETS)

    variants = [("right", case["expected"]), *case["mistakes"]["weights"].items()]
    for i, (meaning, weights) in enumerate(variants):
        assert not any(same(weights, other) for _, other in variants[i + 1:]), meaning
    assert len(variants) >= (14 if name == "train_step" else 8)
    if name == "toy_step":
        g, d = steps.tiny_toy_networks()
        g.set_weights([np.asarray(w, np.float32) for w in case["inputs"]["generator"]])
        d.set_weights([np.asarray(w, np.float32) for w in case["inputs"]["discriminator"]])
        logits = np.asarray(d(g(np.asarray(case["inputs"]["noise"], np.float32))))
        assert logits.min() < -100 and logits.max() > 100


@pytest.mark.parametrize("answer, name", [
    (lambda g, d, go, do: gan_kit.steps.alternating_train_step(g, d, go, do), "steps.alternating_train_step"),
    (kit_alternating, "steps.alternating_train_step"),
    (_step_with(rule="alternating", decorate=False, losses=(d_loss, kit_g_loss)), "losses.bce_generator_loss"),
], ids=["module attr", "the alias", "own plain step, kit loss"])
def test_toy_step_refuses_the_kit(answer, name):
    rejected(checks.check_toy_step, answer, match=rf"^(make_toy_step|the step): your answer {KIT} gan_kit\.{name}\(\)")
    assert callable(gan_kit.steps.alternating_train_step(None, None, None, None))
    assert np.isclose(float(kit_g_loss(tf.zeros((2, 1)))), np.log(2.0))


def test_toy_step_lets_a_stub_through():
    with pytest.raises(NotImplementedError):
        checks.check_toy_step(stub)


# ================================================================= kit_disabled itself
def test_kit_disabled_restores_the_code_when_the_block_raises():
    before = kit_g_loss.__code__
    with pytest.raises(checks.KitCallError, match=re.escape(f"{KIT} gan_kit.losses.bce_generator_loss()")):
        with checks.kit_disabled(["losses:bce_generator_loss"]):
            kit_g_loss(tf.zeros((1, 1)))
    assert kit_g_loss.__code__ is before
    assert np.isclose(float(kit_g_loss(tf.zeros((1, 1)))), np.log(2.0))


# ================================================================= stored expected values (gan_kit.checks.fixtures)
CHECK_CASES = {  # check -> (check, a correct answer's args, a wrong answer's args, what the wrong one's message names)
    "gan_losses": (checks.check_gan_losses, (d_loss, g_loss), (WRONG_D["swapped labels"][0], g_loss),
                   r"swapped labels \(real against 0"),
    "gradient_penalty": (checks.check_gradient_penalty, (gradient_penalty,), (WRONG_GP["the squared norm"][0],),
                         "the squared norm instead of the norm"),
    "reparameterize": (checks.check_reparameterize, (reparameterize,), (WRONG_REPARAMETERIZE["log_var * eps"][0],),
                       r"what log_var \* eps gives"),
    "kl": (checks.check_kl, (kl_divergence,), (WRONG_KL["missing 1/2"][0],), "leaving out the factor 1/2"),
    "fid": (checks.check_fid, (fid_from_features,), (WRONG_FID["ddof=0"][0],), "ddof=0 covariances"),
    "conditional_input": (checks.check_conditional_input, (conditional_input,),
                          (WRONG_CONDITIONAL["one-hot first"][0],), "the one-hot label comes first"),
    "train_step": (checks.check_train_step, (make_train_step,), (WRONG_TRAIN_STEP["swapped gradients"][0],),
                   "swapped gradients: D followed G's loss"),
    "toy_step": (checks.check_toy_step, (make_alternating_step,), (WRONG_TOY_STEP["story 1's rule"][0],),
                 r"what story 1's rule \(both losses"),
}
HONEST = "no stored expected values for check {} with seed {} in this release; the self-checks use the default seed"


@pytest.fixture(scope="module")
def public_fixture_files(tmp_path_factory):
    """The fixture files a student release ships (the public seeds), written by the instructor's references."""
    from gan_kit.instructor import references

    folder = tmp_path_factory.mktemp("fixtures")
    written = references.write_fixtures(folder, fixtures.PUBLIC_SEEDS)
    assert sorted(p.name for p in written) == sorted(p.name for p in folder.iterdir())
    return folder


def _as_release(monkeypatch, folder):
    """As in a student release: fixtures read from ``folder``, ``gan_kit.instructor`` not importable."""
    monkeypatch.setattr(fixtures, "FIXTURE_DIR", folder)
    monkeypatch.setitem(sys.modules, "gan_kit.instructor", None)
    monkeypatch.setitem(sys.modules, "gan_kit.instructor.references", None)
    fixtures.clear_memo()


@pytest.mark.parametrize("name", CHECK_CASES)
def test_release_checks_judge_from_stored_fixtures(capsys, monkeypatch, public_fixture_files, name):
    check, right, wrong, match = CHECK_CASES[name]
    _as_release(monkeypatch, public_fixture_files)
    with pytest.raises(ImportError):
        __import__("gan_kit.instructor.references")
    assert_passes(capsys, check, *right)
    rejected(check, *wrong, match=match)
    assert not fixtures._MEMO  # read from the files, nothing built


@pytest.mark.parametrize("name", CHECK_CASES)
def test_without_fixture_or_instructor_the_message_is_honest(monkeypatch, tmp_path, name):
    check, right, _, _ = CHECK_CASES[name]
    _as_release(monkeypatch, tmp_path)
    seed = fixtures.PUBLIC_SEEDS[name][0]
    message = rejected(check, *right, match=re.escape(HONEST.format(name, seed)))
    assert message.endswith("(the grader uses others)")


@pytest.mark.parametrize("call, args", [
    ("check_fid", {"seed": 11}), ("check_train_step", {"seed": 3}), ("check_toy_step", {"seed": 5}),
    ("check_gan_losses", {"seed": 13}), ("check_gradient_penalty", {"seed": 9}),
], ids=["fid", "train_step", "toy_step", "gan_losses", "gradient_penalty"])
def test_release_refuses_a_grader_seed_honestly(monkeypatch, public_fixture_files, call, args):
    name = call.removeprefix("check_")
    check, right, _, _ = CHECK_CASES[name]
    _as_release(monkeypatch, public_fixture_files)
    rejected(check, *right, **args, match=re.escape(HONEST.format(name, args["seed"])))


@pytest.mark.parametrize("name, kwargs", [
    ("fid", {"seed": 11}), ("train_step", {"seed": 3}), ("toy_step", {"seed": 5}), ("gan_losses", {"seed": 13}),
    ("gradient_penalty", {"seed": 9}), ("conditional_input", {"num_classes": 7}),
])
def test_instructor_builds_other_seeds_in_memory(capsys, name, kwargs):
    check, right, wrong, match = CHECK_CASES[name]
    before = sorted(fixtures.FIXTURE_DIR.glob("*")) if fixtures.FIXTURE_DIR.is_dir() else []
    assert_passes(capsys, check, *right, **kwargs)
    rejected(check, *wrong, match=match, **kwargs)
    assert (sorted(fixtures.FIXTURE_DIR.glob("*")) if fixtures.FIXTURE_DIR.is_dir() else []) == before


def test_fixtures_are_plain_json_and_memoised():
    from gan_kit.instructor import references

    fixture = references.build_fixture("gan_losses", 13)
    assert json.loads(json.dumps(fixture, allow_nan=False)) == fixture
    assert fixture["check"] == "gan_losses" and fixture["seed"] == 13 and len(fixture["cases"]) == 4
    case = fixture["cases"][0]
    assert set(case) >= {"where", "inputs", "expected", "mistakes"}
    assert "summing over the batch instead of averaging" in case["mistakes"]["discriminator_loss"]
    assert fixtures.file_name("kl", None) == "kl-none.json" and fixtures.file_name("fid", 11) == "fid-11.json"
    assert fixtures.load("fid", 4) is fixtures.load("fid", 4)
    with pytest.raises(ValueError):
        references.build_fixture("kl", 3)
    with pytest.raises(ValueError):
        references.build_fixture("no_such_check", 0)


@pytest.mark.parametrize("name, key", [("fid", "fid_from_features"), ("toy_step", "make_toy_step"),
                                       ("gradient_penalty", "gradient_penalty")])
def test_collect_and_judge_run_apart(tmp_path, name, key):
    """collect's arrays survive a trip through a file (another process), and judge gives the same verdicts."""
    from gan_kit.checks import formulas, steps

    module = steps if name.endswith("step") else formulas
    collect, judge = getattr(module, f"collect_{name}"), getattr(module, f"judge_{name}")
    fixture = fixtures.load(name, 0)
    _, right, wrong, match = CHECK_CASES[name]
    for answer, verdict in ((right[0], None), (wrong[0], match)):
        outputs = collect({key: answer}, fixture)
        assert all(isinstance(v, np.ndarray) for v in outputs.values())
        np.savez(tmp_path / "outputs.npz", **outputs)
        with np.load(tmp_path / "outputs.npz", allow_pickle=False) as stored:
            outputs = dict(stored)
        if verdict is None:
            judge(outputs, json.loads(json.dumps(fixture)))
        else:
            with pytest.raises(checks.CheckFailed, match=verdict):
                judge(outputs, fixture)


def test_a_failure_in_collect_is_judged_in_its_turn():
    """The given-alpha case is judged before the alpha=None call's error (stored by collect) is raised."""
    from gan_kit.checks import formulas

    def breaks_without_alpha(critic, real, fake, alpha=None):
        if alpha is None:
            raise ValueError("no alpha")
        return _gp_with(norm=lambda g: tf.reduce_sum(tf.square(g), axis=1))(critic, real, fake, alpha)

    outputs = formulas.collect_gradient_penalty({"gradient_penalty": breaks_without_alpha},
                                                fixtures.load("gradient_penalty", 0))
    assert str(outputs["error/drawn_penalty"]).startswith("gradient_penalty (alpha left out) raised ValueError")
    rejected(checks.check_gradient_penalty, breaks_without_alpha, match="the squared norm instead of the norm")
    rejected(checks.check_gradient_penalty, lambda c, r, f, alpha=None: breaks_without_alpha(c, r, f, alpha),
             match="the squared norm")
    rejected(checks.check_gradient_penalty, lambda c, r, f, alpha=None: gradient_penalty(c, r, f, alpha)
             if alpha is not None else breaks_without_alpha(c, r, f), match=r"alpha left out\) raised ValueError")


# ----------------------------------------------------------------- the gradient penalty's own alphas (alpha=None)
def _gp_drawing(draw):
    def penalty(critic, real, fake, alpha=None):
        return gradient_penalty(critic, real, fake, draw(real) if alpha is None else alpha)
    return penalty


def _mix_per_pixel(critic, real, fake, alpha=None):
    if alpha is None:
        return _gp_with(mix=lambda r, f, a: r + tf.random.uniform(tf.shape(r)) * (f - r))(critic, real, fake)
    return gradient_penalty(critic, real, fake, alpha)


@pytest.mark.parametrize("answer", [
    _gp_drawing(lambda r: keras.random.uniform((r.shape[0],))),
    tf.function(gradient_penalty),
    lambda critic, real, fake, alpha=None: gradient_penalty(lambda x: critic(x, training=True), real, fake, alpha),
], ids=["keras.random", "tf.function", "training=True"])
def test_gradient_penalty_accepts_drawn_alphas(capsys, answer):
    assert_passes(capsys, checks.check_gradient_penalty, answer)


@pytest.mark.parametrize("answer, match", [
    (_gp_drawing(lambda r: tf.fill([tf.shape(r)[0]], tf.random.uniform([]))), r"same alpha.*one alpha per example"),
    (_gp_drawing(lambda r: tf.fill([tf.shape(r)[0]], 0.5)), r"same alpha \(0\.5\)"),
    (_gp_drawing(lambda r: tf.random.normal([tf.shape(r)[0]])), r"alphas from .* to .*U\(0, 1\)"),
    (_mix_per_pixel, r"not one per pixel"),
    (lambda critic, real, fake, alpha=None: gradient_penalty(critic, real, fake, alpha) * (2.0 if alpha is None
                                                                                          else 1.0),
     r"alpha left out.*\(the alphas it drew, .* read from where it called the critic\): expected"),
], ids=["one alpha for the batch", "alpha = 0.5", "normal alphas", "alpha per pixel", "a wrong value"])
def test_gradient_penalty_judges_drawn_alphas(answer, match):
    rejected(checks.check_gradient_penalty, answer, match=match)


# ----------------------------------------------------------------- no reference computation ships in gan_kit/checks
CHECKS_DIR = Path(checks.__file__).parent
# Calls that compute an expected value (or a known mistake's): none may remain in gan_kit/checks/.
REFERENCE_CALLS = {"softplus", "logaddexp", "sqrtm", "cov", "svd", "eigvals", "exp", "log", "sigmoid", "tanh",
                   "one_hot", "eye", "concatenate", "sigmoid_cross_entropy_with_logits", "assign_sub",
                   "apply_gradients", "gradient", "norm", "reduce_mean", "clone_model", "GradientTape"}


def _calls(tree: ast.AST) -> list[tuple[str, str]]:
    """(enclosing top-level function, called name) for every call in a module."""
    found = []
    for top in tree.body:
        for node in ast.walk(top):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                found.append((getattr(top, "name", ""), called))
    return found


@pytest.mark.parametrize("path", sorted(CHECKS_DIR.glob("*.py")), ids=lambda p: p.name)
def test_checks_source_holds_no_reference_computation(path):
    source = path.read_text()
    for text in ("logaddexp", "softplus", "tf.exp(0.5", "np.cov(a", "linalg.sqrtm(", "_fid_numpy",
                 "def _reference(rule", "_bce_d", "_bce_g", "GradientTape(persistent"):
        assert text not in source, f"{path.name} contains {text!r}"
    if path.name == "networks.py":  # the specification, and a network built from it: the assignment itself
        return
    calls = [(where, name) for where, name in _calls(ast.parse(source)) if name in REFERENCE_CALLS]
    # The exceptions: a tape around the student's penalty, to see whether *its* backward pass is finite, and the
    # distances from the points the student's critic saw to the real -> fake segments (which alpha was drawn).
    allowed = [("collect_gradient_penalty", "GradientTape"), ("collect_gradient_penalty", "gradient"),
               ("_judge_drawn_alpha", "norm")]
    assert [c for c in calls if c not in allowed] == [], path.name
    if path.name == "steps.py":
        assert "GradientTape" not in source


def test_gradient_penalty_rejects_a_penalty_cut_off_from_the_critic():
    rejected(checks.check_gradient_penalty, lambda c, r, f, alpha=None: float(gradient_penalty(c, r, f, alpha)),
             match=r"flat critic: the penalty has no gradient.*not a NumPy value or a float")
