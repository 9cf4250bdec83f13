"""What the data tests share: every test isolated from the machine's own copies, and the file writers."""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from gan_kit import data

SHARED_DATA = (
    Path(os.environ["GAN_KIT_DATA_DIR"])
    if os.environ.get("GAN_KIT_DATA_DIR")
    else Path(__file__).resolve().parents[3] / "shared" / "data"
)


RNG = np.random.default_rng(1234)


needs_shared = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason=f"shared data folder not found ({SHARED_DATA}); set GAN_KIT_DATA_DIR"
)


# --------------------------------------------------------------------------- fixtures and writers


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Hide the machine's own copies: no env dir, an empty repo data/ and Keras cache, no system dirs."""
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    keras_home = tmp_path / "keras_home"
    (keras_home / "datasets").mkdir(parents=True)
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    repo_data = tmp_path / "repo_data"
    repo_data.mkdir()
    monkeypatch.setattr(data.lookup, "REPO_DATA_DIR", repo_data)
    monkeypatch.setattr(data.lookup, "SYSTEM_DATA_DIRS", {})
    return {"keras": keras_home / "datasets", "repo": repo_data}


@pytest.fixture
def no_download(monkeypatch):
    """Fail the test if any keras.datasets loader is called."""
    import keras

    def _fail(*args, **kwargs):
        raise AssertionError("download attempted")

    for name in ("mnist", "fashion_mnist", "cifar10", "cifar100"):
        monkeypatch.setattr(getattr(keras.datasets, name), "load_data", _fail)


def _images(n: int, h: int = 28, w: int = 28, c: int | None = None) -> np.ndarray:
    shape = (n, h, w) if c is None else (n, h, w, c)
    return RNG.integers(0, 256, shape, dtype=np.uint8)


def _labels(n: int, classes: int = 10) -> np.ndarray:
    return RNG.integers(0, classes, n).astype(np.uint8)


def _write_idx(path: Path, array: np.ndarray, magic: int | None = None) -> Path:
    magic = magic if magic is not None else (2051 if array.ndim == 3 else 2049)
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())
    return path


def _write_idx_set(folder: Path, n_train: int = 12, n_test: int = 6) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    arrays = {}
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        x, y = _images(n), _labels(n)
        _write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", x)
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", y)
        arrays[split] = (x, y)
    return arrays


def _chw_rows(x_hwc: np.ndarray) -> np.ndarray:
    """HWC images as CIFAR's rows: 1024 red, 1024 green, 1024 blue values, row-major."""
    return x_hwc.transpose(0, 3, 1, 2).reshape(len(x_hwc), 3 * 32 * 32)


def _dump(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(obj, protocol=2))


def _write_cifar10(folder: Path, per_batch: int = 3) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """cifar-10-batches-py as Keras downloads it: pickled dicts with bytes keys."""
    out: dict[str, list] = {"train": [[], []], "test": [[], []]}
    for file_name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        x, y = _images(per_batch, 32, 32, 3), [int(v) for v in _labels(per_batch)]
        _dump(folder / file_name, {b"batch_label": file_name.encode(), b"labels": y, b"data": _chw_rows(x),
                                   b"filenames": [f"img_{i}.png".encode() for i in range(per_batch)]})
        split = "test" if file_name == "test_batch" else "train"
        out[split][0].append(x)
        out[split][1].extend(y)
    _dump(folder / "batches.meta", {b"num_cases_per_batch": per_batch, b"num_vis": 3072,
                                    b"label_names": [n.encode() for n in data._CLASS_NAMES["cifar10"]]})
    return {split: (np.concatenate(xs), np.array(ys)) for split, (xs, ys) in out.items()}


def _write_npz(path: Path, x: np.ndarray, y: np.ndarray, **extra) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x=x, y=y, **extra)
    return path
