"""The expected values of notebook 08's projection check (``gan_kit.checks.projection``), computed independently of
the kit.

The projection discriminator (Miyato & Koyama 2018) outputs ``psi(phi(x)) + <e_y, phi(x)>``: the unconditional
logit plus the inner product of the example's features phi(x) with the learned vector e_y of its class y, row y of
the class-embedding matrix E. Here it is written with an explicit one-hot matrix in float64 (the kit gathers rows),
and each known wrong answer is written out as students write it, so the check can name the mistake whose values a
wrong answer gives. :func:`projection_cases` is registered in :mod:`.references` as the builder of the fixture
``projection``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["projection_cases"]


def _one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """One row per label with a 1 in the label's column; all zeros for a label outside 0 .. num_classes - 1 (as
    ``tf.one_hot`` gives it)."""
    labels = np.asarray(labels)
    return (labels[:, None] == np.arange(num_classes)[None, :]).astype(np.float64)


def _class_term(features: np.ndarray, embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """<e_y, phi(x)> for each example, (batch, 1): the one-hot labels times E pick each example's row."""
    picked = _one_hot(labels, len(embeddings)) @ embeddings
    return np.sum(picked * features, axis=1, keepdims=True)


def projection_logit(logit: np.ndarray, features: np.ndarray, embeddings: np.ndarray,
                     labels: np.ndarray) -> np.ndarray:
    """The projection discriminator's logits, float64 (batch, 1)."""
    return np.asarray(logit, np.float64) + _class_term(features, embeddings, labels)


def _mistakes(logit: np.ndarray, features: np.ndarray, embeddings: np.ndarray,
              labels: np.ndarray) -> dict[str, np.ndarray]:
    """What the known wrong answers return, keyed by the text the check quotes; a mistake whose values equal the
    right ones, or an earlier mistake's, on these inputs is left out (it could not be told apart)."""
    picked = _one_hot(labels, len(embeddings)) @ embeddings
    term = _class_term(features, embeddings, labels)
    right = logit + term
    candidates = {
        "the class term alone, without the unconditional logit psi(phi(x)) (add logit)": term,
        "the unconditional logit alone, without the class term": logit,
        "the class term subtracted from the logit instead of added": logit - term,
        "summing the products over the batch as well (one number for the whole batch, added to every logit)":
            logit + np.sum(picked * features),
        "the mean over the features instead of the sum (the inner product is a sum)":
            logit + np.mean(picked * features, axis=1, keepdims=True),
        "the products e_y * phi(x) without their sum over the features (one value per feature)":
            logit + picked * features,
        "summing the products over the batch axis (axis 0) instead of the feature axis":
            logit + np.sum(picked * features, axis=0, keepdims=True),
        "the vector of class y - 1 (labels shifted down by one: label y picks row y of class_embeddings)":
            logit + _class_term(features, embeddings, labels - 1),
        "the vector of class y + 1 (labels shifted up by one: label y picks row y of class_embeddings)":
            logit + _class_term(features, embeddings, labels + 1),
    }
    kept: dict[str, np.ndarray] = {}
    for text, v in candidates.items():
        v = np.asarray(v, np.float64)
        if all(v.shape != w.shape or not np.allclose(v, w, rtol=1e-3, atol=1e-6) for w in (right, *kept.values())):
            kept[text] = v
    return kept


def _f32(x: np.ndarray) -> np.ndarray:
    """``x`` rounded to float32, as float64: what the student's float32 code is given, exactly."""
    return np.asarray(x, np.float32).astype(np.float64)


def _case(where: str, rng: np.random.Generator, batch: int, num_classes: int, feature_dim: int,
          labels: list[int]) -> dict[str, Any]:
    """One case: features as a LeakyReLU network gives them, a logit per example, a class-embedding matrix."""
    features = rng.standard_normal((batch, feature_dim))
    features = _f32(np.where(features > 0, features, 0.2 * features))
    logit = _f32(rng.standard_normal((batch, 1)))
    embeddings = _f32(rng.standard_normal((num_classes, feature_dim)) * 0.7)
    y = np.asarray(labels, np.int64)
    return {"where": where,
            "inputs": {"logit": logit, "features": features, "class_embeddings": embeddings, "labels": y},
            "expected": {"logit": projection_logit(logit, features, embeddings, y)},
            "mistakes": {"logit": _mistakes(logit, features, embeddings, y)},
            "tolerance": {"rtol": 1e-4, "atol": 1e-5}}


def projection_cases(seed: int) -> list[dict[str, Any]]:
    """Two batches whose batch size, class count and feature count all differ (so a result of the wrong shape tells
    which axis went wrong), with the first and the last class among the labels and a class used twice."""
    rng = np.random.default_rng(seed)
    return [_case("a batch of 5 examples, 4 classes, 6 features", rng, 5, 4, 6, [3, 0, 2, 0, 1]),
            _case("a batch of 3 examples, 7 classes, 5 features", rng, 3, 7, 5, [6, 2, 0])]
