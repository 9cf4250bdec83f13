"""Datasets for the course, offline first.

Each dataset is looked up in this order, first hit wins: an explicit ``path``; the
``data_dir`` argument; ``$GAN_KIT_DATA_DIR``; the repo's ``data/`` folder; the Keras cache
(``$KERAS_HOME/datasets``, default ``~/.keras/datasets``); system copies (Debian's
``dataset-fashion-mnist``); last, a download through ``keras.datasets`` when allowed.
When nothing is found, ``DatasetNotFoundError`` lists every place tried and how to fix it.
``data/README.md`` describes the accepted files.

``load_arrays`` returns uint8 NHWC images, int64 labels and class names; ``load`` returns a
batched ``tf.data.Dataset`` of float32 images in [-1, 1].

Modules: ``catalog`` (names, shapes, class names, errors), ``lookup`` (where each dataset is
found; patch ``lookup.REPO_DATA_DIR`` / ``lookup.SYSTEM_DATA_DIRS`` to move the look-up),
``readers`` (npz, IDX, CIFAR, digits), ``folders`` (image folders), ``transforms`` (subsets,
channels, resizing), ``arrays`` (``load_arrays``), ``pipeline`` (``tf.data``). The public names live in
``gan_kit.data``; the pixel conversions ``to_unit_range`` / ``to_uint8`` live in ``gan_kit.images``.
"""

from __future__ import annotations

from . import lookup as lookup
from .arrays import load_arrays
from .catalog import _CLASS_NAMES as _CLASS_NAMES
from .catalog import DATASETS, SPLITS, DatasetError, DatasetNotFoundError, native_shape
from .folders import IMAGE_EXTENSIONS
from .lookup import DATA_DIR_ENV, REPO_DATA_DIR, SYSTEM_DATA_DIRS, available, locate
from .pipeline import epoch_dataset, load, to_dataset

__all__ = [
    "DATASETS",
    "DATA_DIR_ENV",
    "IMAGE_EXTENSIONS",
    "REPO_DATA_DIR",
    "SPLITS",
    "SYSTEM_DATA_DIRS",
    "DatasetError",
    "DatasetNotFoundError",
    "available",
    "epoch_dataset",
    "load",
    "load_arrays",
    "locate",
    "native_shape",
    "to_dataset",
]
