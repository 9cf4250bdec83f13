"""Tests for gan_kit.data: real offline copies, exact on-disk formats, look-up order, corrupt and unsafe files."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest

from gan_kit import data
from tests.data.conftest import (
    RNG,
    SHARED_DATA,
    _chw_rows,
    _dump,
    _images,
    _labels,
    _write_cifar10,
    _write_idx,
    _write_idx_set,
    _write_npz,
    needs_shared,
)


def _write_cifar100(folder: Path, n: int = 7) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for split in ("train", "test"):
        x, fine = _images(n, 32, 32, 3), [int(v) for v in RNG.integers(0, 100, n)]
        _dump(folder / split, {b"filenames": [b"a.png"] * n, b"batch_label": b"", b"fine_labels": fine,
                               b"coarse_labels": [v // 5 for v in fine], b"data": _chw_rows(x)})
        out[split] = (x, np.array(fine))
    _dump(folder / "meta", {b"fine_label_names": [f"class_{i}".encode() for i in range(100)],
                            b"coarse_label_names": [f"super_{i}".encode() for i in range(20)]})
    return out


# --------------------------------------------------------------------------- real copies at hand


@needs_shared
@pytest.mark.parametrize("split", ["train", "test"])
def test_shared_cifar10_npz(split, no_download):
    x, y, names = data.load_arrays("cifar10", split, data_dir=SHARED_DATA, max_examples=200)
    assert x.shape == (200, 32, 32, 3) and x.dtype == np.uint8
    assert y.shape == (200,) and y.dtype == np.int64 and 0 <= y.min() and y.max() <= 9
    assert names[0] == "airplane" and len(names) == 10
    # The train file is shuffled (its first 200 are taken); the test file is sorted by class (1,000 airplanes
    # first), so a seeded random subset is taken: every class about 20 times, not 200 airplanes.
    assert set(np.unique(y)) == set(range(10)) and np.bincount(y).min() >= 8
    with np.load(SHARED_DATA / f"cifar10_{split}_10k.npz") as npz:
        if split == "train":
            np.testing.assert_array_equal(x, npz["x"][:200])
        else:
            assert not data.readers.looks_shuffled(npz["y"])


# --------------------------------------------------------------------------- exact on-disk formats


@pytest.mark.parametrize(
    ("name", "where", "sub"),
    [
        ("mnist", "repo", "mnist"),
        ("fashion_mnist", "repo", "fashion-mnist"),
        ("fashion_mnist", "repo", "fashion_mnist"),
        ("fashion_mnist", "repo", ""),
        ("fashion_mnist", "keras", "fashion-mnist"),  # Keras' own cache layout
    ],
)
def test_idx_gz_files(isolated, name, where, sub, no_download):
    folder = isolated[where] / sub if sub else isolated[where]
    arrays = _write_idx_set(folder)
    for split in ("train", "test"):
        x, y, names = data.load_arrays(name, split, allow_download=False)
        np.testing.assert_array_equal(x[..., 0], arrays[split][0])
        np.testing.assert_array_equal(y, arrays[split][1])
        assert x.shape[1:] == (28, 28, 1) and x.dtype == np.uint8 and y.dtype == np.int64 and len(names) == 10
    assert data.locate(name, "train")[0] == str(folder)


@pytest.mark.parametrize("layout", ["cifar-10-batches-py", "cifar-10-batches-py-target/cifar-10-batches-py"])
def test_cifar10_batches(isolated, layout, no_download):
    folder = isolated["keras"] / layout
    arrays = _write_cifar10(folder)
    x, y, names = data.load_arrays("cifar10", "train", allow_download=False)
    assert x.shape == (15, 32, 32, 3) and x.dtype == np.uint8 and y.dtype == np.int64
    np.testing.assert_array_equal(x, arrays["train"][0])
    np.testing.assert_array_equal(y, arrays["train"][1])
    # CHW rows -> HWC: pixel (row 1, column 2) of channel c sits at c * 1024 + 1 * 32 + 2
    rows = _chw_rows(arrays["train"][0])
    assert [int(v) for v in x[0, 1, 2]] == [int(rows[0, c * 1024 + 34]) for c in range(3)]
    assert names == list(data._CLASS_NAMES["cifar10"])
    x_test, y_test, _ = data.load_arrays("cifar10", "test", allow_download=False)
    np.testing.assert_array_equal(x_test, arrays["test"][0])
    assert data.locate("cifar10")[0] == str(folder)


class _Py2Pickler(pickle._Pickler):
    """Writes str and bytes as Python 2's BINSTRING, as in the original CIFAR files."""

    dispatch = pickle._Pickler.dispatch.copy()

    def _save_binstring(self, obj):
        raw = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)
        self.memoize(obj)

    dispatch[bytes] = _save_binstring
    dispatch[str] = _save_binstring


