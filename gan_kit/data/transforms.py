"""What ``load_arrays`` does to the arrays a reader returns: a deterministic subset (``max_examples``), the
conversion between grayscale and RGB, and the square resize (the one step that needs TensorFlow, imported only
when an image size differs from the stored one).
"""

from __future__ import annotations

import numpy as np


def _take(x: np.ndarray, y: np.ndarray, n: int | None, shuffled: bool) -> tuple[np.ndarray, np.ndarray]:
    """The first n examples of a source whose order is already shuffled; otherwise a seeded random subset (in
    file order), so that a file sorted by class still gives every class about its share."""
    if n is None or n >= len(x):
        return x, y
    if shuffled:
        return x[:n], y[:n]
    index = np.sort(np.random.default_rng(0).permutation(len(x))[:n])
    return x[index], y[index]


def _to_channels(x: np.ndarray, channels: int) -> np.ndarray:
    if x.shape[-1] == channels:
        return x
    if channels == 3:
        return np.repeat(x, 3, axis=-1)
    weights = (299, 587, 114)  # ITU-R 601 luma, as PIL's "L" conversion
    luma = sum(x[..., c].astype(np.uint32) * w for c, w in enumerate(weights))
    return ((luma + 500) // 1000).astype(np.uint8)[..., None]


def _resize(x: np.ndarray, size: int, chunk: int = 4096) -> np.ndarray:
    _, height, width, _ = x.shape
    if height != width:
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        x = x[:, top : top + side, left : left + side]
    side = x.shape[1]
    if side == size:
        return np.ascontiguousarray(x)
    import tensorflow as tf

    out = np.empty((len(x), size, size, x.shape[-1]), dtype=np.uint8)
    for start in range(0, len(x), chunk):
        resized = tf.image.resize(x[start : start + chunk], (size, size), method="bilinear", antialias=size < side)
        out[start : start + chunk] = np.clip(np.rint(resized.numpy()), 0, 255).astype(np.uint8)
    return out


def _convert(x: np.ndarray, image_size: int | None, channels: int | None) -> np.ndarray:
    if channels is not None and channels < x.shape[-1]:
        x = _to_channels(x, channels)
    if image_size is not None:
        x = _resize(x, image_size)
    if channels is not None:
        x = _to_channels(x, channels)
    return np.ascontiguousarray(x)
