"""Datasets for the course, offline first.

Each dataset is looked up in this order, first hit wins: an explicit ``path``; the
``data_dir`` argument; ``$GAN_KIT_DATA_DIR``; the repo's ``data/`` folder; the Keras cache
(``$KERAS_HOME/datasets``, default ``~/.keras/datasets``); system copies (Debian's
``dataset-fashion-mnist``); last, a download through ``keras.datasets`` when allowed.
When nothing is found, ``DatasetNotFoundError`` lists every place tried and how to fix it.
``data/README.md`` describes the accepted files.

``load_arrays`` returns uint8 NHWC images, int64 labels and class names; ``load`` returns a
batched ``tf.data.Dataset`` of float32 images in [-1, 1].
"""

from __future__ import annotations

import gzip
import os
import pickle
import struct
import tarfile
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import tensorflow as tf

if TYPE_CHECKING:
    from PIL import Image

try:  # numpy >= 2 (and the stub in late 1.26 releases)
    from numpy._core.multiarray import _reconstruct as _np_reconstruct
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct as _np_reconstruct

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
    "to_uint8",
    "to_unit_range",
]

DATASETS: tuple[str, ...] = ("fashion_mnist", "mnist", "cifar10", "cifar100", "digits", "image_folder")
SPLITS: tuple[str, ...] = ("train", "test")
DATA_DIR_ENV = "GAN_KIT_DATA_DIR"
# The repo's data/ folder, next to the gan_kit/ package folder.
REPO_DATA_DIR: Path = Path(__file__).resolve().parent.parent / "data"
# System-wide copies per dataset (folders holding the four original IDX .gz files).
SYSTEM_DATA_DIRS: dict[str, tuple[str, ...]] = {"fashion_mnist": ("/usr/share/datasets/fashion-mnist",)}
IMAGE_EXTENSIONS: tuple[str, ...] = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".webp")
DEFAULT_IMAGE_FOLDER_SIZE = 32
SHUFFLE_BUFFER = 10_000

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


class _Source(NamedTuple):
    kind: str  # npz | npz_keras | npz_any | idx | cifar_dir | cifar_archive | sklearn | images | unsupported
    path: Path | None
    where: str


# --------------------------------------------------------------------------- public helpers


def native_shape(name: str) -> tuple[int, int, int]:
    """The (height, width, channels) a dataset is stored at (image_folder: the default 32x32 RGB)."""
    return _NATIVE_SHAPES[_check_name(name)]


def to_unit_range(x_uint8: Any) -> np.ndarray:
    """uint8 pixels in [0, 255] as float32 in [-1, 1]."""
    return np.asarray(x_uint8, dtype=np.float32) / np.float32(127.5) - np.float32(1.0)


def to_uint8(x: Any) -> np.ndarray:
    """Floats in [-1, 1] as uint8 pixels in [0, 255] (values outside are clipped)."""
    scaled = (np.asarray(x, dtype=np.float32) + np.float32(1.0)) * np.float32(127.5)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def locate(
    name: str,
    split: str = "train",
    *,
    data_dir: str | os.PathLike[str] | None = None,
    path: str | os.PathLike[str] | None = None,
) -> tuple[str | None, list[str]]:
    """Where the dataset would be read from offline (None if nowhere) and the list of places tried."""
    name = _check_name(name)
    _check_split(split)
    source, tried = _find(name, split, data_dir=data_dir, path=path)
    return (source.where if source is not None else None), tried


def available(name: str, split: str = "train", *, data_dir: str | os.PathLike[str] | None = None) -> bool:
    """Whether the dataset can be read offline (never downloads; image_folder needs a path, so False)."""
    return locate(name, split, data_dir=data_dir)[0] is not None


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
    keeps a deterministic, class-balanced subset. image_folder reads the folder ``path``
    (one sub-folder per class, or a flat folder) and ignores ``split``.
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
        x, y, names, ordered = _download(name, split, tried, allow_download)
    elif source.kind == "images":
        assert source.path is not None
        return _read_image_folder(
            source.path, image_size or DEFAULT_IMAGE_FOLDER_SIZE, channels or 3, max_examples
        )
    else:
        x, y, names, ordered = _read_source(source, name, split)

    names = _class_names(name, y, names, source.where if source is not None else f"keras.datasets.{name}")
    x, y = _take(x, y, max_examples, ordered)
    x = _convert(x, image_size, channels)
    return x, y, names


