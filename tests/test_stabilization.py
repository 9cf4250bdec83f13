"""Issue 3: every stabilization switch is real (changes the model or the step) and pinned by values."""

import math
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_kit import losses
from gan_kit.callbacks import InstanceNoiseSchedule, instance_noise_std
from gan_kit.config import for_profile
from gan_kit.models import build_discriminator, build_generator
from gan_kit.training import GAN, build_gan


def _sig(x):
    return 1 / (1 + math.exp(-x))


REAL = tf.constant([[2.0], [-0.5]])
FAKE = tf.constant([[-1.0], [0.5]])


def test_minimax_generator_loss_is_log_one_minus_d():
    expected = np.mean([math.log(1 - _sig(-1.0)), math.log(1 - _sig(0.5))])
    assert float(losses.minimax_generator_loss(FAKE)) == pytest.approx(expected, rel=1e-6)
    assert losses.minimax_discriminator_loss is losses.bce_discriminator_loss


def test_hinge_values():
    # relu(1-2)=0, relu(1+0.5)=1.5 -> 0.75 ; relu(1-1)=0, relu(1+0.5)=1.5 -> 0.75
    assert float(losses.hinge_discriminator_loss(REAL, FAKE)) == pytest.approx(1.5)
    assert float(losses.hinge_generator_loss(FAKE)) == pytest.approx(0.25)


def test_wasserstein_values():
    assert float(losses.wasserstein_discriminator_loss(REAL, FAKE)) == pytest.approx(-0.25 - 0.75)
    assert float(losses.wasserstein_generator_loss(FAKE)) == pytest.approx(0.25)


def test_least_squares_values():
    d = 0.5 * (np.mean([(2 - 1) ** 2, (-0.5 - 1) ** 2]) + np.mean([1.0, 0.25]))
    assert float(losses.least_squares_discriminator_loss(REAL, FAKE)) == pytest.approx(d)
    g = 0.5 * np.mean([(-1 - 1) ** 2, (0.5 - 1) ** 2])
    assert float(losses.least_squares_generator_loss(FAKE)) == pytest.approx(g)


def test_per_example_labels():
    labels = tf.constant([1.0, 0.0])
    expected = -np.mean([math.log(_sig(2.0)), math.log(1 - _sig(-0.5))]) - np.mean(
        [math.log(1 - _sig(-1.0)), math.log(1 - _sig(0.5))])
    assert float(losses.bce_discriminator_loss(REAL, FAKE, labels, 0.0)) == pytest.approx(expected, rel=1e-6)


def test_gradient_penalty_known_norm():
    w = tf.constant([3.0, 4.0])  # ||grad|| = 5 everywhere -> penalty (5 - 1)^2 = 16
    critic = lambda x: tf.reduce_sum(x * w, axis=1, keepdims=True)  # noqa: E731
    real = tf.random.normal([8, 2])
    fake = tf.random.normal([8, 2])
    assert float(losses.gradient_penalty(critic, real, fake)) == pytest.approx(16.0, rel=1e-5)


def test_gradient_penalty_zero_gradient_has_no_nan():
    v = tf.Variable(0.0)
    with tf.GradientTape() as tape:
        gp = losses.gradient_penalty(lambda x: tf.zeros([tf.shape(x)[0], 1]) * v, tf.zeros([4, 3]), tf.ones([4, 3]))
    assert float(gp) == pytest.approx(1.0, abs=1e-5)
    grad = tape.gradient(gp, v)
    assert grad is None or np.isfinite(float(grad))


def test_gradient_penalty_interpolates_uniformly_per_example():
    seen = []

    def critic(x):
        seen.append(x)
        return tf.reduce_sum(x, axis=[1, 2, 3])[:, None]

    tf.random.set_seed(0)
    losses.gradient_penalty(critic, tf.zeros([4000, 2, 2, 1]), tf.ones([4000, 2, 2, 1]))
    mixed = seen[0].numpy().reshape(4000, -1)
    alpha = mixed[:, 0]
    assert np.allclose(mixed, alpha[:, None])  # one weight per example
    assert alpha.min() >= 0 and alpha.max() <= 1
    assert abs(alpha.mean() - 0.5) < 0.02 and abs(alpha.std() - 1 / math.sqrt(12)) < 0.02  # U(0, 1)


