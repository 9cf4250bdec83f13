"""Feature extractors behind one interface (``get_extractor``).

Images in [-1, 1] of any supported size (28 or 32 pixels, 1 or 3 channels; converted as
needed) go in, in batches; ``features`` (for FID, KID, precision/recall, density/coverage)
and ``probabilities`` (for IS and mode coverage) come out.

* ``classifier`` (``ClassifierExtractor``, the offline default): the kit's per-dataset
  classifier (``gan_kit.metrics.classifier``): the spatial mean and standard deviation of its
  last convolutional stage (the analogue of Inception's pool3; see that module for why)
  -> features, softmax -> class probabilities. Its id,
  ``classifier-v<FEATURES_VERSION>-<dataset>-<spec hash>-<weights hash>``, names the design
  version of the features, so statistics of another design are never mixed with it.
* ``inception`` (``InceptionExtractor``): Keras' InceptionV3 with ImageNet weights, looked up
  in Keras' cache or downloaded; offline, a missing weights file raises
  ``ExtractorUnavailableError`` saying where to put it.

The public names live in ``gan_kit.metrics`` (import them from there); this module's own ``__all__`` is empty.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..config import EXTRACTORS
from .batches import _iter_batches
from .cache import _file_sha256
from .classifier import (
    FEATURES_VERSION,
    ClassifierSpec,
    ExtractorUnavailableError,
    _get_classifier,
    classifier_spec,
    feature_model,
)

__all__: list[str] = []

INCEPTION_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
INCEPTION_WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/" + INCEPTION_WEIGHTS_FILE
)
INCEPTION_WEIGHTS_MD5 = "9a0d58056eeedaa3f26cb7ebd46da564"


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


def classifier_extractor_id(info: dict[str, Any]) -> str:
    """The id of a cached classifier's extractor: ``classifier-v<features version>-<dataset>-<spec hash>-<weights>``.

    The features version makes ids of different feature designs differ even for the same
    weights; version-1 classifiers (no ``features_version`` in their JSON) had ids without it.
    """
    version = info.get("features_version")
    prefix = "classifier" if version is None else f"classifier-v{int(version)}"
    return f"{prefix}-{info['dataset']}-{info['spec_hash']}-{info['model_sha256'][:12]}"


class ClassifierExtractor(FeatureExtractor):
    """The kit's own per-dataset classifier: pooled last conv stage -> features, softmax -> probabilities.

    Build it with ``get_extractor("classifier", dataset=...)``. ``info`` holds the JSON
    saved beside the model (test accuracy, training settings, training time, features version).
    """

    name = "classifier"

    def __init__(self, model: Any, info: dict[str, Any], folder: Path, batch_size: int = 500):
        if info.get("features_version") != FEATURES_VERSION:
            raise ValueError(f"This classifier was made for features version {info.get('features_version', 1)}; "
                             f"this kit computes version {FEATURES_VERSION}. Retrain it (retrain=True).")
        self.spec = ClassifierSpec.from_dict(info["spec"])
        super().__init__(
            feature_model(model, self.spec),
            classifier_extractor_id(info),
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


def config_extractor(config: Any, name: str | None = None, cache_dir: str | os.PathLike | None = None,
                     data_dir: str | os.PathLike | None = None) -> FeatureExtractor:
    """The extractor a run config asks for: ``name`` or its ``metrics_extractor``, for its dataset and profile."""
    return get_extractor(name or config.metrics_extractor, dataset=config.dataset, profile=config.profile,
                         cache_dir=cache_dir, data_dir=data_dir)
