"""The offline-first look-up: where a dataset is read from (an explicit path, ``data_dir``, ``$GAN_KIT_DATA_DIR``,
the repo's ``data/`` folder, the Keras cache, system copies, first hit wins), the list of places tried, the
not-found message that says how to fix it, and the last resort, a download through ``keras.datasets``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .catalog import (
    _CIFAR,
    _DOWNLOADABLE,
    _IDX_FILES,
    _IDX_SUBDIRS,
    DatasetError,
    DatasetNotFoundError,
    _check_name,
    _check_split,
)
from .readers import _idx_pair, _Source, _validate_xy

DATA_DIR_ENV = "GAN_KIT_DATA_DIR"
# The repo's data/ folder, next to the gan_kit/ package folder.
REPO_DATA_DIR: Path = Path(__file__).resolve().parent.parent.parent / "data"
# System-wide copies per dataset (folders holding the four original IDX .gz files).
SYSTEM_DATA_DIRS: dict[str, tuple[str, ...]] = {"fashion_mnist": ("/usr/share/datasets/fashion-mnist",)}


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
