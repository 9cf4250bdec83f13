"""The wrappers: every metric for two feature sets, two image sets, or a run folder.

``evaluate_features`` (precomputed features and probabilities), ``evaluate_images`` (two
image sets under one extractor), ``evaluate(run_folder)`` (a run's saved generator against
its dataset; writes ``metrics.json``) and ``metrics_callback(config)`` (FID/KID every N
epochs into ``history.csv``).

The public names live in ``gan_kit.metrics`` (import them from there); this module's own ``__all__`` is empty.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from .. import exercises
from ..runs import METRICS_FILE, RunFolder, load_generator, read_config
from .batches import generated_batches
from .extractors import ClassifierExtractor, FeatureExtractor, config_extractor
from .maths import (
    _as_2d_float64,
    _manifold,
    fid_from_features,
    inception_score_from_probs,
    kid_from_features,
    mode_coverage,
)
from .reference import ReferenceStats, check_extractor, config_reference

__all__: list[str] = []


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
    kid, kid_std = kid_from_features(real, fake, subsets=kid_subsets, subset_size=kid_subset_size, seed=seed,
                                     mmd2=exercises.answer("kid_from_features"))
    fid = exercises.answer("fid_from_features") or fid_from_features
    out: dict[str, Any] = {"fid": float(fid(real, fake)), "kid": kid, "kid_std": kid_std}
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
        check_extractor(real, extractor)
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


def evaluate(
    run_folder: str | os.PathLike | RunFolder,
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

    ``samples`` images come from the run's sampler (``runs.load_generator``: the EMA of G when the run keeps
    one, as its sample grids do) with noise seeded by ``seed`` (so the
    same call gives the same numbers) and are compared, batch by batch, with the cached
    reference statistics of the run's dataset split.

    Args:
        run_folder: a run folder made by ``gan_kit.train``, or its writer (``RunFolder``), which writes
            ``metrics.json``.
        extractor: an extractor, or its name (default: the run's ``metrics_extractor``).
        samples: generated images (default: the run's ``metrics_samples``).
        seed: noise seed.
        split: real split to compare with.
        real_samples: real images (default: as many as ``samples``, so FID's bias is the same on both sides).
        data_dir: where to look for the dataset first.
        cache_dir: cache root.
        batch_size: generated images per batch.
        generator: the noise -> images model to evaluate (default: ``runs.load_generator``: the run's
            ``generator_ema.keras`` when it has one, else ``generator.keras``, or a VAE run's ``decoder.keras``).

    Returns:
        The metrics dict that was written (with ``extractor``, ``samples``, ``seed``, ``split``,
        ``dataset``, ``seconds`` and, for the classifier, ``classifier_test_accuracy``).
    """
    run_folder = RunFolder.of(run_folder)
    config = read_config(run_folder)
    if not isinstance(extractor, FeatureExtractor):
        extractor = config_extractor(config, extractor, cache_dir, data_dir)
    n = int(samples or config.metrics_samples)
    start = time.perf_counter()
    reference = config_reference(config, extractor, split=split, max_examples=int(real_samples or n),
                                 data_dir=data_dir, cache_dir=cache_dir)
    generator = generator if generator is not None else load_generator(run_folder)
    result = evaluate_images(reference, generated_batches(generator, n, config.latent_dim, seed, batch_size),
                             extractor, seed=seed)
    result.update(samples=n, seed=seed, split=split, dataset=config.dataset,
                  seconds=round(time.perf_counter() - start, 2))
    if isinstance(extractor, ClassifierExtractor):
        result["classifier_test_accuracy"] = extractor.test_accuracy
    run_folder.write_json(METRICS_FILE, result)
    return result
