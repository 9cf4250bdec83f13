"""DiffAugment (Zhao, Liu, Lin, Zhu & Han 2020, "Differentiable augmentation for data-efficient GAN
training"): the same random, differentiable transforms applied to every image D sees, real and generated,
so D cannot memorise a small training set and G's gradient still flows through the transform.

Keras' random image layers are preprocessing layers (one transform per call, some clipping to a value
range, not all of them differentiable with respect to their input), so the three transforms of the paper
are written here from plain tensor ops, each per image, on images in [-1, 1].
"""

from __future__ import annotations

import keras
import tensorflow as tf

from .config import DIFFAUGMENT as POLICIES

__all__ = ["diff_augment", "parse_policy"]


def parse_policy(policy: str) -> tuple[str, ...]:
    """The transforms named in ``policy`` (comma-separated, in the order given; ``""`` is none).

    Raises:
        ValueError: for a name that is not one of ``POLICIES``.
    """
    names = tuple(p.strip() for p in str(policy).split(",") if p.strip())
    unknown = [n for n in names if n not in POLICIES]
    if unknown:
        raise ValueError(f"Unknown DiffAugment transform(s) {unknown}: use a comma-separated subset of "
                         f"{list(POLICIES)}, e.g. 'color,translation,cutout', or '' for none.")
    return names


def _uniform(shape, seed, low=0.0, high=1.0):
    return keras.random.uniform(shape, minval=low, maxval=high, seed=seed)


def _color(x: tf.Tensor, seed) -> tf.Tensor:
    n = tf.shape(x)[0]
    x = x + (_uniform([n, 1, 1, 1], seed) - 0.5)  # brightness
    mean = tf.reduce_mean(x, axis=3, keepdims=True)
    x = (x - mean) * (_uniform([n, 1, 1, 1], seed) * 2.0) + mean  # saturation (a no-op on one channel)
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    return (x - mean) * (_uniform([n, 1, 1, 1], seed) + 0.5) + mean  # contrast


def _shift_matrices(n, size: int, max_shift: int, seed) -> tf.Tensor:
    """(n, size, size) 0/1 matrices that move rows by a random whole number of pixels in [-max, max], filling
    with zeros."""
    shift = tf.floor(_uniform([n, 1, 1], seed) * (2 * max_shift + 1)) - max_shift
    rows = tf.range(size, dtype=tf.float32)
    return tf.cast(tf.equal(rows[None, None, :], rows[None, :, None] - shift), tf.float32)


def _translation(x: tf.Tensor, seed, ratio: float = 0.125) -> tf.Tensor:
    n, height, width = tf.shape(x)[0], x.shape[1], x.shape[2]
    dy = _shift_matrices(n, height, int(height * ratio + 0.5), seed)
    dx = _shift_matrices(n, width, int(width * ratio + 0.5), seed)
    x = tf.einsum("nab,nbwc->nawc", tf.cast(dy, x.dtype), x)
    return tf.einsum("nab,nhbc->nhac", tf.cast(dx, x.dtype), x)


def _cutout(x: tf.Tensor, seed, ratio: float = 0.5) -> tf.Tensor:
    n, height, width = tf.shape(x)[0], x.shape[1], x.shape[2]
    half_h, half_w = height * ratio / 2, width * ratio / 2
    cy = _uniform([n, 1, 1], seed) * height
    cx = _uniform([n, 1, 1], seed) * width
    ys = tf.range(height, dtype=tf.float32)[None, :, None] + 0.5
    xs = tf.range(width, dtype=tf.float32)[None, None, :] + 0.5
    inside = tf.logical_and(tf.abs(ys - cy) < half_h, tf.abs(xs - cx) < half_w)
    return x * tf.cast(tf.logical_not(inside), x.dtype)[..., None]


TRANSFORMS = {"color": _color, "translation": _translation, "cutout": _cutout}


def diff_augment(images: tf.Tensor, policy: str | tuple[str, ...], seed: keras.random.SeedGenerator | int | None = None
                 ) -> tf.Tensor:
    """``images`` (batch, H, W, C) with each transform of ``policy`` applied, drawn afresh for every image.

    Args:
        images: a batch in [-1, 1] (the transforms may leave that range, as in the paper).
        policy: ``"color,translation,cutout"`` or any subset (a string or a tuple of names).
        seed: a ``keras.random.SeedGenerator`` (inside a model's step) or an int.
    """
    names = parse_policy(policy) if isinstance(policy, str) else tuple(policy)
    dtype = images.dtype
    x = tf.cast(images, tf.float32)
    for name in names:
        x = TRANSFORMS[name](x, seed)
    return tf.cast(x, dtype)
