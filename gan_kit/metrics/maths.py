"""Pure maths on features (float64 NumPy/SciPy, no TensorFlow, nothing else from ``gan_kit``).

FID (``frechet_distance``, ``fid_from_features``), KID (``kid_from_features``, ``kid_mmd2``), the Inception
Score (``inception_score_from_probs``), ``precision_recall``, ``density_coverage`` and
``mode_coverage``, each from feature matrices or class probabilities.

The public names live in ``gan_kit.metrics`` (import them from there); this module's own ``__all__`` is empty.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

__all__: list[str] = []

_EPS = 1e-12


def _as_2d_float64(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (samples x features). Received shape {arr.shape}.")
    if len(arr) < 2:
        raise ValueError(f"{name} needs at least 2 samples. Received {len(arr)}.")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values.")
    return arr


def feature_statistics(features: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (float64, ``ddof=1`` as TF-GAN and pytorch-fid) of a feature matrix.

    Args:
        features: array of shape (n, d), n >= 2.

    Returns:
        ``(mu, sigma)`` of shapes (d,) and (d, d).
    """
    f = _as_2d_float64(features, "features")
    return f.mean(axis=0), np.atleast_2d(np.cov(f, rowvar=False))


def _sqrtm_product(sigma1: np.ndarray, sigma2: np.ndarray, eps: float) -> np.ndarray:
    """Real part of sqrtm(sigma1 @ sigma2), retried with growing ``eps * I`` offsets when it is unstable."""
    from scipy import linalg

    d = sigma1.shape[0]
    scale = max(float(np.abs(np.diag(sigma1)).mean()), float(np.abs(np.diag(sigma2)).mean()), _EPS)
    offset = 0.0
    for attempt in range(8):
        a, b = (sigma1, sigma2) if attempt == 0 else (sigma1 + offset * np.eye(d), sigma2 + offset * np.eye(d))
        with warnings.catch_warnings():  # a singular product is handled below, not just warned about
            warnings.simplefilter("ignore", linalg.LinAlgWarning)
            covmean = linalg.sqrtm(a @ b)
        finite = bool(np.isfinite(covmean).all())
        imag = float(np.abs(np.imag(covmean)).max()) if np.iscomplexobj(covmean) else 0.0
        if finite and imag <= 1e-3 * scale:
            return np.real(covmean)
        offset = eps * scale * (10.0**attempt)
    raise FloatingPointError(
        "The matrix square root in the FID did not converge even with an offset of "
        f"{offset:.3g} on the covariances' diagonals; the features are degenerate (check for constant "
        "or duplicated samples)."
    )


def frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any, eps: float = 1e-6) -> float:
    """Fréchet distance between two Gaussians (Heusel et al. 2017, "GANs trained by a two time-scale update rule").

    ``d^2 = ||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))``, in float64.
    The square root comes from ``scipy.linalg.sqrtm``; when the product is near-singular
    and the result has non-finite entries or a non-negligible imaginary part, it is
    recomputed with ``eps * I`` (scaled to the covariances) added to both covariances,
    growing tenfold until it is stable. The real part is kept; rounding below zero is clipped.

    Args:
        mu1, mu2: mean vectors of shape (d,).
        sigma1, sigma2: covariance matrices of shape (d, d).
        eps: relative size of the first diagonal offset used on a retry.

    Returns:
        The squared Fréchet distance, a float >= 0 (the "FID" when the statistics are Inception features).

    Raises:
        ValueError: when the shapes do not match.
        FloatingPointError: when the square root stays unstable.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    d = mu1.shape[0]
    if mu1.shape != mu2.shape or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(
            f"Fréchet distance needs means of shape (d,) and covariances of shape (d, d) for the same d. "
            f"Received mu1 {mu1.shape}, sigma1 {sigma1.shape}, mu2 {mu2.shape}, sigma2 {sigma2.shape}."
        )
    # BEGIN SOLUTION 01 fid
    diff = mu1 - mu2
    covmean = _sqrtm_product(sigma1, sigma2, eps)
    value = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))
    return max(value, 0.0)
    # END SOLUTION


def fid_from_features(real_features: Any, fake_features: Any, eps: float = 1e-6) -> float:
    """FID between two feature sets: ``frechet_distance`` of their means and covariances.

    Args:
        real_features: array (n, d).
        fake_features: array (m, d).
        eps: see ``frechet_distance``.

    Returns:
        The FID (lower is better; 0 for identical statistics). It is biased upwards for
        small samples, so compare only FIDs computed with the same numbers of images.
    """
    mu1, s1 = feature_statistics(real_features)
    mu2, s2 = feature_statistics(fake_features)
    return frechet_distance(mu1, s1, mu2, s2, eps=eps)


def _poly_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    k = x @ y.T / x.shape[1] + 1.0
    return k * k * k  # several times faster than ** 3


def kid_from_features(
    real_features: Any,
    fake_features: Any,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
    mmd2: Callable[[np.ndarray, np.ndarray], Any] | None = None,
) -> tuple[float, float]:
    """Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs").

    The unbiased estimate of the squared MMD with the cubic polynomial kernel
    ``k(x, y) = (x . y / d + 1)^3`` (``kid_mmd2``), averaged over ``subsets`` random subsets of
    ``subset_size`` samples drawn without replacement from each set (as torch-fidelity
    and TF-GAN do). Unlike FID it is unbiased, so it can be compared across sample sizes;
    it can be slightly negative when the two sets are alike.

    Args:
        real_features: array (n, d).
        fake_features: array (m, d).
        subsets: number of subsets.
        subset_size: samples per subset; capped at ``min(n, m)``.
        seed: seeds the subset draws.
        mmd2: the estimate of one pair of subsets, ``mmd2(real_subset, fake_subset) -> float``
            (float64 arrays); None: ``kid_mmd2`` (notebook 06's exercise hands the student's here).

    Returns:
        ``(mean, std)`` of the MMD^2 estimates over the subsets.
    """
    x = _as_2d_float64(real_features, "real_features")
    y = _as_2d_float64(fake_features, "fake_features")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"Feature sizes differ: real {x.shape[1]}, fake {y.shape[1]}.")
    if subsets < 1 or subset_size < 2:
        raise ValueError(f"KID needs subsets >= 1 and subset_size >= 2. Received: subsets={subsets}, "
                         f"subset_size={subset_size}.")
    m = min(int(subset_size), len(x), len(y))
    if m == len(x) == len(y):  # every "subset" is the whole of both sets, and MMD^2 ignores their order
        subsets = 1
    estimate = mmd2 or _mmd2_unbiased
    rng = np.random.default_rng(seed)
    values = np.empty(subsets)
    for i in range(subsets):
        a = x[rng.choice(len(x), m, replace=False)]
        b = y[rng.choice(len(y), m, replace=False)]
        values[i] = float(estimate(a, b))
    return float(values.mean()), float(values.std())


def kid_mmd2(real_features: Any, fake_features: Any) -> float:
    """The unbiased MMD^2 estimate between two feature sets with KID's kernel ``(x . y / d + 1)^3``: the mean
    kernel over pairs of distinct real examples, plus that over pairs of distinct fake examples, minus twice
    the mean over (real, fake) pairs. ``kid_from_features`` averages it over subsets.

    Args:
        real_features: array (n, d), n >= 2.
        fake_features: array (m, d), m >= 2 (n and m may differ).

    Returns:
        The estimate (0 on average for two samples of one distribution; it can be slightly negative).
    """
    x = _as_2d_float64(real_features, "real_features")
    y = _as_2d_float64(fake_features, "fake_features")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"Feature sizes differ: real {x.shape[1]}, fake {y.shape[1]}.")
    return _mmd2_unbiased(x, y)


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    # Notebook 06's exercise, but not a marked answer: notebooks 01 and 03-05 compute KID before 06 (directly, in
    # metrics.evaluate and during training), so every release needs this working.
    n, m = len(x), len(y)
    kxx, kyy, kxy = _poly_kernel(x, x), _poly_kernel(y, y), _poly_kernel(x, y)
    within = (kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(within - 2.0 * kxy.mean())


def inception_score_from_probs(probs: Any, splits: int = 10) -> tuple[float, float]:
    """Inception Score (Salimans et al. 2016, "Improved techniques for training GANs").

    ``IS = exp(E_x KL(p(y|x) || p(y)))`` with ``p(y)`` the mean of ``p(y|x)`` within each
    split; mean and standard deviation over ``splits`` equal splits, as the paper does.
    It lies between 1 (every image gets the same distribution) and the number of classes
    (confident, evenly spread predictions). With the ``classifier`` extractor it is the
    classifier score.

    Args:
        probs: class probabilities, shape (n, classes); rows are renormalised.
        splits: number of splits (at most n).

    Returns:
        ``(mean, std)`` over the splits.
    """
    p = _as_2d_float64(probs, "probs")
    if (p < 0).any():
        raise ValueError("probs must be non-negative class probabilities.")
    if not 1 <= splits <= len(p):
        raise ValueError(f"splits must be in [1, {len(p)}] (the number of samples). Received: splits={splits}.")
    p = p / np.maximum(p.sum(axis=1, keepdims=True), _EPS)
    scores = []
    for part in np.array_split(p, splits):
        py = part.mean(axis=0, keepdims=True)
        kl = np.sum(part * (np.log(np.maximum(part, _EPS)) - np.log(np.maximum(py, _EPS))), axis=1)
        scores.append(math.exp(float(kl.mean())))
    return float(np.mean(scores)), float(np.std(scores))


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d, 0.0)


def _chunk_rows(n_rows: int, n_cols: int, budget: int = 8_000_000) -> int:
    return max(1, min(n_rows, budget // max(n_cols, 1)))


def _knn_radii(x: np.ndarray, ks: Iterable[int]) -> dict[int, np.ndarray]:
    """Squared distance from each row of x to its k-th nearest other row, for each k."""
    ks = sorted(set(int(k) for k in ks))
    if ks[0] < 1 or ks[-1] >= len(x):
        raise ValueError(f"k must be in [1, {len(x) - 1}] for {len(x)} samples. Received k={ks}.")
    out = {k: np.empty(len(x)) for k in ks}
    step = _chunk_rows(len(x), len(x))
    for start in range(0, len(x), step):
        d = _sq_dists(x[start : start + step], x)
        part = np.partition(d, ks, axis=1)  # column 0 is the point itself (distance 0)
        for k in ks:
            out[k][start : start + step] = part[:, k]
    return out


def _manifold(real: np.ndarray, fake: np.ndarray, k_pr: int | None, k_dc: int | None) -> dict[str, float]:
    """Precision/recall (k_pr) and density/coverage (k_dc) in one pass over the real x fake distances."""
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"Feature sizes differ: real {real.shape[1]}, fake {fake.shape[1]}.")
    real_r = _knn_radii(real, [k for k in (k_pr, k_dc) if k is not None])
    fake_r = _knn_radii(fake, [k_pr])[k_pr] if k_pr is not None else None
    in_real_ball = np.zeros(len(fake), bool)  # precision: fake inside some real k_pr-ball
    real_near_fake = np.zeros(len(real), bool)  # recall: real inside some fake k_pr-ball
    density_counts = np.zeros(len(fake))  # density: number of real k_dc-balls holding each fake
    covered = np.zeros(len(real), bool)  # coverage: real k_dc-ball holding at least one fake
    step = _chunk_rows(len(real), len(fake))
    for start in range(0, len(real), step):
        d = _sq_dists(real[start : start + step], fake)
        if k_pr is not None:
            in_real_ball |= (d <= real_r[k_pr][start : start + step, None]).any(axis=0)
            real_near_fake[start : start + step] = (d <= fake_r[None, :]).any(axis=1)
        if k_dc is not None:
            inside = d <= real_r[k_dc][start : start + step, None]
            density_counts += inside.sum(axis=0)
            covered[start : start + step] = inside.any(axis=1)
    out: dict[str, float] = {}
    if k_pr is not None:
        out.update(precision=float(in_real_ball.mean()), recall=float(real_near_fake.mean()))
    if k_dc is not None:
        out.update(density=float(density_counts.sum() / (k_dc * len(fake))), coverage=float(covered.mean()))
    return out


def precision_recall(real_features: Any, fake_features: Any, k: int = 3) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019).

    Each set's manifold is the union of balls around its samples, each ball reaching the
    sample's k-th nearest neighbour in the same set. Precision is the fraction of generated
    samples inside the real manifold (quality); recall is the fraction of real samples
    inside the generated manifold (diversity, coverage of the data).

    Args:
        real_features: array (n, d).
        fake_features: array (m, d).
        k: neighbourhood size (3 in the paper).

    Returns:
        ``{"precision": ..., "recall": ...}``, both in [0, 1].
    """
    real = _as_2d_float64(real_features, "real_features")
    fake = _as_2d_float64(fake_features, "fake_features")
    return _manifold(real, fake, k, None)


