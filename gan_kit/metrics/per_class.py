"""Per-class metrics of a generator: per-class accuracy, class share and intra-class FID.

Layered like the rest of ``gan_kit.metrics``: ``per_class_table`` (float64 maths on
features), ``per_class_metrics`` (a generator and an extractor) and ``evaluate_per_class``
(a run folder; writes ``metrics_per_class.json``, read back by ``gan_kit.runs.read_per_class``). They
work for conditional generators (inputs ``[z, label]``, see ``is_conditional_generator``)
and unconditional ones alike.

The public names live in ``gan_kit.metrics`` (import them from there); this module's own ``__all__`` is empty.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..runs import PER_CLASS_FILE, RunFolder, load_generator, read_config
from .extractors import FeatureExtractor, config_extractor
from .maths import fid_from_features
from .reference import ReferenceStats, check_extractor, config_reference

if TYPE_CHECKING:
    import keras

__all__: list[str] = []


def generator_classes(generator: keras.Model) -> int:
    """The number of classes a conditional generator makes (its ``joined`` input layer's, or in generators saved
    before that layer, its ``label_one_hot`` layer's)."""
    for name, attribute in (("joined", "num_classes"), ("label_one_hot", "num_tokens")):
        with contextlib.suppress(ValueError):
            count = getattr(generator.get_layer(name), attribute, None)
            if count is not None:
                return int(count)
    raise ValueError(f"{generator.name!r} is not a conditional generator (no layer 'joined' with a class count); "
                     "build it with gan_kit.models.build_conditional_generator.")


def is_conditional_generator(generator: Any) -> bool:
    """Whether ``generator`` takes ``[z, label]`` (a conditional generator) rather than noise alone."""
    import keras

    return isinstance(generator, keras.Model) and len(generator.inputs) == 2


def per_class_table(
    real_features: Any,
    real_labels: Any,
    fake_features: Any,
    fake_probs: Any,
    num_classes: int,
    requested: Any | None = None,
    class_names: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Per-class accuracy, share and intra-class FID from precomputed features (float64 maths).

    For a **conditional** generator pass ``requested`` (the class each image was asked
    for): class c's row has ``accuracy``, the fraction of images requested as c that the
    classifier calls c, and ``fid``, the FID between those images and the real images of
    class c (intra-class FID, Miyato & Koyama 2018). For an **unconditional** generator
    leave ``requested`` None: its images are grouped by the classifier's prediction, so
    ``fid`` compares the images called c with real class c and ``accuracy`` is None.
    Either way ``share`` is the fraction of all images the classifier calls c (the class
    histogram). ``fid`` is None when a side has fewer than 2 images. FID is biased upwards
    for few images: compare rows with similar ``n_fake``.

    Args:
        real_features: (n, d) features of real images.
        real_labels: (n,) their true classes.
        fake_features: (m, d) features of generated images.
        fake_probs: (m, K) the classifier's probabilities for them (K >= num_classes: a classifier may
            know more classes than the generator makes; its prediction is the argmax over all K).
        num_classes: number of classes.
        requested: (m,) the class each generated image was asked for, or None.
        class_names: names for the ``name`` column (default: the class numbers).

    Returns:
        One dict per class: ``class``, ``name``, ``n_real``, ``n_fake``, ``share``, ``accuracy``, ``fid``.
    """
    real = np.asarray(real_features, np.float64)
    fake = np.asarray(fake_features, np.float64)
    real_labels = np.asarray(real_labels).reshape(-1).astype(np.int64)
    probs = np.asarray(fake_probs, np.float64)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"real_features and fake_features must be (n, d) and (m, d). "
                         f"Received {real.shape} and {fake.shape}.")
    if len(real_labels) != len(real) or probs.ndim != 2 or len(probs) != len(fake) or probs.shape[1] < num_classes:
        raise ValueError(f"Expected {len(real)} real labels and probabilities of shape "
                         f"({len(fake)}, >= {num_classes}). Received {len(real_labels)} labels and "
                         f"probabilities of shape {probs.shape}.")
    predicted = probs.argmax(axis=1)
    if requested is not None:
        requested = np.asarray(requested).reshape(-1).astype(np.int64)
        if len(requested) != len(fake):
            raise ValueError(f"requested must hold one class per generated image ({len(fake)}). "
                             f"Received {len(requested)}.")
    names = list(class_names or [])
    rows = []
    for c in range(int(num_classes)):
        real_c = real[real_labels == c]
        chosen = (requested == c) if requested is not None else (predicted == c)
        fake_c = fake[chosen]
        fid = fid_from_features(real_c, fake_c) if len(real_c) >= 2 and len(fake_c) >= 2 else None
        accuracy = None
        if requested is not None and chosen.any():
            accuracy = float(np.mean(predicted[chosen] == c))
        rows.append({
            "class": c,
            "name": str(names[c]) if c < len(names) else str(c),
            "n_real": int(len(real_c)),
            "n_fake": int(len(fake_c)),
            "share": float(np.mean(predicted == c)) if len(predicted) else 0.0,
            "accuracy": accuracy,
            "fid": fid,
        })
    return rows


def summarize_per_class(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over a per-class table: ``mean_accuracy`` (None without accuracies), ``mean_fid``, ``classes``."""
    acc = [r["accuracy"] for r in rows if r.get("accuracy") is not None]
    fids = [r["fid"] for r in rows if r.get("fid") is not None]
    return {
        "classes": len(rows),
        "mean_accuracy": float(np.mean(acc)) if acc else None,
        "mean_fid": float(np.mean(fids)) if fids else None,
        "classes_with_fid": len(fids),
    }


def per_class_metrics(
    generator: keras.Model,
    extractor: Any,
    reference: Any,
    *,
    num_classes: int | None = None,
    samples_per_class: int = 500,
    seed: int = 0,
    class_names: list[str] | None = None,
    batch_size: int = 250,
    run_dir: str | os.PathLike | RunFolder | None = None,
) -> list[dict[str, Any]]:
    """Per-class accuracy and intra-class FID of a generator under a ``gan_kit.metrics`` extractor.

    A conditional generator (inputs ``[z, label]``) makes ``samples_per_class`` images of
    each class; an unconditional one makes ``num_classes * samples_per_class`` images that
    the classifier sorts into classes (see ``per_class_table``). Noise is seeded by ``seed``.

    Args:
        generator: conditional (``[z, label]``) or unconditional (``z``) Keras model.
        extractor: a ``gan_kit.metrics.FeatureExtractor`` (``get_extractor("classifier", dataset=...)``).
        reference: a ``gan_kit.metrics.ReferenceStats`` of real images computed with ``extractor``
            (features and true labels), or a pair ``(real_images, real_labels)`` in [-1, 1] / uint8.
        num_classes: number of classes (default: the conditional generator's, else the extractor's).
        samples_per_class: generated images per class (>= 2).
        seed: noise seed.
        class_names: names for the table (default: the classifier's, when it has them).
        batch_size: images per generator call.
        run_dir: when given, the table is also written to ``<run_dir>/metrics_per_class.json``.

    Returns:
        The table: one dict per class (``per_class_table``).

    Raises:
        ValueError: for a reference from another extractor, or a class count that does not match.
    """
    import keras

    if int(samples_per_class) < 2:
        raise ValueError(f"samples_per_class must be >= 2. Received: samples_per_class={samples_per_class}.")
    conditional = is_conditional_generator(generator)
    k = int(num_classes or (generator_classes(generator) if conditional else extractor.num_classes))
    if conditional and k != generator_classes(generator):
        raise ValueError(f"num_classes={k} but the generator has {generator_classes(generator)} classes.")
    if k > extractor.num_classes:
        raise ValueError(f"The extractor knows {extractor.num_classes} classes, fewer than the {k} asked for.")
    if isinstance(reference, ReferenceStats):
        check_extractor(reference, extractor)
        real_f, real_y = reference.features, reference.labels
    else:
        images, real_y = reference
        real_f = extractor.features(np.asarray(images))
    if class_names is None:
        class_names = list(getattr(extractor, "info", {}).get("class_names", [])) or None
    n = int(samples_per_class)
    latent_dim = int(generator.inputs[0].shape[-1])
    rng = np.random.default_rng(seed)
    requested = np.repeat(np.arange(k, dtype=np.int32), n) if conditional else None
    total = k * n

    def batches():
        for start in range(0, total, batch_size):
            m = min(batch_size, total - start)
            z = rng.standard_normal((m, latent_dim)).astype(np.float32)
            args = [z, requested[start : start + m]] if conditional else z
            yield keras.ops.convert_to_numpy(generator(args, training=False)).astype(np.float32)

    fake_f, fake_p = extractor.features_and_probabilities(batches())
    rows = per_class_table(real_f, real_y, fake_f, fake_p, k, requested, class_names)
    if run_dir is not None:
        write_per_class(run_dir, rows, extractor=extractor.id, samples_per_class=n, seed=seed,
                        conditional=conditional)
    return rows


def write_per_class(run_dir: str | os.PathLike | RunFolder, rows: list[dict[str, Any]], **details: Any) -> Path:
    """Write a per-class table (with its means and ``details``) to ``<run_dir>/metrics_per_class.json`` atomically,
    through the run's ``RunFolder`` (``run_dir`` itself when it is one)."""
    table = {**summarize_per_class(rows), **details, "table": rows}
    return RunFolder.of(run_dir).write_json(PER_CLASS_FILE, table)


def evaluate_per_class(
    run_folder: str | os.PathLike | RunFolder,
    *,
    generator: keras.Model | None = None,
    extractor: Any = None,
    samples_per_class: int = 500,
    seed: int = 0,
    split: str = "test",
    real_samples: int | None = None,
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> list[dict[str, Any]]:
    """Per-class metrics of a run against its dataset's real images; writes ``metrics_per_class.json``.

    Works for conditional and unconditional runs alike (see ``per_class_table``). The real
    side is ``gan_kit.metrics.reference_statistics`` of the run's dataset split (cached).

    Args:
        run_folder: a run folder made by ``gan_kit.train``.
        generator: the model to evaluate (default: ``runs.load_generator``, the run's EMA copy of G when it
            keeps one, else G).
        extractor: a ``FeatureExtractor`` or its name (default: the run's ``metrics_extractor``,
            with the run's profile, so ``smoke`` gets the barely trained classifier).
        samples_per_class: generated images per class.
        seed: noise seed.
        split: the real split to compare with.
        real_samples: real images (a class-balanced subset; None: the whole split).
        data_dir, cache_dir: see ``gan_kit.metrics.reference_statistics``.

    Returns:
        The table (one dict per class).
    """
    run_folder = RunFolder.of(run_folder)
    config = read_config(run_folder)
    if not isinstance(extractor, FeatureExtractor):
        extractor = config_extractor(config, extractor, cache_dir, data_dir)
    reference = config_reference(config, extractor, split=split, max_examples=real_samples, data_dir=data_dir,
                                 cache_dir=cache_dir)
    generator = generator if generator is not None else load_generator(run_folder)
    return per_class_metrics(generator, extractor, reference, samples_per_class=samples_per_class, seed=seed,
                             num_classes=config.num_classes, run_dir=run_folder)
