"""Resume after SIGKILL gives the uninterrupted result; divergence; atomic writes; bad input fails early."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

import gan_kit
from gan_kit import checkpoints, fileio, runs
from gan_kit.checkpoints import ResumeError
from gan_kit.config import for_profile

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}


def _npz(tmp_path, n=64, size=32, channels=3) -> Path:
    x = np.random.default_rng(0).integers(0, 256, (n, size, size, channels), dtype=np.uint8)
    path = tmp_path / "cifar10_train.npz"
    np.savez(path, x=x, y=np.zeros(n, np.int64))
    return path


def _config(tmp_path, out: str, **kw):
    values = dict(dataset="cifar10", data_path=str(_npz(tmp_path)), output_dir=str(tmp_path / out), name="r",
                  epochs=3, batch_size=16, max_examples=64, steps_per_epoch=None, g_width=8, d_width=8,
                  grid_size=2, sample_every=1, checkpoint_every=1, deterministic=True, seed=7)
    values.update(kw)
    return for_profile("smoke", **values)


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


def _run(args, **kw):
    return subprocess.run([sys.executable, *args], env=ENV, cwd=REPO, capture_output=True, text=True, timeout=300,
                          **kw)


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


def test_kill_during_a_write_leaves_the_previous_file(tmp_path):
    target = tmp_path / "history.csv"
    fileio.atomic_write_text(target, "epoch,g_loss\n1,0.5\n")
    script = textwrap.dedent(
        f"""
        import os, signal
        from gan_kit import fileio
        def die(fd):
            os.kill(os.getpid(), signal.SIGKILL)  # the new bytes are in the temp file, not yet renamed
        os.fsync = die
        fileio.atomic_write_text({str(target)!r}, "epoch,g_loss\\n" + "1,0.5\\n" * 100000)
        """
    )
    result = _run(["-c", script])
    assert result.returncode == -signal.SIGKILL
    assert target.read_text() == "epoch,g_loss\n1,0.5\n"
    assert runs.load_history(tmp_path) == {"epoch": [1.0], "g_loss": [0.5]}


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


def test_models_load_in_safe_mode(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda t: t * 2)])
    (tmp_path / "generator.keras").parent.mkdir(exist_ok=True)
    model.save(tmp_path / "generator.keras")
    with pytest.raises(ValueError, match="(?i)lambda|unsafe|safe_mode"):
        gan_kit.runs.load_generator(tmp_path)


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
