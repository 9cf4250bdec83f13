"""Notebook 07's exercise, ``prepare_image(image, size)``: the check ``checks.check_prepare_image`` passes right
answers written in several styles (NumPy + tf.image, PIL, TensorFlow ops only, NumPy only; bilinear, bicubic,
Lanczos), fails the usual wrong ones naming each mistake, reports broken submissions clearly, and the grader's
recording/judging halves agree with it; once registered, the image-folder dataset (and a training run's data)
is prepared by the student's function."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from gan_kit import checks, config, data, exercises, training
from gan_kit.checks import CheckFailed, fixtures, preparation, recording
from gan_kit.data import folders
from gan_kit.instructor import prepare_image_reference, verdicts
from gan_kit.instructor.references import build_fixture
from tests.conftest import REPO

NOTEBOOK = REPO / "notebooks" / "07_cifar100_and_custom_data.ipynb"
SEEDS = (0, 5, 12)  # the public seed and the hidden tests'


@pytest.fixture(autouse=True)
def _no_answers():
    exercises.clear()
    yield
    exercises.clear()


# ----------------------------------------------------------------- right answers, in the styles a student writes
def _rgb(image):
    pixels = np.asarray(image, dtype=np.float32)
    if pixels.shape[-1] == 1:
        return np.repeat(pixels, 3, axis=-1)
    if pixels.shape[-1] == 4:
        alpha = pixels[..., 3:] / 255.0
        return pixels[..., :3] * alpha + 255.0 * (1.0 - alpha)
    return pixels


def _centre(pixels):
    height, width = pixels.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return pixels[top : top + side, left : left + side]


def numpy_and_tf(image, size):
    """The notebook's answer: NumPy colours and crop, tf.image.resize, NumPy scaling."""
    resized = tf.image.resize(_centre(_rgb(image)), (size, size), method="bilinear").numpy()
    return (resized / 127.5 - 1.0).astype(np.float32)


def pil_style(resample=Image.Resampling.BILINEAR):
    """PIL from start to end: alpha_composite on white, convert, crop box, resize on uint8 pixels."""
    def prepare(image, size):
        img = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
        if img.mode == "RGBA":
            img = Image.alpha_composite(Image.new("RGBA", img.size, (255, 255, 255, 255)), img)
        img = img.convert("RGB")
        width, height = img.size
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        img = img.crop((left, top, left + side, top + side)).resize((size, size), resample)
        return np.asarray(img, dtype=np.float32) / 127.5 - 1.0
    return prepare


