"""Tests for gan_kit.checkpoints: the fixed noise, the saved training state and what may resume a run.

The end-to-end tests: SIGKILL mid-epoch then resume, at the end of this file; a NaN run keeping its last good state,
in test_training.py.
"""

from __future__ import annotations

import json
import signal
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import gan_kit
from gan_kit import checkpoints, fileio, runs
from gan_kit.checkpoints import ResumeError
from gan_kit.config import for_profile
from gan_kit.gan import GAN
from gan_kit.models import build_discriminator, build_generator
from tests.run_helpers import _config, _run

LATENT = 4


def _cfg(**kw):
    return for_profile("smoke", dataset="fashion_mnist", **kw)


def _gan(seed: int = 0) -> GAN:
    keras.utils.set_random_seed(seed)
    g = build_generator(LATENT, (28, 28, 1), width=4)
    d = build_discriminator((28, 28, 1), width=4, dropout=0.0)
    gan = GAN(g, d, LATENT, seed=seed)
    gan.compile(keras.optimizers.Adam(1e-3, 0.5), keras.optimizers.Adam(1e-3, 0.5))
    return gan


def _step(gan: GAN, n: int = 1) -> None:
    real = tf.constant(np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)), tf.float32)
    for _ in range(n):
        gan.train_step(real)


def _seeds(gan) -> list[np.ndarray]:
    return [np.asarray(v.numpy()) for v in checkpoints._seed_states(gan)]


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


# =============================================================================== fixed noise


def test_fixed_noise_is_fixed(tiny_config):  # moved from test_training.py
    np.testing.assert_array_equal(checkpoints.fixed_noise(tiny_config), checkpoints.fixed_noise(tiny_config))
    assert checkpoints.fixed_noise(tiny_config).shape == (16, tiny_config.latent_dim)
    assert not np.array_equal(checkpoints.fixed_noise(tiny_config),
                              checkpoints.fixed_noise(tiny_config.replace(seed=5)))


def test_fixed_noise_depends_on_the_seed_alone_and_is_shaped_by_the_grid():
    cfg = _cfg(grid_size=3, latent_dim=5, seed=11)
    noise = checkpoints.fixed_noise(cfg)
    assert noise.shape == (9, 5) and noise.dtype == np.float32
    np.testing.assert_array_equal(noise, checkpoints.fixed_noise(cfg.replace(d_lr=1e-2, epochs=7)))
    expected = np.random.default_rng(11 + 1_000_003).standard_normal((9, 5)).astype(np.float32)
    np.testing.assert_array_equal(noise, expected)
    assert checkpoints.fixed_noise(cfg.replace(grid_size=4, latent_dim=2)).shape == (16, 2)


def test_fixed_noise_for_stores_the_batch_then_reads_it_back(tmp_path):
    cfg = _cfg(grid_size=2, latent_dim=3, seed=1)
    path = runs.checkpoint_path(tmp_path, runs.NOISE_FILE)
    assert not path.exists()
    first = checkpoints.fixed_noise_for(tmp_path, cfg)
    np.testing.assert_array_equal(first, checkpoints.fixed_noise(cfg))
    np.testing.assert_array_equal(np.load(path), first)
    # A later call reads the stored batch, whatever the config now says.
    again = checkpoints.fixed_noise_for(tmp_path, cfg.replace(seed=99))
    np.testing.assert_array_equal(again, first)
    np.save(path, np.full((4, 3), 7.0, np.float32))
    np.testing.assert_array_equal(checkpoints.fixed_noise_for(tmp_path, cfg), np.full((4, 3), 7.0))
    assert [p.name for p in path.parent.iterdir()] == [runs.NOISE_FILE]  # no temp file left


# =============================================================================== save / read_state / restore