def _py2_pickle(obj: object) -> bytes:
    buffer = io.BytesIO()
    _Py2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue().replace(b"numpy._core.multiarray", b"numpy.core.multiarray")  # numpy 1.x name


def test_cifar_python2_pickles_load(isolated):
    """The original CIFAR files: Python 2 strings and numpy.core.multiarray._reconstruct."""
    folder = isolated["repo"] / "cifar-10-batches-py"
    x = _images(4, 32, 32, 3)
    folder.mkdir()
    (folder / "test_batch").write_bytes(_py2_pickle({"batch_label": "testing batch 1 of 1", "labels": [1, 2, 3, 9],
                                                     "data": _chw_rows(x), "filenames": ["a.png"] * 4}))
    (folder / "batches.meta").write_bytes(_py2_pickle({"label_names": [f"n{i}" for i in range(10)]}))
    assert b"numpy.core.multiarray" in (folder / "test_batch").read_bytes()
    got_x, got_y, names = data.load_arrays("cifar10", "test", allow_download=False)
    np.testing.assert_array_equal(got_x, x)
    assert got_y.tolist() == [1, 2, 3, 9] and names[9] == "n9"


def test_cifar100_python(isolated, no_download):
    arrays = _write_cifar100(isolated["repo"] / "cifar-100-python")
    x, y, names = data.load_arrays("cifar100", "test", allow_download=False)
    np.testing.assert_array_equal(x, arrays["test"][0])
    np.testing.assert_array_equal(y, arrays["test"][1])
    assert len(names) == 100 and names[3] == "class_3"


def test_cifar10_tarball_only(isolated, tmp_path, no_download):
    arrays = _write_cifar10(tmp_path / "src" / "cifar-10-batches-py")
    archive = isolated["repo"] / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "src" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    assert data.locate("cifar10")[0] == str(archive)
    x, y, _ = data.load_arrays("cifar10", "test", allow_download=False)
    np.testing.assert_array_equal(x, arrays["test"][0])
    np.testing.assert_array_equal(y, arrays["test"][1])
    assert sorted(p.name for p in isolated["repo"].iterdir()) == ["cifar-10-python.tar.gz"]  # nothing left behind


@pytest.mark.parametrize("bad", ["dotdot", "absolute", "symlink"])
def test_cifar_tarball_unsafe_members_rejected(isolated, tmp_path, bad):
    archive = isolated["repo"] / "cifar-10-python.tar.gz"
    payload = b"not a pickle"
    with tarfile.open(archive, "w:gz") as tar:
        member = tarfile.TarInfo("cifar-10-batches-py/test_batch")
        member.size = len(payload)
        tar.addfile(member, io.BytesIO(payload))
        if bad == "symlink":
            link = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
            link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(link)
        else:
            name = "cifar-10-batches-py/../../escaped" if bad == "dotdot" else "/tmp/gan_kit_escaped"
            evil = tarfile.TarInfo(name)
            evil.size = len(payload)
            tar.addfile(evil, io.BytesIO(payload))
    with pytest.raises(data.DatasetError, match="refusing to extract") as info:
        data.load_arrays("cifar10", "test", allow_download=False)
    assert str(archive) in str(info.value)
    assert not (tmp_path.parent / "escaped").exists()


def test_generic_npz_forms(isolated, tmp_path, no_download):
    x, y = _images(9, 16, 16, 3), _labels(9, 3)
    _write_npz(isolated["repo"] / "digits_train_small.npz", x, y, class_names=np.array(["a", "b", "c"]))
    got_x, got_y, names = data.load_arrays("digits", "train")
    np.testing.assert_array_equal(got_x, x)
    np.testing.assert_array_equal(got_y, y)
    assert names == ["a", "b", "c"]
    gray = _images(5, 10, 10)  # N x H x W gets a channel axis
    _write_npz(isolated["repo"] / "mnist" / "test.npz", gray, _labels(5))
    got_x, _, names = data.load_arrays("mnist", "test", allow_download=False)
    assert got_x.shape == (5, 10, 10, 1) and names == [str(i) for i in range(10)]
    explicit = _write_npz(tmp_path / "anything.npz", gray, _labels(5))  # an explicit file serves any split
    assert data.load_arrays("cifar100", "test", path=explicit, allow_download=False)[0].shape == (5, 10, 10, 1)


