"""Sample-quality metrics for GANs: FID, KID, IS, precision/recall, density/coverage and mode coverage.

Layered like TF-GAN's ``eval/classifier_metrics.py``:

1. **Pure maths on features** (float64 NumPy/SciPy, no TensorFlow): ``frechet_distance``,
   ``fid_from_features``, ``kid_from_features``, ``inception_score_from_probs``,
   ``precision_recall``, ``density_coverage``, ``mode_coverage``.
2. **Feature extractors** behind one interface (``get_extractor``): images in [-1, 1] of
   any supported size (28 or 32 pixels, 1 or 3 channels; converted as needed) go in, in
   batches, so 50,000 images never sit in memory at once; ``features`` (for FID, KID,
   precision/recall, density/coverage) and ``probabilities`` (for IS and mode coverage)
   come out.

   * ``classifier`` (the offline default): a small CNN per dataset that the kit trains on
     the dataset's train split and caches under ``<cache>/classifiers/<dataset>-<hash>/``
     with its test accuracy. Its penultimate layer gives the features, its softmax the
     class probabilities, so its "Inception Score" is a *classifier score* (as TF-GAN's
     MNIST score) and its FID is a *classifier FID*: comparable between runs on the same
     dataset and classifier, never with published Inception numbers.
   * ``inception``: Keras' InceptionV3 with ImageNet weights, images resized to 299 x 299
     (2048-d pool features for FID/KID, the 1000 ImageNet logits for IS). Keras' weights
     are not the TF-GAN / pytorch-fid Inception graph (which has 1008 classes and slightly
     different layers), so its absolute FID and IS are close to, not equal to, published
     numbers. Offline, the weights file must already be in Keras' cache (see
     ``ExtractorUnavailableError``). It is slow on a CPU (about 6 GFLOPs per image).
3. **Wrappers**: ``evaluate_images`` (all metrics for two image sets), ``reference_statistics``
   (real-data statistics cached per dataset, split, sample count, image shape and extractor
   id), ``evaluate(run_folder)`` (writes ``metrics.json``) and ``metrics_callback(config)``
   (FID/KID every N epochs into ``history.csv``).

The cache root is ``$GAN_KIT_CACHE_DIR``, else ``<repo>/outputs/cache``. An extractor's ``id``
contains a hash of its weights file, so retraining the classifier or replacing the
Inception weights invalidates the cached reference statistics automatically.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
import tempfile
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CACHE_ENV",
    "CLASSIFIER_DATASETS",
    "EXTRACTORS",
    "INCEPTION_WEIGHTS_FILE",
    "METRICS_FILE",
    "ClassifierExtractor",
    "ClassifierSpec",
    "ExtractorUnavailableError",
    "FeatureExtractor",
    "InceptionExtractor",
    "ReferenceStats",
    "build_classifier",
    "cache_root",
    "cached_classifier",
    "classifier_spec",
    "density_coverage",
    "evaluate",
    "evaluate_features",
    "evaluate_images",
    "feature_statistics",
    "fid_from_features",
    "frechet_distance",
    "generated_batches",
    "get_extractor",
    "inception_score_from_probs",
    "kid_from_features",
    "metrics_callback",
    "mode_coverage",
    "precision_recall",
    "reference_statistics",
    "train_classifier",
]

CACHE_ENV = "GAN_KIT_CACHE_DIR"
EXTRACTORS = ("classifier", "inception")
# Datasets with labelled train and test splits, the ones a classifier can be trained and scored on.
CLASSIFIER_DATASETS = ("fashion_mnist", "mnist", "cifar10", "cifar100", "digits")
INCEPTION_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
INCEPTION_WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/" + INCEPTION_WEIGHTS_FILE
)
INCEPTION_WEIGHTS_MD5 = "9a0d58056eeedaa3f26cb7ebd46da564"
METRICS_FILE = "metrics.json"
_REPO = Path(__file__).resolve().parents[1]
_EPS = 1e-12


class ExtractorUnavailableError(RuntimeError):
    """A feature extractor cannot be built here (weights missing offline, or an unsupported dataset)."""


# =============================================================================== pure maths


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
    diff = mu1 - mu2
    covmean = _sqrtm_product(sigma1, sigma2, eps)
    value = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))
    return max(value, 0.0)


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
) -> tuple[float, float]:
    """Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs").

    The unbiased estimate of the squared MMD with the cubic polynomial kernel
    ``k(x, y) = (x . y / d + 1)^3``, averaged over ``subsets`` random subsets of
    ``subset_size`` samples drawn without replacement from each set (as torch-fidelity
    and TF-GAN do). Unlike FID it is unbiased, so it can be compared across sample sizes;
    it can be slightly negative when the two sets are alike.

    Args:
        real_features: array (n, d).
        fake_features: array (m, d).
        subsets: number of subsets.
        subset_size: samples per subset; capped at ``min(n, m)``.
        seed: seeds the subset draws.

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
    rng = np.random.default_rng(seed)
    values = np.empty(subsets)
    for i in range(subsets):
        a = x[rng.choice(len(x), m, replace=False)]
        b = y[rng.choice(len(y), m, replace=False)]
        kxx, kyy, kxy = _poly_kernel(a, a), _poly_kernel(b, b), _poly_kernel(a, b)
        values[i] = (
            (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
            + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
            - 2.0 * kxy.mean()
        )
    return float(values.mean()), float(values.std())


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


# =============================================================================== caching


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """The metrics cache folder: ``cache_dir``, else ``$GAN_KIT_CACHE_DIR``, else ``<repo>/outputs/cache``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else _REPO / "outputs" / "cache"


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _short_hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:10]


# =============================================================================== image batches


def _as_batch(batch: Any) -> np.ndarray:
    if isinstance(batch, (tuple, list)) and len(batch) and not np.isscalar(batch[0]):
        batch = batch[0]  # (images, labels) pairs from a labelled pipeline
    arr = np.asarray(batch)
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[-1] not in (1, 3):
        raise ValueError(
            f"Expected a batch of images N x H x W x C with C = 1 or 3 (or N x H x W). Received shape {arr.shape}."
        )
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
    return arr.astype(np.float32, copy=False)


def _iter_batches(images: Any, batch_size: int) -> Iterator[np.ndarray]:
    """Float32 batches in [-1, 1] of at most ``batch_size`` images from an array or an iterable of batches."""
    if isinstance(images, np.ndarray) or (hasattr(images, "shape") and hasattr(images, "__array__")):
        arr = images
        n = int(arr.shape[0])
        for start in range(0, n, batch_size):
            yield _as_batch(arr[start : start + batch_size])
        return
    for batch in images:
        arr = _as_batch(batch)
        for start in range(0, len(arr), batch_size):
            yield arr[start : start + batch_size]


def generated_batches(generator: Any, n: int, latent_dim: int | None = None, seed: int = 0,
                      batch_size: int = 250) -> Iterator[np.ndarray]:
    """``n`` generator samples in batches from seeded standard normal noise (never all in memory).

    Args:
        generator: a Keras model mapping (batch, latent_dim) noise to images in [-1, 1].
        n: number of images.
        latent_dim: noise size; read from the generator's input when None.
        seed: seeds the noise, so the same seed gives the same images.
        batch_size: images per batch.

    Yields:
        float32 arrays of images.
    """
    if latent_dim is None:
        latent_dim = int(generator.inputs[0].shape[-1])
    rng = np.random.default_rng(seed)
    done = 0
    while done < n:
        m = min(batch_size, n - done)
        z = rng.standard_normal((m, latent_dim)).astype(np.float32)
        out = generator(z, training=False)
        yield np.asarray(out.numpy() if hasattr(out, "numpy") else out, dtype=np.float32)
        done += m


# =============================================================================== extractors


class FeatureExtractor:
    """Maps images in [-1, 1] to features and class probabilities, batch by batch.

    Attributes:
        name: ``classifier`` or ``inception``.
        id: a stable string naming the network and a hash of its weights; caches key on it.
        input_shape: (height, width, channels) the network takes; other sizes are resized
            (bilinear) and channels converted (grey to RGB by repetition, RGB to grey by luma).
        num_classes: length of the probability vectors.
        feature_dim: length of the feature vectors.
        batch_size: images per forward pass.
    """

    name = "extractor"

    def __init__(self, model: Any, extractor_id: str, input_shape: tuple[int, int, int], num_classes: int,
                 batch_size: int = 500):

        self.model = model
        self.id = extractor_id
        self.input_shape = tuple(int(v) for v in input_shape)
        self.num_classes = int(num_classes)
        self.feature_dim = int(model.outputs[0].shape[-1])
        self.batch_size = int(batch_size)
        self._forwards: dict[tuple[int, ...], Any] = {}

    def _forward(self, batch: np.ndarray) -> tuple[Any, Any]:
        """Features and softmax probabilities of one batch, through a graph compiled once per image shape."""
        import tensorflow as tf

        shape = tuple(int(v) for v in batch.shape[1:])
        if shape not in self._forwards:
            height, width, channels = self.input_shape
            model = self.model

            def forward(x):
                if shape[-1] != channels:  # grey -> RGB by repetition, RGB -> grey by ITU-R 601 luma
                    if channels == 3:
                        x = tf.repeat(x, 3, axis=-1)
                    else:
                        x = tf.reduce_sum(x * tf.constant([0.299, 0.587, 0.114], x.dtype), axis=-1, keepdims=True)
                if shape[:2] != (height, width):
                    x = tf.image.resize(x, (height, width), method="bilinear", antialias=shape[0] > height)
                    x = tf.clip_by_value(x, -1.0, 1.0)
                features, logits = model(x, training=False)
                return features, tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)

            spec = tf.TensorSpec((None, *shape), tf.float32)
            self._forwards[shape] = tf.function(forward, input_signature=[spec])
        return self._forwards[shape](batch)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self.id!r} input={self.input_shape} features={self.feature_dim}>"

    def features_and_probabilities(self, images: Any, batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Features (n, feature_dim) and probabilities (n, num_classes) in one pass.

        Args:
            images: an array N x H x W x C (or N x H x W) in [-1, 1] (uint8 in [0, 255] is
                scaled), or an iterable of such batches (a ``tf.data.Dataset``, a generator;
                ``(images, labels)`` pairs are accepted). Only one batch is converted at a time.
            batch_size: images per forward pass (default ``self.batch_size``).
        """
        feats, probs = [], []
        for batch in _iter_batches(images, int(batch_size or self.batch_size)):
            f, p = self._forward(batch)
            feats.append(np.asarray(f, np.float32))
            probs.append(np.asarray(p, np.float32))
        if not feats:
            raise ValueError("No images were given to the feature extractor.")
        return np.concatenate(feats), np.concatenate(probs)

    def features(self, images: Any, batch_size: int | None = None) -> np.ndarray:
        """Feature vectors (n, feature_dim) of images in [-1, 1]; see ``features_and_probabilities``."""
        return self.features_and_probabilities(images, batch_size)[0]

    def probabilities(self, images: Any, batch_size: int | None = None) -> np.ndarray:
        """Class probabilities (n, num_classes) of images in [-1, 1]; see ``features_and_probabilities``."""
        return self.features_and_probabilities(images, batch_size)[1]


class ClassifierExtractor(FeatureExtractor):
    """The kit's own per-dataset classifier: penultimate layer -> features, softmax -> probabilities.

    Build it with ``get_extractor("classifier", dataset=...)``. ``info`` holds the JSON
    saved beside the model (test accuracy, training settings, training time).
    """

    name = "classifier"

    def __init__(self, model: Any, info: dict[str, Any], folder: Path, batch_size: int = 500):
        import keras

        extractor = keras.Model(model.inputs, [model.get_layer("features").output, model.get_layer("logits").output])
        super().__init__(
            extractor,
            f"classifier-{info['dataset']}-{info['spec_hash']}-{info['model_sha256'][:12]}",
            tuple(info["input_shape"]),
            int(info["num_classes"]),
            batch_size,
        )
        self.classifier = model
        self.info = info
        self.folder = folder
        self.dataset = info["dataset"]
        self.test_accuracy = float(info["test_accuracy"])


class InceptionExtractor(FeatureExtractor):
    """Keras' InceptionV3 (ImageNet): 2048-d ``avg_pool`` features and softmax of the 1000 logits.

    Keras' weights are not the TF-GAN / pytorch-fid graph, so FID and IS from it are close
    to, not equal to, published numbers. Build it with ``get_extractor("inception")``.
    """

    name = "inception"

    def __init__(self, weights_path: str | os.PathLike, batch_size: int = 50):
        import keras

        base = keras.applications.InceptionV3(include_top=True, weights=None, classifier_activation=None)
        base.load_weights(str(weights_path))
        model = keras.Model(base.inputs, [base.get_layer("avg_pool").output, base.get_layer("predictions").output])
        self.weights_path = Path(weights_path)
        super().__init__(model, f"inception_v3-keras-{_file_sha256(self.weights_path)[:12]}", (299, 299, 3), 1000,
                         batch_size)


def _keras_home() -> Path:
    try:
        from keras.src.backend import config as keras_config

        return Path(keras_config.keras_home())
    except Exception:  # pragma: no cover - a Keras without the private accessor
        return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))


