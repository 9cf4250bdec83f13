"""Tests for gan_kit.callbacks, each callback driven through its hooks (set_model / set_params, no fit()).

TensorBoardLogger and WandbLogger are tested in test_tracking.py, MetricsCallback at the end of this file and
DiagnosticsCallback in test_diagnostics.py.
"""

from __future__ import annotations

import math
import types

import keras
import numpy as np
import pytest

from gan_kit import callbacks, metrics, runs
from gan_kit.callbacks import (
    DivergenceGuard,
    EpochTimer,
    HistoryWriter,
    InstanceNoiseSchedule,
    ModelCheckpoints,
    SampleGrid,
    StepLogger,
    instance_noise_std,
    save_models,
)
from gan_kit.gan import GAN
from gan_kit.images import save_image_grid
from gan_kit.models import build_discriminator, build_generator
from tests.conftest import _CountingExtractor

LATENT = 4


def _gan(ema: float = 0.0, seed: int = 0) -> GAN:
    keras.utils.set_random_seed(seed)
    g = build_generator(LATENT, (28, 28, 1), width=4)
    d = build_discriminator((28, 28, 1), width=4, dropout=0.0)
    return GAN(g, d, LATENT, seed=seed, ema=ema)


def _noise(n: int = 4) -> np.ndarray:
    return np.random.default_rng(1).standard_normal((n, LATENT)).astype(np.float32)


def _hooked(callback, model, epochs: int | None = None):
    if isinstance(model, keras.Model):
        model.stop_training = False  # as fit() does before the first hook
    callback.set_model(model)
    callback.set_params({"epochs": epochs, "steps": 2, "verbose": 0} if epochs is not None else {})
    return callback


def _sample_names(run_dir) -> list[str]:
    return [p.name for p in runs.sample_paths(run_dir)]


# =============================================================================== DivergenceGuard


def test_divergence_guard_ignores_finite_losses():
    gan = _gan()
    gan.diverged = {"epoch": 1, "step": 1, "metric": "g_loss", "value": "nan"}  # left over from an earlier fit
    guard = _hooked(DivergenceGuard(), gan, epochs=3)
    guard.on_train_begin()
    assert gan.diverged is None
    guard.on_epoch_begin(0)
    for step, logs in enumerate([{"g_loss": 1.0, "d_loss": 0.5}, {"g_loss": np.float32(-3e38), "d_loss": 0.0},
                                 {"g_loss": 2.0}, {}, None, {"other": math.nan}]):
        guard.on_train_batch_end(step, logs)
    assert guard.diverged is None and gan.diverged is None
    assert not gan.stop_training


@pytest.mark.parametrize("value,text", [(math.nan, "nan"), (math.inf, "inf"), (-math.inf, "-inf"),
                                        (np.float32("nan"), "nan")])
def test_divergence_guard_stops_on_the_first_non_finite_loss_and_records_where(value, text, capsys):
    gan = _gan()
    guard = _hooked(DivergenceGuard(), gan, epochs=5)
    guard.on_train_begin()
    guard.on_epoch_begin(0)
    guard.on_train_batch_end(0, {"g_loss": 1.0, "d_loss": 1.0})
    guard.on_epoch_begin(2)  # the third epoch
    guard.on_train_batch_end(0, {"g_loss": 1.0, "d_loss": 1.0})
    guard.on_train_batch_end(4, {"g_loss": 0.7, "d_loss": value})  # its fifth step
    record = {"epoch": 3, "step": 5, "metric": "d_loss", "value": text}
    assert guard.diverged == record and gan.diverged == record
    assert gan.stop_training is True
    out = capsys.readouterr().out
    assert f"d_loss became {float(value)} at epoch 3, step 5" in out
    # The first divergence is kept: a later NaN in another metric does not overwrite it.
    guard.on_train_batch_end(5, {"g_loss": math.nan, "d_loss": math.nan})
    assert guard.diverged == record and gan.diverged == record
    assert capsys.readouterr().out == ""


def test_a_reused_divergence_guard_watches_its_second_fit_afresh():
    gan = _gan()
    guard = _hooked(DivergenceGuard(), gan)
    guard.on_train_begin()
    guard.on_train_batch_end(0, {"g_loss": math.nan, "d_loss": 1.0})
    assert guard.diverged is not None
    guard.on_train_begin()  # the next fit() with the same guard
    assert guard.diverged is None and gan.diverged is None
    gan.stop_training = False
    guard.on_train_batch_end(3, {"g_loss": 1.0, "d_loss": math.inf})
    assert guard.diverged["metric"] == "d_loss" and guard.diverged["step"] == 4 and gan.stop_training


