"""The expected values of notebook 07's check (``prepare_image``), computed in float64 NumPy without the kit's
image code: transparency composited on white, grayscale repeated, the centre square, bilinear resizing with
half-pixel centres, ``pixel / 127.5 - 1``; and the outputs of the known wrong answers. Registered in
:mod:`.references` (``_BUILDERS["prepare_image"]``)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["TOLERANCE", "prepare_image_cases"]

# In [-1, 1] units: what resizing methods (bilinear, bicubic, Lanczos, area, nearest; PIL or tf.image; with or
# without antialiasing; resizing the short side first, then cropping) change on these smooth images at most (0.1)
# and on average (0.055, over seeds 0-29); every known mistake changes at least 0.18 at most, 0.08 on average.
TOLERANCE = {"max": 0.12, "mean": 0.06}
MISTAKES = {
    "unit": "scaling to [0, 1] (pixel / 255) gives: the model's input is in [-1, 1], pixel / 127.5 - 1.",
    "raw": "leaving the pixels in [0, 255] gives: scale them to [-1, 1], pixel / 127.5 - 1.",
    "stretch": "stretching the whole image to a square gives (its aspect ratio changes): crop the centre square "
               "first (side min(height, width)), then resize.",
    "corner": "cropping the top-left square gives: crop the centre square, from row (height - side) // 2 and "
              "column (width - side) // 2.",
    "drop_alpha": "dropping the alpha channel gives (transparent pixels show the colour hidden under them): "
                  "composite on white, rgb * a + 255 * (1 - a) with a = alpha / 255.",
    "black": "compositing on black (rgb * a) gives: composite on white, rgb * a + 255 * (1 - a) with a = alpha / 255.",
}


def _field(rng: np.random.Generator, height: int, width: int, channels: int, axis: int) -> np.ndarray:
    """A smooth uint8 image with a strong ramp along ``axis`` (1: left to right, 0: top to bottom)."""
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    along = x if axis == 1 else y
    out = np.empty((height, width, channels))
    for c in range(channels):
        slope = rng.uniform(150, 220) * rng.choice([-1, 1])
        out[..., c] = (127.5 + slope * (along - along.mean())
                       + 30 * np.cos(2 * np.pi * (rng.uniform(0.3, 0.8) * (x + y - along) + rng.uniform()))
                       + 20 * np.sin(2 * np.pi * (rng.uniform(0.2, 0.6) * x + rng.uniform(0.2, 0.6) * y
                                                  + rng.uniform())))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _rgb(image: np.ndarray, alpha: str = "white") -> np.ndarray:
    """float64 RGB: grayscale repeated, transparency composited on white (or dropped, or on black)."""
    pixels = image.astype(np.float64)
    if pixels.shape[-1] == 1:
        return np.repeat(pixels, 3, axis=-1)
    if pixels.shape[-1] == 4:
        a = pixels[..., 3:] / 255.0
        return {"white": pixels[..., :3] * a + 255.0 * (1.0 - a), "black": pixels[..., :3] * a,
                "drop": pixels[..., :3]}[alpha]
    return pixels


def _crop(pixels: np.ndarray, centre: bool = True) -> np.ndarray:
    height, width = pixels.shape[:2]
    side = min(height, width)
    top, left = ((height - side) // 2, (width - side) // 2) if centre else (0, 0)
    return pixels[top : top + side, left : left + side]


def _weights(n_in: int, n_out: int) -> np.ndarray:
    """The (n_out, n_in) matrix of linear interpolation with half-pixel centres, clamped at the edges."""
    src = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    low = np.floor(src).astype(int)
    high = np.minimum(low + 1, n_in - 1)
    frac = src - low
    m = np.zeros((n_out, n_in))
    np.add.at(m, (np.arange(n_out), low), 1 - frac)
    np.add.at(m, (np.arange(n_out), high), frac)
    return m


def _resize(pixels: np.ndarray, size: int) -> np.ndarray:
    height, width = pixels.shape[:2]
    return np.einsum("ih,hwc,jw->ijc", _weights(height, size), pixels, _weights(width, size))


def _prepared(image: np.ndarray, size: int, alpha: str = "white", crop: str = "centre") -> np.ndarray:
    """The image prepared in [0, 255] (float64), the right way or with one step done wrong."""
    pixels = _rgb(image, alpha)
    if crop != "none":
        pixels = _crop(pixels, centre=crop == "centre")
    return _resize(pixels, size)


def _case(where: str, image: np.ndarray, size: int) -> dict[str, Any]:
    right = _prepared(image, size) / 127.5 - 1.0
    wrong = {"unit": right * 0.5 + 0.5, "raw": (right + 1.0) * 127.5,
             "stretch": _prepared(image, size, crop="none") / 127.5 - 1.0,
             "corner": _prepared(image, size, crop="corner") / 127.5 - 1.0}
    if image.shape[-1] == 4:
        wrong["drop_alpha"] = _prepared(image, size, alpha="drop") / 127.5 - 1.0
        wrong["black"] = _prepared(image, size, alpha="black") / 127.5 - 1.0
    # Only mistakes that a resizing method cannot explain (on a square image, no crop is as good as any).
    mistakes = {MISTAKES[k]: v for k, v in wrong.items() if np.abs(v - right).max() > 1.25 * TOLERANCE["max"]
                or np.abs(v - right).mean() > 1.25 * TOLERANCE["mean"]}
    return {"where": where, "inputs": {"image": image, "size": size}, "expected": {"image": right},
            "mistakes": {"image": mistakes}, "tolerance": dict(TOLERANCE)}


def prepare_image_cases(seed: int) -> list[dict[str, Any]]:
    """A landscape RGB image to shrink, a portrait RGBA one with a transparent part, a small grayscale one to
    enlarge and a square RGB one already at the size; the crop margins are even, so "the centre" is one place."""
    rng = np.random.default_rng(seed)
    height = 2 * int(rng.integers(10, 14))
    landscape = _field(rng, height, height + 2 * int(rng.integers(6, 10)), 3, axis=1)
    width = 2 * int(rng.integers(9, 12))
    portrait = _field(rng, width + 2 * int(rng.integers(6, 10)), width, 3, axis=0) // 3
    ramp = np.linspace(0.0, 1.0, portrait.shape[0])[:, None] * np.ones((1, width))
    alpha = np.rint(255 * np.clip(1.6 * ramp - 0.3, 0, 1)).astype(np.uint8)
    if rng.integers(2):
        alpha = alpha[::-1]
    gray_side = 2 * int(rng.integers(4, 7))
    gray = _field(rng, gray_side, gray_side + 4, 1, axis=1)
    square = _field(rng, 8, 8, 3, axis=int(rng.integers(2)))
    return [_case("landscape RGB", landscape, height // 2),
            _case("portrait RGBA", np.concatenate([portrait, alpha[..., None]], axis=-1), 16),
            _case("grayscale", gray, 16), _case("square RGB", square, 8)]
