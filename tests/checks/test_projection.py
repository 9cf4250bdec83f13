"""Notebook 08's second exercise, the projection discriminator's output: the check ``checks.check_projection_logit``
passes right answers written in several styles, fails the usual wrong ones naming each mistake, reports broken
submissions clearly, and the grader's recording/judging halves agree with it; once registered, the student's
function computes every projection discriminator's output, spectral normalisation included."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import gan_kit.models
from gan_kit import checks, exercises
from gan_kit.checks import CheckFailed, fixtures, projection, recording
from gan_kit.instructor import projection_reference, verdicts
from gan_kit.instructor.references import build_fixture
from gan_kit.models import build_conditional_discriminator
from tests.conftest import REPO

NOTEBOOK = REPO / "notebooks" / "08_conditional_gan.ipynb"
SEEDS = (0, 5, 11)
K, SHAPE = 4, (28, 28, 1)


@pytest.fixture(autouse=True)
def _no_answers():
    exercises.clear()
    yield
    exercises.clear()


# ----------------------------------------------------------------- right answers, in the styles a student writes
def gather_sum(logit, features, class_embeddings, labels):
    """tf.gather picks each label's row; the inner product is a sum over the feature axis."""
    picked = tf.gather(class_embeddings, labels)
    return logit + tf.reduce_sum(picked * features, axis=-1, keepdims=True)


def one_hot_matmul(logit, features, class_embeddings, labels):
    """A one-hot matrix times E picks the rows; the row-wise product's sum through a matmul with a ones column."""
    one_hot = tf.one_hot(labels, tf.shape(class_embeddings)[0], dtype=class_embeddings.dtype)
    picked = tf.matmul(one_hot, class_embeddings)
    return logit + tf.matmul(picked * features, tf.ones([tf.shape(features)[1], 1], features.dtype))


def einsum_style(logit, features, class_embeddings, labels):
    """tf.einsum for the row-wise inner product, reshaped to a column."""
    inner = tf.einsum("bd,bd->b", tf.gather(class_embeddings, labels), features)
    return logit + tf.reshape(inner, [-1, 1])


def scores_then_pick(logit, features, class_embeddings, labels):
    """Every class's score first, then each example's own label's column (batch_dims gather)."""
    scores = tf.matmul(features, class_embeddings, transpose_b=True)  # (batch, classes)
    return logit + tf.gather(scores, labels[:, None], batch_dims=1)


def keras_ops(logit, features, class_embeddings, labels):
    """Backend-neutral keras.ops."""
    picked = keras.ops.take(class_embeddings, labels, axis=0)
    return keras.ops.add(logit, keras.ops.sum(picked * features, axis=1, keepdims=True))


RIGHT = [gather_sum, one_hot_matmul, einsum_style, scores_then_pick, keras_ops]


@pytest.mark.parametrize("answer", RIGHT, ids=lambda f: f.__name__)
def test_right_answers_pass_on_every_seed(answer, capsys):
    for seed in SEEDS:
        checks.check_projection_logit(answer, seed=seed)
    assert capsys.readouterr().out.count("passed: projection discriminator's output") == len(SEEDS)


def test_the_notebook_solution_passes(capsys):
    import nbformat

    cells = nbformat.read(NOTEBOOK, as_version=4).cells
    source = next(c.source for c in cells if c.cell_type == "code" and "def projection_logit(" in c.source)
    namespace = {"tf": tf}
    exec(source, namespace)
    checks.check_projection_logit(namespace["projection_logit"])
    checks.check_projection_logit(namespace["projection_logit"], seed=5)
    assert capsys.readouterr().out.count("passed") == 2


# ----------------------------------------------------------------- wrong answers, each named
def _picked(class_embeddings, labels, shift=0):
    return tf.matmul(tf.one_hot(labels + shift, tf.shape(class_embeddings)[0]), class_embeddings)