def test_divergence_guard_checks_its_keys_in_order_and_only_those():
    gan = _gan()
    guard = _hooked(DivergenceGuard(keys=("d_loss",)), gan)
    guard.on_train_begin()
    guard.on_epoch_begin(0)
    guard.on_train_batch_end(0, {"g_loss": math.nan, "d_loss": 1.0})
    assert guard.diverged is None and not gan.stop_training
    both = _hooked(DivergenceGuard(), _gan())
    both.on_train_begin()
    both.on_epoch_begin(0)
    both.on_train_batch_end(1, {"g_loss": math.inf, "d_loss": math.nan})
    assert both.diverged == {"epoch": 1, "step": 2, "metric": "g_loss", "value": "inf"}


# =============================================================================== EpochTimer


def test_epoch_timer_adds_the_seconds_between_its_hooks(monkeypatch):
    clock = iter([100.0, 102.5, 200.0, 200.25])
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: next(clock))
    timer = EpochTimer()
    logs = {"g_loss": 1.0}
    timer.on_epoch_begin(0)
    timer.on_epoch_end(0, logs)
    assert logs == {"g_loss": 1.0, "epoch_time": 2.5}
    timer.on_epoch_begin(1)
    logs = {}
    timer.on_epoch_end(1, logs)
    assert logs["epoch_time"] == 0.25


def test_epoch_timer_time_is_positive_on_the_real_clock():
    import time

    timer = EpochTimer()
    timer.on_epoch_begin(0)
    time.sleep(0.01)
    logs = {}
    timer.on_epoch_end(0, logs)
    assert 0.009 <= logs["epoch_time"] < 10
    timer.on_epoch_begin(1)
    timer.on_epoch_end(1, None)  # nothing to add to: no error


# =============================================================================== HistoryWriter


def test_history_writer_writes_one_row_per_epoch_with_the_leading_columns(tmp_path):
    writer = HistoryWriter(tmp_path, columns=["g_loss", "d_loss", "epoch_time"])
    writer.on_epoch_end(0, {"d_loss": 2.0, "g_loss": 1.0, "epoch_time": 0.5})
    assert runs.load_history(tmp_path) == {"epoch": [1.0], "g_loss": [1.0], "d_loss": [2.0], "epoch_time": [0.5]}
    writer.on_epoch_end(1, {"g_loss": 0.5, "d_loss": 1.5})  # epoch_time missing this epoch: NaN
    history = runs.load_history(tmp_path)
    assert list(history) == ["epoch", "g_loss", "d_loss", "epoch_time"]
    assert history["epoch"] == [1.0, 2.0] and history["g_loss"] == [1.0, 0.5] and history["d_loss"] == [2.0, 1.5]
    assert history["epoch_time"][0] == 0.5 and math.isnan(history["epoch_time"][1])
    assert (tmp_path / runs.HISTORY_FILE).read_text().splitlines()[0] == "epoch,g_loss,d_loss,epoch_time"


def test_history_writer_adds_late_keys_sorted_with_nan_for_earlier_epochs(tmp_path):
    writer = HistoryWriter(tmp_path, columns=["g_loss"])
    writer.on_epoch_end(0, {"g_loss": 1.0})
    writer.on_epoch_end(1, {"g_loss": 0.9, "kid": 0.02, "fid": 30.0})
    writer.on_epoch_end(2, {"g_loss": 0.8, "fid": 25.0})
    history = runs.load_history(tmp_path)
    assert list(history) == ["epoch", "g_loss", "fid", "kid"]  # the late keys after the columns, sorted
    assert history["epoch"] == [1.0, 2.0, 3.0]
    assert math.isnan(history["fid"][0]) and history["fid"][1:] == [30.0, 25.0]
    assert math.isnan(history["kid"][0]) and history["kid"][1] == 0.02 and math.isnan(history["kid"][2])
    assert writer.history["g_loss"] == [1.0, 0.9, 0.8]  # what it wrote is also kept in memory


