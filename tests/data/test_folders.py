"""Folders of image files (``gan_kit.data.folders``)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from gan_kit import data

# --------------------------------------------------------------------------- image folders


def _save(path: Path, image) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def test_image_folder_classes(tmp_path):
    from PIL import Image

    root = tmp_path / "pets"
    for i in range(3):
        _save(root / "dogs" / f"{i}.png", Image.new("RGB", (40, 40), (200, 10, 10)))
        _save(root / "cats" / f"{i}.jpg", Image.new("RGB", (32, 32), (10, 10, 200)))
    _save(root / "cats" / ".hidden.png", Image.new("RGB", (8, 8)))  # hidden files are ignored
    (root / ".git").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x, y, names = data.load_arrays("image_folder", path=root)
    assert names == ["cats", "dogs"] and x.shape == (6, 32, 32, 3) and x.dtype == np.uint8
    assert list(y) == [0, 0, 0, 1, 1, 1]
    assert x[0, 16, 16, 2] > 150 and x[3, 16, 16, 0] > 150
    x, y, _ = data.load_arrays("image_folder", path=root, image_size=16, channels=1, max_examples=4)
    assert x.shape == (4, 16, 16, 1) and list(y) == sorted(y)


def test_image_folder_flat_mixed_modes(tmp_path):
    from PIL import Image

    root = tmp_path / "faces"
    _save(root / "gray.png", Image.new("L", (20, 30), 128))
    rgba = Image.new("RGBA", (64, 64), (255, 0, 0, 255))
    rgba.putpixel((0, 0), (0, 0, 0, 0))
    _save(root / "rgba.png", rgba)
    palette = Image.new("P", (50, 50), 1)
    palette.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    _save(root / "palette.gif", palette)
    _save(root / "rgb.bmp", Image.new("RGB", (100, 60), (0, 0, 255)))
    _save(root / "rgb.webp", Image.new("RGB", (8, 8), (9, 9, 9)))
    x, y, names = data.load_arrays("image_folder", path=str(root), image_size=32)
    assert x.shape == (5, 32, 32, 3) and names == ["faces"] and not y.any()
    by_name = dict(zip(sorted(p.name for p in root.iterdir()), x))
    assert list(by_name["gray.png"][5, 5]) == [128, 128, 128]
    assert list(by_name["palette.gif"][5, 5]) == [0, 255, 0]
    assert list(by_name["rgb.bmp"][5, 5]) == [0, 0, 255]
    assert list(by_name["rgba.png"][16, 16]) == [255, 0, 0]
    assert list(by_name["rgba.png"][0, 0]) != [0, 0, 0]  # transparency is composited over white
    gray, _, _ = data.load_arrays("image_folder", path=root, channels=1)
    assert gray.shape == (5, 32, 32, 1)


def test_image_folder_skips_bad_files_with_one_warning(tmp_path):
    from PIL import Image

    root = tmp_path / "imgs"
    _save(root / "good.png", Image.new("RGB", (32, 32), (1, 2, 3)))
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    (root / "notes.txt").write_text("not an image")
    with pytest.warns(UserWarning, match="skipped 2 file") as record:
        x, _, _ = data.load_arrays("image_folder", path=root)
    assert len(record) == 1 and "broken.png" in str(record[0].message) and "notes.txt" in str(record[0].message)
    assert x.shape == (1, 32, 32, 3)


def test_image_folder_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(data.DatasetError, match=r"no readable images.*\.png") as info:
        data.load_arrays("image_folder", path=empty)
    assert str(empty) in str(info.value)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.jpg").write_bytes(b"not a jpeg")
    (bad / "b.csv").write_text("1,2")
    with pytest.warns(UserWarning), pytest.raises(data.DatasetError, match="no readable images") as info:
        data.load_arrays("image_folder", path=bad)
    assert str(bad) in str(info.value)
    with pytest.raises(data.DatasetError, match="data_path"):
        data.load_arrays("image_folder")
    with pytest.raises(data.DatasetNotFoundError, match="does not exist"):
        data.load_arrays("image_folder", path=tmp_path / "nope")
    assert not data.available("image_folder")