WRONG = {
    "full product": (lambda lo, f, e, y: lo + tf.matmul(f, e, transpose_b=True),
                     r"got \(5, 4\): one value per class\. That is the full matrix product"),
    "batch sum": (lambda lo, f, e, y: lo + tf.reduce_sum(tf.gather(e, y) * f),
                  "what summing the products over the batch as well"),
    "one number": (lambda lo, f, e, y: tf.reduce_sum(lo + tf.gather(e, y) * f),
                   "returned one number for the whole batch"),
    "no logit": (lambda lo, f, e, y: tf.reduce_sum(tf.gather(e, y) * f, axis=-1, keepdims=True),
                 "the class term alone, without the unconditional logit"),
    "logit only": (lambda lo, f, e, y: lo * 1.0, "the unconditional logit alone"),
    "subtracted": (lambda lo, f, e, y: lo - tf.reduce_sum(tf.gather(e, y) * f, axis=-1, keepdims=True),
                   "subtracted from the logit instead of added"),
    "mean": (lambda lo, f, e, y: lo + tf.reduce_mean(tf.gather(e, y) * f, axis=-1, keepdims=True),
             "the mean over the features instead of the sum"),
    "no sum": (lambda lo, f, e, y: lo + tf.gather(e, y) * f, r"without their sum over the features"),
    "batch axis": (lambda lo, f, e, y: lo + tf.reduce_sum(tf.gather(e, y) * f, axis=0),
                   r"over the batch axis \(axis 0\) instead of the feature axis"),
    "one-hot y - 1": (lambda lo, f, e, y: lo + tf.reduce_sum(_picked(e, y, -1) * f, axis=-1, keepdims=True),
                      "the vector of class y - 1"),
    "one-hot y + 1": (lambda lo, f, e, y: lo + tf.reduce_sum(_picked(e, y, 1) * f, axis=-1, keepdims=True),
                      "the vector of class y \\+ 1"),
    # tf.gather refuses an index out of range on a CPU and gives zeros on a GPU: either way the message says so.
    "gather y + 1": (lambda lo, f, e, y: lo + tf.reduce_sum(tf.gather(e, y + 1) * f, axis=-1, keepdims=True),
                     "label y picks row y"),
    "flat": (lambda lo, f, e, y: lo[:, 0] + tf.reduce_sum(tf.gather(e, y) * f, axis=-1),
             r"expected shape \(5, 1\), got \(5,\) \(the values are right\)"),
    "no keepdims": (lambda lo, f, e, y: lo + tf.reduce_sum(tf.gather(e, y) * f, axis=-1),
                    r"broadcasts to \(batch, batch\)\. Keep the summed axis \(keepdims=True\)"),
}


@pytest.mark.parametrize("name", list(WRONG))
def test_wrong_answers_fail_naming_the_mistake(name):
    wrong, named = WRONG[name]
    with pytest.raises(CheckFailed, match=named) as info:
        checks.check_projection_logit(wrong)
    message = str(info.value)
    assert message.startswith("projection_logit"), message
    assert "Traceback" not in message and "File \"" not in message and len(message) < 900, message


def test_each_case_keeps_every_known_mistake_apart():
    for seed in SEEDS:
        for case in build_fixture("projection", seed)["cases"]:
            assert len(case["mistakes"]["logit"]) == 9, list(case["mistakes"]["logit"])


# ----------------------------------------------------------------- broken submissions
def _numpy_answer(logit, features, class_embeddings, labels):
    return np.asarray(logit) + np.sum(np.asarray(class_embeddings)[np.asarray(labels)] * np.asarray(features),
                                      axis=1, keepdims=True)


@pytest.mark.parametrize("answer, expected", [
    (lambda lo, f, e, y: None, "returned None"),
    (lambda lo, f, e, y: lo.no_such_attribute, "raised AttributeError"),
    (lambda lo, f, e, y: tf.cast(gather_sum(lo, f, e, y), tf.float64), "the values are right but of type float64"),
    (_numpy_answer, "turns its arguments into NumPy arrays .* Write it with TensorFlow operations"),
    (lambda lo, f, e, y: "logit", "not a number or a tensor"),
    (lambda lo, f, e, y: tf.matmul(f, e), "raised InvalidArgumentError|raised ValueError"),
], ids=["none", "raises", "float64", "numpy", "string", "shape-error"])
def test_broken_submissions_get_a_clear_message(answer, expected):
    with pytest.raises(CheckFailed, match=expected) as info:
        checks.check_projection_logit(answer)
    assert "Traceback" not in str(info.value) and len(str(info.value)) < 900


def test_a_stub_is_let_through_and_the_kit_cannot_be_called():
    def stub(logit, features, class_embeddings, labels):
        raise NotImplementedError("write it")

    with pytest.raises(NotImplementedError):
        checks.check_projection_logit(stub)
    with pytest.raises(CheckFailed, match="called the kit's own gan_kit.models.projection_logit"):
        checks.check_projection_logit(lambda *args: gan_kit.models.projection_logit(*args))
    out = gan_kit.models.projection_logit(tf.ones((2, 1)), tf.ones((2, 3)), tf.eye(3), tf.constant([0, 2]))
    np.testing.assert_allclose(np.asarray(out), [[2.0], [2.0]])  # switched back on after the check


