"""The kit's own per-dataset classifier, the offline default feature extractor.

A small CNN per dataset (``build_classifier`` with a ``ClassifierSpec``; ``classifier_spec``
picks the settings of a dataset and profile) is trained on the dataset's train split
(``train_classifier``), scored on its test split and cached under
``<cache>/classifiers/<dataset>-v<FEATURES_VERSION>-<hash>/`` with its test accuracy
(``cached_classifier``). ``feature_model`` turns it into the network behind the
``classifier`` extractor: images -> (features, logits).

The features (design version ``FEATURES_VERSION`` = 2) are chosen for FID, not for accuracy:

* **Which layer.** FID's Inception features (Heusel et al., 2017) are ``pool3``: the global
  average of the last convolutional block, right before the classifier's single affine layer.
  Version 1 of the kit used a 128-unit dense bottleneck after dropout instead, trained with
  label smoothing, which is known to pull the penultimate features of each class into tight,
  equidistant clusters and erase within-class variation (Mueller, Kornblith & Hinton, 2019,
  "When does label smoothing help?"). Its FID then mostly measured where the class clusters
  sit (Kynkaanniemi et al., 2023, "The role of ImageNet classes in FID", show that even
  Inception's pool3 is dominated by class information), so it was insensitive near real
  images: real vs real 0.1 against 0.5 for JPEG quality 50, and it ranked a poor GAN above
  mildly corrupted real images on a compressed scale. Version 2 takes the features of every
  stage listed in ``ClassifierSpec.feature_stages`` (default: the last), each the **spatial
  mean and standard deviation** of the stage's last ReLU output before max pooling. The
  last stage's mean is the pool3 analogue; its spatial standard deviation keeps how unevenly
  each pattern is spread over the image, which blur (less), noise and compression artefacts
  (more) change even when the mean hardly moves.
* **Architecture.** All-convolutional stages (3x3 conv, batch norm, ReLU; 2x2 max pooling
  between stages) and a global-average-pooling head whose logits are one affine map of the
  pooled last stage, as in Inception, so the pooled features carry the class information that
  FID needs to see dropped classes (a flatten + dense head leaves the pooled conv features
  nearly class-blind).
* **Training.** Plain cross-entropy, no label smoothing (see above); no augmentation for the
  grey datasets and only random shifts and horizontal flips for CIFAR, which change neither
  sharpness, noise nor colour: the network is never taught to ignore the degradations FID must
  see (no blur, noise, JPEG or colour-jitter augmentation).
* **No resizing.** Each dataset's classifier runs at the dataset's own resolution, so real and
  generated images are never resampled on the way in (Parmar et al., 2022, "On aliased
  resizing and surprising subtleties in GAN evaluation": resizing and compression choices
  alone move FID a lot). Other sizes are resized with antialiasing by the extractor.

FID values depend on the sample sizes (its bias falls like 1/n; Chong & Forsyth, 2020), so
compare FIDs computed with the same number of images, as ``evaluate`` does.

Bump ``FEATURES_VERSION`` whenever the meaning of the features changes: it is part of the
cache folder, of the spec hash and of the extractor id (``classifier-v2-<dataset>-<spec
hash>-<weights hash>``), so cached reference statistics and ``metrics.json`` files made with
another design are never mixed with new ones.

The public names live in ``gan_kit.metrics`` (import them from there); this module's own ``__all__`` lists only
what it alone adds (``FEATURES_VERSION``, ``feature_model``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..fileio import atomic_write_text, exclusive_lock
from ..images import to_unit_range
from .cache import _file_sha256, _image_shape, _short_hash, cache_root

__all__ = [
    "FEATURES_VERSION",
    "feature_model",
]

# Datasets with labelled train and test splits, the ones a classifier can be trained and scored on.
CLASSIFIER_DATASETS = ("fashion_mnist", "mnist", "cifar10", "cifar100", "digits")

# The design version of the classifier's features (see the module docstring). Part of the cache
# folder, the spec hash and the extractor id: bump it whenever what the features are changes.
FEATURES_VERSION = 2


class ExtractorUnavailableError(RuntimeError):
    """A feature extractor cannot be built here (weights missing offline, or an unsupported dataset)."""


@dataclass(frozen=True)
class ClassifierSpec:
    """Architecture, training budget and features of the kit's classifier (every field goes into its cache key).

    Args:
        widths: channels of the conv stages; each stage is ``convs`` 3x3 conv + BN + ReLU layers,
            followed by 2x2 max pooling (except after the last stage unless ``pool_last``).
        convs: conv layers per stage (one per entry, or one number for all).
        pool_last: whether the last stage is followed by max pooling too.
        head: ``gap`` (global average pooling of the last stage, like Inception's pool3) or
            ``flatten`` (the last feature map, flattened) feeds the classifier head.
        dense: a hidden dense + BN + ReLU layer of this size in the head (0: the logits are one
            affine map of the pooled last stage, as in Inception).
        head_dropout: dropout before the hidden dense layer.
        dropout: dropout before the logits.
        epochs: passes over the training images.
        max_examples: training images used (None: the whole train split).
        batch_size: training batch size.
        learning_rate: peak learning rate of AdamW (linear warm-up, cosine decay).
        label_smoothing: label smoothing of the cross-entropy (0: none; smoothing collapses the
            features of a class, see the module docstring).
        augment: random shifts of up to ``shift`` pixels (and flips when ``flip``) of the training images.
        flip: random horizontal flips when augmenting (not for digits, whose mirror images are other digits).
        shift: maximal shift in pixels when augmenting.
        seed: seeds the weights and the data order.
        feature_stages: the stages (1-based; negative counts from the end) whose last ReLU output
            gives the features: its spatial mean and, with ``feature_std``, its spatial standard
            deviation, per channel, concatenated over the stages in this order.
        feature_std: add each channel's spatial standard deviation to its mean.
    """

    widths: tuple[int, ...] = (32, 64, 128)
    convs: tuple[int, ...] = (1, 1, 1)
    pool_last: bool = False
    head: str = "gap"
    dense: int = 0
    head_dropout: float = 0.0
    dropout: float = 0.2
    epochs: int = 15
    max_examples: int | None = None
    batch_size: int = 128
    learning_rate: float = 3e-3
    label_smoothing: float = 0.0
    augment: bool = True
    flip: bool = True
    shift: int = 4
    seed: int = 0
    feature_stages: tuple[int, ...] = (-1,)
    feature_std: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ClassifierSpec:
        """The spec ``to_dict`` wrote (lists back to tuples; unknown keys refused)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - fields)
        if unknown:
            raise ValueError(f"Unknown ClassifierSpec fields {unknown}. Valid fields: {sorted(fields)}.")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})

    def stage_convs(self) -> tuple[int, ...]:
        """Conv layers of each stage (``convs`` expanded to one entry per stage)."""
        return tuple(self.convs) if len(self.convs) == len(self.widths) else (self.convs[0],) * len(self.widths)

    def feature_layers(self) -> tuple[str, ...]:
        """Names of the layers whose outputs give the features: the last ReLU of each of ``feature_stages``."""
        convs, n = self.stage_convs(), len(self.widths)
        names = []
        for stage in self.feature_stages:
            index = stage - 1 if stage > 0 else n + stage
            if not 0 <= index < n:
                raise ValueError(f"ClassifierSpec.feature_stages: stage {stage} does not exist in a {n}-stage "
                                 f"network (use 1..{n}, or -1 for the last).")
            names.append(f"relu{index + 1}_{convs[index]}")
        return tuple(names)


