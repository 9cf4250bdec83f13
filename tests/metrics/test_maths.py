"""The metrics' maths (``gan_kit.metrics.maths``): FID, KID, IS, precision/recall/density/coverage and mode
coverage, golden against independent NumPy/SciPy code, on fixed feature sets (fast)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gan_kit import metrics
from tests.metrics.conftest import _fid_reference


def _kid_reference(a: np.ndarray, b: np.ndarray) -> float:
    """Unbiased MMD^2 with scikit-learn's polynomial kernel, written out with loops over the sums."""
    from sklearn.metrics.pairwise import polynomial_kernel

    d = a.shape[1]
    kxx = polynomial_kernel(a, a, degree=3, gamma=1.0 / d, coef0=1)
    kyy = polynomial_kernel(b, b, degree=3, gamma=1.0 / d, coef0=1)
    kxy = polynomial_kernel(a, b, degree=3, gamma=1.0 / d, coef0=1)
    m, n = len(a), len(b)
    xx = sum(kxx[i, j] for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(kyy[i, j] for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    return float(xx + yy - 2 * kxy.mean())


def _prdc_reference(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """Precision, recall, density, coverage by brute force on scipy's cdist (as the prdc package does)."""
    from scipy.spatial.distance import cdist

    rr, ff, rf = cdist(real, real), cdist(fake, fake), cdist(real, fake)
    r_real = np.sort(rr, axis=1)[:, k]  # column 0 is the point itself
    r_fake = np.sort(ff, axis=1)[:, k]
    return {
        "precision": float((rf <= r_real[:, None]).any(axis=0).mean()),
        "recall": float((rf <= r_fake[None, :]).any(axis=1).mean()),
        "density": float((rf <= r_real[:, None]).sum() / (k * len(fake))),
        "coverage": float((rf.min(axis=1) <= r_real).mean()),
    }


# =============================================================================== FID


def test_fid_matches_independent_computation(features):
    a, b = features
    ours, ref = metrics.fid_from_features(a, b), _fid_reference(a, b)
    assert ref > 1
    assert abs(ours - ref) / ref < 1e-6


def test_frechet_distance_golden_1d():
    # N(0, 1) vs N(1, 4): (0 - 1)^2 + 1 + 4 - 2 * sqrt(1 * 4) = 2
    assert metrics.frechet_distance([0.0], [[1.0]], [1.0], [[4.0]]) == pytest.approx(2.0, abs=1e-12)


@pytest.mark.parametrize("shape", [(300, 16), (20, 64)], ids=["n>d", "n<d singular"])
def test_fid_of_a_set_with_itself_is_zero(shape):
    x = np.random.default_rng(0).normal(size=shape)
    assert abs(metrics.fid_from_features(x, x)) < 1e-6


def test_fid_near_singular_covariance_stays_finite():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(6, 32))
    a = np.repeat(base, 10, axis=0) + 1e-9 * rng.normal(size=(60, 32))  # rank ~6 in 32 dims
    b = a.copy()
    b[:, 0] = 3.0  # a constant feature: zero variance
    value = metrics.fid_from_features(a, b)
    assert math.isfinite(value) and value >= 0
    assert value == pytest.approx(_fid_reference(a, b), rel=1e-3, abs=1e-6)


def test_fid_retries_with_an_offset_when_sqrtm_fails(monkeypatch):
    from scipy import linalg as scipy_linalg

    real_sqrtm, calls = scipy_linalg.sqrtm, []

    def flaky(a):
        calls.append(a)
        return np.full_like(a, np.nan) if len(calls) == 1 else real_sqrtm(a)

    monkeypatch.setattr(scipy_linalg, "sqrtm", flaky)
    a, b = np.random.default_rng(2).normal(size=(2, 100, 8))
    value = metrics.fid_from_features(a, b)
    assert len(calls) == 2 and math.isfinite(value)
    assert value == pytest.approx(_fid_reference(a, b), rel=1e-4)


def test_fid_rejects_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        metrics.fid_from_features(np.zeros(5), np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        metrics.fid_from_features(np.full((3, 2), np.nan), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="shape"):
        metrics.frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


# =============================================================================== KID


def test_kid_matches_independent_computation(features):
    a, b = features
    a, b = a[:120], b[:120]
    # One subset holding every sample: no randomness left, so the estimate is exact.
    mean, std = metrics.kid_from_features(a, b, subsets=1, subset_size=120)
    ref = _kid_reference(a, b)
    assert abs(mean - ref) / abs(ref) < 1e-9
    assert std == 0.0


def test_kid_with_subsets_as_large_as_both_sets_computes_once(features, monkeypatch):
    # Every "subset" would be the whole of both sets: one exact estimate, std 0, one kernel pass.
    a, b = features
    a, b = a[:120], b[:120]
    from gan_kit.metrics import maths  # where kid_from_features looks the kernel up

    calls = []
    kernel = maths._poly_kernel
    monkeypatch.setattr(maths, "_poly_kernel", lambda x, y: calls.append(1) or kernel(x, y))
    mean, std = metrics.kid_from_features(a, b, subsets=100, subset_size=500)
    assert abs(mean - _kid_reference(a, b)) / abs(mean) < 1e-9 and std == 0.0
    assert len(calls) == 3  # k(x, x), k(y, y), k(x, y) once


def test_kid_subsets_are_seeded_and_separate_distributions():
    rng = np.random.default_rng(3)
    a, b, shifted = rng.normal(size=(600, 16)), rng.normal(size=(600, 16)), rng.normal(0.3, 1.0, size=(600, 16))
    far = metrics.kid_from_features(a, shifted, subsets=20, subset_size=200, seed=1)
    assert far == metrics.kid_from_features(a, shifted, subsets=20, subset_size=200, seed=1)  # seeded
    assert far != metrics.kid_from_features(a, shifted, subsets=20, subset_size=200, seed=2)
    near = metrics.kid_from_features(a, b, subsets=20, subset_size=200, seed=1)
    assert far[0] > 0 and far[1] > 0
    assert far[0] > 10 * abs(near[0])  # unbiased: about 0 for two samples of one distribution
    assert abs(near[0]) < 3 * near[1]


# =============================================================================== precision / recall, density / coverage


def test_prdc_match_brute_force(features):
    a, b = features
    ours = {**metrics.precision_recall(a, b, k=3), **metrics.density_coverage(a, b, k=3)}
    assert ours == pytest.approx(_prdc_reference(a, b, 3), abs=1e-12)
    ours5 = metrics.density_coverage(a, b, k=5)
    ref5 = _prdc_reference(a, b, 5)
    assert ours5 == pytest.approx({"density": ref5["density"], "coverage": ref5["coverage"]}, abs=1e-12)


def test_prdc_constructed_cases():
    rng = np.random.default_rng(5)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    real = np.concatenate([c + 0.5 * rng.normal(size=(100, 2)) for c in centres])
    same = np.concatenate([c + 0.5 * rng.normal(size=(100, 2)) for c in centres])
    one_mode = centres[0] + 0.5 * rng.normal(size=(400, 2))
    far = 100.0 + rng.normal(size=(400, 2))

    full = {**metrics.precision_recall(real, same), **metrics.density_coverage(real, same)}
    assert full["precision"] > 0.9 and full["recall"] > 0.9 and full["coverage"] > 0.9
    assert 0.7 < full["density"] < 1.3

    dropped = {**metrics.precision_recall(real, one_mode), **metrics.density_coverage(real, one_mode)}
    assert dropped["precision"] > 0.9  # every sample is realistic ...
    assert dropped["recall"] < 0.3 and dropped["coverage"] < 0.3  # ... but three of four modes are missing

    nowhere = {**metrics.precision_recall(real, far), **metrics.density_coverage(real, far)}
    assert nowhere == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


# =============================================================================== mode coverage


def test_mode_coverage_three_of_ten():
    real_labels = np.arange(1000) % 10
    result = metrics.mode_coverage(np.arange(300) % 3, real_labels, 10)
    assert result["classes_covered"] == 3 and result["covered"] == [0, 1, 2]
    assert result["num_classes"] == 10
    assert result["histogram"][:3] == pytest.approx([1 / 3] * 3)
    assert result["kl"] == pytest.approx(math.log(10 / 3), rel=0.01)  # smoothing shifts it a little

    everything = metrics.mode_coverage(np.eye(10)[real_labels], real_labels, 10)  # probabilities in
    assert everything["classes_covered"] == 10 and everything["kl"] == pytest.approx(0.0, abs=1e-12)


def test_mode_coverage_threshold_and_distribution_input():
    # Class 3 gets 2% of the samples: a classifier's confusion, not a covered mode (< half of 10%).
    preds = np.concatenate([np.repeat([0, 1, 2], 33), [3, 3]])
    result = metrics.mode_coverage(preds, np.full(10, 0.1), 10)
    assert result["covered"] == [0, 1, 2]
    assert metrics.mode_coverage(preds, np.full(10, 0.1), 10, min_share=0.1)["covered"] == [0, 1, 2, 3]
    # A real mix without class 9 has nine classes to cover.
    real = np.array([0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.0])
    assert metrics.mode_coverage(np.arange(90) % 9, real, 10)["num_classes"] == 9
    with pytest.raises(ValueError, match="labels"):
        metrics.mode_coverage(np.array([0, 12]), real, 10)


def test_fid_grows_with_noise(digits_extractor, digits):
    _, _, x_test, _ = digits
    rng = np.random.default_rng(0)
    reference = digits_extractor.features(x_test)
    fids = []
    for sigma in (0.0, 0.1, 0.25, 0.5, 1.0):
        noisy = np.clip(x_test + sigma * rng.normal(size=x_test.shape).astype(np.float32), -1, 1)
        fids.append(metrics.fid_from_features(reference, digits_extractor.features(noisy)))
    assert fids[0] < 1e-6
    assert all(b > a for a, b in zip(fids, fids[1:])), fids
