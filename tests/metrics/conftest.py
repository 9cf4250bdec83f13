"""What the metrics tests share."""

from __future__ import annotations

import os

import numpy as np
import pytest

from gan_kit import metrics
from gan_kit.images import to_unit_range

# =============================================================================== independent references


def _fid_reference(a: np.ndarray, b: np.ndarray) -> float:
    """FID through symmetric eigendecompositions: Tr((S1 S2)^1/2) = sum sqrt(eig(S1^1/2 S2 S1^1/2))."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(s1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = np.linalg.eigvalsh(root1 @ s2 @ root1)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(inner, 0, None)).sum())


@pytest.fixture
def features():
    rng = np.random.default_rng(42)
    a = rng.normal(size=(400, 24)) @ rng.normal(size=(24, 24))
    b = 0.8 * rng.normal(size=(300, 24)) @ rng.normal(size=(24, 24)) + 0.5
    return a, b


# =============================================================================== extractors (a digits classifier)


@pytest.fixture(scope="module")
def digits():
    from gan_kit import data

    x_train, y_train, _ = data.load_arrays("digits", "train")
    x_test, y_test, _ = data.load_arrays("digits", "test")
    return to_unit_range(x_train), y_train, to_unit_range(x_test), y_test


# =============================================================================== the real classifiers (slow)


def _data_dir():
    from tests.conftest import shared_data_dir

    return shared_data_dir()


def _slow_reason(dataset: str, *, needs_training: bool = True) -> str | None:
    """None when the real-classifier test should run, else why it is skipped."""
    from gan_kit import data

    if not all(data.available(dataset, split, data_dir=_data_dir()) for split in ("train", "test")):
        return f"{dataset} is not available offline here"
    if metrics.cached_classifier(dataset, profile="full") is not None or not needs_training:
        return None
    if os.environ.get("GAN_KIT_SLOW_TESTS") == "1" or os.environ.get("CI"):
        return None
    return (f"the {dataset} classifier is not cached yet (training takes minutes); set GAN_KIT_SLOW_TESTS=1 "
            "to train and cache it")
