"""The students' self-checks of formulas (``gan_kit.checks.formulas``), check by check; the rules below hold
for every check (``tests/checks/test_networks.py``, ``test_steps.py``).

For every check: a correct answer written here the way a student would (never calling the kit) passes
and prints "passed"; typical wrong answers are rejected with ``CheckFailed`` and a message naming the
mistake or the fix; an answer that calls the kit's own implementation (directly, or through a name
imported before the check ran) is refused, and the kit works again afterwards; a stub's
``NotImplementedError`` comes through unchanged.

``xfail(strict=True)`` marks a wrong answer a check lets through (or a correct one it refuses, or a
message that misses the point): when the check is fixed the test XPASSes, and the marker should go.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
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
from tests.checks.conftest import (
    KIT,
    WRONG_CONDITIONAL,
    WRONG_D,
    WRONG_FID,
    WRONG_G,
    WRONG_GP,
    WRONG_KL,
    WRONG_REPARAMETERIZE,
    _fid_with,
    _gp_with,
    assert_passes,
    conditional_input,
    d_loss,
    d_loss_keras,
    fid_from_features,
    g_loss,
    g_loss_keras,
    gradient_penalty,
    kl_divergence,
    rejected,
    reparameterize,
    stub,
)


def known_wrong(reason: str):
    """A wrong answer (or message) the check gets wrong today; strict, so fixing the check flags the marker."""
    return pytest.mark.xfail(strict=True, raises=(pytest.fail.Exception, AssertionError), reason=reason)


@pytest.mark.parametrize("d, g", [(d_loss, g_loss), (d_loss_keras, g_loss_keras)], ids=["tf.nn", "keras"])
def test_gan_losses_pass(capsys, d, g):
    assert_passes(capsys, checks.check_gan_losses, d, g)


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


def test_gradient_penalty_passes(capsys):
    assert_passes(capsys, checks.check_gradient_penalty, gradient_penalty)


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


def test_reparameterize_passes(capsys):
    assert_passes(capsys, checks.check_reparameterize, reparameterize)
    assert_passes(capsys, checks.check_reparameterize, lambda m, lv, e: m + np.sqrt(np.exp(lv)) * e)


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


def test_kl_passes(capsys):
    assert_passes(capsys, checks.check_kl, kl_divergence)
    assert_passes(capsys, checks.check_kl, lambda m, lv: -0.5 * np.sum(1 + lv - m**2 - np.exp(lv), axis=1))


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


def fid_by_eigenvalues(real_features, fake_features):
    """The handout's route (notebook 01): the square roots of the eigenvalues of S_r S_g, real parts clipped at 0."""
    mu_r, mu_g = real_features.mean(axis=0), fake_features.mean(axis=0)
    s_r, s_g = np.cov(real_features, rowvar=False), np.cov(fake_features, rowvar=False)
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvals(s_r @ s_g).real, 0, None)).sum()
    return float(((mu_r - mu_g) ** 2).sum() + np.trace(s_r) + np.trace(s_g) - 2 * trace_sqrt)


@pytest.mark.parametrize("answer", [fid_from_features, fid_by_eigenvalues], ids=["sqrtm", "eigvals (the handout)"])
def test_fid_passes(capsys, answer):
    assert_passes(capsys, checks.check_fid, answer)


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


def test_conditional_input_passes(capsys):
    assert_passes(capsys, checks.check_conditional_input, conditional_input)
    assert_passes(capsys, checks.check_conditional_input, lambda z, y, k: np.concatenate([z, np.eye(k)[y]], axis=1))
    assert_passes(capsys, checks.check_conditional_input, conditional_input, num_classes=7)


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


def test_gradient_penalty_rejects_a_penalty_cut_off_from_the_critic():
    rejected(checks.check_gradient_penalty, lambda c, r, f, alpha=None: float(gradient_penalty(c, r, f, alpha)),
             match=r"flat critic: the penalty has no gradient.*not a NumPy value or a float")
