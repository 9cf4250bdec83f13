"""Folders of image files (dataset ``image_folder``): one sub-folder per class or the images directly inside,
decoded with Pillow to grayscale or RGB (16-bit and float modes scaled down, transparency composited on white),
center-cropped and resized to a square; unreadable files are skipped with one warning that names them.
"""

from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .catalog import DatasetError

if TYPE_CHECKING:
    from PIL import Image

IMAGE_EXTENSIONS: tuple[str, ...] = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".webp")


def _image_files(folder: Path) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / f for f in files if not f.startswith(".")]
    return sorted(found)


def _to_mode(img: Image.Image, channels: int) -> Image.Image:
    from PIL import Image

    if img.mode.startswith("I;16"):
        img = Image.fromarray((np.asarray(img, dtype=np.uint16) >> 8).astype(np.uint8), "L")
    elif img.mode in ("I", "F"):
        values = np.asarray(img, dtype=np.float64)
        if values.max(initial=0) > 255:
            values = values / 257.0
        img = Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), "L")
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    if has_alpha:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert("L" if channels == 1 else "RGB")


def _square_resize(img: Image.Image, size: int) -> Image.Image:
    from PIL import Image

    width, height = img.size
    side = min(width, height)
    if width != height:
        left, top = (width - side) // 2, (height - side) // 2
        img = img.crop((left, top, left + side, top + side))
    if side != size:
        resample = Image.Resampling.LANCZOS if side > size else Image.Resampling.BILINEAR
        img = img.resize((size, size), resample)
    return img


def _decode_image(path: Path, size: int, channels: int) -> np.ndarray | None:
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.seek(0)
            img.load()
            out = _square_resize(_to_mode(img, channels), size)
            array = np.asarray(out, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, EOFError, struct.error, Image.DecompressionBombError):
        return None
    return array[..., None] if array.ndim == 2 else array


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
