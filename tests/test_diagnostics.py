"""Training-health diagnostics on controlled histories and on real, tiny trainings."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

import gan_kit
from gan_kit import diagnostics as dg
from gan_kit import runs
from gan_kit.config import for_profile
from gan_kit.diagnostics import Finding


def _history(**columns):
    n = len(next(iter(columns.values())))
    return {"epoch": [float(i + 1) for i in range(n)], **{k: list(map(float, v)) for k, v in columns.items()}}


# A healthy run's numbers (Fashion-MNIST, tiny widths, d_lr = g_lr = 1e-4, 15 epochs of 20 steps).
HEALTHY = _history(
    g_loss=[0.846, 0.743, 0.749, 0.78, 0.838, 0.795, 0.878, 0.855, 0.957, 0.956, 0.939, 0.948, 0.962, 0.926, 0.941],
    d_loss=[1.644, 1.589, 1.478, 1.386, 1.366, 1.309, 1.294, 1.292, 1.192, 1.208, 1.171, 1.185, 1.176, 1.194, 1.205],
    d_real_prob=[0.51, 0.555, 0.581, 0.616, 0.607, 0.624, 0.626, 0.64, 0.637, 0.65, 0.648, 0.635, 0.638, 0.64, 0.636],
    d_fake_prob=[0.511, 0.536, 0.517, 0.508, 0.501, 0.484, 0.478, 0.484, 0.443, 0.453, 0.442, 0.434, 0.434, 0.442,
                 0.446],
)
HEALTHY_SERIES = {
    "epoch": HEALTHY["epoch"],
    "diversity": [0.044, 0.085, 0.148, 0.231, 0.329, 0.425, 0.512, 0.581, 0.633, 0.67, 0.695, 0.71, 0.716, 0.718,
                  0.715],
    "sample_change": [0.03] * 15,
    "real_diversity": 0.8,
}


# ----------------------------------------------------------------- controlled histories
def test_healthy_history_trips_nothing():
    assert dg.scan(HEALTHY, HEALTHY_SERIES) == []
    assert dg.check_all(HEALTHY, HEALTHY_SERIES) == []


def test_d_overpowering_needs_several_confident_epochs_and_climbing_g_loss():
    strong = _history(g_loss=[1.0, 2.1, 2.6, 3.0, 3.3], d_loss=[1.0, 0.4, 0.26, 0.2, 0.17],
                      d_real_prob=[0.7, 0.86, 0.9, 0.92, 0.93], d_fake_prob=[0.38, 0.19, 0.12, 0.1, 0.08])
    finding = dg.check_d_overpowering(strong)
    assert finding is not None and finding.code == "d_overpowering" and finding.epoch == 5
    assert finding.values["g_loss_climbing"] is True and finding.values["epochs"] == 3
    assert finding.values["d_real_prob"] >= dg.OVERPOWER_REAL_MIN and finding.values["d_fake_prob"] <= 0.15
    assert "label_smoothing" in finding.fix and "2.60 to 3.30" in finding.explanation
    # Two confident epochs are not "several".
    assert dg.check_d_overpowering({k: v[:3] for k, v in strong.items()}) is None
    # Confident but G's loss falling: not yet (G is still learning) ...
    falling = {**strong, "g_loss": [4.0, 3.5, 3.2, 3.0, 2.9]}
    assert dg.check_d_overpowering(falling) is None
    # ... unless D stays that sure for twice as long.
    long = _history(g_loss=[3, 2.9, 2.8, 2.7, 2.6, 2.5], d_loss=[0.1] * 6, d_real_prob=[0.95] * 6,
                    d_fake_prob=[0.05] * 6)
    assert dg.check_d_overpowering(long) is not None
    # A Wasserstein critic's sigmoid is not a probability: the check does not apply.
    assert dg.check_d_overpowering(strong, loss="wasserstein") is None


def test_mode_collapse_from_a_diversity_series():
    series = {"epoch": [1, 2, 3], "diversity": [0.0, 0.0, 0.0], "real_diversity": 0.6}
    finding = dg.check_mode_collapse(series)
    assert finding is not None and finding.code == "mode_collapse" and finding.epoch == 3
    assert finding.values["ratio"] == 0.0 and "minibatch_std" in finding.fix
    # Low but growing fast is early training, not collapse.
    assert dg.check_mode_collapse({**series, "diversity": [0.02, 0.04, 0.08]}) is None
    # Varied samples: fine.
    assert dg.check_mode_collapse({**series, "diversity": [0.5, 0.55, 0.6]}) is None
    # Diversity that fell far below the real data's and stays there: collapse.
    fell = {"epoch": [1, 2, 3, 4, 5], "diversity": [0.5, 0.45, 0.1, 0.05, 0.05], "real_diversity": 0.6}
    assert dg.check_mode_collapse(fell).epoch == 5
    # With a classifier: few classes covered.
    classes = {"epoch": [1, 2, 3], "diversity": [0.5] * 3, "real_diversity": 0.6, "classes_covered": [3, 2, 2],
               "num_classes": 10}
    assert "2 of the 10 classes" in dg.check_mode_collapse(classes).explanation


def test_divergence_from_the_guard_or_a_nan_in_the_history():
    guard = {"epoch": 3, "step": 7, "metric": "d_loss", "value": "nan"}
    finding = dg.check_divergence(HEALTHY, guard)
    assert finding.code == "divergence" and finding.epoch == 3 and finding.values["step"] == 7
    nan = {**HEALTHY, "g_loss": HEALTHY["g_loss"][:-1] + [math.inf]}
    assert dg.check_divergence(nan).values["metric"] == "g_loss"
    assert dg.check_divergence(HEALTHY) is None


def test_loss_jump_far_outside_the_recent_range():
    base = _history(g_loss=[1.0, 1.1, 0.9, 1.05, 0.95, 1.0], d_loss=[1.2] * 6, d_real_prob=[0.6] * 6,
                    d_fake_prob=[0.4] * 6)
    assert dg.check_loss_jump(base) is None
    jumped = {k: v + [v[-1]] for k, v in base.items()}
    jumped["epoch"][-1] = 7.0
    jumped["g_loss"][-1] = 8.0
    finding = dg.check_loss_jump(jumped)
    assert finding.code == "loss_jump" and finding.values["metric"] == "g_loss" and finding.epoch == 7
    jumped["g_loss"][-1] = 1.3  # a little outside the range is ordinary noise
    assert dg.check_loss_jump(jumped) is None


def test_stagnation_of_samples_or_numbers():
    n = dg.STAGNATION_EPOCHS
    frozen = {"epoch": list(range(1, n + 1)), "diversity": [0.5] * n, "sample_change": [1e-4] * n,
              "real_diversity": 0.6}
    finding = dg.check_stagnation(_history(g_loss=[5.0] * n), frozen)
    assert finding.code == "stagnation" and "samples" in finding.explanation
    moving = {**frozen, "sample_change": [0.05] * n}
    assert dg.check_stagnation(_history(g_loss=np.linspace(1, 3, n)), moving) is None
    flat = _history(g_loss=[5.0] * (n + 1), d_loss=[0.01] * (n + 1), d_real_prob=[0.99] * (n + 1),
                    d_fake_prob=[0.01] * (n + 1))
    assert dg.check_stagnation(flat).values["max_relative_change"] < dg.STAGNATION_REL_CHANGE


def test_oscillation_of_the_discriminator_margin():
    n = dg.OSCILLATION_EPOCHS + 1
    swing = _history(g_loss=[1.0] * n, d_loss=[1.0] * n, d_real_prob=[0.9, 0.5] * (n // 2) + [0.9],
                     d_fake_prob=[0.1, 0.5] * (n // 2) + [0.1])
    finding = dg.check_oscillation(swing)
    assert finding.code == "oscillation" and finding.values["flip_fraction"] == 1.0
    assert dg.check_oscillation(HEALTHY) is None


def test_scan_reports_each_episode_once_and_findings_round_trip(tmp_path):
    strong = _history(g_loss=[1.0, 2.1, 2.6, 3.0, 3.3, 3.6, 3.9], d_loss=[0.2] * 7,
                      d_real_prob=[0.7, 0.86, 0.9, 0.92, 0.93, 0.94, 0.95],
                      d_fake_prob=[0.38, 0.14, 0.12, 0.1, 0.08, 0.07, 0.06])
    found = dg.scan(strong)
    assert [f.code for f in found] == ["d_overpowering"] and found[0].epoch == 4
    dg.write(tmp_path, found, {"epoch": [1], "diversity": [0.5]})
    assert dg.summarize(tmp_path) == found
    assert dg.read(tmp_path)["thresholds"]["OVERPOWER_REAL_MIN"] == dg.OVERPOWER_REAL_MIN
    assert dg.summarize(tmp_path / "nothing-here") == []
    assert "overpowering" in dg.to_markdown(found) and dg.to_markdown([]).startswith("No ")
    assert Finding.from_dict(found[0].to_dict()) == found[0] and "Try:" in str(found[0])


def test_sample_measures():
    same = np.ones((8, 4, 4, 1), np.float32)
    assert dg.sample_diversity(same) == 0.0
    rng = np.random.default_rng(0)
    varied = rng.uniform(-1, 1, (64, 8, 8, 1))
    assert 0.6 < dg.sample_diversity(varied) < 1.0  # sqrt(2/3) for uniform pixels
    assert dg.sample_change(same, same) == 0.0 and dg.sample_change(same, -same) == 2.0
    with pytest.raises(ValueError, match="at least 2"):
        dg.sample_diversity(same[:1])


# ----------------------------------------------------------------- real, tiny trainings
def _digits(tmp_path, **kw):
    values = dict(dataset="digits", output_dir=str(tmp_path / "runs"), batch_size=32, max_examples=512,
                  steps_per_epoch=10, epochs=7, g_width=8, d_width=8, grid_size=4, sample_every=100,
                  checkpoint_every=100, tensorboard=False, seed=0)
    values.update(kw)
    return for_profile("smoke", **values)


@pytest.fixture(scope="module")
def balanced_and_strong_d(tmp_path_factory):
    """The same tiny digits GAN twice: D and G at 1e-4, and D at 10x G's learning rate (no smoothing)."""
    root = tmp_path_factory.mktemp("dg")
    healthy = gan_kit.train(_digits(root, name="healthy"), verbose=0)
    strong = gan_kit.train(_digits(root, name="strong_d", d_lr=1e-3, label_smoothing=0.0), verbose=0)
    return healthy, strong


