"""Notebook 06's exercise, KID by hand: the check ``checks.check_kid`` passes right answers written in several
styles, fails the usual wrong ones naming each mistake, reports broken submissions clearly, and the grader's
recording/judging halves agree with it; once registered, the student's estimate is the kit's KID."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gan_kit import checks, exercises, metrics
from gan_kit.checks import CheckFailed, fixtures, recording
from gan_kit.instructor import kid_reference, verdicts
from gan_kit.instructor.references import build_fixture
from tests.conftest import REPO

NOTEBOOK = REPO / "notebooks" / "06_evaluating_gans.ipynb"


@pytest.fixture(autouse=True)
def _no_answers():
    exercises.clear()
    yield
    exercises.clear()


# ----------------------------------------------------------------- right answers, in the styles a student writes
def kid_numpy(x, y):
    """Vectorised NumPy, diagonals removed with traces."""
    d = x.shape[1]
    kxx, kyy, kxy = (x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3
    n, m = len(x), len(y)
    return (kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean()


def kid_loops(x, y):
    """Plain Python loops over pairs, skipping i == j."""
    def k(a, b):
        return (float(np.dot(a, b)) / len(a) + 1.0) ** 3

    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return xx + yy - 2 * xy


def kid_masked(x, y):
    """Boolean masks for the off-diagonal entries, kernel through einsum."""
    def k(a, b):
        return (np.einsum("id,jd->ij", a, b) / a.shape[1] + 1.0) ** 3

    off_x, off_y = ~np.eye(len(x), dtype=bool), ~np.eye(len(y), dtype=bool)
    return float(k(x, x)[off_x].mean() + k(y, y)[off_y].mean() - 2 * k(x, y).mean())


def kid_tf(x, y):
    """TensorFlow ops in float32, returning a scalar tensor."""
    import tensorflow as tf

    x, y = tf.constant(x, tf.float32), tf.constant(y, tf.float32)
    d = tf.cast(tf.shape(x)[1], tf.float32)
    n, m = tf.cast(tf.shape(x)[0], tf.float32), tf.cast(tf.shape(y)[0], tf.float32)
    kxx = (tf.matmul(x, x, transpose_b=True) / d + 1.0) ** 3
    kyy = (tf.matmul(y, y, transpose_b=True) / d + 1.0) ** 3
    kxy = (tf.matmul(x, y, transpose_b=True) / d + 1.0) ** 3
    xx = (tf.reduce_sum(kxx) - tf.linalg.trace(kxx)) / (n * (n - 1))
    yy = (tf.reduce_sum(kyy) - tf.linalg.trace(kyy)) / (m * (m - 1))
    return xx + yy - 2.0 * tf.reduce_mean(kxy)


@pytest.mark.parametrize("answer", [kid_numpy, kid_loops, kid_masked, kid_tf], ids=lambda f: f.__name__)
def test_right_answers_pass_on_every_seed(answer, capsys):
    for seed in (0, 11, 23):
        checks.check_kid(answer, seed=seed)
    assert capsys.readouterr().out.count("passed: KID from features") == 3


def test_the_notebook_solution_passes():
    import nbformat

    cells = nbformat.read(NOTEBOOK, as_version=4).cells
    source = next(c.source for c in cells if c.cell_type == "code" and "def kid_from_features(" in c.source)
    namespace = {"np": np}
    exec(source, namespace)
    checks.check_kid(namespace["kid_from_features"])
    checks.check_kid(namespace["kid_from_features"], seed=11)


# ----------------------------------------------------------------- wrong answers, each named
def _k(a, b, degree=3, scale=None, offset=1.0):
    return (a @ b.T / (a.shape[1] if scale is None else scale) + offset) ** degree


def _off(k):
    return (k.sum() - np.trace(k)) / (len(k) * (len(k) - 1))


WRONG = {
    "biased": (lambda x, y: _k(x, x).mean() + _k(y, y).mean() - 2 * _k(x, y).mean(), "the biased estimate"),
    "n squared": (lambda x, y: (_k(x, x).sum() - np.trace(_k(x, x))) / len(x) ** 2
                  + (_k(y, y).sum() - np.trace(_k(y, y))) / len(y) ** 2 - 2 * _k(x, y).mean(), "by n^2 instead of"),
    "no scale": (lambda x, y: _off(_k(x, x, scale=1)) + _off(_k(y, y, scale=1)) - 2 * _k(x, y, scale=1).mean(),
                 "without the scale 1/d"),
    "scale by n": (lambda x, y: _off(_k(x, x, scale=len(x))) + _off(_k(y, y, scale=len(x)))
                   - 2 * _k(x, y, scale=len(x)).mean(), "number of examples instead of the number of features"),
    "degree 2": (lambda x, y: _off(_k(x, x, 2)) + _off(_k(y, y, 2)) - 2 * _k(x, y, 2).mean(), "degree 2"),
    "no + 1": (lambda x, y: _off(_k(x, x, offset=0)) + _off(_k(y, y, offset=0)) - 2 * _k(x, y, offset=0).mean(),
               "without the + 1"),
    "cross once": (lambda x, y: _off(_k(x, x)) + _off(_k(y, y)) - _k(x, y).mean(), "subtracted once"),
    "cross sign": (lambda x, y: _off(_k(x, x)) + _off(_k(y, y)) + 2 * _k(x, y).mean(), "added instead of"),
    "means only": (lambda x, y: float(np.sum((x.mean(0) - y.mean(0)) ** 2)), "mean feature vectors"),
    "kernel of means": (lambda x, y: float(_k(x.mean(0, keepdims=True), x.mean(0, keepdims=True))[0, 0]
                                           + _k(y.mean(0, keepdims=True), y.mean(0, keepdims=True))[0, 0]
                                           - 2 * _k(x.mean(0, keepdims=True), y.mean(0, keepdims=True))[0, 0]),
                        "the kernel of the mean feature vectors"),
    "square root": (lambda x, y: np.sqrt(abs(kid_numpy(x, y))), "the square root of MMD^2"),
}


@pytest.mark.parametrize("name", list(WRONG))
def test_wrong_answers_fail_naming_the_mistake(name):
    wrong, named = WRONG[name]
    with pytest.raises(CheckFailed) as info:
        checks.check_kid(wrong)
    message = str(info.value)
    assert message.startswith("kid_from_features on ") and "expected" in message
    assert named in message and "gives." in message, message
    assert "Traceback" not in message and len(message) < 900


def test_swapped_sizes_are_caught_on_the_sets_of_different_sizes():
    def swapped(x, y):
        n, m = len(x), len(y)
        kxx, kyy = _k(x, x), _k(y, y)
        return ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                - 2 * _k(x, y).mean())

    with pytest.raises(CheckFailed, match=r"different sizes.*sizes swapped"):
        checks.check_kid(swapped)


# ----------------------------------------------------------------- broken submissions
@pytest.mark.parametrize("answer, expected", [
    (lambda x, y: None, "returned None"),
    (lambda x, y: (1.0, 0.1), "returned 2 numbers"),
    (lambda x, y: "small", "not a number"),
    (lambda x, y: np.full(len(x), 0.2), "returned 40 numbers"),
    (lambda x, y: x.foo, "raised AttributeError"),
    (lambda x, y: float("nan"), "NaN or infinite"),
], ids=["none", "tuple", "string", "per-example", "raises", "nan"])
def test_broken_submissions_get_a_clear_message(answer, expected):
    with pytest.raises(CheckFailed, match=expected) as info:
        checks.check_kid(answer)
    assert "Traceback" not in str(info.value)


def test_a_stub_is_let_through_and_the_kit_cannot_be_called():
    def stub(x, y):
        raise NotImplementedError("write it")

    with pytest.raises(NotImplementedError):
        checks.check_kid(stub)
    for call in (lambda x, y: metrics.kid_from_features(x, y)[0], metrics.kid_mmd2):
        with pytest.raises(CheckFailed, match="called the kit's own"):
            checks.check_kid(call)
    a = np.random.default_rng(0).random((10, 3))
    assert metrics.kid_mmd2(a, a + 1) > 0  # switched back on after the check


# ----------------------------------------------------------------- fixtures and the grader
def test_the_kit_and_the_reference_agree_and_the_cases_separate_the_mistakes():
    for seed in (0, 11, 23):
        fixture = build_fixture("kid", seed)
        for case in fixture["cases"]:
            a = np.asarray(case["inputs"]["a"])
            b = np.asarray(case["inputs"]["b"]) if "b" in case["inputs"] else a
            assert metrics.kid_mmd2(a, b) == pytest.approx(case["expected"]["kid"], rel=1e-10)
            assert len(case["mistakes"]["kid"]) >= 10
            for wrong in case["mistakes"]["kid"].values():
                assert not np.isclose(wrong, case["expected"]["kid"], rtol=1e-3)
        assert fixture["cases"][2]["expected"]["kid"] < 0  # a set against itself: unbiased, so below the biased 0
    assert build_fixture("kid", 11)["cases"][0]["inputs"] != build_fixture("kid", 0)["cases"][0]["inputs"]
    assert kid_reference.mmd2_unbiased(np.eye(3), np.eye(3) * 2) == pytest.approx(kid_numpy(np.eye(3), np.eye(3) * 2))


def test_the_grader_records_then_judges(tmp_path, monkeypatch):
    monkeypatch.setenv(recording.RECORD_ENV, str(tmp_path))
    call = verdicts.hidden_calls("checks.check_kid(kid_from_features, seed=11)")[0]
    assert call.name == "kid" and call.seed == 11
    recording.check_kid(kid_masked, seed=11)
    assert verdicts.judge(call, tmp_path) == ("pass", "")
    recording.check_kid(WRONG["degree 2"][0], seed=11)
    status, message = verdicts.judge(call, tmp_path)
    assert status == "fail" and "degree 2" in message
    inputs = tmp_path / "package"
    verdicts.write_inputs([call], inputs)
    stored = json.loads((inputs / fixtures.file_name("kid", 11)).read_text())
    assert all(case["expected"] == {} and case["mistakes"] == {} for case in stored["cases"])


# ----------------------------------------------------------------- the kit uses the registered answer
def test_evaluation_uses_the_registered_estimate_on_each_subset():
    rng = np.random.default_rng(0)
    real, fake = rng.random((60, 4)), rng.random((50, 4)) + 0.1
    own = metrics.evaluate_features(real, fake, kid_subsets=5, kid_subset_size=20)["kid"]
    sizes = []

    def mine(x, y):
        sizes.append((x.shape, y.shape))
        return 0.25

    exercises.use(kid_from_features=mine)
    out = metrics.evaluate_features(real, fake, kid_subsets=5, kid_subset_size=20)
    assert out["kid"] == 0.25 and out["kid_std"] == 0.0
    assert sizes == [((20, 4), (20, 4))] * 5  # the kit draws the subsets, the answer estimates each
    exercises.use(kid_from_features=kid_numpy)
    assert metrics.evaluate_features(real, fake, kid_subsets=5, kid_subset_size=20)["kid"] == pytest.approx(own)
    assert exercises.EXERCISES["kid_from_features"] == "06_evaluating_gans"


def test_kid_during_training_uses_the_registered_estimate():
    import keras

    from gan_kit.callbacks import MetricsCallback
    from gan_kit.metrics.reference import ReferenceStats

    class Extractor:
        id, name = "fake-extractor", "fake"

        def features(self, batches):
            return np.concatenate([np.asarray(b, np.float64).reshape(len(b), -1) for b in batches])

    features = np.random.default_rng(0).random((30, 4))
    reference = ReferenceStats(features.mean(0), np.cov(features, rowvar=False), features.astype(np.float32),
                               np.zeros((30, 2), np.float32), np.zeros(30, int), {"extractor": "fake-extractor"})
    generator = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
    callback = MetricsCallback(reference, Extractor(), every=1, samples=20, kid_subsets=3, generator=generator)
    callback.set_params({"epochs": 1})
    exercises.use(kid_from_features=lambda x, y: -1.5)
    logs: dict = {}
    callback.on_epoch_end(0, logs)
    assert logs["kid"] == -1.5 and np.isfinite(logs["fid"])