def _inception_weights(weights_path: str | os.PathLike | None, allow_download: bool) -> Path:
    expected = _keras_home() / "models" / INCEPTION_WEIGHTS_FILE
    how = (
        f"Download {INCEPTION_WEIGHTS_URL} on a machine with internet access and copy it to {expected} "
        f"(Keras' cache; md5 {INCEPTION_WEIGHTS_MD5}), or pass weights_path=..., or use the offline "
        "extractor 'classifier'."
    )
    if weights_path is not None:
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise ExtractorUnavailableError(f"Inception weights file {path} does not exist. {how}")
        return path
    if expected.is_file():
        return expected
    if not allow_download:
        raise ExtractorUnavailableError(f"The InceptionV3 ImageNet weights are not in Keras' cache. {how}")
    import keras

    try:
        return Path(keras.utils.get_file(INCEPTION_WEIGHTS_FILE, INCEPTION_WEIGHTS_URL, cache_subdir="models",
                                         file_hash=INCEPTION_WEIGHTS_MD5))
    except Exception as exc:
        raise ExtractorUnavailableError(
            f"The InceptionV3 ImageNet weights are not in Keras' cache and could not be downloaded "
            f"({type(exc).__name__}: {exc}). {how}"
        ) from exc


# ------------------------------------------------------------------------------- the classifier


