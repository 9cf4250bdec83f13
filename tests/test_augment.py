"""DiffAugment (gan_kit.augment): each transform per image, differentiable, and switched on by the config.
(The warmed-up EMA of G's weights is tested in test_gan.py.)"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_kit import augment
from gan_kit.config import ConfigError, for_profile
from gan_kit.gan import GAN
from gan_kit.models import build_discriminator, build_generator


def _images(n=16, size=16, channels=3, seed=0):
    return tf.constant(np.random.default_rng(seed).uniform(-1, 1, (n, size, size, channels)), tf.float32)


def test_translation_moves_each_image_by_whole_pixels_with_zero_fill():
    x = _images(8, 16, 1)
    out = augment.diff_augment(x, "translation", seed=1).numpy()
    shifts = set()
    for image, moved in zip(x.numpy()[..., 0], out[..., 0]):
        found = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                 if np.allclose(moved, _shifted(image, dy, dx), atol=1e-6)]
        assert len(found) == 1, "each output is its input moved by at most 1/8 of the size, zeros let in"
        shifts.add(found[0])
    assert len(shifts) > 1  # drawn per image, not once per batch


def _shifted(image, dy, dx):
    out = np.zeros_like(image)
    h, w = image.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = image[max(-dy, 0):h - max(dy, 0),
                                                                      max(-dx, 0):w - max(dx, 0)]
    return out


def test_cutout_zeroes_one_square_of_half_the_size_per_image():
    x = tf.ones([64, 16, 16, 1])
    out = augment.diff_augment(x, "cutout", seed=2).numpy()[..., 0]
    zeroed = (out == 0).mean(axis=(1, 2))
    assert zeroed.max() == pytest.approx(0.25)  # an 8x8 square fully inside: a quarter of the image
    assert 0.0 < zeroed.min() < 0.25 and len(set(np.round(zeroed, 4))) > 3  # clipped at borders, per image
    for mask in out == 0:
        rows, cols = np.nonzero(mask)
        assert mask[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()  # one solid rectangle


def test_color_changes_brightness_and_contrast_per_image_and_leaves_gray_saturation_alone():
    x = _images(32, 8, 1)
    out = augment.diff_augment(x, "color", seed=3).numpy()
    shift = out.mean(axis=(1, 2, 3)) - x.numpy().mean(axis=(1, 2, 3))
    assert np.all(np.abs(shift) <= 0.5 + 1e-5) and shift.std() > 0.05
    ratio = out.std(axis=(1, 2, 3)) / x.numpy().std(axis=(1, 2, 3))
    assert np.all(ratio <= 1.5 + 1e-5) and np.all(ratio >= 0.5 - 1e-5)  # contrast x U(0.5, 1.5); saturation: 1 channel


def test_every_transform_passes_gradients_to_the_images():
    x = _images(4, 16, 3)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = augment.diff_augment(x, "color,translation,cutout", seed=4)
        loss = tf.reduce_sum(y * y)
    grad = tape.gradient(loss, x)
    assert grad is not None and float(tf.reduce_sum(tf.abs(grad))) > 0 and y.shape == x.shape


def test_unknown_transforms_are_named_with_the_fix():
    with pytest.raises(ValueError, match="translation"):
        augment.parse_policy("color,zoom")
    with pytest.raises(ConfigError, match="diffaugment"):
        for_profile("smoke", diffaugment="colour")
    assert augment.parse_policy("") == () and augment.parse_policy(" color , cutout ") == ("color", "cutout")


def _gan(**compile_kwargs):
    g = build_generator(8, (28, 28, 1), width=4)
    d = build_discriminator((28, 28, 1), width=4, dropout=0.0)
    gan = GAN(g, d, 8, seed=0, ema=compile_kwargs.pop("ema", 0.0))
    gan.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1), **compile_kwargs)
    return gan


def test_d_sees_augmented_images_only_when_the_policy_is_on():
    x = _images(4, 28, 1)
    assert np.array_equal(_gan()._noisy(x).numpy(), x.numpy())
    assert not np.allclose(_gan(diffaugment="translation,cutout")._noisy(x).numpy(), x.numpy())