def test_save_read_state_restore_round_trip_into_a_fresh_gan(tmp_path):
    gan = _gan(seed=0)
    _step(gan, 3)
    checkpoints.save(gan, tmp_path, epoch=3)
    state = checkpoints.read_state(tmp_path)
    assert state["epoch"] == 3 and state["weights"] == "epoch_0003.weights.h5"
    assert len(state["seeds"]) == len(checkpoints._seed_states(gan)) >= 1
    assert json.loads(runs.checkpoint_path(tmp_path, runs.STATE_FILE).read_text()) == state

    fresh = _gan(seed=1)
    # Before the restore the fresh GAN differs in every respect the checkpoint covers.
    assert not _same(fresh.get_weights(), gan.get_weights())
    assert not _same(_seeds(fresh), _seeds(gan))
    assert not fresh.g_optimizer.built
    checkpoints.restore(fresh, tmp_path, state)
    assert _same(fresh.get_weights(), gan.get_weights())
    assert _same(_seeds(fresh), _seeds(gan))
    assert int(fresh.g_optimizer.iterations) == int(gan.g_optimizer.iterations) == 3
    assert int(fresh.d_optimizer.iterations) == int(gan.d_optimizer.iterations) == 3
    for mine, theirs in ((fresh.g_optimizer, gan.g_optimizer), (fresh.d_optimizer, gan.d_optimizer)):
        assert _same([v.numpy() for v in mine.variables], [v.numpy() for v in theirs.variables])  # Adam moments
    # Both continue identically: the next step draws the same noise and makes the same update.
    _step(gan)
    _step(fresh)
    for mine, theirs in zip(fresh.get_weights(), gan.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-7)


def test_restore_refuses_a_model_with_other_random_generators(tmp_path):
    gan = _gan()
    _step(gan)
    checkpoints.save(gan, tmp_path, epoch=1)
    state = checkpoints.read_state(tmp_path)
    state["seeds"] = state["seeds"] + [[0, 0]]
    with pytest.raises(fileio.RunFolderError, match="random-generator states"):
        checkpoints.restore(_gan(), tmp_path, state)


def test_only_the_last_keep_weight_files_stay(tmp_path):
    gan = _gan()
    for epoch in range(1, checkpoints.KEEP + 3):
        checkpoints.save(gan, tmp_path, epoch)
    last = checkpoints.KEEP + 2
    kept = sorted(p.name for p in runs.checkpoint_path(tmp_path).glob("*.weights.h5"))
    assert kept == [f"epoch_{e:04d}.weights.h5" for e in range(last - checkpoints.KEEP + 1, last + 1)]
    assert checkpoints.read_state(tmp_path)["weights"] == f"epoch_{last:04d}.weights.h5"
    assert not [p for p in runs.checkpoint_path(tmp_path).iterdir() if "tmp" in p.name]


def test_read_state_is_none_before_the_first_checkpoint(tmp_path):
    assert checkpoints.read_state(tmp_path) is None
    runs.checkpoint_path(tmp_path).mkdir()
    assert checkpoints.read_state(tmp_path) is None


def test_read_state_names_a_missing_weights_file(tmp_path):
    gan = _gan()
    checkpoints.save(gan, tmp_path, epoch=1)
    fileio.write_json(runs.checkpoint_path(tmp_path, runs.STATE_FILE),
                    {"epoch": 2, "weights": "epoch_0002.weights.h5", "seeds": []})
    with pytest.raises(fileio.RunFolderError, match=r"'epoch_0002.weights.h5', which is missing"):
        checkpoints.read_state(tmp_path)
    fileio.write_json(runs.checkpoint_path(tmp_path, runs.STATE_FILE), {"epoch": 2, "seeds": []})
    with pytest.raises(fileio.RunFolderError, match="missing"):  # no weights entry at all
        checkpoints.read_state(tmp_path)


def test_training_state_saves_after_every_epoch_until_diverged(tmp_path):
    gan = _gan()
    callback = checkpoints.TrainingState(tmp_path)
    callback.set_model(gan)
    callback.on_epoch_end(0)
    callback.on_epoch_end(1)
    assert checkpoints.read_state(tmp_path)["epoch"] == 2
    gan.diverged = {"epoch": 3, "step": 1, "metric": "g_loss", "value": "nan"}
    callback.on_epoch_end(2)
    assert checkpoints.read_state(tmp_path)["epoch"] == 2  # the last good state stays
    assert not runs.checkpoint_path(tmp_path, "epoch_0003.weights.h5").exists()


# =============================================================================== resume_config