def test_history_writer_continues_a_given_history(tmp_path):
    earlier = {"epoch": [1.0, 2.0], "g_loss": [1.0, 0.8], "d_loss": [1.2, 1.1]}
    writer = HistoryWriter(tmp_path, columns=["g_loss", "d_loss"], history=earlier)
    writer.on_epoch_end(2, {"g_loss": 0.6, "d_loss": 1.0, "epoch_time": 3.0})
    history = runs.load_history(tmp_path)
    assert history["epoch"] == [1.0, 2.0, 3.0]
    assert history["g_loss"] == [1.0, 0.8, 0.6] and history["d_loss"] == [1.2, 1.1, 1.0]
    assert math.isnan(history["epoch_time"][0]) and math.isnan(history["epoch_time"][1])
    assert history["epoch_time"][2] == 3.0
    assert earlier == {"epoch": [1.0, 2.0], "g_loss": [1.0, 0.8], "d_loss": [1.2, 1.1]}  # the caller's copy


def test_history_writer_without_logs_still_counts_the_epoch(tmp_path):
    writer = HistoryWriter(tmp_path, columns=["g_loss"])
    writer.on_epoch_end(0, None)
    history = runs.load_history(tmp_path)
    assert history["epoch"] == [1.0] and math.isnan(history["g_loss"][0])


# =============================================================================== SampleGrid


def test_sample_grid_refuses_every_below_one(tmp_path):
    with pytest.raises(ValueError, match="every >= 1"):
        SampleGrid(tmp_path, _noise(), every=0)


def test_sample_grid_saves_epoch_zero_every_n_epochs_and_the_last(tmp_path):
    gan = _gan()
    grid = _hooked(SampleGrid(tmp_path, _noise(), every=2), gan, epochs=5)
    grid.on_train_begin()
    assert _sample_names(tmp_path) == ["epoch_0000.png"]
    for epoch in range(5):
        grid.on_epoch_end(epoch)
    assert _sample_names(tmp_path) == ["epoch_0000.png", "epoch_0002.png", "epoch_0004.png", "epoch_0005.png"]


def test_sample_grid_draws_the_fixed_noise_through_the_generator(tmp_path):
    gan = _gan()
    noise = _noise(4)
    grid = _hooked(SampleGrid(tmp_path / "run", noise, every=1), gan, epochs=1)
    grid.on_train_begin()
    expected = save_image_grid(keras.ops.convert_to_numpy(gan.generator(noise, training=False)),
                               tmp_path / "expected.png", 2)  # 4 samples: a 2 x 2 grid
    assert runs.sample_path(tmp_path / "run", 0).read_bytes() == expected.read_bytes()
    grid.on_epoch_end(0)
    assert runs.sample_path(tmp_path / "run", 1).read_bytes() == expected.read_bytes()  # same noise, same G


def test_sample_grid_keeps_an_existing_epoch_zero_grid(tmp_path):
    first = runs.sample_path(tmp_path, 0)
    first.parent.mkdir(parents=True)
    first.write_bytes(b"the grid of the run before it was resumed")
    grid = _hooked(SampleGrid(tmp_path, _noise(), every=1), _gan(), epochs=3)
    grid.on_train_begin()
    assert first.read_bytes() == b"the grid of the run before it was resumed"


def test_sample_grid_skips_once_diverged(tmp_path):
    gan = _gan()
    grid = _hooked(SampleGrid(tmp_path, _noise(), every=1), gan, epochs=3)
    grid.on_train_begin()
    grid.on_epoch_end(0)
    gan.diverged = {"epoch": 2, "step": 1, "metric": "g_loss", "value": "nan"}
    grid.on_epoch_end(1)
    grid.on_epoch_end(2)  # the last epoch too
    assert _sample_names(tmp_path) == ["epoch_0000.png", "epoch_0001.png"]


def test_sample_grid_uses_the_ema_sampler_or_the_generator_it_is_given(tmp_path):
    gan = _gan(ema=0.9)
    gan.generator.set_weights([w + 0.5 for w in gan.generator.get_weights()])  # G and its EMA copy now differ
    noise = _noise(4)

    def png(model, name):
        return save_image_grid(keras.ops.convert_to_numpy(model(noise, training=False)), tmp_path / name,
                               2).read_bytes()

    ema_png, g_png = png(gan.ema_generator, "ema.png"), png(gan.generator, "g.png")
    assert ema_png != g_png
    default = _hooked(SampleGrid(tmp_path / "a", noise), gan, epochs=1)
    default.on_train_begin()
    assert runs.sample_path(tmp_path / "a", 0).read_bytes() == ema_png
    given = _hooked(SampleGrid(tmp_path / "b", noise, generator=gan.generator), gan, epochs=1)
    given.on_train_begin()
    assert runs.sample_path(tmp_path / "b", 0).read_bytes() == g_png