@dataclass(frozen=True)
class ClassifierSpec:
    """Architecture and training budget of the kit's classifier (every field goes into its cache key).

    Args:
        widths: channels of the conv stages; each stage is ``convs`` 3x3 conv + BN + ReLU layers
            followed by 2x2 max pooling.
        convs: conv layers per stage (one per entry, or one number for all).
        pool_last: whether the last stage is followed by max pooling too.
        head: ``flatten`` (the last feature map, flattened) or ``gap`` (global average pooling,
            like Inception's pool features) feeds the feature layer.
        dense: size of the penultimate (feature) layer: dense + BN + ReLU; 0 makes the pooled
            (``gap``) or flattened map itself the features.
        head_dropout: dropout before the feature layer.
        dropout: dropout before the logits.
        epochs: passes over the training images.
        max_examples: training images used (None: the whole train split).
        batch_size: training batch size.
        learning_rate: peak learning rate of AdamW (linear warm-up, cosine decay).
        label_smoothing: label smoothing of the cross-entropy.
        augment: random shifts of up to ``shift`` pixels (and flips when ``flip``) of the training images.
        flip: random horizontal flips when augmenting (not for digits, whose mirror images are other digits).
        shift: maximal shift in pixels when augmenting.
        seed: seeds the weights and the data order.
    """

    widths: tuple[int, ...] = (32, 64, 128)
    convs: tuple[int, ...] = (1, 2, 2)
    pool_last: bool = True
    head: str = "flatten"
    dense: int = 256
    head_dropout: float = 0.3
    dropout: float = 0.2
    epochs: int = 15
    max_examples: int | None = None
    batch_size: int = 128
    learning_rate: float = 3e-3
    label_smoothing: float = 0.1
    augment: bool = True
    flip: bool = True
    shift: int = 4
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


