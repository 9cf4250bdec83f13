"""The readers of the files a look-up finds: ``.npz`` arrays, IDX files (gzipped or not), CIFAR batch folders and
archives (through an unpickler that builds only numpy arrays, and a tar extraction that refuses links, absolute and
``..`` paths), and scikit-learn's bundled digits; each checks what it read (``_validate_xy``) and raises
``DatasetError`` naming the file and the fix.
"""

from __future__ import annotations

import gzip
import pickle
import struct
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, NamedTuple

import numpy as np

from .catalog import (
    _CIFAR,
    _CLASS_NAMES,
    _DIGIT_NAMES,
    _IDX_FILES,
    _IDX_IMAGES_MAGIC,
    _IDX_LABELS_MAGIC,
    DatasetError,
    _CifarLayout,
)

try:  # numpy >= 2 (and the stub in late 1.26 releases)
    from numpy._core.multiarray import _reconstruct as _np_reconstruct
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct as _np_reconstruct


class _Source(NamedTuple):
    kind: str  # npz | npz_keras | npz_any | idx | cifar_dir | cifar_archive | sklearn | images | unsupported
    path: Path | None
    where: str


def _idx_file(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def _idx_pair(folder: Path, split: str) -> tuple[Path, Path] | None:
    images_stem, labels_stem = _IDX_FILES[split]
    images, labels = _idx_file(folder, images_stem), _idx_file(folder, labels_stem)
    return (images, labels) if images is not None and labels is not None else None


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
                x, y, xy_file = npz[f"x_{split}"], npz[f"y_{split}"], False
            elif keras_keys_only:
                raise DatasetError(
                    f"{path} has keys {sorted(keys)} but needs Keras' x_train, y_train, x_test, y_test; for x/y "
                    f"arrays of one split, rename it to {path.stem}_{split}.npz (or pass it as path=...)."
                )
            elif "x" in keys or "y" in keys:
                missing = sorted({"x", "y"} - keys)
                if missing:
                    raise DatasetError(f"{path} is missing key(s) {missing} (found {sorted(keys)}); {fix}")
                x, y, xy_file = npz["x"], npz["y"], True
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
    # An x/y file may be in any order (often sorted by class): its labels say whether it is shuffled.
    return x, y, names, xy_file and looks_shuffled(y)


def looks_shuffled(y: np.ndarray) -> bool:
    """Whether labels are in a shuffled order: the label changes between neighbours at least half as often as in
    a random order. A file sorted (or blocked) by class is not, so its first N examples are not a fair subset."""
    y = np.asarray(y).reshape(-1)
    if len(y) < 2:
        return True
    shares = np.unique(y, return_counts=True)[1] / len(y)
    expected = (len(y) - 1) * (1.0 - float(np.sum(shares**2)))
    return bool(np.count_nonzero(y[1:] != y[:-1]) >= 0.5 * expected)


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
