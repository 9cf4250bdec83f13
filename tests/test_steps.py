"""Tests for gan_kit.steps and the ``step`` family: a training step written as a function, run by the kit."""

from __future__ import annotations

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import gan_kit
from gan_kit import runs, steps, toy
from gan_kit.models import build_discriminator, build_generator
from gan_kit.steps import StepModel

SHAPE = (28, 28, 1)


def _config(tmp_path, **overrides):
    values = {"dataset": "digits", "image_size": 28, "channels": 1, "output_dir": str(tmp_path / "runs"), "epochs": 2,
              "steps_per_epoch": 2, "batch_size": 16, "max_examples": 64, "grid_size": 2, "latent_dim": 8,
              "g_width": 4, "d_width": 4, "tensorboard": False, **overrides}
    return gan_kit.for_profile("smoke", **values)


def _pair(config, seed: int = 0):
    keras.utils.set_random_seed(seed)
    return (build_generator(config.latent_dim, config.image_shape, config.g_width),
            build_discriminator(config.image_shape, config.d_width, dropout=0.0))


def _manual_story1(g, d, real, noise, lr):
    """Story 1's rule by hand with SGD: both losses from one forward pass, then both updates."""
    with tf.GradientTape(persistent=True) as tape:
        fake = g(noise, training=True)
        real_logits, fake_logits = d(real, training=True), d(fake, training=True)
        g_loss = tf.reduce_mean(tf.nn.softplus(-fake_logits))
        d_loss = tf.reduce_mean(tf.nn.softplus(-real_logits)) + tf.reduce_mean(tf.nn.softplus(fake_logits))
    for loss, net in ((g_loss, g), (d_loss, d)):
        for grad, var in zip(tape.gradient(loss, net.trainable_variables), net.trainable_variables):
            var.assign_sub(lr * grad)
    return float(g_loss), float(d_loss)


