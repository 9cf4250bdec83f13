"""What the kit knows about each dataset before reading a byte: the names, splits, native shapes and class names,
the CIFAR archive layouts and IDX file names, the two error classes every reader raises, and the checks of the
arguments (dataset name, split, positive integers) that every entry point runs first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ..config import DATASET_NAMES as DATASETS  # the names' one home is the config, which checks them first

SPLITS: tuple[str, ...] = ("train", "test")
DEFAULT_IMAGE_FOLDER_SIZE = 32

_NATIVE_SHAPES: dict[str, tuple[int, int, int]] = {
    "fashion_mnist": (28, 28, 1),
    "mnist": (28, 28, 1),
    "cifar10": (32, 32, 3),
    "cifar100": (32, 32, 3),
    "digits": (8, 8, 1),
    "image_folder": (DEFAULT_IMAGE_FOLDER_SIZE, DEFAULT_IMAGE_FOLDER_SIZE, 3),
}
_DOWNLOADABLE = ("fashion_mnist", "mnist", "cifar10", "cifar100")
_DIGIT_NAMES = tuple(str(i) for i in range(10))
_CIFAR100_NAMES = (
    "apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel can "
    "castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur dolphin "
    "elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion lizard lobster "
    "man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck "
    "pine_tree plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk "
    "skyscraper snail snake spider squirrel streetcar sunflower sweet_pepper table tank telephone television tiger "
    "tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm"
).split()
_CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "fashion_mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                      "Ankle boot"),
    "mnist": _DIGIT_NAMES,
    "digits": _DIGIT_NAMES,
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    "cifar100": tuple(_CIFAR100_NAMES),
}

# IDX files (images, labels) per split, and the sub-folders of a data folder that may hold them.
_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IDX_SUBDIRS = {"fashion_mnist": ("fashion-mnist", "fashion_mnist", ""), "mnist": ("mnist",)}
_IDX_IMAGES_MAGIC = 2051
_IDX_LABELS_MAGIC = 2049


class _CifarLayout(NamedTuple):
    folder: str  # the folder inside the archive
    files: dict[str, tuple[str, ...]]  # batch files per split
    label_key: str
    meta: str
    names_key: str
    extracted: tuple[str, ...]  # parent folders Keras 3 extracts into
    archives: tuple[str, ...]  # archive names (original and as Keras saves them)


_CIFAR: dict[str, _CifarLayout] = {
    "cifar10": _CifarLayout(
        folder="cifar-10-batches-py",
        files={"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)},
        label_key="labels",
        meta="batches.meta",
        names_key="label_names",
        extracted=("cifar-10-batches-py-target", "cifar-10-batches-py_extracted"),
        archives=("cifar-10-python.tar.gz", "cifar-10-batches-py.tar.gz", "cifar-10-batches-py-target_archive"),
    ),
    "cifar100": _CifarLayout(
        folder="cifar-100-python",
        files={"train": ("train",), "test": ("test",)},
        label_key="fine_labels",
        meta="meta",
        names_key="fine_label_names",
        extracted=("cifar-100-python-target", "cifar-100-python_extracted"),
        archives=("cifar-100-python.tar.gz", "cifar-100-python-target_archive"),
    ),
}


class DatasetNotFoundError(FileNotFoundError):
    """No copy of a dataset was found; the message lists every place tried and how to fix it."""

    def __init__(self, message: str, *, tried: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.tried = list(tried)


class DatasetError(ValueError):
    """A dataset file or folder is corrupt, truncated, malformed or unsafe; the message names it and the fix."""


def native_shape(name: str) -> tuple[int, int, int]:
    """The (height, width, channels) a dataset is stored at (image_folder: the default 32x32 RGB)."""
    return _NATIVE_SHAPES[_check_name(name)]


def _check_name(name: str) -> str:
    key = str(name).strip().lower().replace("-", "_") if isinstance(name, str) else name
    if key not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    return key


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; choose 'train' or 'test'")


def _check_positive_int(field: str, value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{field} must be a positive integer or None; got {value!r}")
    return int(value)