@pytest.fixture
def run_dir(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    _cfg(epochs=2, d_lr=1e-4, seed=3).to_json(folder / runs.CONFIG_FILE)
    return folder


def test_resume_config_is_the_runs_own_config(run_dir):
    assert checkpoints.resume_config(run_dir, None) == _cfg(epochs=2, d_lr=1e-4, seed=3)
    assert checkpoints.resume_config(run_dir, _cfg(epochs=2, d_lr=1e-4, seed=3)) == _cfg(epochs=2, d_lr=1e-4, seed=3)


def test_resume_config_accepts_a_config_that_changes_only_epochs(run_dir):
    longer = _cfg(epochs=9, d_lr=1e-4, seed=3)
    assert checkpoints.resume_config(run_dir, longer) is longer


def test_resume_config_lists_every_other_changed_field(run_dir):
    changed = _cfg(epochs=9, d_lr=1e-3, seed=4, loss="hinge")
    with pytest.raises(ResumeError) as info:
        checkpoints.resume_config(run_dir, changed)
    message = str(info.value)
    for line in ("d_lr: run has 0.0001, new config has 0.001", "seed: run has 3, new config has 4",
                 "loss: run has 'bce', new config has 'hinge'"):
        assert line in message
    assert "epochs:" not in message  # the one field that may change
    listed = [line.split(":")[0].strip() for line in message.splitlines() if ": run has " in line]
    assert listed == ["d_lr", "loss", "seed"]  # sorted, one line each
    assert isinstance(info.value, ValueError)


def test_resume_config_refuses_a_folder_without_config(tmp_path):
    with pytest.raises(ResumeError, match="not a run folder"):
        checkpoints.resume_config(tmp_path, None)
    (tmp_path / runs.CONFIG_FILE).mkdir()  # a folder of that name is not a config file
    with pytest.raises(ResumeError, match=r"no config\.json"):
        checkpoints.resume_config(tmp_path, _cfg())


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    import keras
    import gan_kit

    class KillMidEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
        def on_train_batch_end(self, batch, logs=None):
            if self.epoch == 1 and batch == 1:  # second epoch, halfway through
                os.kill(os.getpid(), signal.SIGKILL)

    cfg = gan_kit.Config.from_json(sys.argv[1])
    gan_kit.train(cfg, callbacks=[KillMidEpoch()], verbose=0)
    """
)


def test_sigkill_mid_epoch_then_resume_equals_uninterrupted(tmp_path):
    killed_cfg = _config(tmp_path, "killed")
    ref_cfg = killed_cfg.replace(output_dir=str(tmp_path / "reference"))
    (tmp_path / "killed.json").write_text(killed_cfg.to_json())
    (tmp_path / "ref.json").write_text(ref_cfg.to_json())
    (tmp_path / "killer.py").write_text(KILLER)

    killed = _run([str(tmp_path / "killer.py"), str(tmp_path / "killed.json")])
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    (run_dir,) = runs.list_runs(tmp_path / "killed")
    assert runs.read_status(run_dir)["state"] == "running"
    assert checkpoints.read_state(run_dir)["epoch"] == 1  # the last complete epoch

    resumed = _run(["-m", "gan_kit", "train", "--resume", str(run_dir)])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    reference = _run(["-m", "gan_kit", "train", "--config", str(tmp_path / "ref.json")])
    assert reference.returncode == 0, reference.stderr[-2000:]
    (ref_dir,) = runs.list_runs(tmp_path / "reference")

    a, b = runs.load_history(run_dir), runs.load_history(ref_dir)
    assert a["epoch"] == b["epoch"] == [1.0, 2.0, 3.0]
    for column in ("g_loss", "d_loss", "d_real_prob", "d_fake_prob"):
        assert a[column] == b[column], column  # bit-exact: same seeds, same batches, deterministic ops
    g_a = gan_kit.runs.load_generator(run_dir).get_weights()
    g_b = gan_kit.runs.load_generator(ref_dir).get_weights()
    for wa, wb in zip(g_a, g_b):
        np.testing.assert_array_equal(wa, wb)
    assert runs.read_status(run_dir)["state"] == "finished"
    assert [p.name for p in runs.sample_paths(run_dir)] == [p.name for p in runs.sample_paths(ref_dir)]


def test_resume_refuses_a_changed_config(tmp_path):
    cfg = _config(tmp_path, "runs", epochs=1, deterministic=False)
    run = gan_kit.train(cfg, verbose=0)
    with pytest.raises(ResumeError, match=r"d_lr: run has 0.0001, new config has 0.001"):
        gan_kit.train(cfg.replace(d_lr=1e-3), resume=run.path, verbose=0)
    with pytest.raises(ResumeError, match="not a run folder"):
        gan_kit.train(None, resume=tmp_path, verbose=0)
    # More epochs is allowed: training continues from epoch 1.
    longer = gan_kit.train(cfg.replace(epochs=2), resume=run.path, verbose=0)
    assert longer.history["epoch"] == [1.0, 2.0] and longer.path == run.path
