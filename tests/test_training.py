import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import gan_kit
from gan_kit import checkpoints, fileio, runs
from gan_kit.checkpoints import fixed_noise
from gan_kit.config import for_profile
from gan_kit.gan import GAN
from gan_kit.models import build_discriminator, build_generator
from gan_kit.runs import load_generator
from tests.run_helpers import _config
from tests.test_devices import _cfg


def test_one_step_changes_both_models(tiny_dataset):
    g = build_generator(8, (32, 32, 3), width=8)
    d = build_discriminator((32, 32, 3), width=8)
    gan = GAN(g, d, latent_dim=8, seed=1)
    gan.compile(keras.optimizers.Adam(1e-3, 0.5), keras.optimizers.Adam(1e-3, 0.5))
    g_before = [w.copy() for w in g.get_weights()]
    d_before = [w.copy() for w in d.get_weights()]
    hist = gan.fit(tiny_dataset.take(1), epochs=1, verbose=0)
    assert any(not np.allclose(a, b) for a, b in zip(g_before, g.get_weights()))
    assert any(not np.allclose(a, b) for a, b in zip(d_before, d.get_weights()))
    logs = {k: v[-1] for k, v in hist.history.items()}
    assert set(logs) >= {"g_loss", "d_loss", "d_real_prob", "d_fake_prob"}
    assert 0 <= logs["d_real_prob"] <= 1 and 0 <= logs["d_fake_prob"] <= 1
    assert np.isfinite(logs["g_loss"]) and np.isfinite(logs["d_loss"])


def test_label_smoothing_is_checked():
    gan = GAN(build_generator(8, (28, 28, 1), 8), build_discriminator((28, 28, 1), 8), 8)
    with pytest.raises(ValueError, match="label_smoothing"):
        gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam(), label_smoothing=0.6)
    with pytest.raises(ValueError, match="Valid losses"):
        gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam(), loss="nope")


def test_train_writes_a_complete_run_folder(tiny_config, tiny_dataset):
    run = gan_kit.train(tiny_config, dataset=tiny_dataset, verbose=0)
    files = {p.name for p in run.path.iterdir()}
    assert {"config.json", "history.csv", "samples", "progress.gif", "generator.keras",
            "discriminator.keras", "status.json"} <= files
    assert gan_kit.Config.from_json(run.path / "config.json") == tiny_config
    history = runs.load_history(run.path)
    assert list(history) == ["epoch", "g_loss", "d_loss", "d_real_prob", "d_fake_prob", "epoch_time"]
    assert history["epoch"] == [1.0, 2.0]
    assert all(t > 0 for t in history["epoch_time"])
    assert run.history == history
    grids = [p.name for p in runs.sample_paths(run.path)]
    assert grids == ["epoch_0000.png", "epoch_0001.png", "epoch_0002.png"]
    assert json.loads((run.path / "status.json").read_text())["state"] == "finished"
    # The saved generator loads in safe mode and reproduces the in-memory one.
    z = fixed_noise(tiny_config)[:4]
    reloaded = load_generator(run.path)
    np.testing.assert_allclose(reloaded(z, training=False), run.generator(z, training=False), atol=1e-5)


def test_runs_never_overwrite(tiny_config, tiny_dataset):
    a = gan_kit.train(tiny_config.replace(epochs=1), dataset=tiny_dataset, verbose=0)
    b = gan_kit.train(tiny_config.replace(epochs=1), dataset=tiny_dataset, verbose=0)
    assert a.path != b.path and a.path.exists() and b.path.exists()


def test_train_rejects_non_config():
    with pytest.raises(TypeError, match="Config"):
        gan_kit.train({"epochs": 1})


def test_train_on_real_cifar10(tiny_config):
    from tests.conftest import shared_data_dir

    if shared_data_dir() is None:
        pytest.skip("../shared/data (CIFAR-10 npz) is not beside the repo and GAN_KIT_DATA_DIR is unset")
    import os

    os.environ["GAN_KIT_DATA_DIR"] = str(shared_data_dir())
    run = gan_kit.train(tiny_config.replace(epochs=1), verbose=0)
    assert runs.load_history(run.path)["epoch"] == [1.0]


def test_a_run_that_fails_before_its_first_epoch_is_marked_failed(tiny_config, monkeypatch):
    """One lifecycle: whatever raises after the run folder exists (here: building the FID extractor, before fit())
    leaves the run marked failed with the error, never 'running'."""
    from gan_kit import callbacks

    def no_extractor(config, **kwargs):
        raise RuntimeError("the extractor cannot be built")

    monkeypatch.setattr(callbacks, "metrics_callback", no_extractor)
    with pytest.raises(RuntimeError, match="extractor cannot be built"):
        gan_kit.train(tiny_config.replace(metrics_every=1), verbose=0)
    (folder,) = runs.list_runs(tiny_config.output_dir)
    status = runs.read_status(folder)
    assert status["state"] == "failed" and status["error"] == "RuntimeError: the extractor cannot be built"
    assert status["epoch"] == 0 and not runs.load_history(folder)


