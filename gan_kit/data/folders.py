"""Folders of image files (dataset ``image_folder``): one sub-folder per class or the images directly inside,
decoded with Pillow (16-bit and float modes scaled down), then prepared by :func:`prepare_image` (notebook 07's
exercise: transparency composited on white, grayscale as RGB, center-cropped, resized to a square, scaled to
[-1, 1]) and stored as uint8; unreadable files are skipped with one warning that names them.
"""

from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import exercises
from ..images import to_uint8
from .catalog import DatasetError
from .transforms import _to_channels

if TYPE_CHECKING:
    from PIL import Image

IMAGE_EXTENSIONS: tuple[str, ...] = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".webp")


def _image_files(folder: Path) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / f for f in files if not f.startswith(".")]
    return sorted(found)


def _pixels(img: Image.Image) -> np.ndarray:
    """A decoded image as uint8 H x W x C: C = 1 (grayscale), 3 (RGB) or 4 (RGBA, for any image with
    transparency); 16-bit and float modes are scaled down to 8 bits."""
    from PIL import Image

    if img.mode.startswith("I;16"):
        img = Image.fromarray((np.asarray(img, dtype=np.uint16) >> 8).astype(np.uint8))
    elif img.mode in ("I", "F"):
        values = np.asarray(img, dtype=np.float64)
        if values.max(initial=0) > 255:
            values = values / 257.0
        img = Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8))
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    mode = "RGBA" if has_alpha else "L" if img.mode in ("1", "L") else "RGB"
    array = np.asarray(img.convert(mode), dtype=np.uint8)
    return array[..., None] if array.ndim == 2 else array


def prepare_image(image: np.ndarray, size: int) -> np.ndarray:
    """One decoded image (uint8 H x W x C, C = 1, 3 or 4) as the model's input: transparency composited on white,
    grayscale repeated to RGB, the centre square cropped, resized to ``size`` x ``size`` (Lanczos when shrinking,
    bilinear when enlarging) and scaled to float32 in [-1, 1]: shape (size, size, 3)."""
    # BEGIN SOLUTION 07 prepare_image
    from PIL import Image

    pixels = np.ascontiguousarray(image, dtype=np.uint8)
    height, width, channels = pixels.shape
    img = Image.fromarray(np.ascontiguousarray(pixels[..., 0]) if channels == 1 else pixels)  # L, RGB or RGBA
    if channels == 4:
        img = Image.alpha_composite(Image.new("RGBA", (width, height), (255, 255, 255, 255)), img)
    img = img.convert("RGB")
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    img = img.crop((left, top, left + side, top + side))
    if side != size:
        img = img.resize((size, size), Image.Resampling.LANCZOS if side > size else Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.float32) / np.float32(127.5) - np.float32(1.0)
    # END SOLUTION


def _checked(prepared: object, size: int, who: str) -> np.ndarray:
    """What a ``prepare_image`` returned, as float32 (size, size, 3); ``ValueError`` naming the problem otherwise."""
    if prepared is None:
        raise ValueError(f"{who} returned None: return the prepared image (did you forget the return statement?).")
    array = np.asarray(prepared.numpy() if hasattr(prepared, "numpy") else prepared)
    if array.shape != (size, size, 3):
        raise ValueError(f"{who} returned an array of shape {array.shape}; the image folder needs ({size}, {size}, 3): "
                         "a centre square, resized to the image size, with 3 channels (RGB).")
    if not np.issubdtype(array.dtype, np.floating) or not np.isfinite(array).all():
        raise ValueError(f"{who} returned {array.dtype} values{'' if np.isfinite(array).all() else ' with NaN'}; "
                         "the image folder needs finite floats in [-1, 1] (pixel / 127.5 - 1).")
    if array.min() < -1.01 or array.max() > 1.01:
        raise ValueError(f"{who} returned values from {array.min():.3g} to {array.max():.3g}; the image folder needs "
                         "floats in [-1, 1] (pixel / 127.5 - 1).")
    return array.astype(np.float32)


def _decode_image(path: Path, size: int, channels: int) -> np.ndarray | None:
    """The image file as uint8 (size, size, channels), prepared by the student's ``prepare_image`` when notebook 07
    registered one (:mod:`gan_kit.exercises`), else by the kit's; None when the file is not a readable image."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.seek(0)
            img.load()
            pixels = _pixels(img)
    except (OSError, ValueError, SyntaxError, EOFError, struct.error, Image.DecompressionBombError):
        return None
    student = exercises.answer("prepare_image")
    who = "your prepare_image (registered with exercises.use)" if student else "prepare_image"
    array = to_uint8(_checked((student or prepare_image)(pixels, size), size, who))
    return _to_channels(array, 1) if channels == 1 else array


def _read_image_folder(
    folder: Path, size: int, channels: int, max_examples: int | None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    accepted = ", ".join(IMAGE_EXTENSIONS)
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    class_dirs = [p for p in entries if p.is_dir()]
    candidates: list[tuple[Path, int]] = []
    skipped: list[Path] = []
    if class_dirs:
        class_names = [d.name for d in class_dirs]
        for label, class_dir in enumerate(class_dirs):
            candidates += [(f, label) for f in _image_files(class_dir)]
        skipped += [p for p in entries if p.is_file()]  # stray files next to the class folders
    else:
        class_names = [folder.name]
        candidates = [(p, 0) for p in entries if p.is_file()]
    images_found = [(f, label) for f, label in candidates if f.suffix.lower() in IMAGE_EXTENSIONS]
    skipped += [f for f, _ in candidates if f.suffix.lower() not in IMAGE_EXTENSIONS]

    order = list(range(len(images_found)))
    if max_examples is not None and max_examples < len(order):
        order = [int(i) for i in np.random.default_rng(0).permutation(len(order))]
    kept: list[tuple[int, np.ndarray]] = []
    for i in order:
        if max_examples is not None and len(kept) >= max_examples:
            break
        array = _decode_image(images_found[i][0], size, channels)
        if array is None:
            skipped.append(images_found[i][0])
        else:
            kept.append((i, array))
    kept.sort(key=lambda item: item[0])

    if skipped:
        shown = ", ".join(str(p.relative_to(folder)) for p in sorted(skipped)[:5])
        more = ", ..." if len(skipped) > 5 else ""
        warnings.warn(
            f"image folder {folder}: skipped {len(skipped)} file(s) that are not readable images "
            f"({shown}{more}); accepted types: {accepted}",
            stacklevel=3,
        )
    if not kept:
        raise DatasetError(
            f"no readable images in {folder} ({len(candidates)} file(s) looked at, {len(skipped)} skipped). "
            f"Accepted types: {accepted}; put the images directly in the folder, or in one sub-folder per class."
        )
    x = np.stack([array for _, array in kept])
    y = np.array([images_found[i][1] for i, _ in kept], dtype=np.int64)
    return x, y, class_names