# Per dataset: the settings that reach the accuracy targets (see tests/metrics/test_classifier.py) in minutes on a
# CPU, with the version-2 features (tests/metrics/test_classifier.py checks their FID ladders).
_CLASSIFIER_SPECS: dict[str, ClassifierSpec] = {
    "fashion_mnist": ClassifierSpec(widths=(32, 64, 128), epochs=5, augment=False, learning_rate=2e-3),
    "mnist": ClassifierSpec(widths=(32, 64, 128), epochs=2, augment=False, learning_rate=2e-3),
    "cifar10": ClassifierSpec(widths=(32, 64, 128, 256), convs=(1, 1, 2, 1)),
    "cifar100": ClassifierSpec(widths=(32, 64, 128, 256), convs=(1, 1, 2, 1)),
    # digits: four stages (8x8 digits upscaled to 32x32: three gave the GAP head too small a view, 48% accuracy).
    "digits": ClassifierSpec(widths=(16, 32, 64, 64), epochs=30, batch_size=64, augment=False),
}
# The smoke profile: a few steps on a small subset; enough to exercise every code path, not to measure.
_SMOKE_SPEC = ClassifierSpec(widths=(8, 16), convs=(1, 1), epochs=2, max_examples=2048, batch_size=64,
                             learning_rate=3e-3, augment=False, dropout=0.0)


