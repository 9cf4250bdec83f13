"""Tests for gan_kit.data: real offline copies, exact on-disk formats, look-up order, corrupt and unsafe files."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pytest

from gan_kit import data
from gan_kit.images import to_uint8, to_unit_range

SHARED_DATA = (
    Path(os.environ["GAN_KIT_DATA_DIR"])
    if os.environ.get("GAN_KIT_DATA_DIR")
    else Path(__file__).resolve().parents[2] / "shared" / "data"
)
FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
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


def _write_npz(path: Path, x: np.ndarray, y: np.ndarray, **extra) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x=x, y=y, **extra)
    return path


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


@needs_shared
def test_shared_cifar10_through_env_and_load(monkeypatch, no_download):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(SHARED_DATA))
    assert data.available("cifar10", "test")
    ds = data.load("cifar10", "test", batch_size=32, max_examples=100, channels=1, with_labels=True)
    images, labels = next(iter(ds))
    assert images.shape == (32, 32, 32, 1) and images.dtype.name == "float32" and labels.shape == (32,)
    assert -1.0 <= float(images.numpy().min()) and float(images.numpy().max()) <= 1.0


@pytest.mark.skipif(not FASHION_SYSTEM_DIR.is_dir(),
                    reason="Fashion-MNIST system copy absent (apt-get install -y dataset-fashion-mnist)")
def test_system_fashion_mnist(monkeypatch, no_download):
    monkeypatch.setattr(data.lookup, "SYSTEM_DATA_DIRS", {"fashion_mnist": (str(FASHION_SYSTEM_DIR),)})
    where, tried = data.locate("fashion_mnist", "test")
    assert where == str(FASHION_SYSTEM_DIR) and "system copy" in tried[-1]
    x, y, names = data.load_arrays("fashion_mnist", "test", max_examples=500)
    assert x.shape == (500, 28, 28, 1) and x.dtype == np.uint8 and set(np.unique(y)) == set(range(10))
    assert names[0] == "T-shirt/top" and names[9] == "Ankle boot"
    batch = next(iter(data.load("fashion_mnist", "test", batch_size=50, max_examples=500, image_size=32)))
    assert batch.shape == (50, 32, 32, 1)


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


def test_mnist_idx_not_read_from_folder_root(isolated):
    _write_idx_set(isolated["repo"])  # IDX files at the root are Fashion-MNIST's layout, not MNIST's
    assert data.available("fashion_mnist") and not data.available("mnist")


def test_keras_mnist_npz_in_keras_cache(isolated, no_download):
    x_train, y_train, x_test, y_test = _images(10), _labels(10), _images(4), _labels(4)
    np.savez(isolated["keras"] / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    x, y, names = data.load_arrays("mnist", "test", allow_download=False)
    assert x.shape == (4, 28, 28, 1)
    np.testing.assert_array_equal(x[..., 0], x_test)
    np.testing.assert_array_equal(y, y_test)
    assert names == [str(i) for i in range(10)]
    assert data.locate("mnist", "train")[0] == str(isolated["keras"] / "mnist.npz")


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


def test_explicit_path_may_be_the_data_folder_itself(tmp_path, no_download):
    cifar = _write_cifar10(tmp_path / "cifar-10-batches-py")
    x, _, _ = data.load_arrays("cifar10", "test", path=tmp_path / "cifar-10-batches-py", allow_download=False)
    np.testing.assert_array_equal(x, cifar["test"][0])
    mnist = _write_idx_set(tmp_path / "my_mnist")
    x, _, _ = data.load_arrays("mnist", "test", path=tmp_path / "my_mnist", allow_download=False)
    np.testing.assert_array_equal(x[..., 0], mnist["test"][0])


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


# --------------------------------------------------------------------------- look-up order and download


def test_lookup_order(isolated, tmp_path, monkeypatch, no_download):
    places = {
        "explicit": tmp_path / "explicit",
        "data_dir": tmp_path / "data_dir",
        "env": tmp_path / "env",
        "repo": isolated["repo"],
        "keras": isolated["keras"],
    }
    for value, folder in enumerate(places.values()):
        _write_npz(folder / "mnist_train.npz", _images(3), np.full(3, value, dtype=np.uint8))
    monkeypatch.setenv(data.DATA_DIR_ENV, str(places["env"]))

    def winner(**kwargs) -> int:
        return int(data.load_arrays("mnist", allow_download=False, **kwargs)[1][0])

    assert winner(path=places["explicit"], data_dir=places["data_dir"]) == 0
    assert winner(path=places["explicit"] / "mnist_train.npz") == 0
    assert winner(data_dir=places["data_dir"]) == 1
    assert winner(path=tmp_path / "no_such_folder") == 2  # a missing explicit folder falls through, but is listed
    assert "no_such_folder" in data.locate("mnist", path=tmp_path / "no_such_folder")[1][0]
    monkeypatch.delenv(data.DATA_DIR_ENV)
    assert winner() == 3
    (places["repo"] / "mnist_train.npz").unlink()
    assert winner() == 4


def test_missing_everywhere_lists_places(isolated, tmp_path, monkeypatch):
    env_dir = tmp_path / "env_dir"
    env_dir.mkdir()
    monkeypatch.setenv(data.DATA_DIR_ENV, str(env_dir))
    explicit = tmp_path / "explicit_dir"
    with pytest.raises(data.DatasetNotFoundError) as info:
        data.load_arrays("cifar100", "test", path=explicit, data_dir=tmp_path / "arg_dir", allow_download=False)
    message = str(info.value)
    for place in (explicit, tmp_path / "arg_dir", env_dir, isolated["repo"], isolated["keras"]):
        assert str(place) in message
    assert "GAN_KIT_DATA_DIR" in message and "allow_download=False" in message
    assert "cifar-100-python" in message  # says which files to put there
    assert isinstance(info.value, FileNotFoundError) and len(info.value.tried) == 6
    assert data.locate("cifar100", "test")[0] is None
    assert not data.available("cifar100", "test")


def test_fashion_not_found_mentions_apt(isolated):
    with pytest.raises(data.DatasetNotFoundError, match="apt-get install -y dataset-fashion-mnist") as info:
        data.load_arrays("fashion_mnist", allow_download=False)
    assert "$GAN_KIT_DATA_DIR (not set)" in str(info.value)


def test_download_is_the_last_resort(isolated, monkeypatch):
    import keras

    calls = []
    fake_train, fake_test = (_images(6), _labels(6)), (_images(2), _labels(2))

    def fake_load_data(*args, **kwargs):
        calls.append(1)
        return fake_train, fake_test

    monkeypatch.setattr(keras.datasets.mnist, "load_data", fake_load_data)
    x, y, _ = data.load_arrays("mnist", "test")
    np.testing.assert_array_equal(x[..., 0], fake_test[0])
    np.testing.assert_array_equal(y, fake_test[1])
    assert calls == [1]
    assert data.locate("mnist")[0] is None  # locate never downloads
    _write_npz(isolated["keras"] / "mnist_test.npz", _images(3), _labels(3))
    assert len(data.load_arrays("mnist", "test")[0]) == 3 and calls == [1]


def test_download_failure_is_reported(isolated, monkeypatch):
    import keras

    def offline(*args, **kwargs):
        raise OSError("URL fetch failure: no network here")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(data.DatasetNotFoundError) as info:
        data.load_arrays("mnist")
    message = str(info.value)
    assert "no network here" in message and "keras.datasets.mnist.load_data()" in message
    assert str(isolated["repo"]) in message and "GAN_KIT_DATA_DIR" in message


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


# --------------------------------------------------------------------------- digits, conversions, pipeline


def test_digits_split_and_resize():
    x_train, y_train, names = data.load_arrays("digits", "train")
    x_test, _, _ = data.load_arrays("digits", "test", image_size=32)
    assert x_train.shape == (1438, 8, 8, 1) and x_test.shape == (359, 32, 32, 1)
    assert x_train.dtype == np.uint8 and x_train.max() == 255 and names == [str(i) for i in range(10)]
    assert set(np.unique(y_train)) == set(range(10))
    again, _, _ = data.load_arrays("digits", "train")
    np.testing.assert_array_equal(again, x_train)  # the split is deterministic
    rgb, _, _ = data.load_arrays("digits", "test", channels=3, max_examples=10)
    assert rgb.shape == (10, 8, 8, 3) and (rgb[..., 0] == rgb[..., 2]).all()


def test_channel_conversion_and_ranges(isolated):
    x = np.zeros((2, 4, 4, 3), np.uint8)
    x[..., 0] = 255  # pure red
    _write_npz(isolated["repo"] / "cifar10_test.npz", x, np.array([0, 1]))
    gray, _, _ = data.load_arrays("cifar10", "test", channels=1, allow_download=False)
    assert gray.shape == (2, 4, 4, 1) and int(gray[0, 0, 0, 0]) == 76  # 0.299 * 255
    small, _, _ = data.load_arrays("cifar10", "test", image_size=2, allow_download=False)
    assert small.shape == (2, 2, 2, 3) and small[..., 0].min() == 255 and small[..., 1:].max() == 0
    wide = np.zeros((3, 6, 10, 1), np.uint8)
    wide[:, :, :2] = 255  # the centre square crop drops the two bright columns on the left
    _write_npz(isolated["repo"] / "mnist_test.npz", wide, np.zeros(3, np.int64))
    square, _, _ = data.load_arrays("mnist", "test", image_size=6, channels=3, allow_download=False)
    assert square.shape == (3, 6, 6, 3) and square.max() == 0
    values = np.arange(256, dtype=np.uint8)
    unit = to_unit_range(values)
    assert unit.dtype == np.float32 and unit.min() == -1.0 and unit.max() == 1.0
    np.testing.assert_array_equal(to_uint8(unit), values)
    assert to_uint8(np.array([-3.0, 3.0])).tolist() == [0, 255]
    assert data.native_shape("mnist") == (28, 28, 1) and data.native_shape("cifar100") == (32, 32, 3)
    assert data.native_shape("digits") == (8, 8, 1)


def test_bad_arguments():
    with pytest.raises(ValueError, match="fashion_mnist, mnist, cifar10"):
        data.load_arrays("imagenet")
    with pytest.raises(ValueError, match="split"):
        data.load_arrays("digits", "validation")
    with pytest.raises(ValueError, match="channels"):
        data.load_arrays("digits", channels=2)
    with pytest.raises(ValueError, match="max_examples"):
        data.load_arrays("digits", max_examples=0)
    with pytest.raises(ValueError, match="cifar100"):
        data.native_shape("svhn")


def test_load_pipeline():
    ds = data.load("digits", "test", batch_size=64, image_size=32, with_labels=True, seed=3)
    batches = list(ds)
    assert len(batches) == 359 // 64
    images, labels = batches[0]
    assert images.shape == (64, 32, 32, 1) and images.dtype.name == "float32"
    assert labels.shape == (64,) and labels.dtype.name == "int64"
    assert -1.0 <= float(images.numpy().min()) < 0 < float(images.numpy().max()) <= 1.0
    first = next(iter(data.load("digits", "test", batch_size=64, seed=3)))
    assert first.shape == (64, 8, 8, 1)  # images only, native size
    assert next(iter(data.load("digits", "test", batch_size=10, shuffle=False))).shape == (10, 8, 8, 1)
    tail = list(data.load("digits", "test", batch_size=100, drop_remainder=False, shuffle=False))
    assert [len(b) for b in tail] == [100, 100, 100, 59]


def test_load_batch_larger_than_data():
    with pytest.raises(data.DatasetError, match="lower batch_size"):
        data.load("digits", "test", batch_size=64, max_examples=50)


def test_to_dataset_from_arrays():
    x = np.full((10, 4, 4), 255, np.uint8)
    ds = data.to_dataset(x, np.arange(10), batch_size=5, with_labels=True, shuffle=True, seed=1)
    (a, la), (b, lb) = list(ds)
    assert a.shape == (5, 4, 4, 1) and float(a.numpy().max()) == 1.0
    assert sorted(np.concatenate([la.numpy(), lb.numpy()]).tolist()) == list(range(10))
    same = [lab.numpy().tolist() for _, lab in data.to_dataset(x, np.arange(10), batch_size=5, with_labels=True,
                                                               seed=1)]
    assert same == [la.numpy().tolist(), lb.numpy().tolist()]  # seeded shuffle
    floats = next(iter(data.to_dataset(np.zeros((4, 2, 2, 3), np.float32), batch_size=4)))
    assert float(floats.numpy().max()) == 0.0  # float input is taken as already in [-1, 1]
    with pytest.raises(ValueError, match="with_labels"):
        data.to_dataset(x, batch_size=5, with_labels=True)
