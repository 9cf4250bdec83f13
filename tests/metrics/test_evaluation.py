"""Evaluating features and runs (``gan_kit.metrics.evaluation``). The 10k-image timing needs the real
Fashion-MNIST classifier: it runs when that is cached or ``GAN_KIT_SLOW_TESTS=1`` / ``CI`` is set (as the accuracy
tests in test_classifier.py), and is skipped with that reason otherwise."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from gan_kit import metrics
from tests.metrics.conftest import _fid_reference, _slow_reason


def test_evaluate_features_has_every_metric(features):
    a, b = features
    probs = np.eye(4)[np.arange(len(b)) % 4] * 0.9 + 0.025
    out = metrics.evaluate_features(a, b, probs, np.arange(len(a)) % 4, kid_subsets=5, kid_subset_size=50)
    assert set(out) >= {"fid", "kid", "kid_std", "precision", "recall", "density", "coverage", "is", "is_std",
                        "classes_covered", "num_classes", "mode_kl", "class_histogram", "n_real", "n_fake"}
    assert out["fid"] == pytest.approx(_fid_reference(a, b), rel=1e-6)
    assert out["classes_covered"] == 4 and out["n_fake"] == len(b)


def test_three_classes_are_three_modes_with_low_recall(digits_extractor, digits):
    x_train, y_train, x_test, y_test = digits
    keep = np.isin(y_train, [0, 1, 7])
    full = metrics.evaluate_images(x_test, x_train, digits_extractor, real_labels=y_test, kid_subsets=10)
    three = metrics.evaluate_images(x_test, x_train[keep], digits_extractor, real_labels=y_test, kid_subsets=10)
    assert full["classes_covered"] == 10 and three["covered_classes"] == [0, 1, 7]
    assert three["recall"] < full["recall"] - 0.3, (three["recall"], full["recall"])
    assert three["coverage"] < full["coverage"] - 0.3
    assert three["precision"] > full["precision"] - 0.1  # what is generated is still realistic
    assert three["mode_kl"] > 1.0 > full["mode_kl"]
    assert three["fid"] > full["fid"]


def test_evaluate_writes_metrics_json(metrics_run, digits_extractor, cache):
    result = metrics.evaluate(metrics_run.path, extractor=digits_extractor, samples=64, cache_dir=cache)
    written = json.loads((metrics_run.path / "metrics.json").read_text())
    assert written["fid"] == pytest.approx(result["fid"])
    assert written["extractor"] == digits_extractor.id and written["samples"] == 64
    assert {"kid", "is", "precision", "recall", "density", "coverage", "classes_covered", "mode_kl",
            "classifier_test_accuracy"} <= set(written)
    # Seeded: the same call gives the same numbers.
    again = metrics.evaluate(metrics_run.path, extractor=digits_extractor, samples=64, cache_dir=cache)
    assert again["fid"] == pytest.approx(result["fid"], rel=1e-6)


def test_fashion_mnist_10k_evaluation_under_a_minute():
    reason = _slow_reason("fashion_mnist")
    if reason:
        pytest.skip(reason)
    from gan_kit import data

    ext = metrics.get_extractor("classifier", dataset="fashion_mnist", profile="full")
    x_test, y_test, _ = data.load_arrays("fashion_mnist", "test")
    reference = ext.features_and_probabilities(x_test[:10])  # warm the graph outside the timing
    x_fake, y_fake, _ = data.load_arrays("fashion_mnist", "train", max_examples=10_000)
    start = time.perf_counter()
    reference = metrics.reference_statistics("fashion_mnist", ext, max_examples=10_000, refresh=True)
    result = metrics.evaluate_images(reference, x_fake, ext)
    seconds = time.perf_counter() - start
    print(f"\n10,000 real + 10,000 generated Fashion-MNIST images, all metrics: {seconds:.1f} s "
          f"(FID {result['fid']:.3f}, precision {result['precision']:.3f}, recall {result['recall']:.3f})")
    assert seconds < 60
    assert result["classes_covered"] == 10

    # Three well-separated classes (trouser, bag, ankle boot) are three modes, with a recall far below.
    keep = np.isin(y_fake, [1, 8, 9])
    three = metrics.evaluate_images(reference, x_fake[keep], ext)
    assert three["classes_covered"] == 3 and three["covered_classes"] == [1, 8, 9]
    assert three["recall"] < result["recall"] - 0.3 and three["precision"] > result["precision"] - 0.1