# ----------------------------------------------------------------- fixtures and the grader
def test_the_kit_and_the_reference_agree_and_the_cases_separate_the_mistakes():
    for seed in SEEDS:
        fixture = build_fixture("projection", seed)
        for case in fixture["cases"]:
            inputs = case["inputs"]
            logit, features = np.asarray(inputs["logit"]), np.asarray(inputs["features"])
            embeddings, labels = np.asarray(inputs["class_embeddings"]), np.asarray(inputs["labels"])
            batch, classes, dim = len(labels), len(embeddings), features.shape[1]
            assert len({batch, classes, dim, 1}) == 4  # a wrong shape tells which axis went wrong
            assert {0, classes - 1} <= set(labels.tolist())  # the first and the last row are used
            kit = gan_kit.models.projection_logit(logit.astype(np.float32), features.astype(np.float32),
                                                  embeddings.astype(np.float32), labels)
            expected = np.asarray(case["expected"]["logit"])
            np.testing.assert_allclose(np.asarray(kit), expected, rtol=1e-5, atol=1e-6)
            for wrong in case["mistakes"]["logit"].values():
                wrong = np.asarray(wrong)
                assert wrong.shape != expected.shape or not np.allclose(wrong, expected, rtol=1e-3)
    assert build_fixture("projection", 5)["cases"][0]["inputs"] != build_fixture("projection", 0)["cases"][0]["inputs"]
    e = np.arange(6.0).reshape(3, 2)
    np.testing.assert_allclose(projection_reference.projection_logit(np.ones((2, 1)), np.ones((2, 2)), e, [2, 0]),
                               [[10.0], [2.0]])


def test_collect_and_judge_run_apart(tmp_path):
    fixture = build_fixture("projection", 5)
    for answer, ok in ((einsum_style, True), (WRONG["mean"][0], False)):
        outputs = projection.collect_projection({"projection_logit": answer}, fixture)
        np.savez(tmp_path / "record.npz", **outputs)
        with np.load(tmp_path / "record.npz", allow_pickle=False) as archive:
            loaded = {k: archive[k] for k in archive.files}
        if ok:
            projection.judge_projection(loaded, fixture)
        else:
            with pytest.raises(CheckFailed, match="the mean over the features"):
                projection.judge_projection(loaded, fixture)


def test_the_grader_records_then_judges(tmp_path, monkeypatch):
    monkeypatch.setenv(recording.RECORD_ENV, str(tmp_path))
    call = verdicts.hidden_calls("checks.check_projection_logit(projection_logit, seed=5)")[0]
    assert call.name == "projection" and call.seed == 5 and call.key == "projection-seed=5"
    recording.check_projection_logit(scores_then_pick, seed=5)
    assert verdicts.judge(call, tmp_path) == ("pass", "")
    recording.check_projection_logit(WRONG["no logit"][0], seed=5)
    status, message = verdicts.judge(call, tmp_path)
    assert status == "fail" and "without the unconditional logit" in message
    recording.check_projection_logit(lambda lo, f, e, y: None, seed=5)
    assert verdicts.judge(call, tmp_path) == ("fail", "projection_logit on a batch of 5 examples, 4 classes, 6 "
                                                      "features: returned None. Did you forget the return statement?")
    inputs = tmp_path / "package"
    verdicts.write_inputs([call], inputs)
    stored = json.loads((inputs / fixtures.file_name("projection", 5)).read_text())
    assert all(case["expected"] == {} and case["mistakes"] == {} for case in stored["cases"])


def test_a_release_judges_from_the_stored_public_fixture(tmp_path, monkeypatch, capsys):
    import sys

    from gan_kit.instructor import references

    references.write_fixtures(tmp_path, {"projection": fixtures.PUBLIC_SEEDS["projection"]})
    assert [p.name for p in tmp_path.iterdir()] == ["projection-0.json"]
    monkeypatch.setattr(fixtures, "FIXTURE_DIR", tmp_path)
    monkeypatch.setitem(sys.modules, "gan_kit.instructor", None)
    monkeypatch.setitem(sys.modules, "gan_kit.instructor.references", None)
    fixtures.clear_memo()
    checks.check_projection_logit(gather_sum)
    assert capsys.readouterr().out.startswith("passed")
    with pytest.raises(CheckFailed, match="without the unconditional logit"):
        checks.check_projection_logit(WRONG["no logit"][0])
    assert not fixtures._MEMO  # read from the file, nothing built
    with pytest.raises(fixtures.FixtureMissing, match="no stored expected values for check projection with seed 5"):
        checks.check_projection_logit(gather_sum, seed=5)


