"""Pixels: the one place images move between uint8 [0, 255] and float [-1, 1]; grids, PNGs and GIFs.

NumPy and Pillow only (no TensorFlow, no matplotlib), so every layer can use it.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .fileio import atomic_write_bytes

__all__ = [
    "as_images",
    "image_grid",
    "png_size",
    "save_gif",
    "save_image_grid",
    "save_interpolations",
    "save_reconstructions",
    "to_uint8",
    "to_unit_range",
]


def to_unit_range(x_uint8: Any) -> np.ndarray:
    """uint8 pixels in [0, 255] as float32 in [-1, 1]."""
    return np.asarray(x_uint8, dtype=np.float32) / np.float32(127.5) - np.float32(1.0)


def to_uint8(x: Any) -> np.ndarray:
    """Images as uint8 pixels: floats in [-1, 1] are scaled (outside values clipped, NaN as 0); uint8 is kept."""
    arr = np.asarray(x)
    if arr.dtype == np.uint8:
        return arr
    scaled = (np.nan_to_num(arr.astype(np.float32), nan=0.0) + np.float32(1.0)) * np.float32(127.5)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def as_images(x: Any, dtype: str = "float32") -> np.ndarray:
    """A batch as N x H x W x C: a channel axis is added to N x H x W; uint8 is scaled to [-1, 1]
    (``dtype="float32"``) or floats to uint8 (``dtype="uint8"``).

    Raises:
        ValueError: for an array that is not N x H x W or N x H x W x C.
    """
    arr = np.asarray(x)
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4:
        raise ValueError(f"Expected images of shape (N, H, W[, C]). Received shape {arr.shape}.")
    if dtype == "uint8":
        return to_uint8(arr)
    if arr.dtype == np.uint8:
        return to_unit_range(arr)
    return arr.astype(np.float32, copy=False)


def image_grid(images: Any, ncols: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile N images into one uint8 image (H x W x C) with ``pad`` pixels of white padding."""
    arr = as_images(images, "uint8")
    n, h, w, c = arr.shape
    ncols = ncols or int(math.ceil(math.sqrt(n)))
    nrows = int(math.ceil(n / ncols))
    grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), 255, np.uint8)
    for i in range(n):
        r, col = divmod(i, ncols)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[y : y + h, x : x + w] = arr[i]
    return grid


def _png_bytes(pixels: np.ndarray) -> bytes:
    from PIL import Image

    img = Image.fromarray(pixels[..., 0] if pixels.ndim == 3 and pixels.shape[-1] == 1 else pixels)
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


def save_image_grid(images: Any, path: str | os.PathLike, ncols: int | None = None, scale: int = 2) -> Path:
    """Save images as one PNG grid (atomically), enlarged ``scale`` times for readability."""
    grid = image_grid(images, ncols)
    if scale > 1:
        grid = np.repeat(np.repeat(grid, scale, axis=0), scale, axis=1)
    return atomic_write_bytes(path, _png_bytes(grid))


def save_reconstructions(originals: Any, reconstructions: Any, path: str | os.PathLike, scale: int = 2) -> Path:
    """One PNG: the originals in the top row, their reconstructions in the row below (atomically).

    Raises:
        ValueError: when the two sets differ in shape.
    """
    a, b = as_images(originals, "uint8"), as_images(reconstructions, "uint8")
    if a.shape != b.shape:
        raise ValueError(f"originals {a.shape} and reconstructions {b.shape} must have the same shape.")
    return save_image_grid(np.concatenate([a, b]), path, ncols=len(a), scale=scale)


def save_interpolations(rows: Sequence[Any], path: str | os.PathLike, scale: int = 2) -> Path:
    """One PNG with one interpolation per row (each row a sequence of images of equal length), atomically."""
    arrays = [as_images(r, "uint8") for r in rows]
    if not arrays or len({len(r) for r in arrays}) != 1:
        raise ValueError(f"save_interpolations needs rows of equal length. Received lengths "
                         f"{[len(r) for r in arrays]}.")
    return save_image_grid(np.concatenate(arrays), path, ncols=len(arrays[0]), scale=scale)


def save_gif(frames: Sequence[str | os.PathLike], path: str | os.PathLike, duration_ms: int = 500) -> Path:
    """Write PNG frames as an animated GIF (atomically)."""
    from PIL import Image

    if not frames:
        raise ValueError("save_gif needs at least one frame.")
    images = [Image.open(f).convert("RGB") for f in frames]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=duration_ms, loop=0)
    return atomic_write_bytes(path, buffer.getvalue())


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) read from a PNG's IHDR header."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or len(png) < 24:
        raise ValueError("Not a PNG file.")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
