"""``load_arrays`` (``gan_kit.data.arrays``): splits, sizes and its arguments."""

from __future__ import annotations

import numpy as np
import pytest

from gan_kit import data

# --------------------------------------------------------------------------- digits, conversions, pipeline


def test_digits_split_and_resize():
    x_train, y_train, names = data.load_arrays("digits", "train")
    x_test, _, _ = data.load_arrays("digits", "test", image_size=32)
    assert x_train.shape == (1438, 8, 8, 1) and x_test.shape == (359, 32, 32, 1)
    assert x_train.dtype == np.uint8 and x_train.max() == 255 and names == [str(i) for i in range(10)]
    assert set(np.unique(y_train)) == set(range(10))
    again, _, _ = data.load_arrays("digits", "train")
    np.testing.assert_array_equal(again, x_train)  # the split is deterministic
    rgb, _, _ = data.load_arrays("digits", "test", channels=3, max_examples=10)
    assert rgb.shape == (10, 8, 8, 3) and (rgb[..., 0] == rgb[..., 2]).all()


def test_bad_arguments():
    with pytest.raises(ValueError, match="fashion_mnist, mnist, cifar10"):
        data.load_arrays("imagenet")
    with pytest.raises(ValueError, match="split"):
        data.load_arrays("digits", "validation")
    with pytest.raises(ValueError, match="channels"):
        data.load_arrays("digits", channels=2)
    with pytest.raises(ValueError, match="max_examples"):
        data.load_arrays("digits", max_examples=0)
    with pytest.raises(ValueError, match="cifar100"):
        data.native_shape("svhn")
