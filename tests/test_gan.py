"""The GAN model (gan_kit.gan): every stabilization switch is real (changes the model or the step) and pinned by values.

The losses themselves (hand values, the gradient penalty, feature matching) are tested in test_losses.py, the
instance-noise schedule's values in test_callbacks.py, and the 2-D toy GAN in test_toy.py.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_kit.callbacks import InstanceNoiseSchedule
from gan_kit.config import for_profile
from gan_kit.gan import GAN, build_gan
from gan_kit.models import build_discriminator, build_generator


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


def test_a_saved_run_samples_and_scores_with_its_ema(tmp_path, monkeypatch):
    """Bug: ``runs.load_generator`` (so ``metrics.evaluate``, ``Run.load`` and the lab) read ``generator.keras``,
    G's own weights, while training's grids and metrics use the EMA copy: a finished quick run (whose recipe
    keeps an EMA) was scored on a different model from the one it showed."""
    import gan_kit
    from gan_kit import runs
    from gan_kit.metrics import evaluation

    cfg = for_profile("smoke", dataset="fashion_mnist", output_dir=str(tmp_path), batch_size=8, max_examples=32,
                      ema=0.5, grid_size=2)
    x = np.random.default_rng(0).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    run = gan_kit.train(cfg, dataset=tf.data.Dataset.from_tensor_slices(x).batch(8), verbose=0)
    ema, own = run.model.ema_generator.get_weights(), run.model.generator.get_weights()
    assert not all(np.allclose(a, b) for a, b in zip(ema, own))  # the test means something

    def same(model, weights):
        return all(np.array_equal(a, b) for a, b in zip(model.get_weights(), weights))

    assert same(runs.load_generator(run.path), ema)
    assert same(runs.Run.load(run.path).generator, ema)
    assert same(runs.load_model(run.path / runs.GENERATOR_FILE), own)  # G itself is still there

    class Scored(Exception):
        pass

    def record(generator, *args, **kwargs):
        raise Scored(generator)

    monkeypatch.setattr(evaluation, "config_extractor", lambda *a, **k: None)
    monkeypatch.setattr(evaluation, "config_reference", lambda *a, **k: None)
    monkeypatch.setattr(evaluation, "generated_batches", record)
    with pytest.raises(Scored) as scored:
        evaluation.evaluate(run.path, samples=8)
    assert same(scored.value.args[0], ema)


# --------------------------------------------------------------------------- the step uses every trick


def _record(gan, attr):
    """Wrap ``gan.<attr>`` (a loss function or ``_noisy``) to record its arguments and result."""
    calls = []
    original = getattr(gan, attr)

    def wrapped(*args):
        result = original(*args)
        calls.append({"args": [np.asarray(a) if hasattr(a, "numpy") else a for a in args], "result": result})
        return result

    setattr(gan, attr, wrapped)
    return calls


ZEROS = tf.zeros([256, 28, 28, 1])


@pytest.mark.parametrize("kwargs", [{}, {"label_smoothing": 0.1}, {"label_noise": 0.2}, {"label_flip": 0.25}],
                         ids=["plain", "smoothing", "noise", "flip"])
def test_discriminator_step_hands_the_label_tricks_to_the_loss(kwargs):
    gan = _tiny_gan(**kwargs)
    calls = _record(gan, "d_loss_fn")
    gan.discriminator_step(ZEROS)
    _, _, real, fake = calls[0]["args"]
    assert real.shape == fake.shape == (256,)
    if not kwargs:
        assert np.all(real == 1) and np.all(fake == 0)
    elif "label_smoothing" in kwargs:
        assert np.allclose(real, 0.9) and np.all(fake == 0)
    elif "label_noise" in kwargs:
        assert abs(real.mean() - 1) < 0.05 and abs(real.std() - 0.2) < 0.04 and abs(fake.std() - 0.2) < 0.04
    else:
        flipped = real == 0
        assert 0.15 < flipped.mean() < 0.35 and np.all(fake[flipped] == 1) and np.all(fake[~flipped] == 0)


def test_instance_noise_reaches_d_in_both_steps():
    plain = _tiny_gan()
    logits = _record(plain, "d_loss_fn")
    plain.discriminator_step(ZEROS)
    assert np.ptp(logits[0]["args"][0]) == 0  # identical real inputs, identical logits
    noisy = _tiny_gan()
    noisy.instance_noise_std.assign(0.5)
    logits = _record(noisy, "d_loss_fn")
    noised = _record(noisy, "_noisy")
    noisy.discriminator_step(ZEROS)
    assert np.ptp(logits[0]["args"][0]) > 0  # the noise made them differ
    assert len(noised) == 2  # real and fake batches
    assert abs(noised[0]["result"].numpy().std() - 0.5) < 0.01
    noisy.generator_step(ZEROS)
    assert len(noised) == 3  # G's samples are noised before D judges them too


def test_gradient_penalty_is_added_to_d_loss_in_the_step():
    gan = _tiny_gan(loss="wasserstein", gp_weight=10.0)
    calls = _record(gan, "d_loss_fn")
    out = gan.discriminator_step(tf.random.uniform([16, 28, 28, 1], -1, 1))
    pure = float(calls[0]["result"])
    assert float(out["gp"]) > 0
    assert float(out["d_loss"]) == pytest.approx(pure + 10.0 * float(out["gp"]), rel=1e-5)


def test_feature_matching_is_added_to_g_loss_in_the_step():
    gan = _tiny_gan(feature_matching=2.0)
    calls = _record(gan, "g_loss_fn")
    out = gan.generator_step(tf.random.uniform([16, 28, 28, 1], -1, 1))
    pure = float(calls[0]["result"])
    assert float(out["fm"]) > 0
    assert float(out["g_loss"]) == pytest.approx(pure + 2.0 * float(out["fm"]), rel=1e-5)
    assert gan._features.output.shape[-1] == gan.discriminator.get_layer("features").output.shape[-1]


def test_ema_weights_follow_the_warmed_up_decay_after_a_generator_step():
    """After t G updates the average moves with decay min(ema, (1 + t) / (10 + t)): 2/11 after the first, so
    it does not lag behind G (a plain 0.9 would keep 90% of the random initial weights)."""
    gan = _tiny_gan(ema=0.9)
    before = [w.numpy() for w in gan.generator.weights]
    assert all(np.array_equal(a, b.numpy()) for a, b in zip(before, gan.ema_generator.weights))
    gan.generator_step(tf.random.uniform([8, 28, 28, 1], -1, 1))
    after = [w.numpy() for w in gan.generator.weights]
    assert any(not np.allclose(a, b) for a, b in zip(before, after))
    for avg, b, a in zip(gan.ema_generator.weights, before, after):
        assert np.allclose(avg.numpy(), (2 / 11) * b + (9 / 11) * a, atol=1e-6)
    gan.g_optimizer.iterations.assign(1000)  # late in training the decay is the configured 0.9
    mid = [w.numpy() for w in gan.ema_generator.weights]
    gan.generator_step(tf.random.uniform([8, 28, 28, 1], -1, 1))
    for avg, m, a in zip(gan.ema_generator.weights, mid, gan.generator.weights):
        assert np.allclose(avg.numpy(), 0.9 * m + 0.1 * a.numpy(), atol=1e-6)


# --------------------------------------------------------------------------- every config switch reaches the build


def _fingerprint(gan) -> dict:
    """Everything a config switch can change in a built GAN, as comparable JSON text."""
    import json

    def text(obj):
        return json.dumps(obj, sort_keys=True, default=str)

    def optimizer(opt):  # without its name, which Keras numbers in creation order
        return type(opt).__name__ + text({k: v for k, v in opt.get_config().items() if k != "name"})

    return {
        "generator": text(gan.generator.get_config()),
        "discriminator": text(gan.discriminator.get_config()),
        "g_optimizer": optimizer(gan.g_optimizer),
        "d_optimizer": optimizer(gan.d_optimizer),
        "step": (gan.loss_name, gan.g_loss_fn, gan.d_loss_fn, gan.real_label, gan.label_noise, gan.label_flip,
                 gan.gp_weight, gan.n_critic, gan.g_steps, gan.feature_matching, gan.ema, gan.reuse_fakes),
    }


# field -> (value, the part of the built GAN it must change)
SWITCHES = {
    "d_dropout": (0.0, "discriminator"),
    "spectral_norm": (True, "discriminator"),
    "minibatch_std": (True, "discriminator"),
    "upsample": ("resize", "generator"),
    "g_width": (16, "generator"),
    "ema": (0.99, "step"),
    "feature_matching": (0.5, "step"),
    "label_smoothing": (0.1, "step"),
    "label_noise": (0.05, "step"),
    "label_flip": (0.05, "step"),
    "n_critic": (3, "step"),
    "g_steps": (2, "step"),
    "reuse_fakes": (False, "step"),
    "loss": ("hinge", "step"),
    "gradient_penalty": (5.0, "step"),
    "g_optimizer": ("sgd", "g_optimizer"),
    "d_optimizer": ("rmsprop", "d_optimizer"),
    "g_lr": (3e-4, "g_optimizer"),
    "d_lr": (4e-4, "d_optimizer"),
    "g_beta1": (0.2, "g_optimizer"),
    "d_beta1": (0.2, "d_optimizer"),
    "g_beta2": (0.9, "g_optimizer"),
    "d_beta2": (0.9, "d_optimizer"),
}


@pytest.fixture(scope="module")
def base_build():
    base = for_profile("smoke", dataset="fashion_mnist")
    return base, _fingerprint(build_gan(base))


@pytest.mark.parametrize("field", sorted(SWITCHES))
def test_each_config_switch_changes_exactly_its_part_of_the_built_gan(field, base_build):
    base, before = base_build
    value, part = SWITCHES[field]
    assert getattr(base, field) != value
    after = _fingerprint(build_gan(base.replace(**{field: value})))
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {part}, f"{field}={value!r} changed {sorted(changed)}, expected only {part!r}"


def test_dropout_rate_and_generator_width_are_the_configured_ones():
    base = for_profile("smoke", dataset="fashion_mnist")
    gan = build_gan(base.replace(d_dropout=0.25, g_width=12))
    drops = [layer for layer in gan.discriminator.layers if isinstance(layer, keras.layers.Dropout)]
    assert len(drops) == 2 and all(layer.rate == 0.25 for layer in drops)  # one per conv block at 28x28
    assert [gan.generator.get_layer(n).filters for n in ("up1", "up2")] == [24, 12]
    ttur = build_gan(base.replace(g_lr=1e-4, d_lr=4e-4, g_beta1=0.2, d_beta1=0.5, g_beta2=0.9, d_beta2=0.99))
    g, d = ttur.g_optimizer, ttur.d_optimizer
    assert (float(g.learning_rate), g.beta_1, g.beta_2) == pytest.approx((1e-4, 0.2, 0.9))
    assert (float(d.learning_rate), d.beta_1, d.beta_2) == pytest.approx((4e-4, 0.5, 0.99))


def test_spectral_norm_bounds_the_largest_singular_value():
    d = build_discriminator((28, 28, 1), width=4, dropout=0.0, spectral_norm=True)
    assert "BatchNormalization" not in _layer_types(d)
    x = tf.random.uniform([8, 28, 28, 1], -1, 1)
    for _ in range(30):  # power iteration converges over calls in training mode
        d(x, training=True)
    wrapped = [layer for layer in d.layers if isinstance(layer, keras.layers.SpectralNormalization)]
    assert len(wrapped) == 3  # two convs and the logit layer
    for layer in wrapped:
        kernel = layer.kernel.numpy()
        sigma = np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]
        assert sigma == pytest.approx(1.0, abs=0.05), layer.name


def test_minibatch_std_makes_d_see_the_rest_of_the_batch():
    x = np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 1)).astype("float32")
    y = x.copy()
    y[1:] = 0.0  # same first image, the rest of the batch identical: no diversity
    for minibatch_std in (False, True):
        keras.utils.set_random_seed(0)
        d = build_discriminator((28, 28, 1), width=4, dropout=0.0, minibatch_std=minibatch_std)
        first_x, first_y = d(x, training=False).numpy()[0], d(y, training=False).numpy()[0]
        if minibatch_std:
            assert not np.allclose(first_x, first_y)
        else:
            assert np.allclose(first_x, first_y, atol=1e-6)


def test_label_smoothing_of_one_half_is_refused_by_the_config():
    from gan_kit.config import Config, ConfigError

    with pytest.raises(ConfigError, match="label_smoothing"):
        Config(label_smoothing=0.5)
    assert Config(label_smoothing=0.45).label_smoothing == 0.45


@pytest.mark.parametrize("reuse,n_critic,g_steps,expected", [
    (True, 1, 1, 1), (False, 1, 1, 2), (True, 3, 2, 4), (False, 3, 2, 5)])
def test_reuse_fakes_runs_the_generator_once_for_the_shared_updates(reuse, n_critic, g_steps, expected):
    gan = _tiny_gan(n_critic=n_critic, g_steps=g_steps, reuse_fakes=reuse)
    calls = []
    generate = gan._generate
    gan._generate = lambda z, labels=None: calls.append(1) or generate(z, labels)
    gan.train_step(tf.random.uniform([8, 28, 28, 1], -1, 1))  # eager: one Python call per G forward
    assert len(calls) == expected
    assert int(gan.d_optimizer.iterations) == n_critic and int(gan.g_optimizer.iterations) == g_steps


@pytest.mark.parametrize("reuse", [True, False])
def test_generator_update_goes_through_the_updated_discriminator(reuse):
    """The G update is the gradient of -log D'(G(z)) with D' the discriminator after this step's update;
    with reuse_fakes z is the D update's noise, else fresh noise. Checked against a hand-written step."""
    from gan_kit.losses import bce_discriminator_loss, bce_generator_loss

    def models():
        keras.utils.set_random_seed(1)
        g = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh")])
        d = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="tanh"), keras.layers.Dense(1)])
        return g, d

    g, d = models()
    gan = GAN(g, d, 3, seed=0)
    gan.compile(keras.optimizers.SGD(0.5), keras.optimizers.SGD(0.5), reuse_fakes=reuse)
    noise = [tf.constant(np.random.default_rng(i).standard_normal((6, 3)), tf.float32) for i in range(2)]
    draws = iter(noise)
    gan.sample_noise = lambda batch: next(draws)
    real = tf.constant(np.random.default_rng(9).uniform(-1, 1, (6, 4)), tf.float32)
    gan.train_step(real)

    g2, d2 = models()
    with tf.GradientTape() as tape:
        d_loss = bce_discriminator_loss(d2(real), d2(g2(noise[0])))
    for w, grad in zip(d2.trainable_weights, tape.gradient(d_loss, d2.trainable_weights)):
        w.assign_sub(0.5 * grad)
    with tf.GradientTape() as tape:
        g_loss = bce_generator_loss(d2(g2(noise[0] if reuse else noise[1])))
    for w, grad in zip(g2.trainable_weights, tape.gradient(g_loss, g2.trainable_weights)):
        w.assign_sub(0.5 * grad)
    for mine, expected in zip(g.weights + d.weights, g2.weights + d2.weights):
        np.testing.assert_allclose(mine.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


def _notebook_changes():
    """The CHANGES dictionary of notebook 03, executed from its own cell."""
    import json
    from pathlib import Path

    from gan_kit import config

    cells = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / "03_stabilizing_gans.ipynb").read_text())
    source = next("".join(c["source"]) for c in cells["cells"]
                  if c["cell_type"] == "code" and "CHANGES = {" in "".join(c["source"]))
    scope = {"config": config, "changes": None}
    exec(source, scope)
    return scope["CHANGES"]


