"""Sample-quality metrics for GANs: FID, KID, IS, precision/recall, density/coverage and mode coverage.

Layered like TF-GAN's ``eval/classifier_metrics.py``:

1. **Pure maths on features** (``gan_kit.metrics.maths``; float64 NumPy/SciPy, no TensorFlow):
   ``frechet_distance``, ``fid_from_features``, ``kid_from_features`` (``kid_mmd2`` on one subset),
   ``inception_score_from_probs``, ``precision_recall``, ``density_coverage``, ``mode_coverage``.
2. **Feature extractors** behind one interface (``get_extractor``, ``gan_kit.metrics.extractors``):
   images in [-1, 1] of any supported size (28 or 32 pixels, 1 or 3 channels; converted as
   needed) go in, in batches (``gan_kit.metrics.batches``), so 50,000 images never sit in
   memory at once; ``features`` (for FID, KID, precision/recall, density/coverage) and
   ``probabilities`` (for IS and mode coverage) come out.

   * ``classifier`` (the offline default; ``gan_kit.metrics.classifier``): a small CNN per
     dataset that the kit trains on the dataset's train split and caches under
     ``<cache>/classifiers/<dataset>-<hash>/`` with its test accuracy. Its penultimate layer
     gives the features, its softmax the class probabilities, so its "Inception Score" is a
     *classifier score* (as TF-GAN's MNIST score) and its FID is a *classifier FID*:
     comparable between runs on the same dataset and classifier, never with published
     Inception numbers.
   * ``inception``: Keras' InceptionV3 with ImageNet weights, images resized to 299 x 299
     (2048-d pool features for FID/KID, the 1000 ImageNet logits for IS). Keras' weights
     are not the TF-GAN / pytorch-fid Inception graph (which has 1008 classes and slightly
     different layers), so its absolute FID and IS are close to, not equal to, published
     numbers. Offline, the weights file must already be in Keras' cache (see
     ``ExtractorUnavailableError``). It is slow on a CPU (about 6 GFLOPs per image).
3. **Wrappers**: ``evaluate_images`` (all metrics for two image sets), ``reference_statistics``
   (``gan_kit.metrics.reference``: real-data statistics cached per dataset, split, sample
   count, image shape and extractor id), ``evaluate(run_folder)`` (writes ``metrics.json``)
   and ``gan_kit.callbacks.metrics_callback(config)`` (FID/KID every N epochs into ``history.csv``), in
   ``gan_kit.metrics.evaluation``; per-class accuracy and intra-class FID
   (``per_class_table``, ``per_class_metrics``, ``evaluate_per_class``, which writes
   ``metrics_per_class.json``) in ``gan_kit.metrics.per_class``.

The cache root is ``$GAN_KIT_CACHE_DIR``, else ``<repo>/outputs/cache`` (``gan_kit.metrics.cache``).
An extractor's ``id`` contains a hash of its weights file, so retraining the classifier or
replacing the Inception weights invalidates the cached reference statistics automatically.

The public names live in ``gan_kit.metrics``: ``gan_kit.metrics.<name>`` is their one documented path (a
submodule's own ``__all__`` lists only what it alone adds). Each is loaded on first use: importing the package
imports neither TensorFlow nor any of its submodules. The run-folder names (``METRICS_FILE``,
``PER_CLASS_FILE``, ``read_per_class``) live in ``gan_kit.runs``.
"""

from __future__ import annotations

import importlib
from typing import Any

# Each public name and the submodule that defines it (imported when the name is first used).
_LAZY = {
    **dict.fromkeys(
        ("density_coverage", "feature_statistics", "fid_from_features", "frechet_distance",
         "inception_score_from_probs", "kid_from_features", "kid_mmd2", "mode_coverage", "precision_recall"),
        "maths",
    ),
    "generated_batches": "batches",
    **dict.fromkeys(("CACHE_ENV", "cache_root"), "cache"),
    **dict.fromkeys(
        ("CLASSIFIER_DATASETS", "ClassifierSpec", "ExtractorUnavailableError", "build_classifier",
         "cached_classifier", "classifier_spec", "train_classifier"),
        "classifier",
    ),
    **dict.fromkeys(
        ("INCEPTION_WEIGHTS_FILE", "INCEPTION_WEIGHTS_MD5", "INCEPTION_WEIGHTS_URL",
         "ClassifierExtractor", "FeatureExtractor", "InceptionExtractor", "config_extractor", "get_extractor"),
        "extractors",
    ),
    **dict.fromkeys(("ReferenceStats", "check_extractor", "config_reference", "reference_statistics"), "reference"),
    **dict.fromkeys(("evaluate", "evaluate_features", "evaluate_images"), "evaluation"),
    **dict.fromkeys(
        ("evaluate_per_class", "generator_classes", "is_conditional_generator", "per_class_metrics",
         "per_class_table", "summarize_per_class", "write_per_class"),
        "per_class",
    ),
}

__all__ = sorted(set(_LAZY) - {"INCEPTION_WEIGHTS_MD5", "INCEPTION_WEIGHTS_URL"})


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
