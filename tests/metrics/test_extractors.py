"""Feature extractors behind one interface (``gan_kit.metrics.extractors``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gan_kit import metrics

# =============================================================================== IS


def test_inception_score_uniform_and_one_hot():
    k = 10
    uniform = np.full((500, k), 1.0 / k)
    assert metrics.inception_score_from_probs(uniform) == pytest.approx((1.0, 0.0), abs=1e-9)
    one_hot = np.eye(k)[np.arange(500) % k]
    assert metrics.inception_score_from_probs(one_hot) == pytest.approx((float(k), 0.0), abs=1e-6)
    collapsed = np.eye(k)[np.zeros(500, int)]
    assert metrics.inception_score_from_probs(collapsed)[0] == pytest.approx(1.0, abs=1e-6)


def test_inception_score_by_hand():
    p = np.array([[0.9, 0.1], [0.2, 0.8]])
    py = p.mean(0)
    expected = math.exp(np.mean([sum(r * np.log(r / py)) for r in p]))
    assert metrics.inception_score_from_probs(p, splits=1) == pytest.approx((expected, 0.0), rel=1e-12)
    with pytest.raises(ValueError, match="splits"):
        metrics.inception_score_from_probs(p, splits=3)


# =============================================================================== inception, offline


def test_inception_offline_error_says_where_the_weights_go(tmp_path, monkeypatch):
    import keras

    from gan_kit.metrics import extractors  # where the Inception weights look-up calls _keras_home

    monkeypatch.setattr(extractors, "_keras_home", lambda: tmp_path / "keras_home")
    expected = str(tmp_path / "keras_home" / "models" / metrics.INCEPTION_WEIGHTS_FILE)
    with pytest.raises(metrics.ExtractorUnavailableError) as info:
        metrics.get_extractor("inception", allow_download=False)
    assert expected in str(info.value) and "classifier" in str(info.value)

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(metrics.ExtractorUnavailableError, match="could not be downloaded") as info:
        metrics.get_extractor("inception")
    assert expected in str(info.value) and metrics.INCEPTION_WEIGHTS_URL in str(info.value)
    with pytest.raises(metrics.ExtractorUnavailableError, match="does not exist"):
        metrics.get_extractor("inception", weights_path=tmp_path / "missing.h5")


def test_inception_extractor_interface(tmp_path):
    """The Inception path end to end, with random weights saved in Keras' format (the real ones need a download)."""
    import keras

    base = keras.applications.InceptionV3(include_top=True, weights=None, classifier_activation=None)
    path = tmp_path / "random.weights.h5"
    base.save_weights(path)
    ext = metrics.get_extractor("inception", weights_path=path, batch_size=3)
    assert ext.name == "inception" and ext.id.startswith("inception_v3-keras-")
    assert (ext.input_shape, ext.feature_dim, ext.num_classes) == ((299, 299, 3), 2048, 1000)
    gray = np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 1)).astype(np.float32)
    feats, probs = ext.features_and_probabilities(gray)  # resized to 299 x 299, grey repeated to RGB
    assert feats.shape == (4, 2048) and probs.shape == (4, 1000)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-4)


def test_extractor_argument_errors():
    with pytest.raises(ValueError, match="Valid extractors"):
        metrics.get_extractor("vgg")
    with pytest.raises(ValueError, match="dataset"):
        metrics.get_extractor("classifier")
    with pytest.raises(metrics.ExtractorUnavailableError, match="inception"):
        metrics.get_extractor("classifier", dataset="image_folder")