# Per dataset: the settings that reach the accuracy targets (see tests/test_metrics.py) in minutes on a CPU.
_CLASSIFIER_SPECS: dict[str, ClassifierSpec] = {
    "fashion_mnist": ClassifierSpec(widths=(32, 64), convs=(1, 1), dense=128, epochs=5, augment=False,
                                    learning_rate=2e-3),
    "mnist": ClassifierSpec(widths=(32, 64), convs=(1, 1), dense=128, epochs=3, augment=False, learning_rate=2e-3),
    "cifar10": ClassifierSpec(widths=(32, 64, 128, 256), convs=(1, 1, 2, 1), pool_last=False, head="gap", dense=0),
    "cifar100": ClassifierSpec(widths=(32, 64, 128, 256), convs=(1, 1, 2, 1), pool_last=False, head="gap", dense=0),
    "digits": ClassifierSpec(widths=(16, 32), convs=(1, 1), dense=64, epochs=15, batch_size=64, augment=False),
}
# The smoke profile: a few steps on a small subset; enough to exercise every code path, not to measure.
_SMOKE_SPEC = ClassifierSpec(widths=(8, 16), convs=(1, 1), head="flatten", dense=32, epochs=2, max_examples=2048,
                             batch_size=64, learning_rate=3e-3, augment=False, head_dropout=0.0, dropout=0.0)


def classifier_spec(dataset: str, profile: str | None = None) -> ClassifierSpec:
    """The classifier settings for a dataset and profile (``smoke``: a tiny, barely trained net).

    Args:
        dataset: one of ``CLASSIFIER_DATASETS``.
        profile: ``smoke``, ``quick``, ``full`` or ``auto``; None reads ``$GAN_KIT_PROFILE``.
            Only ``smoke`` changes the classifier; ``quick`` and ``full`` share the real one.

    Raises:
        ExtractorUnavailableError: for a dataset without labelled train/test splits.
    """
    from .config import resolve_profile

    if dataset not in CLASSIFIER_DATASETS:
        raise ExtractorUnavailableError(
            f"The 'classifier' extractor needs a labelled dataset with train and test splits, one of "
            f"{list(CLASSIFIER_DATASETS)}. Received dataset={dataset!r}; use extractor 'inception' for it."
        )
    if resolve_profile(profile) == "smoke":
        return _SMOKE_SPEC
    return _CLASSIFIER_SPECS[dataset]