# ----------------------------------------------------------------- the kit uses the registered answer
def _batch(n=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (n, *SHAPE)).astype(np.float32), np.array([3, 0, 2][:n], np.int32)


def test_a_projection_discriminator_computes_its_output_with_the_registered_answer():
    seen = []

    def shifted(logit, features, class_embeddings, labels):
        seen.append((logit.dtype.name, features.dtype.name, tuple(class_embeddings.shape), labels.dtype.name))
        return gather_sum(logit, features, class_embeddings, labels) + 1.0  # a shift only this answer has

    x, y = _batch()
    exercises.use(projection_logit=shifted)
    d = build_conditional_discriminator(K, SHAPE, width=4, dropout=0.0, conditioning="projection")
    mine = np.asarray(d([x, y], training=False))
    feature_dim = int(d.get_layer("discriminator_body").output.shape[-1])
    assert seen and seen[-1] == ("float32", "float32", (K, feature_dim), "int32")
    exercises.clear()
    own = np.asarray(d([x, y], training=False))
    np.testing.assert_allclose(mine, own + 1.0, rtol=1e-5, atol=1e-5)
    phi = np.asarray(d.get_layer("discriminator_body")(x, training=False))
    psi = np.asarray(d.get_layer("logit")(phi))
    e = np.asarray(d.get_layer("projected_logit").class_embeddings())
    np.testing.assert_allclose(own, psi + np.sum(e[y] * phi, axis=1, keepdims=True), rtol=1e-4, atol=1e-5)
    for answer in RIGHT:
        with exercises.using(projection_logit=answer):
            np.testing.assert_allclose(np.asarray(d([x, y], training=False)), own, rtol=1e-5, atol=1e-5)


def test_spectral_norm_normalises_the_class_embeddings_the_answer_receives(tmp_path):
    x, y = _batch()
    d = build_conditional_discriminator(K, SHAPE, width=4, dropout=0.0, spectral_norm=True)
    head = d.get_layer("projected_logit")
    assert isinstance(head.class_embedding, keras.layers.SpectralNormalization)
    assert head.class_embedding.layer.name == "class_embedding" and not head.class_embedding.layer.use_bias
    for _ in range(20):  # one power iteration per training call
        d([x, y], training=True)
    received = []

    def keep(logit, features, class_embeddings, labels):
        received.append(np.asarray(class_embeddings))
        return gather_sum(logit, features, class_embeddings, labels)

    with exercises.using(projection_logit=keep):
        d([x, y], training=True)
    assert np.linalg.svd(received[-1], compute_uv=False)[0] == pytest.approx(1.0, abs=2e-2)
    d.save(tmp_path / "d.keras")  # the head, its spectrally normalised embedding included, saves and loads
    loaded = keras.models.load_model(tmp_path / "d.keras", safe_mode=True, compile=False)
    np.testing.assert_allclose(np.asarray(loaded([x, y], training=False)), np.asarray(d([x, y], training=False)),
                               rtol=1e-5, atol=1e-6)


def test_under_mixed_precision_the_answer_sees_float32_and_d_returns_float32():
    seen = []

    def mine(logit, features, class_embeddings, labels):
        seen.append({logit.dtype.name, features.dtype.name, class_embeddings.dtype.name})
        return gather_sum(logit, features, class_embeddings, labels)

    x, y = _batch(2)
    with gan_kit.models.precision("mixed_float16"):
        d = build_conditional_discriminator(K, SHAPE, width=4, dropout=0.0)
    with exercises.using(projection_logit=mine):
        out = d([x, y], training=False)
    assert out.dtype.name == "float32" and seen and seen[-1] == {"float32"}


def test_the_kit_registers_the_exercise_for_notebook_08():
    assert exercises.EXERCISES["projection_logit"] == "08_conditional_gan"
    assert verdicts.CHECKS["check_projection_logit"] == ("projection", "seed", 0)