def test_sample_grid_uses_a_models_own_grid_images(tmp_path):
    seen = []

    def grid_images(noise):  # e.g. a conditional GAN: one row per class
        seen.append(noise)
        return np.zeros((6, 8, 8, 1), np.float32)

    model = types.SimpleNamespace(grid_images=grid_images, diverged=None)
    grid = _hooked(SampleGrid(tmp_path, _noise(3), every=1), model, epochs=1)
    grid.on_train_begin()
    assert len(seen) == 1 and np.array_equal(seen[0], _noise(3))
    assert _sample_names(tmp_path) == ["epoch_0000.png"]


# =============================================================================== InstanceNoiseSchedule


def test_instance_noise_std_decays_linearly_to_zero_and_stays_there():
    assert [instance_noise_std(e, 0.2, 4) for e in range(6)] == pytest.approx([0.2, 0.15, 0.1, 0.05, 0, 0])
    assert [instance_noise_std(e, 0.3, 3) for e in (0, 1, 2, 3, 10)] == pytest.approx([0.3, 0.2, 0.1, 0.0, 0.0])
    assert instance_noise_std(100, 0.3, 3) == 0.0  # clipped at zero, never negative
    assert instance_noise_std(7, 0.1, 0) == 0.1  # decay_epochs 0: constant
    assert instance_noise_std(0, 0.0, 5) == 0.0
    assert isinstance(instance_noise_std(1, 1, 2), float)


@pytest.mark.parametrize("initial,decay_epochs", [(-0.1, 0), (0.1, -1), (-1.0, -2)])
def test_instance_noise_schedule_refuses_negative_arguments(initial, decay_epochs):
    with pytest.raises(ValueError, match=rf"initial={initial}, decay_epochs={decay_epochs}"):
        InstanceNoiseSchedule(initial, decay_epochs)


def test_instance_noise_schedule_sets_the_models_std_and_logs_it():
    gan = _gan()
    schedule = _hooked(InstanceNoiseSchedule(0.3, 3), gan, epochs=4)
    logged = []
    for epoch in range(4):
        schedule.on_epoch_begin(epoch)
        assert float(gan.instance_noise_std) == pytest.approx(instance_noise_std(epoch, 0.3, 3))
        logs = {}
        schedule.on_epoch_end(epoch, logs)
        logged.append(logs["instance_noise"])
    assert logged == pytest.approx([0.3, 0.2, 0.1, 0.0])
    off = _hooked(InstanceNoiseSchedule(0.0), gan, epochs=1)
    off.on_epoch_begin(0)
    logs = {}
    off.on_epoch_end(0, logs)
    assert logs == {} and float(gan.instance_noise_std) == 0.0  # no column when instance noise is off


# =============================================================================== ModelCheckpoints / save_models


def test_model_checkpoints_refuses_every_below_one(tmp_path):
    for every in (0, -3):
        with pytest.raises(ValueError, match="every >= 1"):
            ModelCheckpoints(tmp_path, every=every)


def _weights_equal(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))


def test_model_checkpoints_saves_both_models_at_the_cadence(tmp_path):
    gan = _gan()
    ckpt = _hooked(ModelCheckpoints(tmp_path, every=2), gan, epochs=4)
    g_file, d_file = tmp_path / runs.GENERATOR_FILE, tmp_path / runs.DISCRIMINATOR_FILE
    ckpt.on_epoch_end(0)
    assert not g_file.exists() and not d_file.exists()
    ckpt.on_epoch_end(1)
    assert _weights_equal(runs.load_model(g_file), gan.generator)
    assert _weights_equal(runs.load_model(d_file), gan.discriminator)
    assert not (tmp_path / runs.EMA_GENERATOR_FILE).exists()
    saved_at_2 = gan.generator.get_weights()
    gan.generator.set_weights([w + 1.0 for w in saved_at_2])
    ckpt.on_epoch_end(2)  # epoch 3: off the cadence, the epoch-2 files stay
    assert all(np.array_equal(a, b) for a, b in zip(runs.load_model(g_file).get_weights(), saved_at_2))
    ckpt.on_epoch_end(3)
    assert _weights_equal(runs.load_model(g_file), gan.generator)
    assert sorted(p.name for p in tmp_path.iterdir()) == [runs.DISCRIMINATOR_FILE, runs.GENERATOR_FILE]  # no temps


