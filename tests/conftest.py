"""Shared fixtures: quiet TensorFlow, the shared data folder, tiny configs, the metrics cache with the digits
classifier, and a smoke run with FID/KID every epoch; and the grouping of the items for pytest-xdist."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import contextlib  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from gan_kit import metrics  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    """The shared data folder: $GAN_KIT_DATA_DIR, else ../shared/data beside the repo."""
    env = os.environ.get("GAN_KIT_DATA_DIR")
    for candidate in (Path(env) if env else None, REPO.parent / "shared" / "data"):
        if candidate is not None and candidate.is_dir():
            return candidate
    return None


@pytest.fixture
def tiny_config(tmp_path):
    """A smoke-sized 32x32 RGB config writing into a temp folder."""
    from gan_kit.config import for_profile

    return for_profile("smoke", dataset="cifar10", output_dir=str(tmp_path / "runs"), epochs=2, steps_per_epoch=2,
                       batch_size=16, max_examples=64, grid_size=4)


@pytest.fixture
def tiny_dataset():
    """64 random 32x32x3 images in [-1, 1], batched by 16."""
    import tensorflow as tf

    x = np.random.default_rng(0).uniform(-1, 1, (64, 32, 32, 3)).astype("float32")
    return tf.data.Dataset.from_tensor_slices(x).batch(16, drop_remainder=True)


@contextlib.contextmanager
def datasets_missing(root: Path) -> Iterator[Path]:
    """Every downloadable dataset unreachable, whatever this machine holds: empty $GAN_KIT_DATA_DIR, repo data/
    and Keras cache under ``root``, no system copies, and Keras downloads that fail as offline. scikit-learn's
    bundled digits stay available."""
    import keras

    from gan_kit.data import lookup

    def offline(*args, **kwargs):
        raise OSError("offline: the test blocks downloads")

    for sub in ("data", "repo-data", "keras"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GAN_KIT_DATA_DIR", str(root / "data"))
        mp.setenv("KERAS_HOME", str(root / "keras"))
        mp.setattr(lookup, "REPO_DATA_DIR", root / "repo-data")
        mp.setattr(lookup, "SYSTEM_DATA_DIRS", {})
        for name in ("mnist", "fashion_mnist", "cifar10", "cifar100"):
            mp.setattr(getattr(keras.datasets, name), "load_data", offline)
        yield root


@pytest.fixture
def no_datasets(tmp_path):
    """``datasets_missing`` for one test."""
    with datasets_missing(tmp_path / "no-datasets") as root:
        yield root


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    """A temporary metrics cache shared by the extractor tests (classifiers, reference statistics)."""
    return tmp_path_factory.mktemp("metrics_cache")


@pytest.fixture(scope="session")
def digits_extractor(cache):
    """The real digits classifier (about 99% on its test split), trained once, in seconds, into ``cache``."""
    from gan_kit import metrics

    return metrics.get_extractor("classifier", dataset="digits", profile="quick", cache_dir=cache)


class _CountingExtractor:
    """A stand-in extractor that counts how often it is run."""

    name = "counting"

    def __init__(self, extractor_id):
        self.id, self.calls = extractor_id, 0

    def features_and_probabilities(self, images, batch_size=None):
        self.calls += 1
        x = np.asarray(images, np.float32).reshape(len(images), -1)
        return x[:, :8], np.full((len(x), 10), 0.1, np.float32)


@pytest.fixture(scope="module")
def metrics_run(tmp_path_factory, cache):
    """A two-epoch smoke GAN on digits with FID/KID every epoch (smoke classifier, temp cache)."""
    import gan_kit

    root = tmp_path_factory.mktemp("runs")
    cfg = gan_kit.for_profile("smoke", dataset="digits", output_dir=str(root), epochs=2, steps_per_epoch=2,
                              batch_size=16, max_examples=64, grid_size=2, metrics_every=1, metrics_samples=64)
    old = os.environ.get(metrics.CACHE_ENV)
    os.environ[metrics.CACHE_ENV] = str(cache)
    try:
        return gan_kit.train(cfg, verbose=0)
    finally:
        if old is None:
            os.environ.pop(metrics.CACHE_ENV, None)
        else:
            os.environ[metrics.CACHE_ENV] = old


# ------------------------------------------------------------------ two pytest-xdist workers (make test)
# `make test` runs `-n 2 --dist loadgroup --no-loadscope-reorder`. Each notebook's cells form one group (they run
# in order in one kernel) and so does each test module (its module fixtures are built once), except the long
# tests below: each is a group of its own, and they start first, in this order, so that the two workers end
# together instead of one running a 7-minute test alone at the end. Order and figures from `--durations`
# (2-core CI, one process): the CIFAR-10 and Fashion-MNIST classifiers (about 5 and 3 minutes; the lock in
# metrics makes a second test that needs one wait for it rather than train it again), the epoch-ordering GANs,
# the conditional GAN, then the ladders, which use the cached classifiers.
LONG_TESTS = (
    "tests/metrics/test_classifier.py::test_real_classifier_accuracy[cifar10",
    "tests/metrics/test_classifier.py::test_fid_orders_gan_epochs[cifar10]",
    "tests/metrics/test_classifier.py::test_real_classifier_accuracy[fashion_mnist",
    "tests/test_conditional.py::test_fashion_mnist_quick_samples_are_of_the_requested_class",
    "tests/metrics/test_classifier.py::test_fid_orders_gan_epochs[fashion_mnist]",
    "tests/metrics/test_classifier.py::test_fid_ladders[cifar10]",
    "tests/metrics/test_classifier.py::test_fid_ladders_other_datasets[mnist]",
    "tests/metrics/test_classifier.py::test_fid_ladders[fashion_mnist]",
)


# Modules whose items are each a group of their own (each runs a whole notebook), started with the notebooks.
SPLIT_MODULES = ("tests/test_released_notebooks.py",)


def _long_rank(nodeid: str) -> int | None:
    return next((i for i, prefix in enumerate(LONG_TESTS) if nodeid.startswith(prefix)), None)


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook turns the marks into group names
def pytest_collection_modifyitems(config, items):
    """Group the items for ``--dist loadgroup`` and put the long tests, then the notebooks, first."""

    def rank(item) -> tuple[int, int]:
        long = _long_rank(item.nodeid)
        if long is not None:
            return 0, long
        return (1, 0) if item.path.suffix == ".ipynb" or item.nodeid.startswith(SPLIT_MODULES) else (2, 0)

    for item in items:
        module = item.nodeid.split("::", 1)[0]
        own = _long_rank(item.nodeid) is not None or module in SPLIT_MODULES
        group = item.nodeid if own else module
        item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=rank)  # stable: within a module or notebook the order stays as collected
