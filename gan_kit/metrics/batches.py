"""Images in batches: arrays, iterables of batches and generators as float32 batches in [-1, 1].

Only one batch is converted at a time, so 50,000 images never sit in memory at once.

The public names live in ``gan_kit.metrics`` (import them from there); this module's own ``__all__`` is empty.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..images import as_images

__all__: list[str] = []


def _as_batch(batch: Any) -> np.ndarray:
    if isinstance(batch, (tuple, list)) and len(batch) and not np.isscalar(batch[0]):
        batch = batch[0]  # (images, labels) pairs from a labelled pipeline
    arr = np.asarray(batch)
    if arr.ndim != 3 and (arr.ndim != 4 or arr.shape[-1] not in (1, 3)):
        raise ValueError(
            f"Expected a batch of images N x H x W x C with C = 1 or 3 (or N x H x W). Received shape {arr.shape}."
        )
    return as_images(arr)  # N x H x W gets a channel axis; uint8 is scaled to [-1, 1]


def _iter_batches(images: Any, batch_size: int) -> Iterator[np.ndarray]:
    """Float32 batches in [-1, 1] of at most ``batch_size`` images from an array or an iterable of batches."""
    if isinstance(images, np.ndarray) or (hasattr(images, "shape") and hasattr(images, "__array__")):
        arr = images
        n = int(arr.shape[0])
        for start in range(0, n, batch_size):
            yield _as_batch(arr[start : start + batch_size])
        return
    for batch in images:
        arr = _as_batch(batch)
        for start in range(0, len(arr), batch_size):
            yield arr[start : start + batch_size]


def generated_batches(generator: Any, n: int, latent_dim: int | None = None, seed: int = 0,
                      batch_size: int = 250) -> Iterator[np.ndarray]:
    """``n`` generator samples in batches from seeded standard normal noise (never all in memory).

    Args:
        generator: a Keras model mapping (batch, latent_dim) noise to images in [-1, 1].
        n: number of images.
        latent_dim: noise size; read from the generator's input when None.
        seed: seeds the noise, so the same seed gives the same images.
        batch_size: images per batch.

    Yields:
        float32 arrays of images.
    """
    if latent_dim is None:
        latent_dim = int(generator.inputs[0].shape[-1])
    rng = np.random.default_rng(seed)
    done = 0
    while done < n:
        m = min(batch_size, n - done)
        z = rng.standard_normal((m, latent_dim)).astype(np.float32)
        out = generator(z, training=False)
        yield np.asarray(out.numpy() if hasattr(out, "numpy") else out, dtype=np.float32)
        done += m