def test_healthy_short_run_trips_nothing(balanced_and_strong_d):
    healthy, _ = balanced_and_strong_d
    assert healthy.status == "finished"
    stored = dg.read(healthy.path)
    assert stored["findings"] == [] and stored["epoch"] == 7
    assert len(stored["series"]["diversity"]) == 7 and stored["series"]["real_diversity"] > 0.3
    assert dg.scan(healthy.history, stored["series"]) == []
    assert "diagnostics" not in runs.load_history(healthy.path)  # history.csv keeps its columns


def test_ten_times_d_learning_rate_trips_d_overpowering(balanced_and_strong_d, capsys):
    healthy, strong = balanced_and_strong_d
    codes = [f.code for f in dg.summarize(strong.path)]
    assert "d_overpowering" in codes
    # The direction, against the balanced run: D far surer, G's loss far higher.
    margin = lambda h: h["d_real_prob"][-1] - h["d_fake_prob"][-1]  # noqa: E731
    assert margin(strong.history) > 0.8 > margin(healthy.history)
    assert strong.history["g_loss"][-1] > 2 * healthy.history["g_loss"][-1]


def test_findings_reach_comparisons_and_reports(balanced_and_strong_d):
    from gan_kit.compare import compare

    healthy, strong = balanced_and_strong_d
    table = compare([healthy.path, strong.path], ["g_loss"]).table
    assert table[0]["diagnostics"] == "" and "d_overpowering" in table[1]["diagnostics"].split(", ")
    assert (table[0]["d_lr"], table[1]["d_lr"]) == (healthy.config.d_lr, 1e-3)
    text = dg.to_markdown(dg.summarize(strong.path))
    assert "overpowering the generator" in text and "label_smoothing" in text