def _tiny_gan(**compile_kwargs):
    g = build_generator(8, (28, 28, 1), width=4)
    d = build_discriminator((28, 28, 1), width=4, dropout=0.0)
    gan = GAN(g, d, 8, seed=3, ema=compile_kwargs.pop("ema", 0.0))
    gan.compile(keras.optimizers.Adam(1e-3, 0.5), keras.optimizers.Adam(1e-3, 0.5), **compile_kwargs)
    return gan


def _data(n=32, batch=8):
    x = np.random.default_rng(0).uniform(-1, 1, (n, 28, 28, 1)).astype("float32")
    return tf.data.Dataset.from_tensor_slices(x).batch(batch, drop_remainder=True)


def test_label_smoothing_noise_and_flip_statistics():
    gan = _tiny_gan(label_smoothing=0.1, label_noise=0.2)
    real, fake = (t.numpy() for t in gan._labels(20000))
    assert abs(real.mean() - 0.9) < 0.01 and abs(real.std() - 0.2) < 0.01
    assert abs(fake.mean()) < 0.01 and abs(fake.std() - 0.2) < 0.01
    flips = _tiny_gan(label_flip=0.25)
    real, fake = (t.numpy() for t in flips._labels(20000))
    assert abs((real == 0).mean() - 0.25) < 0.015
    assert np.all((real == 0) == (fake == 1))
    plain = _tiny_gan()
    real, fake = (t.numpy() for t in plain._labels(10))
    assert np.all(real == 1) and np.all(fake == 0)


def test_instance_noise_decay_and_application():
    assert [instance_noise_std(e, 0.2, 4) for e in range(6)] == pytest.approx([0.2, 0.15, 0.1, 0.05, 0, 0])
    assert instance_noise_std(7, 0.1, 0) == 0.1
    gan = _tiny_gan()
    sched = InstanceNoiseSchedule(0.2, 4)
    sched.set_model(gan)
    sched.on_epoch_begin(2)
    assert float(gan.instance_noise_std) == pytest.approx(0.1)
    noisy = gan._noisy(tf.zeros([64, 28, 28, 1])).numpy()
    assert abs(noisy.std() - 0.1) < 0.005
    gan.instance_noise_std.assign(0.0)
    assert np.all(gan._noisy(tf.zeros([2, 28, 28, 1])).numpy() == 0)


@pytest.mark.parametrize("n_critic,g_steps", [(1, 1), (3, 1), (1, 2)])
def test_step_counts(n_critic, g_steps):
    gan = _tiny_gan(n_critic=n_critic, g_steps=g_steps)
    gan.fit(_data(), epochs=1, verbose=0)  # 4 train steps
    assert int(gan.d_optimizer.iterations) == 4 * n_critic
    assert int(gan.g_optimizer.iterations) == 4 * g_steps


def test_gradient_penalty_and_feature_matching_are_in_the_step():
    gan = _tiny_gan(loss="wasserstein", gp_weight=10.0, feature_matching=1.0)
    hist = gan.fit(_data(), epochs=1, verbose=0).history
    assert hist["gp"][0] > 0 and hist["fm"][0] >= 0
    plain = _tiny_gan(loss="wasserstein").fit(_data(), epochs=1, verbose=0).history
    assert "gp" not in plain and "fm" not in plain


def test_ema_generator_is_used_for_sampling():
    gan = _tiny_gan(ema=0.9)
    gan.fit(_data(), epochs=1, verbose=0)
    assert gan.sampler is gan.ema_generator
    ema_w, g_w = gan.ema_generator.get_weights(), gan.generator.get_weights()
    assert any(not np.allclose(a, b) for a, b in zip(ema_w, g_w))
    assert _tiny_gan().sampler is not None


def test_label_tricks_refused_for_unlabelled_losses():
    with pytest.raises(ValueError, match="label-based"):
        _tiny_gan(loss="hinge", label_smoothing=0.1)


def _layer_types(model):
    return {layer.__class__.__name__ for layer in model.layers}