@pytest.mark.parametrize("factory", [steps.story1_train_step, steps.alternating_train_step])
def test_reference_steps_match_their_rule_by_hand(factory):
    config = gan_kit.for_profile("smoke", dataset="digits", image_size=28, channels=1, latent_dim=8, g_width=4,
                                 d_width=4)
    g, d = _pair(config)
    g2, d2 = keras.models.clone_model(g), keras.models.clone_model(d)
    g2.set_weights(g.get_weights())
    d2.set_weights(d.get_weights())
    real = tf.tanh(tf.random.stateless_normal((8, *SHAPE), seed=[1, 2]))
    noise = tf.random.stateless_normal((8, 8), seed=[3, 4])
    logs = factory(g, d, keras.optimizers.SGD(0.05), keras.optimizers.SGD(0.05))(real, noise)
    if factory is steps.story1_train_step:
        g_loss, d_loss = _manual_story1(g2, d2, real, noise, 0.05)
        for a, b in zip(g.get_weights() + d.get_weights(), g2.get_weights() + d2.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        assert math.isclose(float(logs["g_loss"]), g_loss, rel_tol=1e-5)
        assert math.isclose(float(logs["d_loss"]), d_loss, rel_tol=1e-5)
    else:  # the same D update (D's BatchNorm statistics aside: D runs once more); G's goes through the updated D
        _manual_story1(g2, d2, real, noise, 0.05)
        for a, b in zip(d.trainable_weights, d2.trainable_weights):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        assert any(not np.allclose(a, b, rtol=1e-4, atol=1e-5) for a, b in zip(g.get_weights(), g2.get_weights()))
    assert set(logs) == {"g_loss", "d_loss", "d_real_prob", "d_fake_prob"}


def test_step_model_fills_missing_probabilities_with_nan_and_checks_the_logs(tiny_dataset):
    g, d = build_generator(8, (32, 32, 3), 4), build_discriminator((32, 32, 3), 4)

    def losses_only(generator, discriminator, g_opt, d_opt):
        inner = steps.story1_train_step(generator, discriminator, g_opt, d_opt)

        def step(real, noise):
            logs = inner(real, noise)
            return {"g_loss": logs["g_loss"], "d_loss": logs["d_loss"]}

        return step

    model = StepModel(g, d, 8, losses_only)
    model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    history = model.fit(tiny_dataset.take(2), epochs=1, verbose=0).history
    assert math.isnan(history["d_real_prob"][0]) and math.isfinite(history["g_loss"][0])

    model = StepModel(g, d, 8, lambda *nets: (lambda real, noise: {"loss": tf.constant(0.0)}), name="bad")
    model.compile(keras.optimizers.Adam(), keras.optimizers.Adam())
    with pytest.raises(ValueError, match="g_loss"):
        model.fit(tiny_dataset.take(1), epochs=1, verbose=0)
    with pytest.raises(TypeError, match="must return the step function"):
        StepModel(g, d, 8, lambda *nets: 42).compile(keras.optimizers.Adam(), keras.optimizers.Adam())


def test_train_with_a_step_writes_a_complete_run_folder(tmp_path):
    config = _config(tmp_path)
    g, d = _pair(config)
    run = gan_kit.train(config, train_step=steps.story1_train_step, generator=g, discriminator=d, verbose=0)
    assert run.status == "finished" and run.generator is g and run.discriminator is d
    files = {p.name for p in run.path.iterdir()}
    assert {"config.json", "history.csv", "samples", "progress.gif", "generator.keras", "discriminator.keras",
            "status.json", "runtime.json", "checkpoints", "diagnostics.json"} <= files
    assert list(runs.load_history(run.path)) == ["epoch", "g_loss", "d_loss", "d_real_prob", "d_fake_prob",
                                                 "epoch_time"]
    assert [p.name for p in runs.sample_paths(run.path)] == ["epoch_0000.png", "epoch_0001.png", "epoch_0002.png"]
    runtime = json.loads((run.path / "runtime.json").read_text())
    assert runtime["train_step"] == "gan_kit.steps.story1_train_step" and runtime["mixed_precision"] == "float32"
    z = np.random.default_rng(0).standard_normal((3, config.latent_dim)).astype(np.float32)
    np.testing.assert_allclose(runs.load_generator(run.path)(z, training=False), g(z, training=False), atol=1e-5)


def test_a_step_run_resumes_exactly(tmp_path):
    config = _config(tmp_path, epochs=2)
    whole = gan_kit.train(config, train_step=steps.story1_train_step, generator=_pair(config)[0],
                          discriminator=_pair(config)[1], verbose=0)
    g, d = _pair(config)
    first = gan_kit.train(config.replace(epochs=1, output_dir=str(tmp_path / "parts")),
                          train_step=steps.story1_train_step, generator=g, discriminator=d, verbose=0)
    g2, d2 = _pair(config, seed=99)  # fresh networks: the checkpoint restores the weights
    resumed = gan_kit.train(config.replace(output_dir=str(tmp_path / "parts")), resume=first.path,
                            train_step=steps.story1_train_step, generator=g2, discriminator=d2, verbose=0)
    assert resumed.path == first.path and len(resumed.history["epoch"]) == 2
    for a, b in zip(whole.generator.get_weights(), resumed.generator.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert whole.history["g_loss"] == resumed.history["g_loss"]


def test_networks_that_do_not_fit_the_config_are_refused_before_a_run_folder(tmp_path):
    config = _config(tmp_path)
    g, d = _pair(config)
    wrong_g = build_generator(config.latent_dim + 1, config.image_shape, 4)
    with pytest.raises(ValueError, match="latent_dim"):
        gan_kit.train(config, train_step=steps.story1_train_step, generator=wrong_g, discriminator=d)
    with pytest.raises(ValueError, match="discriminator takes images"):
        gan_kit.train(config, train_step=steps.story1_train_step, generator=g,
                      discriminator=build_discriminator((32, 32, 3), 4))
    with pytest.raises(TypeError, match="step factory"):
        gan_kit.train(config, train_step="story1", generator=g, discriminator=d)
    with pytest.raises(ValueError, match="go with train_step"):
        gan_kit.train(config, generator=g, discriminator=d)
    with pytest.raises(ValueError, match="unconditional GAN"):
        gan_kit.train(config.replace(conditional=True, num_classes=10), train_step=steps.story1_train_step)
    assert not (tmp_path / "runs").exists()


def test_a_step_that_raises_marks_the_run_failed(tmp_path):
    config = _config(tmp_path)

    def broken(generator, discriminator, g_opt, d_opt):
        def step(real, noise):
            raise RuntimeError("a bug in the student's step")

        return step

    with pytest.raises(RuntimeError, match="student's step"):
        gan_kit.train(config, train_step=broken, verbose=0)
    (folder,) = (tmp_path / "runs").iterdir()
    status = runs.read_status(folder)
    assert status["state"] == "failed" and "student's step" in status["error"]


def test_the_toy_trains_with_a_step_of_your_own():
    mine = toy.train_toy(steps=40, train_step=steps.alternating_train_step, n_samples=200)
    kit = toy.train_toy(steps=40, n_samples=200)
    assert mine.samples.shape == kit.samples.shape == (200, 2)
    assert isinstance(mine.gan, StepModel) and int(mine.gan.g_optimizer.iterations) == 40
    assert mine.settings["train_step"] == "alternating_train_step"
    with pytest.raises(ValueError, match="n_critic"):
        toy.train_toy(steps=10, n_critic=5, train_step=steps.alternating_train_step)


def _counting_step(generator, discriminator, g_optimizer, d_optimizer):
    """A step whose losses are known in advance: the k-th call returns g_loss = k**2 and d_loss = -k."""
    calls = tf.Variable(0.0, trainable=False)

    @tf.function
    def train_step(real_images, noise):
        calls.assign_add(1.0)
        return {"g_loss": calls * calls, "d_loss": -calls}

    return train_step


def test_log_steps_records_each_steps_own_losses_not_keras_running_means(tmp_path):
    config = _config(tmp_path, epochs=3, steps_per_epoch=4, log_steps=True, diagnostics=False)
    g, d = _pair(config)
    run = gan_kit.train(config, train_step=_counting_step, generator=g, discriminator=d, verbose=0)
    table = runs.load_steps(run.path)
    k = np.arange(1, 13, dtype=np.float64)
    assert table["step"] == list(k) and table["epoch"] == [1.0] * 4 + [2.0] * 4 + [3.0] * 4
    np.testing.assert_allclose(table["g_loss"], k**2, rtol=1e-5)
    np.testing.assert_allclose(table["d_loss"], -k, rtol=1e-5)
    history = runs.load_history(run.path)  # the epoch rows stay the means of their steps
    np.testing.assert_allclose(history["g_loss"], [np.mean(k[i:i + 4] ** 2) for i in (0, 4, 8)], rtol=1e-5)
    assert not runs.load_steps(gan_kit.train(_config(tmp_path, name="quiet"), train_step=_counting_step,
                                             generator=_pair(config)[0], discriminator=_pair(config)[1],
                                             verbose=0).path)  # off by default: no steps.csv
