"""Channel conversion and value ranges (``gan_kit.data.transforms``)."""

from __future__ import annotations

import numpy as np

from gan_kit import data
from gan_kit.images import to_uint8, to_unit_range
from tests.data.conftest import _write_npz


def test_channel_conversion_and_ranges(isolated):
    x = np.zeros((2, 4, 4, 3), np.uint8)
    x[..., 0] = 255  # pure red
    _write_npz(isolated["repo"] / "cifar10_test.npz", x, np.array([0, 1]))
    gray, _, _ = data.load_arrays("cifar10", "test", channels=1, allow_download=False)
    assert gray.shape == (2, 4, 4, 1) and int(gray[0, 0, 0, 0]) == 76  # 0.299 * 255
    small, _, _ = data.load_arrays("cifar10", "test", image_size=2, allow_download=False)
    assert small.shape == (2, 2, 2, 3) and small[..., 0].min() == 255 and small[..., 1:].max() == 0
    wide = np.zeros((3, 6, 10, 1), np.uint8)
    wide[:, :, :2] = 255  # the centre square crop drops the two bright columns on the left
    _write_npz(isolated["repo"] / "mnist_test.npz", wide, np.zeros(3, np.int64))
    square, _, _ = data.load_arrays("mnist", "test", image_size=6, channels=3, allow_download=False)
    assert square.shape == (3, 6, 6, 3) and square.max() == 0
    values = np.arange(256, dtype=np.uint8)
    unit = to_unit_range(values)
    assert unit.dtype == np.float32 and unit.min() == -1.0 and unit.max() == 1.0
    np.testing.assert_array_equal(to_uint8(unit), values)
    assert to_uint8(np.array([-3.0, 3.0])).tolist() == [0, 255]
    assert data.native_shape("mnist") == (28, 28, 1) and data.native_shape("cifar100") == (32, 32, 3)
    assert data.native_shape("digits") == (8, 8, 1)
