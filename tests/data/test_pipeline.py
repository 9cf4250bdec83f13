"""The ``tf.data`` pipelines (``gan_kit.data.pipeline``)."""

from __future__ import annotations

import numpy as np
import pytest

from gan_kit import data


def test_load_pipeline():
    ds = data.load("digits", "test", batch_size=64, image_size=32, with_labels=True, seed=3)
    batches = list(ds)
    assert len(batches) == 359 // 64
    images, labels = batches[0]
    assert images.shape == (64, 32, 32, 1) and images.dtype.name == "float32"
    assert labels.shape == (64,) and labels.dtype.name == "int64"
    assert -1.0 <= float(images.numpy().min()) < 0 < float(images.numpy().max()) <= 1.0
    first = next(iter(data.load("digits", "test", batch_size=64, seed=3)))
    assert first.shape == (64, 8, 8, 1)  # images only, native size
    assert next(iter(data.load("digits", "test", batch_size=10, shuffle=False))).shape == (10, 8, 8, 1)
    tail = list(data.load("digits", "test", batch_size=100, drop_remainder=False, shuffle=False))
    assert [len(b) for b in tail] == [100, 100, 100, 59]


def test_load_batch_larger_than_data():
    with pytest.raises(data.DatasetError, match="lower batch_size"):
        data.load("digits", "test", batch_size=64, max_examples=50)


def test_to_dataset_from_arrays():
    x = np.full((10, 4, 4), 255, np.uint8)
    ds = data.to_dataset(x, np.arange(10), batch_size=5, with_labels=True, shuffle=True, seed=1)
    (a, la), (b, lb) = list(ds)
    assert a.shape == (5, 4, 4, 1) and float(a.numpy().max()) == 1.0
    assert sorted(np.concatenate([la.numpy(), lb.numpy()]).tolist()) == list(range(10))
    same = [lab.numpy().tolist() for _, lab in data.to_dataset(x, np.arange(10), batch_size=5, with_labels=True,
                                                               seed=1)]
    assert same == [la.numpy().tolist(), lb.numpy().tolist()]  # seeded shuffle
    floats = next(iter(data.to_dataset(np.zeros((4, 2, 2, 3), np.float32), batch_size=4)))
    assert float(floats.numpy().max()) == 0.0  # float input is taken as already in [-1, 1]
    with pytest.raises(ValueError, match="with_labels"):
        data.to_dataset(x, batch_size=5, with_labels=True)
