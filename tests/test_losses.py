import math

import numpy as np
import pytest
import tensorflow as tf

from gan_kit.losses import LOSSES, bce_discriminator_loss, bce_generator_loss, get_losses


def _sig(x):
    return 1 / (1 + math.exp(-x))


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
