"""Every run's scalars and sample grids in TensorBoard, and W&B logging (offline, with the real ``wandb`` package).

One tiny real training (digits, widths 8, two epochs of two steps) runs with TensorBoard and W&B
on; the TensorBoard events are read back with TensorBoard's own reader, the way its dashboards read
them, and the W&B run from the offline log ``wandb sync`` would upload.
"""

from __future__ import annotations

import io
import math
import sys
from pathlib import Path

import numpy as np
import pytest

import gan_kit
from gan_kit import runs, tracking
from gan_kit.config import for_profile

SCALARS = ("g_loss", "d_loss", "d_real_prob", "d_fake_prob", "epoch_time")


def _tiny(tmp_path, **kw):
    values = dict(dataset="digits", output_dir=str(tmp_path / "runs"), batch_size=16, max_examples=64,
                  steps_per_epoch=2, epochs=2, g_width=8, d_width=8, grid_size=2, sample_every=1,
                  checkpoint_every=100, diagnostics=False, tensorboard=True, seed=0)
    values.update(kw)
    return for_profile("smoke", **values)


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory):
    """A two-epoch run with TensorBoard on and W&B on ($WANDB_MODE unset: the kit's default, offline)."""
    root = tmp_path_factory.mktemp("tracking")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("WANDB_MODE", raising=False)
        mp.setenv("WANDB_SILENT", "true")
        run = gan_kit.train(_tiny(root, wandb=True), verbose=0)
    return run


def _accumulator(log_dir: Path):
    from tensorboard.backend.event_processing import plugin_event_accumulator

    acc = plugin_event_accumulator.EventAccumulator(str(log_dir), size_guidance={"tensors": 0})
    acc.Reload()
    return acc


def test_tensorboard_events_hold_every_scalar_series_and_the_sample_grids(tracked_run):
    from PIL import Image
    from tensorboard.util import tensor_util

    run = tracked_run
    assert run.status == "finished"
    log_dir = run.path / runs.TENSORBOARD_DIR
    assert list(log_dir.glob("events.out.tfevents*")), "no event file in <run>/tensorboard"
    acc = _accumulator(log_dir)
    history = runs.load_history(run.path)

    scalar_tags = set(acc.PluginTagToContent("scalars"))
    assert set(SCALARS) <= scalar_tags, scalar_tags
    for tag in SCALARS:
        events = acc.Tensors(tag)
        assert [e.step for e in events] == [1, 2], tag  # one point per epoch, step = 1-based epoch
        values = [float(tensor_util.make_ndarray(e.tensor_proto)) for e in events]
        np.testing.assert_allclose(values, history[tag], rtol=1e-5, err_msg=tag)  # the same numbers as history.csv

    assert set(acc.PluginTagToContent("images")) == {"samples"}
    images = acc.Tensors("samples")
    assert [e.step for e in images] == [0, 1, 2]  # the grid before training, then one per epoch
    width, height, png = tensor_util.make_ndarray(images[-1].tensor_proto)
    assert png == (run.path / runs.SAMPLES_DIR / "epoch_0002.png").read_bytes()
    decoded = Image.open(io.BytesIO(png))
    assert decoded.size == (int(width), int(height)) and decoded.size[0] > 32


def test_tensorboard_logdir_of_all_runs_finds_the_run(tracked_run):
    """``tensorboard --logdir outputs/runs`` sees each run's events as one run to compare."""
    from tensorboard.backend.event_processing import plugin_event_multiplexer

    run = tracked_run
    multiplexer = plugin_event_multiplexer.EventMultiplexer(tensor_size_guidance={"tensors": 0})
    multiplexer.AddRunsFromDirectory(str(run.path.parent))
    multiplexer.Reload()
    name = f"{run.path.name}/{runs.TENSORBOARD_DIR}"
    assert name in multiplexer.Runs()
    assert "g_loss" in multiplexer.PluginRunToTagToContent("scalars")[name]


def test_wandb_logs_scalars_and_grids_offline_in_the_run_folder(tracked_run):
    run = tracked_run
    (offline,) = run.path.glob("wandb/offline-run-*")  # offline: nothing left the machine; `wandb sync` uploads it
    records = tracking.wandb_records(run.path)
    kinds = [r.WhichOneof("record_type") for r in records]
    assert "run" in kinds and "exit" in kinds
    (run_record,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    assert run_record.run_id == tracking._wandb_id(run.path.name) and run_record.display_name == run.path.name
    config = {item.key: item.value_json for item in run_record.config.update}
    assert float(config["d_lr"]) == run.config.d_lr and config["dataset"] == '"digits"'
    rows = tracking.wandb_history(run.path)
    history = runs.load_history(run.path)
    assert [int(row["_step"]) for row in rows] == [1, 2]  # one W&B step per epoch, as history.csv
    for i, row in enumerate(rows):
        for tag in SCALARS:
            assert math.isclose(float(row[tag]), history[tag][i], rel_tol=1e-6), tag
        image = offline / "files" / row["samples/path"]
        assert image.is_file() and image.read_bytes() == (run.path / runs.SAMPLES_DIR / f"epoch_{i + 1:04d}.png"
                                                          ).read_bytes()
        assert row["samples/caption"] == f"epoch {i + 1}"


def test_wandb_mode_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run_dir = tmp_path / "a run:with#odd?chars"
    run_dir.mkdir()
    logger = tracking.WandbLogger(run_dir, {"d_lr": 1e-4})
    logger.on_train_begin()
    assert logger._run is not None and logger._run.disabled
    logger.on_train_end()
    assert not list(run_dir.glob("wandb/offline-run-*"))  # disabled: no run written
    assert tracking._wandb_id("a run:with#odd?chars") == "a-run-with-odd-chars"
    long_id = tracking._wandb_id("x" * 200)
    assert len(long_id) <= 64 and long_id != tracking._wandb_id("x" * 201)


def test_wandb_missing_is_said_plainly_and_training_goes_on(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "wandb", None)  # `import wandb` raises ImportError
    logger = tracking.WandbLogger(tmp_path, {})
    logger.on_train_begin()
    logger.on_epoch_end(0, {"g_loss": 1.0})
    logger.on_train_end()
    out = capsys.readouterr().out
    assert "wandb package is not installed" in out and "pip install wandb" in out
    assert logger._run is None


def test_reading_w_and_b_of_a_run_without_it_names_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="wandb=True"):
        tracking.wandb_history(tmp_path)