def classifier_spec(dataset: str, profile: str | None = None) -> ClassifierSpec:
    """The classifier settings for a dataset and profile (``smoke``: a tiny, barely trained net).

    Args:
        dataset: one of ``CLASSIFIER_DATASETS``.
        profile: ``smoke``, ``quick``, ``full`` or ``auto``; None reads ``$GAN_KIT_PROFILE``.
            Only ``smoke`` changes the classifier; ``quick`` and ``full`` share the real one.

    Raises:
        ExtractorUnavailableError: for a dataset without labelled train/test splits.
    """
    from ..config import resolve_profile

    if dataset not in CLASSIFIER_DATASETS:
        raise ExtractorUnavailableError(
            f"The 'classifier' extractor needs a labelled dataset with train and test splits, one of "
            f"{list(CLASSIFIER_DATASETS)}. Received dataset={dataset!r}; use extractor 'inception' for it."
        )
    if resolve_profile(profile) == "smoke":
        return _SMOKE_SPEC
    return _CLASSIFIER_SPECS[dataset]


def build_classifier(input_shape: tuple[int, int, int], num_classes: int, spec: ClassifierSpec) -> Any:
    """A ``keras.Sequential`` CNN: conv stages (conv + BN + ReLU, max pooling), a pooled head, ``logits``.

    Args:
        input_shape: (height, width, channels) of the images, in [-1, 1].
        num_classes: number of output logits.
        spec: widths, convs per stage, head and dropout.

    Returns:
        The uncompiled model; its layer ``logits`` gives the class logits, and
        ``feature_model(model, spec)`` the metric features.
    """
    import keras
    from keras import layers

    if spec.head not in ("flatten", "gap"):
        raise ValueError(f"ClassifierSpec.head must be 'flatten' or 'gap'. Received: head={spec.head!r}.")
    spec.feature_layers()  # validates feature_stages
    stack: list[Any] = [keras.Input(input_shape)]
    for stage, (width, n) in enumerate(zip(spec.widths, spec.stage_convs())):
        for i in range(n):
            stack += [
                layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv{stage + 1}_{i + 1}"),
                layers.BatchNormalization(name=f"bn{stage + 1}_{i + 1}"),
                layers.ReLU(name=f"relu{stage + 1}_{i + 1}"),
            ]
        if spec.pool_last or stage + 1 < len(spec.widths):
            stack.append(layers.MaxPooling2D(name=f"pool{stage + 1}"))
    pool = layers.Flatten if spec.head == "flatten" else layers.GlobalAveragePooling2D
    stack.append(pool(name="pooled"))
    if spec.dense:
        stack += [
            layers.Dropout(spec.head_dropout, name="head_dropout"),
            layers.Dense(spec.dense, use_bias=False, name="dense"),
            layers.BatchNormalization(name="dense_bn"),
            layers.ReLU(name="dense_relu"),
        ]
    stack += [layers.Dropout(spec.dropout, name="dropout"), layers.Dense(num_classes, name="logits")]
    return keras.Sequential(stack, name="gan_kit_classifier")


def feature_model(model: Any, spec: ClassifierSpec) -> Any:
    """The classifier as a feature extractor: a ``keras.Model`` images -> ``(features, logits)``.

    The features are, for each layer of ``spec.feature_layers()``, the spatial mean of every
    channel and (with ``spec.feature_std``) its spatial standard deviation, concatenated.
    """
    import keras

    parts = []
    for name in spec.feature_layers():
        out = model.get_layer(name).output
        parts.append(keras.ops.mean(out, axis=(1, 2)))
        if spec.feature_std:
            parts.append(keras.ops.std(out, axis=(1, 2)))
    features = parts[0] if len(parts) == 1 else keras.ops.concatenate(parts, axis=-1)
    return keras.Model(model.inputs, [features, model.get_layer("logits").output], name="gan_kit_classifier_features")


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


