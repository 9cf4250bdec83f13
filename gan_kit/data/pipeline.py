"""The ``tf.data`` pipelines: ``load`` (a dataset by name), ``to_dataset`` (the same from arrays) and
``epoch_dataset`` (epochs in a seeded order that a resumed run replays exactly), all of float32 images in
[-1, 1] with uint8 pixels scaled on the fly.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from .arrays import load_arrays
from .catalog import DatasetError, _check_positive_int

SHUFFLE_BUFFER = 10_000


def _scaled(images: tf.Tensor, scale: bool) -> tf.Tensor:
    """A batch as float32: uint8 pixels in [0, 255] mapped to [-1, 1] when ``scale``, float images kept as they are."""
    images = tf.cast(images, tf.float32)
    return images / 127.5 - 1.0 if scale else images


def load(
    name: str,
    split: str = "train",
    *,
    batch_size: int = 128,
    data_dir: str | os.PathLike[str] | None = None,
    path: str | os.PathLike[str] | None = None,
    image_size: int | None = None,
    channels: int | None = None,
    max_examples: int | None = None,
    shuffle: bool = True,
    seed: int = 0,
    with_labels: bool = False,
    drop_remainder: bool = True,
    cache: bool = True,
    allow_download: bool = True,
) -> tf.data.Dataset:
    """Batched float32 images in [-1, 1] (and int labels when with_labels) with cache/shuffle/batch/prefetch."""
    _check_positive_int("batch_size", batch_size)
    x, y, _ = load_arrays(
        name,
        split,
        data_dir=data_dir,
        path=path,
        image_size=image_size,
        channels=channels,
        max_examples=max_examples,
        allow_download=allow_download,
    )
    return to_dataset(
        x,
        y,
        batch_size=batch_size,
        shuffle=shuffle,
        seed=seed,
        with_labels=with_labels,
        drop_remainder=drop_remainder,
        cache=cache,
    )


def to_dataset(
    x: np.ndarray,
    y: np.ndarray | None = None,
    *,
    batch_size: int = 128,
    shuffle: bool = True,
    seed: int = 0,
    with_labels: bool = False,
    drop_remainder: bool = True,
    cache: bool = True,
) -> tf.data.Dataset:
    """The ``load`` pipeline from arrays: uint8 images are scaled to [-1, 1], float images are kept as they are."""
    _check_positive_int("batch_size", batch_size)
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(f"images must be N x H x W x C (or N x H x W); got shape {x.shape}")
    if x.dtype != np.uint8 and not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"images must be uint8 in [0, 255] or floats in [-1, 1]; got dtype {x.dtype}")
    n = len(x)
    if n == 0:
        raise DatasetError("the dataset is empty: there are no images to batch")
    if drop_remainder and batch_size > n:
        raise DatasetError(
            f"batch_size={batch_size} is larger than the dataset ({n} images), so drop_remainder=True leaves no "
            "batch at all: lower batch_size, or raise max_examples (or pass drop_remainder=False)."
        )
    if with_labels:
        if y is None:
            raise ValueError("with_labels=True needs the labels y")
        y = np.asarray(y).reshape(-1).astype(np.int64)
        if len(y) != n:
            raise ValueError(f"{n} images but {len(y)} labels")
        ds = tf.data.Dataset.from_tensor_slices((x, y))
    else:
        ds = tf.data.Dataset.from_tensor_slices(x)
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(min(n, SHUFFLE_BUFFER), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    scale = x.dtype == np.uint8

    def _images(images: tf.Tensor) -> tf.Tensor:
        return _scaled(images, scale)

    if with_labels:
        ds = ds.map(lambda images, labels: (_images(images), labels), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(_images, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def epoch_dataset(
    x: np.ndarray,
    y: np.ndarray | None = None,
    *,
    batch_size: int = 128,
    seed: int = 0,
    start_epoch: int = 0,
    epochs: int = 1,
    steps_per_epoch: int | None = None,
    with_labels: bool = False,
) -> tuple[tf.data.Dataset, int]:
    """Batches for epochs ``start_epoch`` .. ``epochs - 1``, each epoch in its own seeded order.

    The order of epoch ``e`` depends only on ``(seed, e)``, so a run resumed at epoch
    ``e`` sees exactly the batches an uninterrupted run would. Images are scaled to
    [-1, 1] as in ``load``.

    Returns:
        The dataset (finite: one pass per remaining epoch) and the steps per epoch.
    """
    _check_positive_int("batch_size", batch_size)
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    n = len(x)
    if n == 0:
        raise DatasetError("the dataset is empty: there are no images to batch")
    if batch_size > n:
        raise DatasetError(
            f"batch_size={batch_size} is larger than the dataset ({n} images): lower batch_size or raise max_examples."
        )
    steps = n // batch_size if steps_per_epoch is None else int(steps_per_epoch)
    if steps < 1:
        raise DatasetError(f"steps_per_epoch must be >= 1; got {steps_per_epoch}")
    per_pass = n // batch_size
    passes = -(-steps // per_pass)  # ceil: an epoch longer than the data wraps around with a new order
    images = tf.constant(x)
    labels = tf.constant(np.asarray(y).reshape(-1).astype(np.int64)) if with_labels else None
    scale = x.dtype == np.uint8

    def _epoch(epoch: tf.Tensor) -> tf.data.Dataset:
        orders = [
            tf.random.experimental.stateless_shuffle(
                tf.range(n, dtype=tf.int64), seed=tf.stack([tf.cast(seed, tf.int64), epoch * 1000 + p])
            )[: per_pass * batch_size]
            for p in range(passes)
        ]
        index = tf.concat(orders, 0)[: steps * batch_size]
        return tf.data.Dataset.from_tensor_slices(tf.reshape(index, [steps, batch_size]))

    def _gather(index: tf.Tensor):
        batch = _scaled(tf.gather(images, index), scale)
        return (batch, tf.gather(labels, index)) if with_labels else batch

    ds = tf.data.Dataset.range(start_epoch, epochs).flat_map(_epoch)
    ds = ds.map(_gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE), steps