def load(
    name: str,
    split: str = "train",
    *,
    batch_size: int = 128,
    data_dir: str | os.PathLike[str] | None = None,
    path: str | os.PathLike[str] | None = None,
    image_size: int | None = None,
    channels: int | None = None,
    max_examples: int | None = None,
    shuffle: bool = True,
    seed: int = 0,
    with_labels: bool = False,
    drop_remainder: bool = True,
    cache: bool = True,
    allow_download: bool = True,
) -> tf.data.Dataset:
    """Batched float32 images in [-1, 1] (and int labels when with_labels) with cache/shuffle/batch/prefetch."""
    _check_positive_int("batch_size", batch_size)
    x, y, _ = load_arrays(
        name,
        split,
        data_dir=data_dir,
        path=path,
        image_size=image_size,
        channels=channels,
        max_examples=max_examples,
        allow_download=allow_download,
    )
    return to_dataset(
        x,
        y,
        batch_size=batch_size,
        shuffle=shuffle,
        seed=seed,
        with_labels=with_labels,
        drop_remainder=drop_remainder,
        cache=cache,
    )


def to_dataset(
    x: np.ndarray,
    y: np.ndarray | None = None,
    *,
    batch_size: int = 128,
    shuffle: bool = True,
    seed: int = 0,
    with_labels: bool = False,
    drop_remainder: bool = True,
    cache: bool = True,
) -> tf.data.Dataset:
    """The ``load`` pipeline from arrays: uint8 images are scaled to [-1, 1], float images are kept as they are."""
    _check_positive_int("batch_size", batch_size)
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(f"images must be N x H x W x C (or N x H x W); got shape {x.shape}")
    if x.dtype != np.uint8 and not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"images must be uint8 in [0, 255] or floats in [-1, 1]; got dtype {x.dtype}")
    n = len(x)
    if n == 0:
        raise DatasetError("the dataset is empty: there are no images to batch")
    if drop_remainder and batch_size > n:
        raise DatasetError(
            f"batch_size={batch_size} is larger than the dataset ({n} images), so drop_remainder=True leaves no "
            "batch at all: lower batch_size, or raise max_examples (or pass drop_remainder=False)."
        )
    if with_labels:
        if y is None:
            raise ValueError("with_labels=True needs the labels y")
        y = np.asarray(y).reshape(-1).astype(np.int64)
        if len(y) != n:
            raise ValueError(f"{n} images but {len(y)} labels")
        ds = tf.data.Dataset.from_tensor_slices((x, y))
    else:
        ds = tf.data.Dataset.from_tensor_slices(x)
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(min(n, SHUFFLE_BUFFER), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    scale = x.dtype == np.uint8

    def _images(images: tf.Tensor) -> tf.Tensor:
        images = tf.cast(images, tf.float32)
        return images / 127.5 - 1.0 if scale else images

    if with_labels:
        ds = ds.map(lambda images, labels: (_images(images), labels), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(_images, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def epoch_dataset(
    x: np.ndarray,
    y: np.ndarray | None = None,
    *,
    batch_size: int = 128,
    seed: int = 0,
    start_epoch: int = 0,
    epochs: int = 1,
    steps_per_epoch: int | None = None,
    with_labels: bool = False,
) -> tuple[tf.data.Dataset, int]:
    """Batches for epochs ``start_epoch`` .. ``epochs - 1``, each epoch in its own seeded order.

    The order of epoch ``e`` depends only on ``(seed, e)``, so a run resumed at epoch
    ``e`` sees exactly the batches an uninterrupted run would. Images are scaled to
    [-1, 1] as in ``load``.

    Returns:
        The dataset (finite: one pass per remaining epoch) and the steps per epoch.
    """
    _check_positive_int("batch_size", batch_size)
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    n = len(x)
    if n == 0:
        raise DatasetError("the dataset is empty: there are no images to batch")
    if batch_size > n:
        raise DatasetError(
            f"batch_size={batch_size} is larger than the dataset ({n} images): lower batch_size or raise max_examples."
        )
    steps = n // batch_size if steps_per_epoch is None else int(steps_per_epoch)
    if steps < 1:
        raise DatasetError(f"steps_per_epoch must be >= 1; got {steps_per_epoch}")
    per_pass = n // batch_size
    passes = -(-steps // per_pass)  # ceil: an epoch longer than the data wraps around with a new order
    images = tf.constant(x)
    labels = tf.constant(np.asarray(y).reshape(-1).astype(np.int64)) if with_labels else None
    scale = x.dtype == np.uint8

    def _epoch(epoch: tf.Tensor) -> tf.data.Dataset:
        orders = [
            tf.random.experimental.stateless_shuffle(
                tf.range(n, dtype=tf.int64), seed=tf.stack([tf.cast(seed, tf.int64), epoch * 1000 + p])
            )[: per_pass * batch_size]
            for p in range(passes)
        ]
        index = tf.concat(orders, 0)[: steps * batch_size]
        return tf.data.Dataset.from_tensor_slices(tf.reshape(index, [steps, batch_size]))

    def _gather(index: tf.Tensor):
        batch = tf.gather(images, index)
        batch = tf.cast(batch, tf.float32)
        batch = batch / 127.5 - 1.0 if scale else batch
        return (batch, tf.gather(labels, index)) if with_labels else batch

    ds = tf.data.Dataset.range(start_epoch, epochs).flat_map(_epoch)
    ds = ds.map(_gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE), steps


# --------------------------------------------------------------------------- argument checks


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


# --------------------------------------------------------------------------- look-up


def _keras_cache_dir() -> Path:
    home = os.environ.get("KERAS_HOME")
    base = Path(home).expanduser() if home else Path(os.path.expanduser("~")) / ".keras"
    return base / "datasets"


def _place(folder: Path, label: str) -> str:
    return f"{folder} ({label})" if folder.is_dir() else f"{folder} ({label}; no such folder)"


def _find(
    name: str, split: str, *, data_dir: str | os.PathLike[str] | None, path: str | os.PathLike[str] | None
) -> tuple[_Source | None, list[str]]:
    """The first source for (name, split) in look-up order, and the places tried (download excluded)."""
    tried: list[str] = []
    if name == "image_folder":
        if path is None:
            return None, ["explicit path: not given (image_folder needs path=..., config field `data_path`)"]
        folder = Path(path).expanduser()
        if folder.is_file():
            raise DatasetError(f"image_folder path {folder} is a file; pass the folder that holds the images.")
        tried.append(_place(folder, "explicit path"))
        return (_Source("images", folder, str(folder)) if folder.is_dir() else None), tried

    folders: list[tuple[Path | None, str]] = []
    if path is not None:
        explicit = Path(path).expanduser()
        if explicit.is_file():
            tried.append(f"{explicit} (explicit path)")
            return _file_source(explicit, name), tried
        folders.append((explicit, "explicit path"))
    if data_dir is not None:
        folders.append((Path(data_dir).expanduser(), "data_dir argument"))
    env = os.environ.get(DATA_DIR_ENV)
    folders.append((Path(env).expanduser() if env else None, f"${DATA_DIR_ENV}"))
    folders.append((REPO_DATA_DIR, "repo data/ folder"))
    folders.append((_keras_cache_dir(), "Keras cache"))

    for folder, label in folders:
        if folder is None:
            tried.append(f"{label} (not set)")
            continue
        tried.append(_place(folder, label))
        if folder.is_dir():
            source = _scan_folder(folder, name, split, explicit=label == "explicit path")
            if source is not None:
                return source, tried

    if name == "digits":
        tried.append("scikit-learn's bundled copy (sklearn.datasets.load_digits)")
        return _Source("sklearn", None, "sklearn.datasets.load_digits()"), tried
    for system_dir in SYSTEM_DATA_DIRS.get(name, ()):
        folder = Path(system_dir)
        tried.append(_place(folder, "system copy"))
        if _idx_pair(folder, split) is not None:
            return _Source("idx", folder, str(folder)), tried
    return None, tried


def _file_source(file: Path, name: str) -> _Source:
    lower = file.name.lower()
    if lower.endswith(".npz"):
        return _Source("npz_any", file, str(file))
    if name in _CIFAR and (lower.endswith((".tar.gz", ".tgz", ".tar")) or lower.endswith("_archive")):
        return _Source("cifar_archive", file, str(file))
    return _Source("unsupported", file, str(file))


def _scan_folder(folder: Path, name: str, split: str, *, explicit: bool = False) -> _Source | None:
    """The first file or folder in ``folder`` that holds (name, split); an explicit folder may be the data itself."""
    for pattern in (f"{name}_{split}*.npz", f"{name}/{split}*.npz"):
        hits = sorted(p for p in folder.glob(pattern) if p.is_file() and not p.name.startswith("."))
        if hits:
            return _Source("npz", hits[0], str(hits[0]))
    keras_npz = folder / f"{name}.npz"
    if keras_npz.is_file():
        return _Source("npz_keras", keras_npz, str(keras_npz))
    idx_subdirs = _IDX_SUBDIRS.get(name, ())
    if explicit and idx_subdirs and "" not in idx_subdirs:
        idx_subdirs = (*idx_subdirs, "")
    for sub in idx_subdirs:
        candidate = folder / sub if sub else folder
        if _idx_pair(candidate, split) is not None:
            return _Source("idx", candidate, str(candidate))
    layout = _CIFAR.get(name)
    if layout is not None:
        candidates = [folder / parent / layout.folder for parent in ("", *layout.extracted)]
        for candidate in [*candidates, folder] if explicit else candidates:
            if (candidate / layout.files[split][0]).is_file():
                return _Source("cifar_dir", candidate, str(candidate))
        for archive in layout.archives:
            if (folder / archive).is_file():
                return _Source("cifar_archive", folder / archive, str(folder / archive))
    return None


def _idx_file(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def _idx_pair(folder: Path, split: str) -> tuple[Path, Path] | None:
    images_stem, labels_stem = _IDX_FILES[split]
    images, labels = _idx_file(folder, images_stem), _idx_file(folder, labels_stem)
    return (images, labels) if images is not None and labels is not None else None


def _accepted_files(name: str, split: str) -> list[str]:
    lines = [
        f"{name}_{split}.npz or {name}/{split}.npz with arrays x (uint8, N x H x W [x C]) and y (int labels)",
        f"{name}.npz with Keras' keys x_train, y_train, x_test, y_test",
    ]
    images, labels = _IDX_FILES[split]
    if name == "fashion_mnist":
        lines.append(f"the IDX files {images}.gz and {labels}.gz in fashion-mnist/ (or directly in the folder)")
    elif name == "mnist":
        lines.append(f"the IDX files {images}.gz and {labels}.gz in mnist/")
    elif name in _CIFAR:
        layout = _CIFAR[name]
        lines.append(f"the extracted {layout.folder}/ folder, or the archive {layout.archives[0]}")
    return lines


def _not_found_message(name: str, split: str, tried: Sequence[str]) -> str:
    lines = [f"Dataset {name!r} (split {split!r}) was not found. Places tried, in order:"]
    lines += [f"  {i}. {place}" for i, place in enumerate(tried, 1)]
    lines.append("How to fix it (any one of these):")
    lines.append(f"  - put the dataset files in a folder and set {DATA_DIR_ENV}=/path/to/that/folder "
                 "(or pass data_dir=...); accepted files:")
    lines += [f"      * {item}" for item in _accepted_files(name, split)]
    lines.append(f"  - or put those files in the repo's data/ folder: {REPO_DATA_DIR}")
    if name == "fashion_mnist":
        lines.append("  - or install the system copy: apt-get install -y dataset-fashion-mnist")
    if name in _DOWNLOADABLE:
        lines.append(f"  - or go online once with allow_download=True: Keras downloads it and keeps a copy in "
                     f"{_keras_cache_dir()}")
    return "\n".join(lines)


def _download(
    name: str, split: str, tried: list[str], allow_download: bool
) -> tuple[np.ndarray, np.ndarray, list[str] | None, bool]:
    """The split fetched through keras.datasets, or DatasetNotFoundError with every place tried."""
    call = f"keras.datasets.{name}.load_data()"
    if name not in _DOWNLOADABLE:
        raise DatasetNotFoundError(_not_found_message(name, split, tried), tried=tried)
    if not allow_download:
        tried = [*tried, f"download with {call}: skipped (allow_download=False)"]
        raise DatasetNotFoundError(_not_found_message(name, split, tried), tried=tried)
    try:
        import keras

        loader = getattr(keras.datasets, name)
        if name == "cifar100":
            train, test = loader.load_data(label_mode="fine")
        else:
            train, test = loader.load_data()
        x, y = train if split == "train" else test
    except Exception as exc:  # any download/extraction failure becomes "not found"
        tried = [*tried, f"download with {call}: failed ({type(exc).__name__}: {exc})"]
        raise DatasetNotFoundError(_not_found_message(name, split, tried), tried=tried) from exc
    x, y = _validate_xy(x, y, f"the arrays from {call}", "delete the Keras cache entry and try again")
    return x, y, None, False


# --------------------------------------------------------------------------- readers


def _read_source(source: _Source, name: str, split: str) -> tuple[np.ndarray, np.ndarray, list[str] | None, bool]:
    """(images, labels, class names or None, whether the file order is already shuffled)."""
    path = source.path
    if source.kind == "sklearn":
        return _read_digits(split)
    assert path is not None
    if source.kind in ("npz", "npz_keras", "npz_any"):
        return _read_npz(path, split, keras_keys_only=source.kind == "npz_keras")
    if source.kind == "idx":
        return _read_idx_folder(path, split)
    if source.kind == "cifar_dir":
        return _read_cifar_dir(path, _CIFAR[name], split)
    if source.kind == "cifar_archive":
        return _read_cifar_archive(path, _CIFAR[name], split)
    kinds = ".npz" + (" or a CIFAR .tar.gz archive" if name in _CIFAR else "")
    raise DatasetError(f"{path}: unsupported file for dataset {name!r}; pass a {kinds} file, or a folder.")


def _validate_xy(x: Any, y: Any, where: str, fix: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x), np.asarray(y)
    if x.dtype != np.uint8:
        raise DatasetError(f"{where}: images x must be uint8 (0..255), got {x.dtype}; {fix}")
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise DatasetError(f"{where}: images x must be N x H x W or N x H x W x C with C 1 or 3, "
                           f"got shape {x.shape}; {fix}")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise DatasetError(f"{where}: labels y must be a 1-D integer array, got {y.dtype} {y.shape}; {fix}")
    if len(x) != len(y):
        raise DatasetError(f"{where}: {len(x)} images but {len(y)} labels; {fix}")
    if len(x) == 0:
        raise DatasetError(f"{where}: holds no images; {fix}")
    if y.min() < 0:
        raise DatasetError(f"{where}: negative labels; {fix}")
    return x, y.astype(np.int64)


def _class_names(name: str, y: np.ndarray, names: list[str] | None, where: str) -> list[str]:
    if names is None:
        default = _CLASS_NAMES.get(name, ())
        names = list(default) if int(y.max()) < len(default) else [str(i) for i in range(int(y.max()) + 1)]
    if int(y.max()) >= len(names):
        raise DatasetError(f"{where}: label {int(y.max())} but only {len(names)} class names; "
                           "fix the labels or the class_names array")
    return names


def _read_npz(path: Path, split: str, *, keras_keys_only: bool) -> tuple[np.ndarray, np.ndarray, list[str] | None,
                                                                         bool]:
    fix = (f"delete or replace {path} (write it with numpy.savez(path, x=images_uint8, y=labels), "
           "or re-copy the original)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = set(npz.files)
            split_keys = {f"x_{split}", f"y_{split}"}
            if split_keys <= keys:
                x, y, ordered = npz[f"x_{split}"], npz[f"y_{split}"], False
            elif keras_keys_only:
                raise DatasetError(
                    f"{path} has keys {sorted(keys)} but needs Keras' x_train, y_train, x_test, y_test; for x/y "
                    f"arrays of one split, rename it to {path.stem}_{split}.npz (or pass it as path=...)."
                )
            elif "x" in keys or "y" in keys:
                missing = sorted({"x", "y"} - keys)
                if missing:
                    raise DatasetError(f"{path} is missing key(s) {missing} (found {sorted(keys)}); {fix}")
                x, y, ordered = npz["x"], npz["y"], True
            else:
                raise DatasetError(f"{path} has keys {sorted(keys)}; expected x and y (or Keras' "
                                   f"x_{split}, y_{split}); {fix}")
            names = None
            if "class_names" in keys:
                try:
                    raw = npz["class_names"]
                except ValueError as exc:
                    raise DatasetError(f"{path}: class_names must be a string array (np.array(names, dtype=str)), "
                                       f"not an object array ({exc})") from exc
                names = [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(raw).reshape(-1)]
    except DatasetError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error, KeyError) as exc:
        raise DatasetError(f"cannot read {path} ({type(exc).__name__}: {exc}): the file is truncated or corrupt; "
                           f"{fix}") from exc
    x, y = _validate_xy(x, y, str(path), fix)
    return x, y, names, ordered


def _read_idx(path: Path, magic: int) -> np.ndarray:
    kind = "images" if magic == _IDX_IMAGES_MAGIC else "labels"
    fix = f"delete {path} and download it again (or reinstall the package it came from)"
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as handle:
                raw = bytearray(handle.read())
        else:
            raw = bytearray(path.read_bytes())
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"cannot read {path} ({type(exc).__name__}: {exc}): the file is truncated or corrupt; "
                           f"{fix}") from exc
    found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if found != magic:
        raise DatasetError(f"{path} is not an IDX {kind} file (magic number {found}, expected {magic}); {fix}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"{path} is truncated (incomplete header); {fix}")
    dims = struct.unpack(f">{ndim}I", bytes(raw[4:header]))
    expected = int(np.prod(dims, dtype=np.int64))
    if len(raw) - header != expected:
        raise DatasetError(f"{path} holds {len(raw) - header} bytes of data but its header says {dims} "
                           f"({expected} bytes): the file is truncated or corrupt; {fix}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _read_idx_folder(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray, list[str] | None, bool]:
    pair = _idx_pair(folder, split)
    if pair is None:  # pragma: no cover - the look-up checked it
        raise DatasetError(f"{folder} lost its IDX files while being read")
    images_path, labels_path = pair
    x = _read_idx(images_path, _IDX_IMAGES_MAGIC)
    y = _read_idx(labels_path, _IDX_LABELS_MAGIC)
    if len(x) != len(y):
        raise DatasetError(f"{images_path} has {len(x)} images but {labels_path} has {len(y)} labels; delete both "
                           "and download them again")
    x, y = _validate_xy(x, y, str(images_path), "delete the IDX files and download them again")
    return x, y, None, False


# Only what CIFAR's pickled batches need: numpy arrays, their dtypes, and bytes.
def _pickle_latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    if encoding.lower().replace("-", "").replace("_", "") not in ("latin1", "iso88591"):
        raise pickle.UnpicklingError(f"unexpected codec {encoding!r}")
    return text.encode("latin1")


def _pickle_empty_bytes(*args: Any) -> bytes:
    if args:
        raise pickle.UnpicklingError("bytes() with arguments")
    return b""


_PICKLE_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _np_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _np_reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _pickle_latin1_encode,
    ("__builtin__", "bytes"): _pickle_empty_bytes,
    ("builtins", "bytes"): _pickle_empty_bytes,
}


class _CifarUnpickler(pickle.Unpickler):
    """An unpickler that builds numpy arrays, lists, dicts and strings, and refuses everything else."""

    def __init__(self, file: Any, where: str) -> None:
        super().__init__(file, encoding="bytes")
        self._where = where

    def find_class(self, module: str, name: str) -> Any:
        allowed = _PICKLE_ALLOWED.get((module, name))
        if allowed is None:
            raise DatasetError(
                f"refusing to unpickle {module}.{name} from {self._where}: a CIFAR batch only holds numpy arrays "
                "and lists, so this file is not a genuine CIFAR file (it may be malicious). Delete it and get the "
                "dataset again from its official source."
            )
        return allowed


def _unpickle(path: Path, where: str) -> dict[str, Any]:
    fix = "the file is truncated or corrupt; delete it and download / extract the dataset again"
    try:
        with open(path, "rb") as handle:
            obj = _CifarUnpickler(handle, where).load()
    except DatasetError:
        raise
    except (pickle.UnpicklingError, EOFError, OSError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            OverflowError, MemoryError) as exc:
        raise DatasetError(f"cannot read {where} ({type(exc).__name__}: {exc}): {fix}") from exc
    if not isinstance(obj, dict):
        raise DatasetError(f"{where} holds a {type(obj).__name__}, not a CIFAR batch dict: {fix}")
    return {(k.decode("latin1") if isinstance(k, bytes) else str(k)): v for k, v in obj.items()}


def _read_cifar_dir(
    folder: Path, layout: _CifarLayout, split: str, display: str | None = None
) -> tuple[np.ndarray, np.ndarray, list[str] | None, bool]:
    shown = display or str(folder)
    images, labels = [], []
    for file_name in layout.files[split]:
        where = f"{shown}/{file_name}"
        if not (folder / file_name).is_file():
            raise DatasetError(f"{shown} is incomplete: {file_name} is missing; delete the folder and extract "
                               f"{layout.archives[0]} again (or download the dataset again)")
        batch = _unpickle(folder / file_name, where)
        if "data" not in batch or layout.label_key not in batch:
            raise DatasetError(f"{where} lacks b'data' or b'{layout.label_key}' (keys {sorted(batch)}); it is not "
                               "a CIFAR batch: delete it and download the dataset again")
        data, batch_labels = np.asarray(batch["data"]), np.asarray(batch[layout.label_key])
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise DatasetError(f"{where}: b'data' must be uint8 N x 3072, got {data.dtype} {data.shape}; delete it "
                               "and download the dataset again")
        images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(batch_labels.reshape(-1))
    names = None
    if (folder / layout.meta).is_file():
        meta = _unpickle(folder / layout.meta, f"{shown}/{layout.meta}")
        if layout.names_key in meta:
            names = [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in meta[layout.names_key]]
    x = np.ascontiguousarray(np.concatenate(images))
    try:
        y = np.concatenate(labels)
    except ValueError as exc:
        raise DatasetError(f"{shown}: malformed labels ({exc}); delete it and download the dataset again") from exc
    x, y = _validate_xy(x, y, shown, "delete it and download the dataset again")
    return x, y, names, False


def _unsafe_member(member: tarfile.TarInfo) -> str | None:
    name = member.name
    posix, windows = PurePosixPath(name), PureWindowsPath(name)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or name.startswith(("/", "\\")):
        return "an absolute path"
    if ".." in windows.parts:
        return "a '..' path"
    if member.issym() or member.islnk():
        return "a link"
    if not (member.isfile() or member.isdir()):
        return "a special file"
    return None


def _read_cifar_archive(
    archive: Path, layout: _CifarLayout, split: str
) -> tuple[np.ndarray, np.ndarray, list[str] | None, bool]:
    fix = f"delete {archive} and download it again"
    with tempfile.TemporaryDirectory(prefix="gan_kit_cifar_") as tmp:
        try:
            with tarfile.open(archive, "r:*") as tar:
                members = []
                for member in tar.getmembers():
                    problem = _unsafe_member(member)
                    if problem is not None:
                        raise DatasetError(f"refusing to extract {archive}: member {member.name!r} is {problem}; "
                                           f"{fix} from the official source")
                    if PurePosixPath(member.name).parts[:1] == (layout.folder,):
                        members.append(member)
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(tmp, members=members, filter="data")
                else:  # pragma: no cover - Python without extraction filters; members were checked above
                    tar.extractall(tmp, members=members)
        except DatasetError:
            raise
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise DatasetError(f"cannot read archive {archive} ({type(exc).__name__}: {exc}): it is truncated or "
                               f"corrupt; {fix}") from exc
        folder = Path(tmp) / layout.folder
        first = layout.files[split][0]
        if not (folder / first).is_file():
            raise DatasetError(f"{archive} does not contain {layout.folder}/{first}; {fix}")
        return _read_cifar_dir(folder, layout, split, display=f"{archive}:{layout.folder}")


def _read_digits(split: str) -> tuple[np.ndarray, np.ndarray, list[str] | None, bool]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.clip(np.rint(np.asarray(bunch.images) * (255.0 / 16.0)), 0, 255).astype(np.uint8)[..., None]
    target = np.asarray(bunch.target, dtype=np.int64)
    order = np.random.default_rng(0).permutation(len(images))
    n_train = int(round(0.8 * len(images)))
    index = order[:n_train] if split == "train" else order[n_train:]
    return images[index], target[index], list(_DIGIT_NAMES), True


# --------------------------------------------------------------------------- image folders


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


# --------------------------------------------------------------------------- post-processing


def _take(x: np.ndarray, y: np.ndarray, n: int | None, ordered: bool) -> tuple[np.ndarray, np.ndarray]:
    """The first n examples of a shuffled source, or a seeded, class-balanced subset of an ordered one."""
    if n is None or n >= len(x):
        return x, y
    if ordered:
        return x[:n], y[:n]
    index = np.sort(np.random.default_rng(0).permutation(len(x))[:n])
    return x[index], y[index]


def _to_channels(x: np.ndarray, channels: int) -> np.ndarray:
    if x.shape[-1] == channels:
        return x
    if channels == 3:
        return np.repeat(x, 3, axis=-1)
    weights = (299, 587, 114)  # ITU-R 601 luma, as PIL's "L" conversion
    luma = sum(x[..., c].astype(np.uint32) * w for c, w in enumerate(weights))
    return ((luma + 500) // 1000).astype(np.uint8)[..., None]


def _resize(x: np.ndarray, size: int, chunk: int = 4096) -> np.ndarray:
    _, height, width, _ = x.shape
    if height != width:
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        x = x[:, top : top + side, left : left + side]
    side = x.shape[1]
    if side == size:
        return np.ascontiguousarray(x)
    out = np.empty((len(x), size, size, x.shape[-1]), dtype=np.uint8)
    for start in range(0, len(x), chunk):
        resized = tf.image.resize(x[start : start + chunk], (size, size), method="bilinear", antialias=size < side)
        out[start : start + chunk] = np.clip(np.rint(resized.numpy()), 0, 255).astype(np.uint8)
    return out


def _convert(x: np.ndarray, image_size: int | None, channels: int | None) -> np.ndarray:
    if channels is not None and channels < x.shape[-1]:
        x = _to_channels(x, channels)
    if image_size is not None:
        x = _resize(x, image_size)
    if channels is not None:
        x = _to_channels(x, channels)
    return np.ascontiguousarray(x)