def build_classifier(input_shape: tuple[int, int, int], num_classes: int, spec: ClassifierSpec) -> Any:
    """A ``keras.Sequential`` CNN: conv stages (conv + BN + ReLU, max pooling), a ``features`` layer, ``logits``.

    Args:
        input_shape: (height, width, channels) of the images, in [-1, 1].
        num_classes: number of output logits.
        spec: widths, convs per stage, feature size and dropout.

    Returns:
        The uncompiled model; its layer ``features`` gives the metric features, ``logits``
        the class logits.
    """
    import keras
    from keras import layers

    convs = spec.convs if len(spec.convs) == len(spec.widths) else (spec.convs[0],) * len(spec.widths)
    stack: list[Any] = [keras.Input(input_shape)]
    for stage, (width, n) in enumerate(zip(spec.widths, convs)):
        for i in range(n):
            stack += [
                layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv{stage + 1}_{i + 1}"),
                layers.BatchNormalization(name=f"bn{stage + 1}_{i + 1}"),
                layers.ReLU(name=f"relu{stage + 1}_{i + 1}"),
            ]
        if spec.pool_last or stage + 1 < len(spec.widths):
            stack.append(layers.MaxPooling2D(name=f"pool{stage + 1}"))
    if spec.head not in ("flatten", "gap"):
        raise ValueError(f"ClassifierSpec.head must be 'flatten' or 'gap'. Received: head={spec.head!r}.")
    pooled = "features" if spec.dense == 0 else "pooled"
    pool = layers.Flatten(name=pooled) if spec.head == "flatten" else layers.GlobalAveragePooling2D(name=pooled)
    stack.append(pool)
    if spec.dense:
        stack += [
            layers.Dropout(spec.head_dropout, name="head_dropout"),
            layers.Dense(spec.dense, use_bias=False, name="dense"),
            layers.BatchNormalization(name="dense_bn"),
            layers.ReLU(name="features"),
        ]
    stack += [layers.Dropout(spec.dropout, name="dropout"), layers.Dense(num_classes, name="logits")]
    return keras.Sequential(stack, name="gan_kit_classifier")


def _augment_fn(spec: ClassifierSpec, shape: tuple[int, int, int]):
    import tensorflow as tf

    height, width, channels = shape

    def augment(x, y):
        if spec.flip:
            x = tf.image.random_flip_left_right(x)
        x = tf.image.resize_with_crop_or_pad(x, height + 2 * spec.shift, width + 2 * spec.shift)
        x = tf.image.random_crop(x, (height, width, channels))
        return x, y

    return augment