def _spec_hash(dataset: str, spec: ClassifierSpec, shape: tuple[int, int, int]) -> str:
    """The cache key of a classifier: dataset, image shape, features version and every spec field."""
    return _short_hash({"dataset": dataset, "shape": list(shape), "features_version": FEATURES_VERSION,
                        **spec.to_dict()})

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

    from .. import data

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
    _fit_classifier(model, x_train, y_train, num_classes, spec, verbose)
    train_seconds = time.perf_counter() - start
    model_features = feature_model(model, spec)
    logits = model.predict(to_unit_range(x_test), batch_size=500, verbose=0)
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
        "spec_hash": _spec_hash(dataset, spec, shape),
        "features_version": FEATURES_VERSION,
        "feature_layers": list(spec.feature_layers()),
        "feature_dim": int(model_features.outputs[0].shape[-1]),
        "keras_version": keras.__version__,
        "tensorflow_version": tf.__version__,
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    return model, info


def _fit_classifier(model: Any, x_train: np.ndarray, y_train: np.ndarray, num_classes: int, spec: ClassifierSpec,
                    verbose: int) -> None:
    """Compile (AdamW, cosine schedule with warm-up, label smoothing) and fit the classifier on uint8 images."""
    import keras
    import tensorflow as tf

    shape = tuple(int(v) for v in x_train.shape[1:])
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
    train = tf.data.Dataset.from_tensor_slices((to_unit_range(x_train), one_hot))
    train = train.shuffle(len(x_train), seed=spec.seed, reshuffle_each_iteration=True)
    if spec.augment:
        train = train.map(_augment_fn(spec, shape), num_parallel_calls=tf.data.AUTOTUNE)
    train = train.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    model.fit(train, epochs=spec.epochs, verbose=verbose)


def _classifier_folder(dataset: str, spec: ClassifierSpec, shape: tuple[int, int, int], root: Path) -> Path:
    return root / "classifiers" / f"{dataset}-v{FEATURES_VERSION}-{_spec_hash(dataset, spec, shape)}"


def _load_cached_classifier(folder: Path) -> tuple[Any, dict[str, Any]] | None:
    import keras

    model_path, info_path = folder / "classifier.keras", folder / "classifier.json"
    if not (model_path.is_file() and info_path.is_file()):
        return None
    try:
        info = json.loads(info_path.read_text())
        if info.get("model_sha256") != _file_sha256(model_path):
            return None  # the model was replaced without its JSON: retrain
        if info.get("features_version") != FEATURES_VERSION:
            return None  # made by another design of the features: retrain
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
    if info.get("features_version") != FEATURES_VERSION:
        return None
    return info if (folder / "classifier.keras").is_file() else None


def _get_classifier(dataset: str, profile: str | None, cache_dir: str | os.PathLike | None,
                    data_dir: str | os.PathLike | None, spec: ClassifierSpec | None, retrain: bool,
                    verbose: int) -> tuple[Any, dict[str, Any], Path]:
    spec = spec or classifier_spec(dataset, profile)
    folder = _classifier_folder(dataset, spec, _image_shape(dataset), cache_root(cache_dir))
    cached = None if retrain else _load_cached_classifier(folder)
    if cached is not None:
        return cached[0], cached[1], folder
    # One process trains; another that asks for the same classifier meanwhile waits, then loads what it saved.
    with exclusive_lock(folder.parent / f".{folder.name}.lock"):
        cached = None if retrain else _load_cached_classifier(folder)
        if cached is not None:
            return cached[0], cached[1], folder
        model, info = _train_and_save(dataset, spec, folder, data_dir, verbose)
    return model, info, folder


def _train_and_save(dataset: str, spec: ClassifierSpec, folder: Path, data_dir: str | os.PathLike | None,
                    verbose: int) -> tuple[Any, dict[str, Any]]:
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
    return model, info