def test_ctrl_c_marks_the_run_stopped(tiny_config, tiny_dataset, monkeypatch):
    class Interrupt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        gan_kit.train(tiny_config, dataset=tiny_dataset, callbacks=[Interrupt()], verbose=0)
    (folder,) = runs.list_runs(tiny_config.output_dir)
    assert runs.read_status(folder)["state"] == "stopped"


def test_every_family_runs_through_the_one_lifecycle():
    from gan_kit import training

    assert set(training.FAMILIES) == {"gan", "conditional", "vae", "step"}
    assert training.family_of(gan_kit.Config()).name == "gan"
    assert training.family_of(gan_kit.Config(conditional=True)).name == "conditional"
    assert training.family_of(gan_kit.Config(model="vae")).name == "vae"
    assert training.family_of(gan_kit.Config(), train_step=lambda *a: None).name == "step"


def test_nan_loss_stops_the_run_and_keeps_the_last_good_state(tmp_path):
    import tensorflow as tf

    cfg = _config(tmp_path, "runs", epochs=4, deterministic=False)
    x = np.random.default_rng(0).uniform(-1, 1, (64, 32, 32, 3)).astype("float32")
    bad = x.copy()
    bad[:] = np.nan
    # Epoch 1 sees good data; from epoch 2 on every batch is NaN.
    data = tf.data.Dataset.from_tensor_slices(np.concatenate([x, bad, bad, bad])).batch(16)
    run = gan_kit.train(cfg.replace(steps_per_epoch=4), dataset=data, verbose=0)
    assert run.status == "diverged"
    status = runs.read_status(run.path)
    assert status["state"] == "diverged" and status["epoch"] == 2 and status["metric"] in ("g_loss", "d_loss")
    assert checkpoints.read_state(run.path)["epoch"] == 1
    assert [p.name for p in runs.sample_paths(run.path)] == ["epoch_0000.png", "epoch_0001.png"]
    weights = gan_kit.runs.load_generator(run.path).get_weights()
    assert all(np.isfinite(w).all() for w in weights)


def test_bad_input_fails_before_any_run_folder(tmp_path, monkeypatch):
    from gan_kit import data
    from gan_kit.data import DatasetError, DatasetNotFoundError

    out = tmp_path / "out"
    # Offline with MNIST nowhere: the error lists where it looked and how to fix it.
    monkeypatch.delenv("GAN_KIT_DATA_DIR", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.setattr(data.lookup, "SYSTEM_DATA_DIRS", {})
    monkeypatch.setattr(data.lookup, "REPO_DATA_DIR", tmp_path / "repo-data")

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(DatasetNotFoundError, match="GAN_KIT_DATA_DIR"):
        gan_kit.train(for_profile("smoke", dataset="mnist", output_dir=str(out)), verbose=0)
    corrupt = tmp_path / "cifar10_train.npz"
    corrupt.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DatasetError, match="cifar10_train.npz"):
        gan_kit.train(for_profile("smoke", dataset="cifar10", data_path=str(corrupt), output_dir=str(out)), verbose=0)
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "notes.txt").write_text("not an image")
    with pytest.warns(UserWarning), pytest.raises(DatasetError, match="images"):
        gan_kit.train(for_profile("smoke", dataset="image_folder", data_path=str(folder), output_dir=str(out)),
                      verbose=0)
    assert not out.exists() or runs.list_runs(out) == []


def test_unwritable_output_folder_is_reported(tmp_path, monkeypatch):
    cfg = _config(tmp_path, "locked", epochs=1)
    monkeypatch.setattr(runs.os, "access", lambda path, mode: False)
    with pytest.raises(fileio.RunFolderError, match="not writable"):
        gan_kit.train(cfg, verbose=0)


def test_status_json_is_valid_after_failure(tmp_path):
    class Boom(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise RuntimeError("boom")

    cfg = _config(tmp_path, "runs", epochs=2, deterministic=False)
    with pytest.raises(RuntimeError):
        gan_kit.train(cfg, callbacks=[Boom()], verbose=0)
    (run_dir,) = runs.list_runs(tmp_path / "runs")
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "failed" and "boom" in status["error"]


def test_train_records_the_runtime_choice(tmp_path):
    import json

    import gan_kit

    cfg = _cfg(output_dir=str(tmp_path), batch_size=8, max_examples=16, epochs=1, grid_size=2)
    x = np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype("float32")
    run = gan_kit.train(cfg, dataset=tf.data.Dataset.from_tensor_slices(x).batch(8), verbose=0)
    runtime = json.loads((run.path / "runtime.json").read_text())
    assert set(runtime) >= {"jit_compile", "steps_per_execution", "mixed_precision", "distribute", "reasons"}
