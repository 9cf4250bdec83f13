"""Where a dataset is read from (``gan_kit.data.lookup``): the look-up order, the places listed when none has
it, downloads last."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gan_kit import data
from tests.data.conftest import SHARED_DATA, _images, _labels, _write_cifar10, _write_idx_set, _write_npz, needs_shared

FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")


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


def test_explicit_path_may_be_the_data_folder_itself(tmp_path, no_download):
    cifar = _write_cifar10(tmp_path / "cifar-10-batches-py")
    x, _, _ = data.load_arrays("cifar10", "test", path=tmp_path / "cifar-10-batches-py", allow_download=False)
    np.testing.assert_array_equal(x, cifar["test"][0])
    mnist = _write_idx_set(tmp_path / "my_mnist")
    x, _, _ = data.load_arrays("mnist", "test", path=tmp_path / "my_mnist", allow_download=False)
    np.testing.assert_array_equal(x[..., 0], mnist["test"][0])


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
