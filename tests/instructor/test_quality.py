"""The quality benchmark (gan_kit.instructor.quality): generators saved at wall-clock budgets, scored against a
reference trained in the same call."""

from __future__ import annotations

import json

import pytest

from gan_kit import runs
from gan_kit.config import for_profile
from gan_kit.instructor import quality


def test_wall_clock_budgets_snapshot_the_sampler_and_stop_training(tmp_path):
    import gan_kit

    config = for_profile("smoke", dataset="digits", output_dir=str(tmp_path / "runs"), epochs=10_000,
                         steps_per_epoch=2, batch_size=16, max_examples=64, g_width=4, d_width=4, ema=0.9,
                         tensorboard=False, diagnostics=False, sample_every=10_000, checkpoint_every=10_000)
    clock = quality.WallClockBudgets(tmp_path / "snaps", budgets=(3, 1))
    run = gan_kit.train(config, callbacks=[clock], verbose=0)
    assert run.status == "finished" and clock.short == []
    epochs = len(runs.load_history(run.path)["epoch"])
    assert 1 <= epochs < 10_000  # stopped by the last budget, not by the epochs
    assert sorted(clock.reached) == [1, 3] and 0 < clock.reached[1] <= clock.reached[3] <= 2 * epochs
    ema = runs.load_model(tmp_path / "snaps" / "generator_3s.keras")
    assert ema.name == run.model.ema_generator.name  # the EMA copy is what gets scored
    short = quality.WallClockBudgets(tmp_path / "short", budgets=(3600,))
    gan_kit.train(config.replace(epochs=1), callbacks=[short], verbose=0)
    assert short.short == [3600] and (tmp_path / "short" / "generator_3600s.keras").is_file()
    with pytest.raises(ValueError, match="positive"):
        quality.WallClockBudgets(tmp_path, budgets=(0,))


def test_run_quality_scores_each_recipe_against_the_reference_and_writes_quality_json(tmp_path):
    result = quality.run_quality(["sngan"], datasets=("digits",), budgets=(1, 2), samples=100, out=tmp_path,
                                 verbose=False, profile="smoke")
    rows = result["results"]
    assert [(r["recipe"], r["budget_s"]) for r in rows] == [("defaults", 1), ("defaults", 2), ("sngan", 1),
                                                            ("sngan", 2)]
    for row in rows:
        assert row["fid"] >= 0 and 0 <= row["precision"] <= 1 and row["num_classes"] == 10 and row["steps"] >= 1
    assert all(r["fid_vs_reference"] == pytest.approx(1.0) for r in rows if r["recipe"] == "defaults")
    saved = json.loads((tmp_path / "quality.json").read_text())
    assert saved["results"] == json.loads(json.dumps(rows)) and saved["profile"] == "smoke"
    table = quality.format_quality(result)
    assert table.count("\n") == 1 + len(rows) and "| digits | sngan |" in table
    sngan = runs.read_config(rows[-1]["run"])
    assert sngan.loss == "hinge" and sngan.spectral_norm  # the recipe reached the run
    assert runs.read_config(rows[0]["run"]).loss == "bce"