def density_coverage(real_features: Any, fake_features: Any, k: int = 5) -> dict[str, float]:
    """Density and coverage (Naeem et al. 2020, "Reliable fidelity and diversity metrics").

    Density counts, per generated sample, how many real k-NN balls contain it, divided by
    k and averaged (about 1 when the two distributions match; above 1 when samples crowd
    into dense real regions). Coverage is the fraction of real samples whose k-NN ball
    contains at least one generated sample. Both use only real-sample balls, so outliers
    among generated samples cannot inflate them as they can precision/recall.

    Args:
        real_features: array (n, d).
        fake_features: array (m, d).
        k: neighbourhood size (5 in the paper).

    Returns:
        ``{"density": ..., "coverage": ...}``; coverage in [0, 1], density >= 0.
    """
    real = _as_2d_float64(real_features, "real_features")
    fake = _as_2d_float64(fake_features, "fake_features")
    return _manifold(real, fake, None, k)


def _class_distribution(values: Any, num_classes: int, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(fractions, counts or None) from integer labels, a probability matrix, or a distribution vector."""
    arr = np.asarray(values)
    if arr.ndim == 2:
        if arr.shape[1] != num_classes:
            raise ValueError(f"{name}: probability matrix has {arr.shape[1]} columns, expected {num_classes}.")
        arr = arr.argmax(axis=1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be labels (n,), probabilities (n, classes) or a distribution (classes,).")
    if np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.bool_):
        if len(arr) == 0:
            raise ValueError(f"{name} is empty.")
        if arr.min() < 0 or arr.max() >= num_classes:
            raise ValueError(f"{name}: labels must be in [0, {num_classes - 1}].")
        counts = np.bincount(arr.astype(np.int64), minlength=num_classes).astype(np.float64)
        return counts / counts.sum(), counts
    dist = arr.astype(np.float64)
    if dist.shape != (num_classes,) or (dist < 0).any() or dist.sum() <= 0:
        raise ValueError(f"{name}: a distribution must be {num_classes} non-negative numbers with a positive sum.")
    return dist / dist.sum(), None


def mode_coverage(
    predictions: Any,
    real: Any,
    num_classes: int,
    min_share: float = 0.5,
    smoothing: float = 1e-3,
) -> dict[str, Any]:
    """Which classes the generated samples cover, and how far their mix is from the real one.

    A classifier labels every generated image (``predictions``: labels, or probabilities
    whose argmax is taken). A class counts as **covered** when its share of the generated
    samples is at least ``min_share`` times its share of the real data (with the default
    1/2 and ten balanced classes: at least 5% of the samples). The margin keeps a
    classifier's confusions between similar classes (shirts and T-shirts, cats and dogs)
    from counting as coverage, which an "any sample at all" rule would. The KL divergence
    ``KL(generated || real)`` of the class histograms measures the imbalance: 0 for the
    real mix, ``log(K / c)`` when c of K balanced classes are generated evenly and the
    rest never. Both histograms are mixed with a uniform distribution of weight
    ``smoothing`` so that empty classes give a finite KL.

    Args:
        predictions: predicted labels (n,) or probabilities (n, num_classes) of generated samples.
        real: the real class mix: true labels (n,), probabilities (n, num_classes), or a
            distribution vector of length ``num_classes`` (floats).
        num_classes: number of classes.
        min_share: fraction of a class's real share it must reach to count as covered.
        smoothing: weight of the uniform mixture in the KL.

    Returns:
        ``{"histogram", "real_histogram"}`` (class fractions), ``"counts"``,
        ``"covered"`` (list of class indices), ``"classes_covered"``, ``"num_classes"``
        (classes present in the real data), ``"kl"``, ``"min_share"``.
    """
    if int(num_classes) < 1:
        raise ValueError(f"num_classes must be >= 1. Received: num_classes={num_classes}.")
    if not 0.0 < min_share <= 1.0 or not 0.0 <= smoothing < 1.0:
        raise ValueError(f"min_share must be in (0, 1] and smoothing in [0, 1). Received: min_share={min_share}, "
                         f"smoothing={smoothing}.")
    gen, counts = _class_distribution(predictions, num_classes, "predictions")
    ref, _ = _class_distribution(real, num_classes, "real")
    present = ref > 0
    covered = np.flatnonzero(present & (gen >= min_share * ref))
    uniform = np.full(num_classes, 1.0 / num_classes)
    p = (1.0 - smoothing) * gen + smoothing * uniform
    q = (1.0 - smoothing) * ref + smoothing * uniform
    nz = p > 0
    kl = float(np.sum(p[nz] * (np.log(p[nz]) - np.log(q[nz]))))
    return {
        "histogram": gen.tolist(),
        "real_histogram": ref.tolist(),
        "counts": (counts if counts is not None else gen).tolist(),
        "covered": covered.tolist(),
        "classes_covered": int(len(covered)),
        "num_classes": int(present.sum()),
        "kl": kl,
        "min_share": float(min_share),
    }
