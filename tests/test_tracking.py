"""Issue 6: every run's scalars and sample grids in TensorBoard, and optional W&B logging (offline).

One tiny real training (digits, widths 8, two epochs of two steps) runs with TensorBoard on
and with a stand-in ``wandb`` module that records its calls; the TensorBoard events are read
back with TensorBoard's own reader, the way its dashboards read them.
"""

from __future__ import annotations

import io
import math
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import gan_kit
from gan_kit import callbacks as cbs
from gan_kit import runs, tracking
from gan_kit.config import for_profile

SCALARS = ("g_loss", "d_loss", "d_real_prob", "d_fake_prob", "epoch_time")


class _FakeImage:
    def __init__(self, data, caption=None):
        self.data, self.caption = data, caption


class _FakeRun:
    def __init__(self, calls):
        self.calls = calls

    def log(self, data, step=None):
        self.calls.append(("log", {"data": dict(data), "step": step}))

    def finish(self):
        self.calls.append(("finish", {}))


def _fake_wandb() -> types.ModuleType:
    """A module standing in for ``wandb``: ``init`` returns a run whose ``log``/``finish`` calls are recorded."""
    module = types.ModuleType("wandb")
    module.calls = []

    def init(**kwargs):
        module.calls.append(("init", kwargs))
        return _FakeRun(module.calls)

    module.init = init
    module.Image = _FakeImage
    return module


def _tiny(tmp_path, **kw):
    values = dict(dataset="digits", output_dir=str(tmp_path / "runs"), batch_size=16, max_examples=64,
                  steps_per_epoch=2, epochs=2, g_width=8, d_width=8, grid_size=2, sample_every=1,
                  checkpoint_every=100, diagnostics=False, tensorboard=True, seed=0)
    values.update(kw)
    return for_profile("smoke", **values)


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory):
    """A two-epoch run with TensorBoard on and W&B on (through the stand-in module, $WANDB_MODE unset)."""
    root = tmp_path_factory.mktemp("tracking")
    fake = _fake_wandb()
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "wandb", fake)
        mp.delenv("WANDB_MODE", raising=False)
        run = gan_kit.train(_tiny(root, wandb=True), verbose=0)
    return run, fake.calls


def _accumulator(log_dir: Path):
    from tensorboard.backend.event_processing import plugin_event_accumulator

    acc = plugin_event_accumulator.EventAccumulator(str(log_dir), size_guidance={"tensors": 0})
    acc.Reload()
    return acc


def test_tensorboard_events_hold_every_scalar_series_and_the_sample_grids(tracked_run):
    from PIL import Image
    from tensorboard.util import tensor_util

    run, _ = tracked_run
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

    run, _ = tracked_run
    multiplexer = plugin_event_multiplexer.EventMultiplexer(tensor_size_guidance={"tensors": 0})
    multiplexer.AddRunsFromDirectory(str(run.path.parent))
    multiplexer.Reload()
    name = f"{run.path.name}/{runs.TENSORBOARD_DIR}"
    assert name in multiplexer.Runs()
    assert "g_loss" in multiplexer.PluginRunToTagToContent("scalars")[name]


def test_wandb_logs_scalars_and_grids_offline_in_the_run_folder(tracked_run):
    run, calls = tracked_run
    kinds = [kind for kind, _ in calls]
    assert kinds == ["init", "log", "log", "finish"]
    init = calls[0][1]
    assert init["mode"] == "offline"  # no network unless $WANDB_MODE says otherwise
    assert init["dir"] == str(run.path) and init["name"] == run.path.name and init["resume"] == "allow"
    assert init["config"] == run.config.to_dict()
    history = runs.load_history(run.path)
    for i, (_, entry) in enumerate(calls[1:3]):
        assert entry["step"] == i + 1
        data = entry["data"]
        for tag in SCALARS:
            assert math.isclose(data[tag], history[tag][i], rel_tol=1e-6), tag
        assert isinstance(data["samples"], _FakeImage)
        assert Path(data["samples"].data) == run.path / runs.SAMPLES_DIR / f"epoch_{i + 1:04d}.png"


def test_wandb_mode_follows_the_environment(tmp_path, monkeypatch):
    fake = _fake_wandb()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    monkeypatch.setenv("WANDB_MODE", "disabled")
    logger = cbs.WandbLogger(tmp_path / "a run:with#odd?chars", {"d_lr": 1e-4})
    logger.on_train_begin()
    init = fake.calls[0][1]
    assert init["mode"] == "disabled"
    assert init["id"] == "a-run-with-odd-chars" and init["name"] == "a run:with#odd?chars"
    long_id = tracking._wandb_id("x" * 200)
    assert len(long_id) <= 64 and long_id != tracking._wandb_id("x" * 201)


def test_wandb_missing_is_said_plainly_and_training_goes_on(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "wandb", None)  # `import wandb` raises ImportError
    logger = cbs.WandbLogger(tmp_path, {})
    logger.on_train_begin()
    logger.on_epoch_end(0, {"g_loss": 1.0})
    logger.on_train_end()
    out = capsys.readouterr().out
    assert "wandb package is not installed" in out and "pip install wandb" in out
    assert logger._run is None