def train_classifier(
    dataset: str,
    spec: ClassifierSpec | None = None,
    *,
    data_dir: str | os.PathLike | None = None,
    verbose: int = 0,
) -> tuple[Any, dict[str, Any]]:
    """Train the kit's classifier on a dataset's train split and score it on the test split.

    Args:
        dataset: one of ``CLASSIFIER_DATASETS``.
        spec: architecture and budget (default: ``classifier_spec(dataset)``).
        data_dir: where to look for the dataset first (see ``gan_kit.data``).
        verbose: Keras' fit verbosity.

    Returns:
        ``(model, info)``: the Keras model and a dict with ``test_accuracy``,
        ``train_seconds``, the spec and the data sizes.
    """
    import keras
    import tensorflow as tf

    from . import data

    spec = spec or classifier_spec(dataset)
    size, _, channels = _image_shape(dataset)
    x_train, y_train, names = data.load_arrays(dataset, "train", data_dir=data_dir, max_examples=spec.max_examples,
                                               image_size=size, channels=channels)
    x_test, y_test, _ = data.load_arrays(dataset, "test", data_dir=data_dir, image_size=size, channels=channels)
    shape = tuple(int(v) for v in x_train.shape[1:])
    num_classes = max(len(names), int(y_train.max()) + 1)
    keras.utils.set_random_seed(spec.seed)
    start = time.perf_counter()
    model = build_classifier(shape, num_classes, spec)
    batch_size = min(spec.batch_size, len(x_train))
    steps = max(1, spec.epochs * (len(x_train) // batch_size))
    warmup = max(1, steps // 5)
    schedule = keras.optimizers.schedules.CosineDecay(
        spec.learning_rate * 0.1, max(1, steps - warmup), warmup_target=spec.learning_rate, warmup_steps=warmup
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=5e-4),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=spec.label_smoothing),
        metrics=["accuracy"],
    )
    one_hot = np.eye(num_classes, dtype=np.float32)[y_train]
    train = tf.data.Dataset.from_tensor_slices((data.to_unit_range(x_train), one_hot))
    train = train.shuffle(len(x_train), seed=spec.seed, reshuffle_each_iteration=True)
    if spec.augment:
        train = train.map(_augment_fn(spec, shape), num_parallel_calls=tf.data.AUTOTUNE)
    train = train.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    model.fit(train, epochs=spec.epochs, verbose=verbose)
    train_seconds = time.perf_counter() - start
    logits = model.predict(data.to_unit_range(x_test), batch_size=500, verbose=0)
    accuracy = float((logits.argmax(axis=1) == y_test).mean())
    info = {
        "dataset": dataset,
        "test_accuracy": accuracy,
        "test_examples": int(len(x_test)),
        "train_examples": int(len(x_train)),
        "train_seconds": round(train_seconds, 1),
        "input_shape": list(shape),
        "num_classes": int(num_classes),
        "class_names": list(names),
        "spec": spec.to_dict(),
        "spec_hash": _short_hash({"dataset": dataset, "shape": shape, **spec.to_dict()}),
        "keras_version": keras.__version__,
        "tensorflow_version": tf.__version__,
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    return model, info


def _image_shape(dataset: str) -> tuple[int, int, int]:
    """The shape the kit's models use for a dataset (digits: 32 x 32, upscaled from 8 x 8)."""
    from .config import NATIVE_SHAPES

    size, channels = NATIVE_SHAPES[dataset]
    return (size, size, channels)


def _classifier_folder(dataset: str, spec: ClassifierSpec, shape: tuple[int, int, int], root: Path) -> Path:
    return root / "classifiers" / f"{dataset}-{_short_hash({'dataset': dataset, 'shape': shape, **spec.to_dict()})}"


def _load_cached_classifier(folder: Path) -> tuple[Any, dict[str, Any]] | None:
    import keras

    model_path, info_path = folder / "classifier.keras", folder / "classifier.json"
    if not (model_path.is_file() and info_path.is_file()):
        return None
    try:
        info = json.loads(info_path.read_text())
        if info.get("model_sha256") != _file_sha256(model_path):
            return None  # the model was replaced without its JSON: retrain
        model = keras.models.load_model(model_path, safe_mode=True, compile=False)
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        return None
    return model, info


def cached_classifier(dataset: str, *, profile: str | None = None, spec: ClassifierSpec | None = None,
                      cache_dir: str | os.PathLike | None = None) -> dict[str, Any] | None:
    """The saved info (test accuracy, settings, training time) of a cached classifier, or None when none is cached."""

    spec = spec or classifier_spec(dataset, profile)
    folder = _classifier_folder(dataset, spec, _image_shape(dataset), cache_root(cache_dir))
    try:
        info = json.loads((folder / "classifier.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return info if (folder / "classifier.keras").is_file() else None


def _get_classifier(dataset: str, profile: str | None, cache_dir: str | os.PathLike | None,
                    data_dir: str | os.PathLike | None, spec: ClassifierSpec | None, retrain: bool,
                    verbose: int) -> tuple[Any, dict[str, Any], Path]:
    from .runs import atomic_write_text

    spec = spec or classifier_spec(dataset, profile)
    folder = _classifier_folder(dataset, spec, _image_shape(dataset), cache_root(cache_dir))
    cached = None if retrain else _load_cached_classifier(folder)
    if cached is not None:
        return cached[0], cached[1], folder
    model, info = train_classifier(dataset, spec, data_dir=data_dir, verbose=verbose)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".classifier.", suffix=".keras", dir=folder)
    os.close(fd)
    try:
        model.save(tmp)
        info["model_sha256"] = _file_sha256(Path(tmp))
        os.replace(tmp, folder / "classifier.keras")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    atomic_write_text(folder / "classifier.json", json.dumps(info, indent=2, sort_keys=True) + "\n")
    return model, info, folder


def get_extractor(
    name: str = "classifier",
    dataset: str | None = None,
    *,
    profile: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    spec: ClassifierSpec | None = None,
    retrain: bool = False,
    weights_path: str | os.PathLike | None = None,
    allow_download: bool = True,
    batch_size: int | None = None,
    verbose: int = 0,
) -> FeatureExtractor:
    """A feature extractor by name.

    ``classifier`` loads the dataset's cached classifier, training it first when it is
    missing (minutes on a CPU; ``smoke`` profile: seconds, for a barely trained net).
    ``inception`` loads Keras' InceptionV3 ImageNet weights from Keras' cache, downloading
    them when allowed and possible.

    Example:
        >>> ext = get_extractor("classifier", dataset="fashion_mnist")
        >>> feats = ext.features(images)  # (n, 128), images in [-1, 1]

    Args:
        name: ``classifier`` or ``inception``.
        dataset: the dataset the classifier is for (required for ``classifier``).
        profile: sets the classifier's training budget (None: ``$GAN_KIT_PROFILE``).
        cache_dir: cache root (default ``$GAN_KIT_CACHE_DIR`` or ``<repo>/outputs/cache``).
        data_dir: where to look for the dataset first.
        spec: explicit classifier settings instead of the profile's.
        retrain: train the classifier again even when one is cached.
        weights_path: an InceptionV3 weights ``.h5`` file to use.
        allow_download: let ``inception`` download its weights when they are not cached.
        batch_size: images per forward pass (default 500 for the classifier, 50 for Inception).
        verbose: fit verbosity while training the classifier.

    Raises:
        ValueError: for an unknown name or a missing dataset.
        ExtractorUnavailableError: when the Inception weights are missing and cannot be
            downloaded (the message says where to put the file), or the dataset has no
            labelled splits for a classifier.
    """
    if name not in EXTRACTORS:
        raise ValueError(f"Unknown extractor {name!r}. Valid extractors: {list(EXTRACTORS)}.")
    if name == "inception":
        return InceptionExtractor(_inception_weights(weights_path, allow_download), batch_size=batch_size or 50)
    if dataset is None:
        raise ValueError("The 'classifier' extractor needs dataset=... (the dataset it classifies).")
    if spec is None:
        classifier_spec(dataset, profile)  # validates the dataset before anything is loaded
    model, info, folder = _get_classifier(dataset, profile, cache_dir, data_dir, spec, retrain, verbose)
    return ClassifierExtractor(model, info, folder, batch_size=batch_size or 500)


# =============================================================================== reference statistics


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
    from . import data
    from .runs import atomic_write_bytes

    native = _image_shape(dataset)
    size = int(image_size or native[0])
    ch = int(channels or native[2])
    key = {"dataset": dataset, "split": split, "max_examples": max_examples, "image_size": size, "channels": ch,
           "path": str(path) if path is not None else None}
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


# =============================================================================== wrappers


def evaluate_features(
    real_features: Any,
    fake_features: Any,
    fake_probs: Any | None = None,
    real_classes: Any | None = None,
    *,
    num_classes: int | None = None,
    k_pr: int = 3,
    k_dc: int = 5,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    is_splits: int = 10,
    min_share: float = 0.5,
    seed: int = 0,
) -> dict[str, Any]:
    """Every metric from precomputed features (and class probabilities for IS / mode coverage).

    Args:
        real_features, fake_features: arrays (n, d) and (m, d).
        fake_probs: class probabilities of the generated images (m, classes); IS and mode
            coverage are left out when None.
        real_classes: the real class mix for mode coverage (labels, probabilities or a
            distribution; see ``mode_coverage``); uniform when None.
        num_classes: number of classes (default: ``fake_probs.shape[1]``).
        k_pr, k_dc: neighbourhood sizes of precision/recall and density/coverage.
        kid_subsets, kid_subset_size: KID's subsets (the size is capped at the smaller set).
        is_splits: IS splits (capped at the number of generated images).
        min_share: mode coverage's threshold.
        seed: seeds KID's subsets.

    Returns:
        A flat dict: ``fid``, ``kid``, ``kid_std``, ``precision``, ``recall``, ``density``,
        ``coverage``, ``n_real``, ``n_fake`` and, with probabilities, ``is``, ``is_std``,
        ``classes_covered``, ``covered_classes``, ``num_classes``, ``mode_kl``, ``class_histogram``,
        ``real_class_histogram``.
    """
    real = _as_2d_float64(real_features, "real_features")
    fake = _as_2d_float64(fake_features, "fake_features")
    kid, kid_std = kid_from_features(real, fake, subsets=kid_subsets, subset_size=kid_subset_size, seed=seed)
    out: dict[str, Any] = {"fid": fid_from_features(real, fake), "kid": kid, "kid_std": kid_std}
    out.update(_manifold(real, fake, min(k_pr, len(real) - 1, len(fake) - 1), min(k_dc, len(real) - 1)))
    out.update(n_real=int(len(real)), n_fake=int(len(fake)))
    if fake_probs is not None:
        probs = np.asarray(fake_probs, np.float64)
        classes = int(num_classes or probs.shape[1])
        out["is"], out["is_std"] = inception_score_from_probs(probs, splits=min(is_splits, len(probs)))
        reference = real_classes if real_classes is not None else np.full(classes, 1.0 / classes)
        cov = mode_coverage(probs, reference, classes, min_share=min_share)
        out.update(classes_covered=cov["classes_covered"], covered_classes=cov["covered"],
                   num_classes=cov["num_classes"], mode_kl=cov["kl"], class_histogram=cov["histogram"],
                   real_class_histogram=cov["real_histogram"])
    return out


def evaluate_images(
    real: Any,
    fake: Any,
    extractor: FeatureExtractor,
    *,
    real_labels: Any | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Every metric for real and generated images under one extractor.

    Args:
        real: real images in [-1, 1] (array or iterable of batches), or a ``ReferenceStats``
            already computed with the same extractor.
        fake: generated images in [-1, 1] (array or iterable of batches, e.g. ``generated_batches``).
        extractor: from ``get_extractor``.
        real_labels: true labels of the real images for mode coverage's real class mix
            (default: the extractor's predictions on the real images).
        **kwargs: ``k_pr``, ``k_dc``, ``kid_subsets``, ``kid_subset_size``, ``is_splits``,
            ``min_share``, ``seed`` of ``evaluate_features``.

    Returns:
        ``evaluate_features``' dict plus ``extractor`` (its id).

    Raises:
        ValueError: when ``real`` is a ``ReferenceStats`` from another extractor.
    """
    if isinstance(real, ReferenceStats):
        if real.meta.get("extractor") != extractor.id:
            raise ValueError(f"The reference statistics were computed with {real.meta.get('extractor')!r}, "
                             f"not with {extractor.id!r}.")
        real_f, real_p = real.features, real.probabilities
        if real_labels is None and len(real.labels) == len(real_f):
            real_labels = real.labels
    else:
        real_f, real_p = extractor.features_and_probabilities(real)
    fake_f, fake_p = extractor.features_and_probabilities(fake)
    classes = real_labels if real_labels is not None else real_p
    if real_labels is not None and extractor.name == "inception":
        classes = real_p  # dataset labels are not ImageNet classes
    result = evaluate_features(real_f, fake_f, fake_p, classes, num_classes=extractor.num_classes, **kwargs)
    result["extractor"] = extractor.id
    return result


def _run_extractor(config: Any, name: str | None, cache_dir: str | os.PathLike | None,
                   data_dir: str | os.PathLike | None) -> FeatureExtractor:
    return get_extractor(name or config.metrics_extractor, dataset=config.dataset, profile=config.profile,
                         cache_dir=cache_dir, data_dir=data_dir)


def evaluate(
    run_folder: str | os.PathLike,
    *,
    extractor: FeatureExtractor | str | None = None,
    samples: int | None = None,
    seed: int = 0,
    split: str = "test",
    real_samples: int | None = None,
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    batch_size: int = 250,
    generator: Any = None,
) -> dict[str, Any]:
    """Evaluate a run's saved generator against its dataset and write ``metrics.json`` into the run folder.

    ``samples`` images come from ``generator.keras`` with noise seeded by ``seed`` (so the
    same call gives the same numbers) and are compared, batch by batch, with the cached
    reference statistics of the run's dataset split.

    Args:
        run_folder: a run folder made by ``gan_kit.train``.
        extractor: an extractor, or its name (default: the run's ``metrics_extractor``).
        samples: generated images (default: the run's ``metrics_samples``).
        seed: noise seed.
        split: real split to compare with.
        real_samples: real images (default: as many as ``samples``, so FID's bias is the same on both sides).
        data_dir: where to look for the dataset first.
        cache_dir: cache root.
        batch_size: generated images per batch.
        generator: the noise -> images model to evaluate (default: the run's ``generator.keras``;
            ``gan_kit.vae.evaluate`` passes a VAE run's decoder).

    Returns:
        The metrics dict that was written (with ``extractor``, ``samples``, ``seed``, ``split``,
        ``dataset``, ``seconds`` and, for the classifier, ``classifier_test_accuracy``).
    """
    from . import runs
    from .training import load_generator

    run_folder = Path(run_folder)
    config = runs.read_config(run_folder)
    if not isinstance(extractor, FeatureExtractor):
        extractor = _run_extractor(config, extractor, cache_dir, data_dir)
    n = int(samples or config.metrics_samples)
    start = time.perf_counter()
    reference = reference_statistics(
        config.dataset, extractor, split=split, max_examples=int(real_samples or n), image_size=config.image_size,
        channels=config.channels, data_dir=data_dir, path=config.data_path, cache_dir=cache_dir,
    )
    generator = generator if generator is not None else load_generator(run_folder)
    result = evaluate_images(reference, generated_batches(generator, n, config.latent_dim, seed, batch_size),
                             extractor, seed=seed)
    result.update(samples=n, seed=seed, split=split, dataset=config.dataset,
                  seconds=round(time.perf_counter() - start, 2))
    if isinstance(extractor, ClassifierExtractor):
        result["classifier_test_accuracy"] = extractor.test_accuracy
    runs.write_json(run_folder / getattr(runs, "METRICS_FILE", METRICS_FILE), result)
    return result


def metrics_callback(config: Any, *, data_dir: str | os.PathLike | None = None,
                     cache_dir: str | os.PathLike | None = None) -> Any:
    """The ``MetricsCallback`` a config asks for (``metrics_every`` epochs, ``metrics_extractor``, ``metrics_samples``).

    Builds (or loads) the extractor and the test-split reference statistics up front, so a
    missing dataset or weights file fails before training starts.
    """
    from .callbacks import MetricsCallback

    extractor = _run_extractor(config, None, cache_dir, data_dir)
    reference = reference_statistics(
        config.dataset, extractor, split="test", max_examples=config.metrics_samples, image_size=config.image_size,
        channels=config.channels, data_dir=data_dir, path=config.data_path, cache_dir=cache_dir,
    )
    return MetricsCallback(reference, extractor, every=config.metrics_every, samples=config.metrics_samples,
                           seed=config.seed)

