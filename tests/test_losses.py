"""Tests for gan_kit.losses: hand-computed (golden) values of every loss family, the label handling, the
gradient penalty and its epsilon, feature matching and the AC-GAN class loss.

The VAE terms (kl_divergence, reconstruction_loss) are checked by hand in test_vae.py; the stabilization
switches that put these losses into the GAN step are tested in test_gan.py.
"""

import math

import numpy as np
import pytest
import tensorflow as tf

from gan_kit import losses
from gan_kit.losses import LOSSES, bce_discriminator_loss, bce_generator_loss, get_losses


def _sig(x):
    return 1 / (1 + math.exp(-x))


REAL = tf.constant([[2.0], [-0.5]])
FAKE = tf.constant([[-1.0], [0.5]])


# ============================================================================= the loss families


def test_bce_against_hand_values():
    real = tf.constant([[2.0], [0.0]])
    fake = tf.constant([[-1.0], [3.0]])
    expected_d = -np.mean([math.log(_sig(2.0)), math.log(_sig(0.0))]) - np.mean(
        [math.log(1 - _sig(-1.0)), math.log(1 - _sig(3.0))]
    )
    assert float(bce_discriminator_loss(real, fake)) == pytest.approx(expected_d, rel=1e-6)
    expected_g = -np.mean([math.log(_sig(-1.0)), math.log(_sig(3.0))])
    assert float(bce_generator_loss(fake)) == pytest.approx(expected_g, rel=1e-6)


def test_one_sided_label_smoothing():
    real = tf.constant([[1.5]])
    fake = tf.constant([[-10.0]])
    p = _sig(1.5)
    expected = -(0.9 * math.log(p) + 0.1 * math.log(1 - p)) - math.log(1 - _sig(-10.0))
    assert float(bce_discriminator_loss(real, fake, real_labels=0.9)) == pytest.approx(expected, rel=1e-5)


def test_registry():
    assert get_losses("bce") is LOSSES["bce"]
    with pytest.raises(ValueError, match="Valid losses"):
        get_losses("nope")


def test_minimax_generator_loss_is_log_one_minus_d():
    expected = np.mean([math.log(1 - _sig(-1.0)), math.log(1 - _sig(0.5))])
    assert float(losses.minimax_generator_loss(FAKE)) == pytest.approx(expected, rel=1e-6)
    assert losses.minimax_discriminator_loss is losses.bce_discriminator_loss


def test_hinge_values():
    # relu(1-2)=0, relu(1+0.5)=1.5 -> 0.75 ; relu(1-1)=0, relu(1+0.5)=1.5 -> 0.75
    assert float(losses.hinge_discriminator_loss(REAL, FAKE)) == pytest.approx(1.5)
    assert float(losses.hinge_generator_loss(FAKE)) == pytest.approx(0.25)


def test_wasserstein_values():
    assert float(losses.wasserstein_discriminator_loss(REAL, FAKE)) == pytest.approx(-0.25 - 0.75)
    assert float(losses.wasserstein_generator_loss(FAKE)) == pytest.approx(0.25)


def test_least_squares_values():
    d = 0.5 * (np.mean([(2 - 1) ** 2, (-0.5 - 1) ** 2]) + np.mean([1.0, 0.25]))
    assert float(losses.least_squares_discriminator_loss(REAL, FAKE)) == pytest.approx(d)
    g = 0.5 * np.mean([(-1 - 1) ** 2, (0.5 - 1) ** 2])
    assert float(losses.least_squares_generator_loss(FAKE)) == pytest.approx(g)


def test_per_example_labels():
    labels = tf.constant([1.0, 0.0])
    expected = -np.mean([math.log(_sig(2.0)), math.log(1 - _sig(-0.5))]) - np.mean(
        [math.log(1 - _sig(-1.0)), math.log(1 - _sig(0.5))])
    assert float(losses.bce_discriminator_loss(REAL, FAKE, labels, 0.0)) == pytest.approx(expected, rel=1e-6)


