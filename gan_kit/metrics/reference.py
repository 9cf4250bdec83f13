"""Real-data statistics, cached: ``ReferenceStats`` and ``reference_statistics``.

The features, class probabilities, labels, mean and covariance of real images, cached per
dataset, split, sample count, image shape and extractor id under
``<cache>/reference_stats/``. An extractor's ``id`` contains a hash of its weights file, so
retraining the classifier or replacing the Inception weights invalidates them automatically.

The public names live in ``gan_kit.metrics`` (import them from there); this module's own ``__all__`` is empty.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..fileio import atomic_write_bytes
from .cache import _image_shape, _short_hash, cache_root
from .maths import feature_statistics

if TYPE_CHECKING:
    from .extractors import FeatureExtractor

__all__: list[str] = []


@dataclass
class ReferenceStats:
    """Real-data features and their statistics for one dataset, split, sample count and extractor.

    Attributes:
        mu, sigma: float64 mean and covariance of the features (for FID).
        features: float32 features (n, d) (for KID, precision/recall, density/coverage).
        probabilities: float32 class probabilities (n, classes).
        labels: the true labels of the images (n,).
        meta: dataset, split, n, image shape, extractor id.
    """

    mu: np.ndarray
    sigma: np.ndarray
    features: np.ndarray
    probabilities: np.ndarray
    labels: np.ndarray
    meta: dict[str, Any]

    def to_bytes(self) -> bytes:
        """The ``.npz`` encoding (no pickles) used by the cache."""
        buffer = io.BytesIO()
        np.savez(buffer, mu=self.mu, sigma=self.sigma, features=self.features, probabilities=self.probabilities,
                 labels=self.labels, meta=np.array(json.dumps(self.meta, sort_keys=True)))
        return buffer.getvalue()

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> ReferenceStats:
        """Read a cached ``.npz`` (pickles refused)."""
        with np.load(path, allow_pickle=False) as npz:
            return cls(npz["mu"], npz["sigma"], npz["features"], npz["probabilities"], npz["labels"],
                       json.loads(str(npz["meta"])))


def check_extractor(reference: ReferenceStats, extractor: FeatureExtractor) -> None:
    """Raise ``ValueError`` when ``reference`` was computed with another extractor than ``extractor``."""
    if reference.meta.get("extractor") != extractor.id:
        raise ValueError(f"The reference statistics were computed with {reference.meta.get('extractor')!r}, "
                         f"not with {extractor.id!r}.")


def reference_statistics(
    dataset: str,
    extractor: FeatureExtractor,
    *,
    split: str = "test",
    max_examples: int | None = 10_000,
    image_size: int | None = None,
    channels: int | None = None,
    data_dir: str | os.PathLike | None = None,
    path: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    refresh: bool = False,
) -> ReferenceStats:
    """Features and statistics of real images, cached per dataset, split, count, shape and extractor.

    The cache file sits under ``<cache>/reference_stats/`` and its name holds the
    extractor's ``id`` (which hashes the extractor's weights), so a retrained classifier
    or other Inception weights never reuse stale statistics.

    Args:
        dataset: a ``gan_kit.data`` dataset name.
        extractor: from ``get_extractor``.
        split: ``train`` or ``test``.
        max_examples: how many real images (a deterministic, class-balanced subset; None: all).
        image_size, channels: the shape the images are loaded at (match the generator's).
        data_dir, path: where to look for the dataset first (see ``gan_kit.data.load_arrays``).
        cache_dir: cache root (default ``$GAN_KIT_CACHE_DIR`` or ``<repo>/outputs/cache``).
        refresh: recompute even when cached.

    Returns:
        A ``ReferenceStats``.
    """
    from .. import data

    native = _image_shape(dataset)
    size = int(image_size or native[0])
    ch = int(channels or native[2])
    # "subset": 2 since subsets of files sorted by class are drawn at random (version 1 took the first N: one class).
    key = {"dataset": dataset, "split": split, "max_examples": max_examples, "image_size": size, "channels": ch,
           "path": str(path) if path is not None else None, "subset": 2}
    count = "all" if max_examples is None else str(int(max_examples))
    file = (cache_root(cache_dir) / "reference_stats"
            / f"{dataset}-{split}-{count}-{size}x{ch}-{_short_hash(key)}-{extractor.id}.npz")
    if file.is_file() and not refresh:
        try:
            stats = ReferenceStats.from_file(file)
            if stats.meta.get("extractor") == extractor.id:
                return stats
        except (OSError, ValueError, KeyError, json.JSONDecodeError):
            pass  # unreadable: recompute and overwrite
    x, y, _ = data.load_arrays(dataset, split, data_dir=data_dir, path=path, image_size=size, channels=ch,
                               max_examples=max_examples)
    feats, probs = extractor.features_and_probabilities(x)
    mu, sigma = feature_statistics(feats)
    stats = ReferenceStats(mu, sigma, feats.astype(np.float32), probs.astype(np.float32), y.astype(np.int64),
                           {**key, "n": int(len(x)), "extractor": extractor.id})
    atomic_write_bytes(file, stats.to_bytes())
    return stats


def config_reference(config: Any, extractor: FeatureExtractor, *, split: str = "test",
                     max_examples: int | None = None, data_dir: str | os.PathLike | None = None,
                     cache_dir: str | os.PathLike | None = None) -> ReferenceStats:
    """``reference_statistics`` of a run config's dataset split, at the config's image shape and data path."""
    return reference_statistics(config.dataset, extractor, split=split, max_examples=max_examples,
                                image_size=config.image_size, channels=config.channels, data_dir=data_dir,
                                path=config.data_path, cache_dir=cache_dir)