def test_notebook_03_wgan_gp_is_the_published_method():
    """Notebook 03's `wgan_gp` image change: 5 critic steps, Adam(1e-4, 0, 0.9), penalty 10, no BatchNorm in D."""
    change = _notebook_changes()["wgan_gp"]
    cfg = for_profile("smoke", dataset="digits").replace(**change["image"])
    assert (cfg.loss, cfg.gradient_penalty, cfg.n_critic) == ("wasserstein", 10.0, 5)
    assert (cfg.g_lr, cfg.d_lr, cfg.g_beta1, cfg.d_beta1, cfg.g_beta2, cfg.d_beta2) == (1e-4, 1e-4, 0.0, 0.0, 0.9, 0.9)
    assert "batch_size" not in change["image"]  # every image run keeps the baseline's batch
    gan = build_gan(cfg)
    kinds = {type(layer).__name__ for layer in gan.discriminator._flatten_layers()}
    assert gan.n_critic == 5
    assert "BatchNormalization" not in kinds and "LayerNormalization" in kinds
    toy = change["toy"]
    assert (toy["loss"], toy["gp_weight"], toy["n_critic"], toy["beta1"], toy["beta2"]) == ("wasserstein", 10.0, 5, 0.0,
                                                                                            0.9)


def _image_selection(profile_name, image_changes, selected=None):
    """``image_selected`` as notebook 03's own cell computes it for a profile and the two parameters."""
    import json
    from pathlib import Path

    cells = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / "03_stabilizing_gans.ipynb").read_text())
    source = next("".join(c["source"]) for c in cells["cells"]
                  if c["cell_type"] == "code" and "DEFAULT_IMAGE_CHANGES = " in "".join(c["source"]))
    changes = _notebook_changes()
    scope = {"CHANGES": changes, "selected": list(changes) if selected is None else selected,
             "profile_name": profile_name, "image_changes": image_changes}
    exec(source, scope)
    return scope["image_selected"]


def test_notebook_03_trains_three_changes_on_images_unless_told_otherwise():
    """Under smoke and quick the image part runs three of the nine changes; under full all of them; a list picks."""
    three = ["label_smoothing", "n_critic", "spectral_norm"]
    assert _image_selection("quick", None) == _image_selection("smoke", None) == three
    assert _image_selection("full", None) == list(_notebook_changes())
    assert _image_selection("quick", None, selected=["n_critic", "hinge"]) == ["n_critic"]
    assert _image_selection("quick", ["wgan_gp"]) == ["wgan_gp"]
    with pytest.raises(ValueError, match="Unknown image change.*Choose from"):
        _image_selection("quick", ["label_smothing"])


def test_notebook_03_toy_changes_are_train_toy_arguments():
    """Each toy change of notebook 03 names real ``train_toy`` arguments, and TTUR's toy rates are 4x apart."""
    import inspect

    from gan_kit import toy

    allowed = set(inspect.signature(toy.train_toy).parameters)
    changes = _notebook_changes()
    for name, change in changes.items():
        assert set(change["toy"]) <= allowed, (name, set(change["toy"]) - allowed)
    assert changes["ttur"]["toy"]["d_lr"] == 4 * changes["ttur"]["toy"]["g_lr"]