def test_least_squares_reads_per_example_targets():
    labels = tf.constant([0.9, 1.1])  # noisy real labels, one per example
    expected = 0.5 * (np.mean([(2 - 0.9) ** 2, (-0.5 - 1.1) ** 2]) + np.mean([(-1 - 0.1) ** 2, (0.5 - 0.1) ** 2]))
    got = losses.least_squares_discriminator_loss(REAL, FAKE, labels, 0.1)
    assert float(got) == pytest.approx(expected, rel=1e-6)


def test_hinge_and_wasserstein_ignore_targets():
    for name in ("hinge", "wasserstein"):
        d = losses.get_losses(name).discriminator
        assert float(d(REAL, FAKE, 0.5, 0.3)) == pytest.approx(float(d(REAL, FAKE)))
        assert not losses.get_losses(name).uses_labels


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_every_family_returns_a_float32_scalar(name):
    pair = losses.get_losses(name)
    for value in (pair.generator(FAKE), pair.discriminator(REAL, FAKE)):
        assert value.shape == () and value.dtype == tf.float32


# ============================================================================= the gradient penalty


def test_gradient_penalty_known_norm():
    w = tf.constant([3.0, 4.0])  # ||grad|| = 5 everywhere -> penalty (5 - 1)^2 = 16
    critic = lambda x: tf.reduce_sum(x * w, axis=1, keepdims=True)  # noqa: E731
    real = tf.random.normal([8, 2])
    fake = tf.random.normal([8, 2])
    assert float(losses.gradient_penalty(critic, real, fake)) == pytest.approx(16.0, rel=1e-5)


def test_gradient_penalty_with_given_alpha_and_a_curved_critic():
    # critic(x) = ||x||^2 / 2 has gradient x. From real = 0 to fake = (1, 1, 1, 1), x_hat = alpha * fake and
    # ||grad|| = 2 alpha: alpha 0.25, 0.5, 1 give norms 0.5, 1, 2 and penalties 0.25, 0, 1.
    critic = lambda x: 0.5 * tf.reduce_sum(tf.square(x), axis=[1, 2, 3])[:, None]  # noqa: E731
    real, fake = tf.zeros([3, 2, 2, 1]), tf.ones([3, 2, 2, 1])
    gp = losses.gradient_penalty(critic, real, fake, alpha=tf.constant([0.25, 0.5, 1.0]))
    assert float(gp) == pytest.approx((0.25 + 0.0 + 1.0) / 3, rel=1e-5)


def test_gradient_penalty_of_a_unit_norm_critic_is_zero_and_its_gradient_reaches_the_weights():
    unit = tf.constant([0.6, 0.8])
    critic = lambda x: tf.reduce_sum(x * unit, axis=1, keepdims=True)  # noqa: E731
    assert float(losses.gradient_penalty(critic, tf.random.normal([5, 2]), tf.random.normal([5, 2]))) \
        == pytest.approx(0.0, abs=1e-6)
    # With weights w the penalty is (||w|| - 1)^2, whose gradient is 2 (||w|| - 1) w / ||w||: (4.8, 6.4) at (3, 4).
    w = tf.Variable([3.0, 4.0])
    with tf.GradientTape() as tape:
        gp = losses.gradient_penalty(lambda x: tf.reduce_sum(x * w, axis=1, keepdims=True),
                                     tf.random.normal([5, 2]), tf.random.normal([5, 2]))
    assert tape.gradient(gp, w).numpy() == pytest.approx([4.8, 6.4], rel=1e-4)


def test_gradient_penalty_zero_gradient_has_no_nan():
    # A flat critic: its output does not depend on the input (a zero gradient, so the penalty is (0 - 1)^2 = 1)
    # but it does depend on the weight w, and the penalty depends on w through that zero gradient, d out/dx = 0 * w.
    # The penalty's backward pass then multiplies d sqrt(s + epsilon)/ds at s = 0 by d s/dw = 0: finite with the
    # epsilon (1 / (2 sqrt(1e-12)) * 0 = 0), 0 * inf = NaN without it.
    w = tf.Variable(2.0)

    def critic(x):
        return w * 0.0 * tf.reduce_sum(x, axis=1, keepdims=True) + w

    real, fake = tf.zeros([4, 3]), tf.ones([4, 3])

    def penalty_and_grad(**kwargs):
        with tf.GradientTape() as tape:
            gp = losses.gradient_penalty(critic, real, fake, **kwargs)
        return gp, tape.gradient(gp, w)

    gp, grad = penalty_and_grad()
    assert float(gp) == pytest.approx(1.0, abs=1e-5)
    assert grad is not None, "the penalty does not reach the critic's weight: the test critic is not connected"
    assert np.isfinite(float(grad)) and float(grad) == 0.0
    gp0, grad0 = penalty_and_grad(epsilon=0.0)
    assert float(gp0) == pytest.approx(1.0, abs=1e-5)  # the value is the same without the epsilon...
    assert grad0 is not None and np.isnan(float(grad0))  # ...but its gradient is NaN: the epsilon is what saves it