def test_generator_that_ignores_z_trips_mode_collapse(tmp_path, monkeypatch, capsys):
    from gan_kit import gan, models

    build = models.build_models

    def one_image_generator(config):
        generator, discriminator = build(config)
        ignore_z = keras.Sequential([keras.Input((config.latent_dim,)), keras.layers.Rescaling(0.0, name="ignore_z"),
                                     generator], name="generator")
        return ignore_z, discriminator

    monkeypatch.setattr(gan, "build_models", one_image_generator)  # where build_gan looks it up
    run = gan_kit.train(_digits(tmp_path, epochs=4, steps_per_epoch=3), verbose=0)
    samples = run.sample(8)
    assert np.abs(samples - samples[:1]).max() < 1e-6  # every noise vector gives the same image
    findings = dg.summarize(run.path)
    assert [f.code for f in findings] == ["mode_collapse"]
    assert findings[0].epoch == dg.COLLAPSE_EPOCHS and findings[0].values["ratio"] < 0.01
    assert "Mode collapse" in capsys.readouterr().out  # printed when it first fired


def test_nan_in_a_loss_trips_divergence_and_stops_the_run(tmp_path, monkeypatch):
    import tensorflow as tf

    from gan_kit import gan, losses

    calls = tf.Variable(0.0, trainable=False)
    bce = losses.get_losses("bce")

    def nan_after_four_steps(real_logits, fake_logits, real_labels, fake_labels):
        calls.assign_add(1.0)
        loss = bce.discriminator(real_logits, fake_logits, real_labels, fake_labels)
        return loss + tf.where(calls > 4.0, tf.constant(math.nan), tf.constant(0.0))

    monkeypatch.setattr(gan, "get_losses",
                        lambda name: losses.LossPair(bce.generator, nan_after_four_steps, bce.uses_labels))
    run = gan_kit.train(_digits(tmp_path, epochs=4, steps_per_epoch=4), verbose=0)
    assert run.status == "diverged" and runs.read_status(run.path)["epoch"] == 2
    assert len(run.history["epoch"]) == 2  # stopped in epoch 2 of 4
    (finding,) = dg.summarize(run.path)
    assert finding.code == "divergence" and finding.values["metric"] == "d_loss" and finding.epoch == 2
    assert "last good checkpoint" in finding.explanation