def test_model_checkpoints_skip_once_diverged(tmp_path):
    gan = _gan()
    gan.diverged = {"epoch": 1, "step": 1, "metric": "d_loss", "value": "nan"}
    _hooked(ModelCheckpoints(tmp_path, every=1), gan, epochs=2).on_epoch_end(0)
    assert list(tmp_path.iterdir()) == []


def test_save_models_writes_the_ema_generator_too(tmp_path):
    gan = _gan(ema=0.9)
    save_models(gan, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [runs.GENERATOR_FILE, runs.DISCRIMINATOR_FILE, runs.EMA_GENERATOR_FILE])
    assert _weights_equal(runs.load_model(tmp_path / runs.EMA_GENERATOR_FILE), gan.ema_generator)


def _drive_steps(logger, epoch, raw, every=1):
    """Feed ``logger`` one epoch of Keras-style logs: the running mean of ``raw`` after every ``every`` steps."""
    logger.on_epoch_begin(epoch)
    for end in range(every, len(raw) + 1, every):
        logger.on_train_batch_end(end - 1, {"d_loss": float(np.mean(raw[:end])), "g_loss": 1.0})
    logger.on_epoch_end(epoch)


def test_step_logger_recovers_raw_steps_and_chunks_and_keeps_rows_before_a_resume(tmp_path):
    raw = np.array([3.0, -1.0, 10.0, 0.5, 2.0, 7.0])
    logger = StepLogger(tmp_path, keys=("d_loss", "g_loss", "gp"))
    _drive_steps(logger, 0, raw)
    _drive_steps(logger, 1, raw[::-1])
    table = runs.load_steps(tmp_path)
    assert table["step"] == list(range(1, 13)) and table["epoch"] == [1] * 6 + [2] * 6
    np.testing.assert_allclose(table["d_loss"], [*raw, *raw[::-1]], rtol=1e-6)
    assert table["g_loss"] == [1.0] * 12 and all(math.isnan(v) for v in table["gp"])  # a key not logged: NaN
    chunked = StepLogger(tmp_path / "chunks", keys=("d_loss",))
    (tmp_path / "chunks").mkdir()
    _drive_steps(chunked, 0, raw, every=3)  # steps_per_execution=3: one row per call, its steps' mean
    chunks = runs.load_steps(tmp_path / "chunks")
    assert chunks["step"] == [3, 6]
    np.testing.assert_allclose(chunks["d_loss"], [raw[:3].mean(), raw[3:].mean()], rtol=1e-6)
    resumed = StepLogger(tmp_path, keys=("d_loss", "g_loss", "gp"))  # continues after epoch 1: epoch 2 retrained
    _drive_steps(resumed, 1, raw)
    again = runs.load_steps(tmp_path)
    assert again["epoch"] == [1] * 6 + [2] * 6
    np.testing.assert_allclose(again["d_loss"], [*raw, *raw], rtol=1e-6)


def test_metrics_callback_writes_fid_and_kid_to_history(metrics_run):
    from gan_kit import runs

    history = runs.load_history(metrics_run.path)
    assert len(history["fid"]) == 2 and len(history["kid"]) == 2
    assert all(math.isfinite(v) and v >= 0 for v in history["fid"])
    assert all(math.isfinite(v) for v in history["kid"])


def test_metrics_callback_every_and_checks(digits_extractor, cache):
    import keras

    from gan_kit.callbacks import MetricsCallback

    ref = metrics.reference_statistics("digits", digits_extractor, max_examples=64, cache_dir=cache)
    generator = keras.Sequential([keras.Input((4,)), keras.layers.Dense(32 * 32), keras.layers.Reshape((32, 32, 1)),
                                  keras.layers.Activation("tanh")])
    cb = MetricsCallback(ref, digits_extractor, every=2, samples=32, generator=generator)
    cb.set_params({"epochs": 3})
    logs = [{}, {}, {}]
    for epoch, log in enumerate(logs):
        cb.on_epoch_end(epoch, log)
    assert "fid" not in logs[0] and "fid" in logs[1] and "fid" in logs[2]  # every 2nd epoch, and the last
    with pytest.raises(ValueError, match="every"):
        MetricsCallback(ref, digits_extractor, every=0)
    with pytest.raises(ValueError, match="computed with"):
        MetricsCallback(ref, _CountingExtractor("other"), every=1)
