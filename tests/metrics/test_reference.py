"""Reference statistics (``gan_kit.metrics.reference``): the cache and what it refuses."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gan_kit import metrics
from gan_kit.images import to_unit_range
from tests.conftest import _CountingExtractor


def test_reference_statistics_cache_hit_and_invalidation(cache):
    first = _CountingExtractor("counting-aaa")
    stats = metrics.reference_statistics("digits", first, max_examples=100, cache_dir=cache)
    again = metrics.reference_statistics("digits", first, max_examples=100, cache_dir=cache)
    assert first.calls == 1  # the second call was a cache hit
    np.testing.assert_array_equal(stats.features, again.features)
    np.testing.assert_allclose(again.mu, stats.features.astype(np.float64).mean(0))
    assert again.meta["n"] == 100 and again.meta["extractor"] == "counting-aaa"

    other_count = metrics.reference_statistics("digits", first, max_examples=50, cache_dir=cache)
    assert first.calls == 2 and len(other_count.features) == 50  # the count is part of the key

    changed = _CountingExtractor("counting-bbb")  # e.g. a retrained classifier: its id hashes new weights
    metrics.reference_statistics("digits", changed, max_examples=100, cache_dir=cache)
    assert changed.calls == 1
    metrics.reference_statistics("digits", first, max_examples=100, cache_dir=cache, refresh=True)
    assert first.calls == 3


def test_statistics_of_a_version_1_extractor_are_refused(digits_extractor, cache):
    from gan_kit import data

    ref = metrics.reference_statistics("digits", digits_extractor, max_examples=100, cache_dir=cache)
    old = dataclasses.replace(ref, meta={**ref.meta, "extractor": digits_extractor.id.replace("classifier-v2-",
                                                                                               "classifier-")})
    x, _, _ = data.load_arrays("digits", "train", max_examples=50)
    with pytest.raises(ValueError, match="computed with"):
        metrics.evaluate_images(old, to_unit_range(x), digits_extractor)
