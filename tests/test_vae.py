"""Tests for gan_kit.vae: the KL and reconstruction terms by hand, the reparameterization trick,
training on real images (scikit-learn's digits, always at hand), latent paths, and a VAE run folder."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gan_kit
from gan_kit import fileio, losses, models, runs, vae
from gan_kit.images import to_unit_range

LN2 = math.log(2.0)


# =============================================================================== the loss terms


def test_kl_matches_hand_computed_values():
    # KL(N(mu, s^2) || N(0, 1)) = 0.5 * (mu^2 + s^2 - 1 - ln s^2) per dimension, summed.
    # Row 0: the prior itself -> 0.
    # Row 1: mu = (1, -2), s^2 = (2, 1/2): 0.5 * [(1 + 2 - 1 - ln 2) + (4 + 0.5 - 1 + ln 2)] = 0.5 * 5.5 = 2.75.
    # Row 2: mu = (0.5, 0), s^2 = (e, 1):   0.5 * (0.25 + e - 1 - 1) = 0.5 * (e - 1.75).
    mean = np.array([[0.0, 0.0], [1.0, -2.0], [0.5, 0.0]], np.float32)
    log_var = np.array([[0.0, 0.0], [LN2, -LN2], [1.0, 0.0]], np.float32)
    got = np.asarray(losses.kl_divergence(mean, log_var))
    assert got.shape == (3,)
    np.testing.assert_allclose(got, [0.0, 2.75, 0.5 * (math.e - 1.75)], rtol=1e-6, atol=1e-7)


def test_kl_is_zero_only_at_the_prior_and_grows_with_the_mean():
    mean = np.array([[0.0], [0.5], [1.0], [2.0]], np.float32)
    got = np.asarray(losses.kl_divergence(mean, np.zeros_like(mean)))
    np.testing.assert_allclose(got, 0.5 * mean[:, 0] ** 2, rtol=1e-6)
    assert got[0] == 0 and np.all(np.diff(got) > 0)


def test_reconstruction_loss_by_hand():
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (3, 4, 4, 1)).astype(np.float32)
    logits = rng.normal(0, 2, (3, 4, 4, 1)).astype(np.float32)
    target = (images + 1) / 2
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    bce = -(target * np.log(p) + (1 - target) * np.log(1 - p))
    np.testing.assert_allclose(losses.reconstruction_loss(images, logits, "bce"), bce.sum(axis=(1, 2, 3)), rtol=1e-5)
    mse = (np.tanh(logits.astype(np.float64)) - images) ** 2
    np.testing.assert_allclose(losses.reconstruction_loss(images, logits, "mse"), mse.sum(axis=(1, 2, 3)), rtol=1e-5)
    # All-zero logits predict grey (p = 0.5): BCE = ln 2 per pixel whatever the target.
    zero = losses.reconstruction_loss(images, np.zeros_like(logits), "bce")
    np.testing.assert_allclose(zero, 16 * LN2, rtol=1e-6)
    with pytest.raises(ValueError, match="kind"):
        losses.reconstruction_loss(images, logits, "l1")


@pytest.mark.parametrize("recon_loss", ["bce", "mse"])
def test_decoder_output_is_the_loss_mapping_of_its_logits(recon_loss):
    model = vae.VAE(models.build_encoder(4, (28, 28, 1), 8), models.build_decoder(4, (28, 28, 1), 8, recon_loss), 4,
                    recon_loss=recon_loss)
    z = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32) * 3
    logits = np.asarray(model.decode_logits(z))
    images = np.asarray(model.decode(z))
    assert images.shape == (5, 28, 28, 1) and np.abs(images).max() <= 1.0
    # bce: tanh(l / 2) = 2 * sigmoid(l) - 1, the Bernoulli mean mapped to [-1, 1]; mse: tanh(l).
    expected = 2 / (1 + np.exp(-logits)) - 1 if recon_loss == "bce" else np.tanh(logits)
    np.testing.assert_allclose(images, expected, atol=1e-5)


def _fixed_moments_vae(mean, log_var, **kwargs) -> vae.VAE:
    """A VAE whose encoder gives every image the same (mean, log_var): its Dense kernel is 0, its bias the moments."""
    d = len(mean)
    model = vae.VAE(models.build_encoder(d, (28, 28, 1), 4), models.build_decoder(d, (28, 28, 1), 4), d, **kwargs)
    layer = model.encoder.get_layer("mean_logvar")
    kernel, _ = layer.get_weights()
    layer.set_weights([np.zeros_like(kernel), np.concatenate([mean, log_var]).astype(np.float32)])
    return model


def test_compute_losses_wires_mean_first_and_weights_kl_by_beta():
    model = _fixed_moments_vae([1.0, -2.0], [LN2, -LN2], beta=4.0)
    images = np.random.default_rng(2).uniform(-1, 1, (6, 28, 28, 1)).astype(np.float32)
    out = {k: float(v) for k, v in model.compute_losses(images).items()}
    assert out["kl_loss"] == pytest.approx(2.75, rel=1e-5)  # the hand value of test_kl_matches_hand_computed_values
    assert out["loss"] == pytest.approx(out["recon_loss"] + 4.0 * 2.75, rel=1e-5)


def test_reparameterization_statistics_and_gradients():
    import tensorflow as tf

    mean = np.array([1.0, -2.0, 0.0], np.float32)
    log_var = np.log(np.array([4.0, 0.25, 1.0], np.float32))
    model = _fixed_moments_vae(mean, log_var, seed=3)
    n = 20000
    m = tf.constant(np.tile(mean, (n, 1)))
    lv = tf.constant(np.tile(log_var, (n, 1)))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([m, lv])
        z = model.reparameterize(m, lv)
        total = tf.reduce_sum(z)
    z = np.asarray(z)
    # Sample moments of N(mean, exp(log_var)): standard errors are std / sqrt(n) < 0.015 here.
    np.testing.assert_allclose(z.mean(0), mean, atol=0.05)
    np.testing.assert_allclose(z.std(0), [2.0, 0.5, 1.0], rtol=0.03)
    corr = np.corrcoef(z, rowvar=False)
    assert np.abs(corr[np.triu_indices(3, 1)]).max() < 0.05  # independent dimensions
    # Gradients pass through the sampling: dz/dmean = 1, dz/dlog_var = (z - mean) / 2.
    np.testing.assert_allclose(tape.gradient(total, m), 1.0)
    np.testing.assert_allclose(tape.gradient(total, lv), (z - mean) / 2, atol=1e-5)
    # The noise comes from the model's seeded generator: a fresh model with the same seed draws the same.
    again = _fixed_moments_vae(mean, log_var, seed=3).reparameterize(m[:8], lv[:8])
    np.testing.assert_allclose(np.asarray(again), z[:8], atol=1e-6)


def test_constructor_checks():
    enc, dec = models.build_encoder(4, (28, 28, 1), 4), models.build_decoder(4, (28, 28, 1), 4)
    with pytest.raises(ValueError, match="2 \\* latent_dim"):
        vae.VAE(enc, dec, 3)
    with pytest.raises(ValueError, match="recon_loss"):
        vae.VAE(enc, dec, 4, recon_loss="l2")
    with pytest.raises(ValueError, match="beta"):
        vae.VAE(enc, dec, 4, beta=-1.0)
    with pytest.raises(ValueError, match="28x28 or 32x32"):
        models.build_encoder(4, (48, 48, 3))
    for build in (models.build_encoder, models.build_decoder):  # 64x64 is the GANs' size only, and the message says so
        with pytest.raises(ValueError, match="set image_size=28 or 32"):
            build(4, (64, 64, 1))


# =============================================================================== training on real images


@pytest.fixture(scope="module")
def digits():
    from gan_kit import data

    x, y, _ = data.load_arrays("digits", "train", image_size=32, channels=1)
    return to_unit_range(x), y


def test_reconstruction_loss_falls_over_a_few_steps_on_real_digits(digits):
    import keras
    import tensorflow as tf

    x, _ = digits
    train, held_out = x[:256], x[-64:]
    keras.utils.set_random_seed(0)
    model = vae.VAE(models.build_encoder(8, (32, 32, 1), 8), models.build_decoder(8, (32, 32, 1), 8), 8, seed=0)
    model.compile(keras.optimizers.Adam(2e-3))

    def recon(images):  # deterministic: decode the posterior means
        mean, _ = model.encode(images)
        return float(tf.reduce_mean(losses.reconstruction_loss(images, model.decode_logits(mean))))

    before = recon(held_out)
    history = model.fit(tf.data.Dataset.from_tensor_slices(train).batch(32), epochs=4, verbose=0).history
    after = recon(held_out)
    assert before == pytest.approx(1024 * LN2, rel=0.05)  # an untrained decoder predicts about p = 0.5
    assert after < 0.8 * before, (before, after)
    assert history["recon_loss"][-1] < history["recon_loss"][0]
    assert set(history) >= {"loss", "recon_loss", "kl_loss"}


# =============================================================================== latent paths


def test_lerp_and_slerp_endpoints_and_norms():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=16), rng.normal(size=16)
    b *= np.linalg.norm(a) / np.linalg.norm(b)  # equal norms
    line, arc = vae.lerp(a, b, 9), vae.slerp(a, b, 9)
    for path in (line, arc):
        assert path.shape == (9, 16) and path.dtype == np.float32
        np.testing.assert_allclose(path[0], a, rtol=1e-6)
        np.testing.assert_allclose(path[-1], b, rtol=1e-6)
    np.testing.assert_allclose(line[4], (a + b) / 2, rtol=1e-5)
    # The great circle keeps the norm of equal-norm endpoints; the straight line cuts inside the sphere.
    np.testing.assert_allclose(np.linalg.norm(arc, axis=1), np.linalg.norm(a), rtol=1e-5)
    assert np.linalg.norm(line[4]) < 0.95 * np.linalg.norm(a)
    np.testing.assert_allclose(vae.slerp(a, 2 * a, 5), vae.lerp(a, 2 * a, 5), rtol=1e-6)  # parallel: a line
    np.testing.assert_allclose(vae.interpolate_latents(a, b, 9, "spherical"), arc)
    with pytest.raises(ValueError, match="method"):
        vae.interpolate_latents(a, b, 9, "cubic")


def test_interpolation_endpoints_decode_to_the_endpoints_reconstructions(digits):
    x, _ = digits
    model = vae.VAE(models.build_encoder(6, (32, 32, 1), 8), models.build_decoder(6, (32, 32, 1), 8), 6)
    a, b = x[0], x[1]
    path = model.interpolate(a, b, steps=7)
    assert path.shape == (7, 32, 32, 1)
    ends = model.reconstruct(np.stack([a, b]))
    np.testing.assert_allclose(path[0], ends[0], atol=1e-5)
    np.testing.assert_allclose(path[-1], ends[1], atol=1e-5)
    assert np.abs(path[3] - path[0]).max() > 1e-4  # the middle of the path is neither end
    # uint8 images are accepted and scaled the same way.
    from gan_kit import data

    raw, _, _ = data.load_arrays("digits", "train", image_size=32, channels=1, max_examples=2)
    np.testing.assert_allclose(model.reconstruct(raw), model.reconstruct(to_unit_range(raw)), atol=1e-6)


# =============================================================================== a VAE run folder


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    """Two smoke epochs of a 2-D-latent VAE on digits through gan_kit.train (model="vae")."""
    root = tmp_path_factory.mktemp("vae_runs")
    cfg = gan_kit.for_profile("smoke", model="vae", dataset="digits", name="vae2d", output_dir=str(root),
                              latent_dim=2, epochs=2, steps_per_epoch=3, batch_size=16, max_examples=64,
                              grid_size=3, g_lr=1e-3)
    return gan_kit.train(cfg, verbose=0)


def test_train_dispatches_to_the_vae_and_finishes(vae_run):
    assert isinstance(vae_run, vae.VAERun) and isinstance(vae_run.vae, vae.VAE)
    assert vae_run.status == "finished" and vae_run.discriminator is None
    assert vae_run.generator is vae_run.vae.decoder
    assert runs.read_status(vae_run.path)["state"] == "finished"


def test_history_has_the_loss_terms_per_epoch(vae_run):
    history = runs.load_history(vae_run.path)
    assert history["epoch"] == [1.0, 2.0]
    for key in ("loss", "recon_loss", "kl_loss", "epoch_time"):
        assert len(history[key]) == 2 and all(math.isfinite(v) for v in history[key]), key
    for total, rec, kl in zip(history["loss"], history["recon_loss"], history["kl_loss"]):
        assert kl >= 0 and total == pytest.approx(rec + kl, rel=1e-4)  # beta = 1
    assert vae_run.history["recon_loss"] == history["recon_loss"]


def test_run_folder_has_the_gan_layout(vae_run):
    path = vae_run.path
    for name in (runs.CONFIG_FILE, runs.HISTORY_FILE, runs.STATUS_FILE, runs.RUNTIME_FILE, runs.GIF_FILE):
        assert (path / name).is_file(), name
    assert [p.name for p in runs.sample_paths(path)] == ["epoch_0000.png", "epoch_0001.png", "epoch_0002.png"]
    assert runs.list_runs(path.parent) == [path]
    assert path.name.startswith("vae2d-")
    config = runs.read_config(path)
    assert config.model == "vae" and config.latent_dim == 2
    assert fileio.read_json(path / runs.RUNTIME_FILE)["mixed_precision"] == "float32"
    assert not list(path.glob(".*"))  # no temp files left
    # The models load in Keras' safe mode, and the decoder is a drop-in generator.
    decoder, encoder = vae.load_decoder(path), vae.load_encoder(path)
    assert decoder.input_shape == (None, 2) and decoder.output_shape == (None, 32, 32, 1)
    assert encoder.output_shape == (None, 4)


def _png(path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path)).astype(np.int16)


def test_artifacts_are_written_and_show_what_they_say(vae_run, tmp_path):
    from gan_kit.checkpoints import fixed_noise
    from gan_kit.images import save_image_grid, save_reconstructions

    path, config = vae_run.path, vae_run.config
    model = vae.load_vae(path)
    # Random samples from the prior: the last grid is the saved decoder on the run's fixed noise.
    expected = save_image_grid(model.decode_numpy(fixed_noise(config)), tmp_path / "grid.png", 3)
    assert np.abs(_png(runs.sample_paths(path)[-1]) - _png(expected)).max() <= 1
    # Reconstructions: one test image per class on top, their reconstructions below.
    x, y, _ = vae.evaluation_images(config, vae.PICK_POOL)
    idx = vae._one_per_class(y, 10)
    assert sorted(y[idx].tolist()) == list(range(10))
    real = x[idx].astype(np.float32) / 127.5 - 1
    expected = save_reconstructions(real, model.reconstruct(real), tmp_path / "recon.png")
    assert np.abs(_png(path / vae.RECONSTRUCTIONS_FILE) - _png(expected)).max() <= 1
    # Interpolations: 4 rows of real image, 10 decoded points, real image; the 2-D latent scatter.
    rows = _png(path / vae.INTERPOLATIONS_FILE)
    assert rows.shape[0] > rows.shape[1] / 12 * 3  # four rows of twelve square tiles
    scatter = _png(path / vae.LATENT_SCATTER_FILE)
    assert scatter.ndim == 3 and scatter.shape[0] > 200 and scatter[..., :3].std() > 10


def test_save_artifacts_returns_the_files_and_skips_the_scatter_above_2d(vae_run, tmp_path):
    config = vae_run.config.replace(latent_dim=3)
    model = vae.VAE(models.build_encoder(3, config.image_shape, 8), models.build_decoder(3, config.image_shape, 8), 3)
    written = vae.save_artifacts(model, tmp_path, config, n_recon=5, n_pairs=2, steps=4)
    assert set(written) == {"reconstructions", "interpolations"}
    assert all(p.is_file() for p in written.values())
    assert not (tmp_path / vae.LATENT_SCATTER_FILE).exists()


def test_train_vae_rejects_bad_requests(vae_run, tmp_path):
    with pytest.raises(gan_kit.checkpoints.ResumeError, match="cannot be resumed"):
        gan_kit.train(None, resume=vae_run.path)
    config = vae_run.config.replace(output_dir=str(tmp_path))
    with pytest.raises(ValueError, match="unconditional"):
        gan_kit.train(config.replace(conditional=True, num_classes=10))
    assert not list(tmp_path.iterdir())  # refused before a run folder was made