def tf_only(image, size):
    """TensorFlow ops only, returning a tensor; antialiased bilinear resize."""
    x = tf.cast(tf.convert_to_tensor(image), tf.float32)
    if x.shape[-1] == 1:
        x = tf.image.grayscale_to_rgb(x)
    elif x.shape[-1] == 4:
        x = x[..., :3] * (x[..., 3:] / 255.0) + 255.0 * (1.0 - x[..., 3:] / 255.0)
    height, width = int(x.shape[0]), int(x.shape[1])
    side = min(height, width)
    x = tf.image.crop_to_bounding_box(x, (height - side) // 2, (width - side) // 2, side, side)
    return tf.image.resize(x, (size, size), antialias=True) / 127.5 - 1.0


def numpy_only(image, size):
    """NumPy only: bilinear interpolation by hand (half-pixel centres), with loops over output rows."""
    square = _centre(_rgb(image))
    side = square.shape[0]
    src = np.clip((np.arange(size) + 0.5) * side / size - 0.5, 0, side - 1)
    low = np.floor(src).astype(int)
    high, frac = np.minimum(low + 1, side - 1), src - low
    rows = np.empty((size, side, 3), np.float32)
    for i in range(size):
        rows[i] = square[low[i]] * (1 - frac[i]) + square[high[i]] * frac[i]
    out = rows[:, low] * (1 - frac)[None, :, None] + rows[:, high] * frac[None, :, None]
    return (out / 127.5 - 1.0).astype(np.float32)


RIGHT = {"numpy + tf.image bilinear": numpy_and_tf, "PIL bilinear": pil_style(),
         "PIL bicubic": pil_style(Image.Resampling.BICUBIC), "PIL Lanczos": pil_style(Image.Resampling.LANCZOS),
         "TensorFlow ops, antialiased": tf_only, "NumPy only": numpy_only}


@pytest.mark.parametrize("style", RIGHT)
@pytest.mark.parametrize("seed", SEEDS)
def test_right_answers_pass_in_every_style(style, seed, capsys):
    checks.check_prepare_image(RIGHT[style], seed=seed)
    assert capsys.readouterr().out.startswith("passed: image preparation")


# ----------------------------------------------------------------- the usual wrong answers, each named
def unit_range(image, size):
    return (numpy_and_tf(image, size) + 1.0) / 2.0


def unscaled(image, size):
    return tf.image.resize(_centre(_rgb(image)), (size, size)).numpy()


def uint8_pixels(image, size):
    return np.rint(unscaled(image, size)).astype(np.uint8)


def float64(image, size):
    return numpy_and_tf(image, size).astype(np.float64)


def stretched(image, size):
    return (tf.image.resize(_rgb(image), (size, size)).numpy() / 127.5 - 1.0).astype(np.float32)


def top_left(image, size):
    pixels = _rgb(image)
    side = min(pixels.shape[:2])
    return (tf.image.resize(pixels[:side, :side], (size, size)).numpy() / 127.5 - 1.0).astype(np.float32)


def alpha_kept(image, size):
    pixels = np.asarray(image, np.float32)
    if pixels.shape[-1] == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    return (tf.image.resize(_centre(pixels), (size, size)).numpy() / 127.5 - 1.0).astype(np.float32)


def alpha_dropped(image, size):
    return alpha_kept(image[..., :3] if image.shape[-1] == 4 else image, size)


def on_black(image, size):
    if image.shape[-1] == 4:
        image = np.rint(image[..., :3] * (image[..., 3:] / 255.0)).astype(np.uint8)
    return numpy_and_tf(image, size)


def gray_kept(image, size):
    pixels = np.asarray(image, np.float32)
    pixels = _rgb(pixels) if pixels.shape[-1] == 4 else pixels
    return (tf.image.resize(_centre(pixels), (size, size)).numpy() / 127.5 - 1.0).astype(np.float32)


def not_square(image, size):
    pixels = _rgb(image)
    height, width = pixels.shape[:2]
    shape = (size, round(size * width / height)) if width > height else (round(size * height / width), size)
    return (tf.image.resize(pixels, shape).numpy() / 127.5 - 1.0).astype(np.float32)


WRONG = {
    "scaled to [0, 1]": (unit_range, r"scaling to \[0, 1\] \(pixel / 255\)"),
    "left in [0, 255]": (unscaled, r"leaving the pixels in \[0, 255\]"),
    "uint8 output": (uint8_pixels, "returned uint8 values.*float32 in \\[-1, 1\\]"),
    "float64 output": (float64, "values are right but the dtype is float64"),
    "stretched, not cropped": (stretched, "stretching the whole image to a square"),
    "the top-left square": (top_left, "cropping the top-left square"),
    "alpha kept": (alpha_kept, "the alpha channel is still there"),
    "alpha dropped, not composited": (alpha_dropped, "dropping the alpha channel"),
    "composited on black": (on_black, "compositing on black"),
    "grayscale not expanded": (gray_kept, "one channel: a grayscale image must become RGB"),
    "not cropped, aspect kept": (not_square, "not square: crop the centre square"),
}


@pytest.mark.parametrize("mistake", WRONG)
def test_the_usual_mistakes_fail_with_their_name(mistake):
    answer, match = WRONG[mistake]
    with pytest.raises(CheckFailed, match=match) as info:
        checks.check_prepare_image(answer)
    assert str(info.value).startswith("prepare_image on a "), str(info.value)  # which image it failed on
    assert "Traceback" not in str(info.value) and len(str(info.value)) < 500


@pytest.mark.parametrize("mistake", ["stretched, not cropped", "alpha dropped, not composited", "scaled to [0, 1]"])
@pytest.mark.parametrize("seed", SEEDS[1:])
def test_the_hidden_seeds_name_the_mistakes_too(mistake, seed):
    answer, match = WRONG[mistake]
    with pytest.raises(CheckFailed, match=match):
        checks.check_prepare_image(answer, seed=seed)


def test_an_unnamed_wrong_answer_gets_where_and_by_how_much():
    def darker(image, size):
        return numpy_and_tf(image, size) - 0.2

    with pytest.raises(CheckFailed, match=r"pixels differ by up to 0\.2.*at row \d+, column \d+.*Hint: composite"):
        checks.check_prepare_image(darker)


# ----------------------------------------------------------------- broken submissions
def test_broken_submissions_get_a_clear_message():
    def raises(image, size):
        raise ValueError("operands could not be broadcast together")

    with pytest.raises(CheckFailed, match="prepare_image raised ValueError: operands could not be broadcast"):
        checks.check_prepare_image(raises)
    with pytest.raises(CheckFailed, match="returned None. Did you forget the return statement"):
        checks.check_prepare_image(lambda image, size: None)
    with pytest.raises(CheckFailed, match=r"expected shape \(13, 13, 3\), got \(\)"):
        checks.check_prepare_image(lambda image, size: 0.5)
    with pytest.raises(CheckFailed, match="NaN or infinite"):
        checks.check_prepare_image(lambda image, size: numpy_and_tf(image, size) * np.nan)


def test_a_stub_is_let_through_and_the_kit_is_refused():
    def stub(image, size):
        raise NotImplementedError("write prepare_image")

    with pytest.raises(NotImplementedError, match="write prepare_image"):
        checks.check_prepare_image(stub)
    with pytest.raises(CheckFailed, match="called the kit's own gan_kit.data.folders.prepare_image"):
        checks.check_prepare_image(folders.prepare_image)
    with pytest.raises(CheckFailed, match="called the kit's own gan_kit.data.transforms._resize"):
        checks.check_prepare_image(lambda image, size: data.transforms._resize(_rgb(image)[None], size)[0])


# ----------------------------------------------------------------- fixtures and the grader's two halves
def test_the_fixtures_separate_resizing_methods_from_mistakes():
    """Over many seeds every stored mistake is further from the expected image than the tolerance allows, and the
    kit's own implementation (PIL, Lanczos when shrinking) is within it."""
    for seed in range(12):
        for case in prepare_image_reference.prepare_image_cases(seed):
            expected, tolerance = case["expected"]["image"], case["tolerance"]
            assert case["inputs"]["image"].dtype == np.uint8 and expected.shape == (case["inputs"]["size"],) * 2 + (3,)
            for mistake, wrong in case["mistakes"]["image"].items():
                error = np.abs(wrong - expected)
                assert error.max() > 1.25 * tolerance["max"] or error.mean() > 1.25 * tolerance["mean"], mistake
            kit = folders.prepare_image(case["inputs"]["image"], case["inputs"]["size"])
            assert kit.dtype == np.float32 and np.abs(kit - expected).max() <= tolerance["max"] / 4


def test_recorded_outputs_are_judged_like_the_check(tmp_path, monkeypatch):
    monkeypatch.setenv(recording.RECORD_ENV, str(tmp_path))
    call = verdicts.HiddenCall("check_prepare_image", {"seed": 5})
    recording.check_prepare_image(numpy_and_tf, seed=5)
    assert verdicts.judge(call, tmp_path) == ("pass", "")
    recording.check_prepare_image(stretched, seed=5)
    status, why = verdicts.judge(call, tmp_path)
    assert status == "fail" and "stretching the whole image" in why
    assert verdicts.hidden_calls("checks.check_prepare_image(prepare_image, seed=12)")[0].key == "prepare_image-seed=12"


def test_the_hidden_inputs_hold_no_expected_values(tmp_path):
    call = verdicts.HiddenCall("check_prepare_image", {"seed": 12})
    verdicts.write_inputs([call], tmp_path)
    stored = json.loads((tmp_path / fixtures.file_name("prepare_image", 12)).read_text())
    assert all(case["expected"] == {} and case["mistakes"] == {} for case in stored["cases"])
    assert build_fixture("prepare_image", 12)["cases"][0]["expected"]["image"]


def test_the_notebook_states_the_exercise_checks_it_and_hands_it_to_the_kit():
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    text = ["".join(c["source"]) for c in cells]
    answer = next(i for i, t in enumerate(text) if "def prepare_image(image, size):" in t)
    assert "# BEGIN SOLUTION hint:" in text[answer] and "# END SOLUTION" in text[answer]
    assert "checks.check_prepare_image(prepare_image)" in text[answer + 1]
    assert "exercises.use(prepare_image=prepare_image)" in text[answer + 1]
    hidden = cells[answer + 2]
    assert hidden["metadata"] == {"grade": {"exercise": "prepare_image", "points": 2}, "tags": ["hidden-test"]}
    assert [c.seed for c in verdicts.hidden_calls(text[answer + 2])] == [5, 12]
    loads = next(i for i, t in enumerate(text) if 'data.load_arrays("image_folder"' in t)
    trains = next(i for i, t in enumerate(text) if "gan_kit.train(folder_cfg" in t)
    assert answer + 1 < loads < trains


# ----------------------------------------------------------------- the kit uses the registered answer
def _folder(root: Path) -> Path:
    """A folder of one class: a wide RGB image, a tall grayscale one and a fully transparent RGBA one."""
    (root / "things").mkdir(parents=True)
    Image.new("RGB", (30, 20), (200, 10, 10)).save(root / "things" / "wide.png")
    Image.new("L", (12, 18), 90).save(root / "things" / "gray.png")
    Image.new("RGBA", (16, 16), (0, 0, 255, 0)).save(root / "things" / "clear.png")
    return root


def test_the_image_folder_is_prepared_by_the_registered_answer(tmp_path):
    root = _folder(tmp_path / "images")
    seen = []

    def constant(image, size):
        seen.append(image.shape)
        return np.full((size, size, 3), 0.5, np.float32)

    with exercises.using(prepare_image=constant):
        x, y, names = data.load_arrays("image_folder", path=root, image_size=8)
        gray, _, _ = data.load_arrays("image_folder", path=root, image_size=8, channels=1)
    assert sorted(seen[:3]) == [(16, 16, 4), (18, 12, 1), (20, 30, 3)]  # what a student's function is given
    assert x.shape == (3, 8, 8, 3) and x.dtype == np.uint8 and (x == 191).all()  # (0.5 + 1) * 127.5, rounded
    assert gray.shape == (3, 8, 8, 1) and (gray == 191).all()
    x, _, _ = data.load_arrays("image_folder", path=root, image_size=8)  # the kit's own again
    assert list(x[2, 4, 4]) == [200, 10, 10] and list(x[1, 4, 4]) == [90] * 3 and list(x[0, 4, 4]) == [255] * 3


def test_a_training_run_reads_the_folder_through_the_registered_answer(tmp_path):
    root = _folder(tmp_path / "images")
    cfg = config.for_profile("smoke", dataset="image_folder", data_path=str(root), image_size=28, channels=3,
                             output_dir=str(tmp_path / "runs"))
    with exercises.using(prepare_image=lambda image, size: np.full((size, size, 3), -1.0, np.float32)):
        x, _ = training.load_training_arrays(cfg)
    assert x.shape[1:] == (28, 28, 3) and (x == 0).all()


@pytest.mark.parametrize(("answer", "match"), [
    (lambda image, size: np.zeros((size, size), np.float32), r"shape \(8, 8\); the image folder needs \(8, 8, 3\)"),
    (lambda image, size: np.zeros((size, size, 3), np.uint8), "returned uint8 values"),
    (lambda image, size: np.full((size, size, 3), 200.0, np.float32), "values from 200 to 200"),
    (lambda image, size: None, "returned None"),
])
def test_a_broken_registered_answer_stops_the_loading_with_a_message(tmp_path, answer, match):
    root = _folder(tmp_path / "images")
    with exercises.using(prepare_image=answer), pytest.raises(ValueError, match=match) as info:
        data.load_arrays("image_folder", path=root, image_size=8)
    assert "your prepare_image (registered with exercises.use)" in str(info.value)


def test_the_kit_registers_the_exercise_for_notebook_07():
    assert exercises.EXERCISES["prepare_image"] == "07_cifar100_and_custom_data"
    assert preparation.PREPARE_KIT[0] == "data.folders:prepare_image"


# ----------------------------------------------------------------- as in a student release
def _as_release(monkeypatch, folder: Path) -> None:
    """Fixtures read from ``folder`` only, ``gan_kit.instructor`` not importable."""
    import sys

    monkeypatch.setattr(fixtures, "FIXTURE_DIR", folder)
    monkeypatch.setitem(sys.modules, "gan_kit.instructor", None)
    monkeypatch.setitem(sys.modules, "gan_kit.instructor.references", None)
    fixtures.clear_memo()


def test_a_release_judges_from_the_stored_public_fixture(tmp_path, monkeypatch, capsys):
    from gan_kit.instructor import references

    references.write_fixtures(tmp_path, {"prepare_image": fixtures.PUBLIC_SEEDS["prepare_image"]})
    assert [p.name for p in tmp_path.iterdir()] == ["prepare_image-0.json"]
    _as_release(monkeypatch, tmp_path)
    checks.check_prepare_image(pil_style())
    assert capsys.readouterr().out.startswith("passed")
    with pytest.raises(CheckFailed, match="cropping the top-left square"):
        checks.check_prepare_image(top_left)
    assert not fixtures._MEMO  # read from the file, nothing built
    with pytest.raises(fixtures.FixtureMissing, match="no stored expected values for check prepare_image with seed 5"):
        checks.check_prepare_image(pil_style(), seed=5)
