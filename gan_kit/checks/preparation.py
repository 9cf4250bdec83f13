"""Check of notebook 07's exercise: ``prepare_image(image, size)``, one decoded image file (uint8 H x W x C with
C = 1, 3 or 4) as the model's input, float32 (size, size, 3) in [-1, 1]: transparency composited on white,
grayscale repeated to RGB, the centre square cropped, resized, scaled.

The stored images (:mod:`.fixtures`, computed by the instructor's references) are smooth colour fields with a
strong left-right (or top-bottom) ramp, so an off-centre crop or a stretched image gives clearly other pixels,
while resizing methods (bilinear, bicubic, Lanczos, area, with or without antialiasing, PIL or ``tf.image``)
differ by a few grey levels only: a case passes when the largest difference is at most ``max`` and the mean
difference at most ``mean`` (its ``tolerance``, in [-1, 1] units). ``collect_prepare_image`` runs the answer on
the stored images (the kit's own image-folder code switched off); ``judge_prepare_image`` judges the outputs,
naming the known mistake they match.

The public names live in ``gan_kit.checks`` (import them from there); this module's own ``__all__`` lists only
what it alone adds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from . import fixtures
from ._base import CheckFailed, collect_output, collected, kit_disabled, passed

__all__ = ["PREPARE_KIT", "collect_prepare_image", "judge_prepare_image"]

Outputs = dict[str, np.ndarray]
Fixture = Mapping[str, Any]

# The kit's code that crops, resizes or prepares images: an answer that calls it fails.
PREPARE_KIT = ("data.folders:prepare_image", "data.folders:_decode_image", "data.transforms:_resize",
               "data.transforms:_convert")
HINT = ("composite transparency on white, repeat grayscale to 3 channels, crop the centre square, resize it to "
        "(size, size), then pixel / 127.5 - 1 as float32")


def _describe(image_shape: tuple[int, ...], size: int) -> str:
    height, width, channels = image_shape
    kind = {1: "grayscale", 3: "RGB", 4: "RGBA"}.get(channels, f"{channels}-channel")
    return f" on a {height} x {width} {kind} image (size={size})"


def collect_prepare_image(student_fns: Mapping[str, Callable], fixture: Fixture) -> Outputs:
    """``{"<i>/image": ..., "<i>/dtype": ...}``: the student's ``prepare_image(image, size)`` on each stored image
    (uint8 H x W x C), and the dtype it returned."""
    out: Outputs = {}
    with kit_disabled(PREPARE_KIT):
        for i, case in enumerate(fixture["cases"]):
            image = np.asarray(case["inputs"]["image"], dtype=np.uint8)
            size = int(case["inputs"]["size"])
            got = collect_output(out, f"{i}/image", "prepare_image", student_fns["prepare_image"], image.copy(), size,
                                 where=_describe(image.shape, size))
            if got is not None:
                raw = got.numpy() if hasattr(got, "numpy") else got
                out[f"{i}/dtype"] = np.array(str(getattr(raw, "dtype", type(raw).__name__)))
    return out


def _shape_problem(got: np.ndarray, channels: int, size: int) -> str:
    """Why an output of the wrong shape is wrong, as a hint ("" when the shape is right)."""
    if got.shape == (size, size, 3):
        return ""
    if got.ndim == 2 or (got.ndim == 3 and got.shape[-1] == 1):
        return ("the result has one channel: a grayscale image must become RGB, its gray value repeated in all three "
                "channels (np.repeat(image, 3, axis=-1) or tf.image.grayscale_to_rgb).")
    if got.ndim == 3 and got.shape[-1] == 4:
        return ("the alpha channel is still there: composite the image on a white background "
                "(rgb * a + 255 * (1 - a), with a = alpha / 255) and keep the 3 colour channels.")
    if got.ndim == 3 and got.shape[0] != got.shape[1]:
        return ("the result is not square: crop the centre square (side min(height, width)) before resizing to "
                "(size, size).")
    if got.ndim == 3 and got.shape[-1] == 3:
        return "resize the square to (size, size): PIL's resize takes (width, height), tf.image.resize (height, width)."
    return f"return one image of shape ({size}, {size}, 3), height x width x RGB."


def _within(got: np.ndarray, other: np.ndarray, tolerance: Mapping[str, float]) -> bool:
    error = np.abs(got - other)
    return bool(error.max() <= tolerance["max"] and error.mean() <= tolerance["mean"])


def _judge_case(i: int, case: Mapping[str, Any], outputs: Outputs) -> None:
    image_shape = np.shape(case["inputs"]["image"])
    size = int(case["inputs"]["size"])
    where = _describe(image_shape, size)
    got = collected(outputs, f"{i}/image")
    expected = np.asarray(case["expected"]["image"], np.float64)
    problem = _shape_problem(got, image_shape[-1], size)
    if problem:
        raise CheckFailed(f"prepare_image{where}: expected shape {expected.shape}, got {got.shape}. Hint: {problem}")
    dtype = str(outputs.get(f"{i}/dtype", "float32"))
    if dtype.startswith(("uint", "int", "bool")):
        raise CheckFailed(f"prepare_image{where}: returned {dtype} values from {got.min():.0f} to {got.max():.0f}; the "
                          "model's input is float32 in [-1, 1]. Hint: convert to float32 and scale: pixel / 127.5 - 1.")
    if not np.isfinite(got).all():
        raise CheckFailed(f"prepare_image{where}: got NaN or infinite values. Hint: {HINT}.")
    tolerance = case["tolerance"]
    if not _within(got, expected, tolerance):
        for mistake, wrong in case.get("mistakes", {}).get("image", {}).items():
            if _within(got, np.asarray(wrong, np.float64), tolerance):
                raise CheckFailed(f"prepare_image{where}: your image is what {mistake}")
        error = np.abs(got - expected)
        row, col, channel = np.unravel_index(int(error.argmax()), error.shape)
        raise CheckFailed(f"prepare_image{where}: pixels differ by up to {error.max():.3f} (mean {error.mean():.3f}; "
                          f"a resizing method alone changes at most {tolerance['max']} and {tolerance['mean']} on "
                          f"average): at row {row}, column {col}, channel {channel} expected "
                          f"{expected[row, col, channel]:.3f}, got {got[row, col, channel]:.3f}. Hint: {HINT}.")
    if dtype != "float32":
        raise CheckFailed(f"prepare_image{where}: the values are right but the dtype is {dtype}; the model's input is "
                          "float32. Hint: .astype(np.float32), or tf.cast(x, tf.float32).")


def judge_prepare_image(outputs: Outputs, fixture: Fixture) -> None:
    """Each case's prepared image against the stored one: its shape (channels, square, size), its dtype, then its
    pixels within the case's tolerance, naming the known mistake the pixels match."""
    for i, case in enumerate(fixture["cases"]):
        _judge_case(i, case, outputs)


def check_prepare_image(prepare_image: Callable, seed: int = 0) -> None:
    """``prepare_image(image, size)`` (notebook 07) on a landscape RGB image, a portrait RGBA image with transparent
    parts, a small grayscale image to enlarge and a square one already at the size."""
    fixture = fixtures.load("prepare_image", seed)
    judge_prepare_image(collect_prepare_image({"prepare_image": prepare_image}, fixture), fixture)
    passed("image preparation: RGB, RGBA and grayscale images, cropped, resized and scaled to [-1, 1]")