def test_config_switches_change_the_built_models():
    base = for_profile("smoke", dataset="fashion_mnist")
    gan = build_gan(base)
    assert "SpectralNormalization" not in _layer_types(gan.discriminator)
    sn = build_gan(base.replace(spectral_norm=True, minibatch_std=True, d_dropout=0.0))
    assert {"SpectralNormalization", "MinibatchStdDev"} <= _layer_types(sn.discriminator)
    assert "Dropout" not in _layer_types(sn.discriminator)
    resize = build_gan(base.replace(upsample="resize"))
    assert "UpSampling2D" in _layer_types(resize.generator) and "Conv2DTranspose" not in _layer_types(resize.generator)
    wide = build_gan(base.replace(g_width=16))
    assert wide.generator.count_params() > gan.generator.count_params()
    opt = build_gan(base.replace(d_optimizer="sgd", g_optimizer="rmsprop", d_lr=0.01))
    assert isinstance(opt.d_optimizer, keras.optimizers.SGD) and isinstance(opt.g_optimizer, keras.optimizers.RMSprop)
    assert float(opt.d_optimizer.learning_rate) == pytest.approx(0.01)
    wgan = build_gan(base.replace(loss="wasserstein", n_critic=5, ema=0.99, feature_matching=0.5))
    assert (wgan.loss_name, wgan.gp_weight, wgan.n_critic, wgan.feature_matching) == ("wasserstein", 10.0, 5, 0.5)
    assert wgan.ema_generator is not None
    smooth = build_gan(base.replace(label_smoothing=0.1, label_noise=0.05, label_flip=0.05))
    assert (smooth.real_label, smooth.label_noise, smooth.label_flip) == (0.9, 0.05, 0.05)


def test_minibatch_std_sees_batch_diversity():
    from gan_kit.models import MinibatchStdDev

    layer = MinibatchStdDev()
    same = layer(tf.ones([4, 2, 2, 3])).numpy()[..., -1]
    varied = layer(tf.random.normal([4, 2, 2, 3])).numpy()[..., -1]
    assert np.allclose(same, same.flat[0]) and same.flat[0] < 1e-3
    assert varied.mean() > 0.3


def test_train_with_every_trick_writes_history(tmp_path):
    import gan_kit

    cfg = for_profile("smoke", dataset="fashion_mnist", output_dir=str(tmp_path), batch_size=8, max_examples=32,
                      instance_noise=0.1, instance_noise_epochs=2, label_smoothing=0.1, ema=0.9, minibatch_std=True,
                      feature_matching=0.1, upsample="resize", grid_size=2)
    x = np.random.default_rng(0).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    run = gan_kit.train(cfg, dataset=tf.data.Dataset.from_tensor_slices(x).batch(8), verbose=0)
    assert run.history["instance_noise"] == pytest.approx([0.1, 0.05])
    assert "fm" in run.history
    assert (run.path / "generator_ema.keras").exists()


def test_ring_collapses_with_a_strong_d_and_is_covered_when_stabilized():
    from gan_kit.toy import TOY_PRESETS, train_toy

    start = time.perf_counter()
    collapsed = train_toy(seed=0, **TOY_PRESETS["collapsing"])
    stable = train_toy(seed=0, **TOY_PRESETS["stabilized"])
    elapsed = time.perf_counter() - start
    assert collapsed.coverage["covered"] <= 4, collapsed.coverage
    assert stable.coverage["covered"] >= 7, stable.coverage
    assert elapsed < 60, f"the two toy runs took {elapsed:.0f} s"


def test_mode_coverage_counts():
    from gan_kit.toy import mode_coverage_2d, ring_centers, ring_data

    assert mode_coverage_2d(ring_data(4000, seed=1))["covered"] == 8
    one = np.repeat(ring_centers()[:1], 500, axis=0)
    cov = mode_coverage_2d(one)
    assert cov["covered"] == 1 and cov["counts"][0] == 500
    assert mode_coverage_2d(np.zeros((100, 2)))["covered"] == 0
    with pytest.raises(ValueError, match="shape"):
        mode_coverage_2d(np.zeros((3, 3)))
