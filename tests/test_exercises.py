"""gan_kit.exercises: the student's functions handed to the kit are the ones the kit trains and evaluates with."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from gan_kit import exercises, metrics, runs
from gan_kit.config import for_profile


@pytest.fixture(autouse=True)
def _clean():
    exercises.clear()
    yield
    exercises.clear()


def test_use_answer_clear_and_using():
    def mine(*args):
        return 0.0

    assert exercises.answer("gradient_penalty") is None
    exercises.use(gradient_penalty=mine)
    assert exercises.answer("gradient_penalty") is mine and exercises.registered() == {"gradient_penalty": mine}
    with exercises.using(kl_divergence=mine):
        assert exercises.answer("kl_divergence") is mine
    assert exercises.answer("kl_divergence") is None and exercises.answer("gradient_penalty") is mine
    exercises.clear("gradient_penalty")
    assert exercises.registered() == {}


@pytest.mark.parametrize("call, error, match", [
    (lambda: exercises.use(gradient_penatly=print), ValueError, "not an exercise the kit can use.*gradient_penalty"),
    (lambda: exercises.use(kl_divergence=3), TypeError, "kl_divergence must be a function, not int"),
    (lambda: exercises.answer("losses"), KeyError, "not an exercise name"),
])
def test_bad_registrations_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_wgan_gp_training_calls_the_registered_penalty(tmp_path):
    from gan_kit import toy

    calls = []

    def penalty(critic, real, fake, alpha=None):
        calls.append(alpha is not None)
        scores = critic(real + (fake - real) * tf.reshape(alpha, [-1, 1]), training=True)
        return tf.reduce_mean(tf.square(scores)) * 0.0 + 0.25

    exercises.use(gradient_penalty=penalty)
    result = toy.train_toy(loss="wasserstein", gp_weight=0.1, steps=4, seed=0)
    assert calls and all(calls)  # traced into the critic's step, with the kit's per-example alpha
    assert np.allclose(result.history["gp"], 0.25)


def test_the_vae_trains_with_the_registered_terms(tmp_path):
    from gan_kit.training import train

    seen = {"reparameterize": 0, "kl_divergence": 0}

    def reparameterize(mean, log_var, eps):
        seen["reparameterize"] += 1
        return mean + tf.exp(0.5 * log_var) * eps

    def kl_divergence(mean, log_var):
        seen["kl_divergence"] += 1
        return tf.zeros_like(mean[:, 0]) + 7.0

    exercises.use(reparameterize=reparameterize, kl_divergence=kl_divergence)
    cfg = for_profile("smoke", dataset="digits", model="vae", epochs=1, steps_per_epoch=2, batch_size=16,
                      output_dir=str(tmp_path))
    run = train(cfg, verbose=0)
    assert run.status == "finished" and all(seen.values()), seen
    assert np.isclose(runs.load_history(run.path)["kl_loss"][-1], 7.0)


def test_evaluation_uses_the_registered_fid():
    real = np.random.default_rng(0).standard_normal((40, 3))
    fake = np.random.default_rng(1).standard_normal((40, 3))
    exercises.use(fid_from_features=lambda a, b: 42.0)
    assert metrics.evaluate_features(real, fake)["fid"] == 42.0
    exercises.clear()
    assert metrics.evaluate_features(real, fake)["fid"] == pytest.approx(metrics.fid_from_features(real, fake))


def test_the_conditional_gan_trains_with_the_registered_input(tmp_path):
    from gan_kit.training import train

    calls = []

    def conditional_input(z, labels, num_classes):
        calls.append(num_classes)
        return tf.concat([z, 2.0 * tf.one_hot(labels, num_classes)], axis=-1)  # a scale only this answer has

    exercises.use(conditional_input=conditional_input)
    cfg = for_profile("smoke", dataset="digits", conditional=True, epochs=1, steps_per_epoch=2, batch_size=16,
                      output_dir=str(tmp_path), num_classes=10)
    run = train(cfg, verbose=0)
    assert run.status == "finished" and calls and set(calls) == {10}
    joined = run.model.generator.get_layer("joined")
    out = np.asarray(joined([np.zeros((2, cfg.latent_dim), "float32"), np.array([3, 9], "int32")]))
    assert out[:, cfg.latent_dim:].max() == 2.0  # the layer still computes the registered answer after training
    exercises.clear()
    out = np.asarray(joined([np.zeros((2, cfg.latent_dim), "float32"), np.array([3, 9], "int32")]))
    assert np.array_equal(out[:, cfg.latent_dim:], np.eye(10)[[3, 9]])  # and the kit's own without one


def test_the_projection_discriminator_trains_with_the_registered_class_term(tmp_path):
    from gan_kit.training import train

    calls = []

    def projection_logit(logit, features, class_embeddings, labels):
        calls.append(tuple(class_embeddings.shape))
        picked = tf.gather(class_embeddings, labels)
        return logit + tf.reduce_sum(picked * features, axis=-1, keepdims=True) + 3.0  # a shift only this has

    exercises.use(projection_logit=projection_logit)
    cfg = for_profile("smoke", dataset="digits", conditional=True, conditioning="projection", epochs=1,
                      steps_per_epoch=2, batch_size=16, output_dir=str(tmp_path), num_classes=10)
    run = train(cfg, verbose=0)
    assert run.status == "finished" and calls and {shape[0] for shape in calls} == {10}
    d = run.model.discriminator
    images, labels = np.zeros((2, *cfg.image_shape), "float32"), np.array([3, 9], "int32")
    mine = np.asarray(d([images, labels], training=False))
    exercises.clear()
    np.testing.assert_allclose(mine, np.asarray(d([images, labels], training=False)) + 3.0, rtol=1e-5, atol=1e-5)
