"""``load_arrays``, from a dataset name to uint8 NHWC images, int64 labels and class names: it checks the
arguments, looks the dataset up, reads it (or downloads it as a last resort), and takes the subset, channels and
size asked for. It needs no ``tf.data``; TensorFlow is imported only to resize.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .catalog import (
    DEFAULT_IMAGE_FOLDER_SIZE,
    DatasetError,
    DatasetNotFoundError,
    _check_name,
    _check_positive_int,
    _check_split,
)
from .folders import _read_image_folder
from .lookup import _download, _find
from .readers import _class_names, _read_source
from .transforms import _convert, _take


def load_arrays(
    name: str,
    split: str = "train",
    *,
    data_dir: str | os.PathLike[str] | None = None,
    path: str | os.PathLike[str] | None = None,
    image_size: int | None = None,
    channels: int | None = None,
    max_examples: int | None = None,
    allow_download: bool = True,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """uint8 images N x H x W x C, int64 labels N, class names.

    ``image_size`` resizes to a square, ``channels`` (1 or 3) converts, ``max_examples``
    keeps a deterministic subset (the first examples of a shuffled file, else a seeded random
    subset, so that a file sorted by class still gives every class about its share).
    image_folder reads the folder ``path`` (one sub-folder per class, or a flat folder) and
    ignores ``split``.
    """
    name = _check_name(name)
    _check_split(split)
    image_size = _check_positive_int("image_size", image_size)
    max_examples = _check_positive_int("max_examples", max_examples)
    if channels is not None and (isinstance(channels, bool) or channels not in (1, 3)):
        raise ValueError(f"channels must be 1 (grayscale), 3 (RGB) or None (as stored); got {channels!r}")
    if name == "image_folder" and path is None:
        raise DatasetError(
            "dataset 'image_folder' needs the folder of images: pass path=... (config field `data_path`), "
            "a folder with one sub-folder per class or with the images directly inside."
        )

    source, tried = _find(name, split, data_dir=data_dir, path=path)
    if source is None:
        if name == "image_folder":
            raise DatasetNotFoundError(
                f"image folder not found: {Path(path).expanduser()} does not exist (from `path` / config "
                "`data_path`). Point it at an existing folder of images.",
                tried=tried,
            )
        x, y, names, shuffled = _download(name, split, tried, allow_download)
    elif source.kind == "images":
        assert source.path is not None
        return _read_image_folder(
            source.path, image_size or DEFAULT_IMAGE_FOLDER_SIZE, channels or 3, max_examples
        )
    else:
        x, y, names, shuffled = _read_source(source, name, split)

    names = _class_names(name, y, names, source.where if source is not None else f"keras.datasets.{name}")
    x, y = _take(x, y, max_examples, shuffled)
    x = _convert(x, image_size, channels)
    return x, y, names