def test_gradient_penalty_interpolates_uniformly_per_example():
    seen = []

    def critic(x):
        seen.append(x)
        return tf.reduce_sum(x, axis=[1, 2, 3])[:, None]

    tf.random.set_seed(0)
    losses.gradient_penalty(critic, tf.zeros([4000, 2, 2, 1]), tf.ones([4000, 2, 2, 1]))
    mixed = seen[0].numpy().reshape(4000, -1)
    alpha = mixed[:, 0]
    assert np.allclose(mixed, alpha[:, None])  # one weight per example
    assert alpha.min() >= 0 and alpha.max() <= 1
    assert abs(alpha.mean() - 0.5) < 0.02 and abs(alpha.std() - 1 / math.sqrt(12)) < 0.02  # U(0, 1)


# ============================================================================= feature matching


def test_feature_matching_loss_hand_value():
    real = tf.constant([[1.0, 2.0], [3.0, 4.0]])  # feature means (2, 3)
    fake = tf.constant([[0.0, 0.0], [2.0, 2.0]])  # feature means (1, 1)
    expected = ((2 - 1) ** 2 + (3 - 1) ** 2) / 2  # mean over features of the squared difference of means
    assert float(losses.feature_matching_loss(real, fake)) == pytest.approx(expected)
    # Feature maps of any rank are flattened per example first.
    assert float(losses.feature_matching_loss(tf.reshape(real, [2, 1, 2, 1]), tf.reshape(fake, [2, 2, 1])))\
        == pytest.approx(expected)
    assert float(losses.feature_matching_loss(real, real)) == 0.0


# ============================================================================= AC-GAN class loss


def _softmax_ce(labels: np.ndarray, logits: np.ndarray) -> float:
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(labels)), labels].mean())


def test_class_loss_is_the_mean_sparse_softmax_cross_entropy():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (6, 10)).astype(np.float32)
    labels = np.array([0, 9, 3, 3, 7, 1])
    got = losses.class_loss(tf.constant(labels), tf.constant(logits))
    assert got.shape == () and got.dtype == tf.float32
    assert float(got) == pytest.approx(_softmax_ce(labels, logits), rel=1e-5)
    # Float labels (as a dataset may hand them over) and float16 logits are cast first.
    assert float(losses.class_loss(labels.astype(np.float32), logits)) == pytest.approx(float(got), rel=1e-6)
    assert losses.class_loss(labels, logits.astype(np.float16)).dtype == tf.float32


def test_class_loss_hand_values():
    # Equal logits: every class has probability 1/K, so the loss is ln K whatever the labels.
    assert float(losses.class_loss([0, 1, 2], tf.zeros([3, 4]))) == pytest.approx(math.log(4), rel=1e-6)
    # Two classes, logits (2, 0): -log softmax = log(1 + e^-2) for class 0 and log(1 + e^2) for class 1.
    logits = tf.constant([[2.0, 0.0], [2.0, 0.0]])
    assert float(losses.class_loss([0, 0], logits)) == pytest.approx(math.log(1 + math.exp(-2)), rel=1e-6)
    assert float(losses.class_loss([0, 1], logits)) == pytest.approx(
        0.5 * (math.log(1 + math.exp(-2)) + math.log(1 + math.exp(2))), rel=1e-6)
    # A confident right answer costs almost nothing, a confident wrong one about its margin.
    confident = tf.constant([[20.0, 0.0, 0.0]])
    assert float(losses.class_loss([0], confident)) < 1e-6
    assert float(losses.class_loss([1], confident)) == pytest.approx(20.0, rel=1e-6)