def test_a_subset_of_a_class_sorted_npz_covers_every_class(isolated, no_download):
    """An x/y file sorted by class (as the shared CIFAR-10 test file is): max_examples draws a seeded random
    subset rather than the first N (one class); a shuffled file still gives its first N."""
    y_sorted = np.repeat(np.arange(10), 30)
    x = _images(300, 8, 8, 1)
    _write_npz(isolated["repo"] / "mnist_test.npz", x, y_sorted)
    got_x, got_y, _ = data.load_arrays("mnist", "test", max_examples=50, allow_download=False)
    assert len(got_y) == 50 and set(got_y) == set(range(10))
    again = data.load_arrays("mnist", "test", max_examples=50, allow_download=False)
    np.testing.assert_array_equal(again[0], got_x)  # deterministic
    order = np.random.default_rng(3).permutation(300)
    _write_npz(isolated["repo"] / "mnist_test.npz", x[order], y_sorted[order])
    got_x, got_y, _ = data.load_arrays("mnist", "test", max_examples=50, allow_download=False)
    np.testing.assert_array_equal(got_x, x[order][:50])
    assert data.readers.looks_shuffled(y_sorted[order]) and not data.readers.looks_shuffled(y_sorted)
    assert not data.readers.looks_shuffled(np.tile(np.repeat(np.arange(10), 5), 6))  # in class blocks


def test_unsplit_name_npz_is_refused(isolated):
    _write_npz(isolated["repo"] / "mnist.npz", _images(4), _labels(4))
    with pytest.raises(data.DatasetError, match="mnist_train.npz"):
        data.load_arrays("mnist", allow_download=False)


# --------------------------------------------------------------------------- corrupt and unsafe files


def test_truncated_gz(isolated):
    folder = isolated["repo"] / "mnist"
    _write_idx_set(folder)
    images = folder / "train-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:40])
    with pytest.raises(data.DatasetError, match="truncated or corrupt") as info:
        data.load_arrays("mnist", allow_download=False)
    assert str(images) in str(info.value) and "delete" in str(info.value)


def test_wrong_idx_magic(isolated):
    folder = isolated["repo"] / "fashion-mnist"
    _write_idx_set(folder)
    labels = _write_idx(folder / "t10k-labels-idx1-ubyte.gz", _labels(6), magic=2051)
    with pytest.raises(data.DatasetError, match="magic number 2051") as info:
        data.load_arrays("fashion_mnist", "test", allow_download=False)
    assert str(labels) in str(info.value)


def test_idx_size_mismatch(isolated):
    folder = isolated["repo"] / "mnist"
    _write_idx_set(folder)
    images = folder / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(images.read_bytes())
    images.write_bytes(gzip.compress(raw[:-100]))  # a valid gzip holding a short IDX file
    with pytest.raises(data.DatasetError, match="truncated") as info:
        data.load_arrays("mnist", allow_download=False)
    assert str(images) in str(info.value)


@pytest.mark.parametrize(
    ("case", "match"),
    [
        ("truncated", "truncated or corrupt"),
        ("missing_y", r"missing key\(s\) \['y'\]"),
        ("float_x", "must be uint8"),
        ("length", "6 images but 5 labels"),
        ("object_names", "class_names"),
    ],
)
def test_bad_npz(isolated, case, match):
    path = isolated["repo"] / "cifar10_train.npz"
    x, y = _images(6, 32, 32, 3), _labels(6)
    if case == "truncated":
        _write_npz(path, x, y)
        path.write_bytes(path.read_bytes()[:500])
    elif case == "missing_y":
        np.savez(path, x=x)
    elif case == "float_x":
        _write_npz(path, x.astype(np.float32), y)
    elif case == "length":
        _write_npz(path, x, y[:5])
    else:
        _write_npz(path, x, y, class_names=np.array(["a", None], dtype=object))
    with pytest.raises(data.DatasetError, match=match) as info:
        data.load_arrays("cifar10", allow_download=False)
    assert str(path) in str(info.value)


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_malicious_pickle_is_refused(isolated, tmp_path):
    marker = tmp_path / "pwned"
    folder = isolated["repo"] / "cifar-10-batches-py"
    _write_cifar10(folder)
    _dump(folder / "test_batch", {b"data": _Evil(marker), b"labels": [0]})
    with pytest.raises(data.DatasetError, match="refusing to unpickle") as info:
        data.load_arrays("cifar10", "test", allow_download=False)
    assert "test_batch" in str(info.value) and ("system" in str(info.value))
    assert not marker.exists()


def test_truncated_cifar_pickle(isolated):
    folder = isolated["repo"] / "cifar-100-python"
    _write_cifar100(folder)
    (folder / "train").write_bytes((folder / "train").read_bytes()[:200])
    with pytest.raises(data.DatasetError, match="truncated or corrupt") as info:
        data.load_arrays("cifar100", "train", allow_download=False)
    assert str(folder / "train") in str(info.value)


def test_incomplete_cifar_folder(isolated):
    folder = isolated["repo"] / "cifar-10-batches-py"
    _write_cifar10(folder)
    (folder / "data_batch_4").unlink()
    with pytest.raises(data.DatasetError, match="data_batch_4 is missing"):
        data.load_arrays("cifar10", "train", allow_download=False)
