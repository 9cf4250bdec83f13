"""Tests for gan_kit.lab: the grid, per-profile budgets, a tiny lab (2 GAN points + 1 VAE point on digits, smoke
sizes) that writes its state and report, is not retrained when run again, and lists an offline MNIST as skipped."""

from __future__ import annotations

import json
import shutil

import pytest

from gan_kit import lab, metrics, records, runs
from tests.conftest import datasets_missing

GRID = {"gan_losses": ("bce", "hinge"), "z_dims": (16,), "vae_latents": (4,)}
SMALL = {"batch_size": 16, "max_examples": 64, "grid_size": 2, "metrics_samples": 64}


def test_lab_points_are_the_story_grid():
    points = lab.lab_points()
    assert len(points) == 18
    assert sum(p.model == "gan" for p in points) == 12 and sum(p.model == "vae" for p in points) == 6
    assert [p.dataset for p in points] == ["mnist"] * 9 + ["fashion_mnist"] * 9
    names = [p.name for p in points]
    assert len(set(names)) == 18
    assert names[:3] == ["mnist-gan-bce-z32", "mnist-gan-bce-z64", "mnist-gan-bce-z128"]
    assert names[6:9] == ["mnist-vae-z8", "mnist-vae-z16", "mnist-vae-z32"]
    assert points[4].label == "GAN hinge z64" and points[7].label == "VAE z16"


def test_point_config_applies_the_profile_budget_then_overrides(tmp_path):
    gan_point, vae_point = lab.LabPoint("fashion_mnist", "gan", 64, "hinge"), lab.LabPoint("fashion_mnist", "vae", 16)
    quick = lab.point_config(gan_point, "quick", tmp_path)
    for key, value in lab.LAB_PROFILE_SETTINGS["quick"].items():
        assert getattr(quick, key) == value, key
    assert (quick.name, quick.model, quick.loss) == ("fashion_mnist-gan-hinge-z64", "gan", "hinge")
    assert quick.latent_dim == 64
    assert (quick.image_size, quick.channels, quick.output_dir) == (28, 1, str(tmp_path))
    assert quick.epochs == lab.LAB_EPOCHS and quick.g_lr == lab.GAN_SETTINGS["g_lr"]
    vae_cfg = lab.point_config(vae_point, "quick", tmp_path)
    assert vae_cfg.model == "vae" and vae_cfg.g_lr == lab.VAE_SETTINGS["g_lr"] and vae_cfg.recon_loss == "bce"
    smoke = lab.point_config(gan_point, "smoke", tmp_path)
    assert smoke.epochs == 2 and smoke.steps_per_epoch == 2 and smoke.metrics_every == 1
    assert lab.point_config(gan_point, "smoke", tmp_path, epochs=3, seed=7, metrics_every=0).epochs == 3
    assert lab.point_config(gan_point, "smoke", tmp_path, seed=7, metrics_every=0).metrics_every == 0
    full = lab.point_config(gan_point, "full", tmp_path)
    assert full.epochs == 10 and full.metrics_every == 1 and full.metrics_samples == 5000


def test_short_reason_keeps_the_first_sentence():
    reason = "DatasetNotFoundError: Dataset 'mnist' (split 'train') was not found. Places tried, in order:\n  1. x"
    assert records.short_reason(reason) == "DatasetNotFoundError: Dataset 'mnist' (split 'train') was not found."
    assert records.short_reason("DatasetError: the file is corrupt") == "DatasetError: the file is corrupt"


# =============================================================================== a tiny lab


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    """MNIST unreachable whatever this machine holds (conftest.datasets_missing) and a temp metrics cache."""
    root = tmp_path_factory.mktemp("offline")
    with datasets_missing(root), pytest.MonkeyPatch.context() as mp:
        mp.setenv(metrics.CACHE_ENV, str(root / "cache"))
        yield root


@pytest.fixture(scope="module")
def tiny_lab(offline, tmp_path_factory):
    folder = tmp_path_factory.mktemp("lab")
    lines: list[str] = []
    result = lab.run_lab(("mnist", "digits"), profile="smoke", output_dir=folder, overrides=SMALL, log=lines.append,
                         **GRID)
    return result, lines


def test_tiny_lab_trains_each_point_and_writes_its_state(tiny_lab):
    result, lines = tiny_lab
    assert [r["name"] for r in result.runs] == ["digits-gan-bce-z16", "digits-gan-hinge-z16", "digits-vae-z4"]
    assert [r["state"] for r in result.runs] == ["trained"] * 3 and not result.failed
    state = lab.read_lab(result.folder)
    assert state == json.loads((result.folder / runs.LAB_FILE).read_text())
    assert state["profile"] == "smoke" and state["grid"]["z_dims"] == [16]
    assert [r["path"] for r in state["runs"]] == [r["path"] for r in result.runs]
    assert state["datasets"]["digits"] == {"status": "available"}
    for entry, path in zip(result.runs, result.run_dirs):
        assert path.parent == result.folder / lab.RUNS_DIR and path.name.startswith(entry["name"] + "-")
        assert runs.read_status(path)["state"] == "finished"
        config = runs.read_config(path)
        assert config.profile == "smoke" and config.max_examples == 64 and config.metrics_every == 1
        measured = json.loads((path / "metrics.json").read_text())
        assert measured["samples"] == 64 and measured["dataset"] == "digits" and measured["fid"] >= 0
        assert "fid" in runs.load_history(path)
        assert (path / "interpolations.png").is_file()  # spherical for the GANs, linear for the VAE
    assert (result.run_dirs[2] / "reconstructions.png").is_file()
    md, html = result.report
    assert md == result.folder / lab.REPORT_DIR / "report.md" and html.is_file()
    assert sum(line.startswith("lab [") for line in lines) == 3 and lines[-1].startswith("lab: report at")


def test_gan_interpolations_follow_great_circles_between_seeded_noise(tiny_lab, tmp_path):
    import keras
    import numpy as np
    from PIL import Image

    from gan_kit import images, vae
    from gan_kit.runs import load_generator

    result, _ = tiny_lab
    path = result.run_dirs[0]
    generator = load_generator(path)
    rng = np.random.default_rng(0)  # save_gan_interpolations' default seed
    rows = []
    for _ in range(lab.INTERPOLATION_PAIRS):
        a, b = rng.standard_normal((2, 16))
        arc = vae.slerp(a, b, lab.INTERPOLATION_STEPS)
        np.testing.assert_allclose(np.linalg.norm(arc, axis=1)[[0, -1]], [np.linalg.norm(a), np.linalg.norm(b)],
                                   rtol=1e-5)
        rows.append(keras.ops.convert_to_numpy(generator(arc, training=False)))
    expected = images.save_interpolations(rows, tmp_path / "expected.png")
    got = np.asarray(Image.open(path / "interpolations.png")).astype(int)
    assert np.abs(got - np.asarray(Image.open(expected)).astype(int)).max() <= 1


def test_unavailable_mnist_is_skipped_with_the_reason(tiny_lab):
    result, lines = tiny_lab
    reason = result.skipped["mnist"]
    assert reason.startswith("DatasetNotFoundError: Dataset 'mnist'")
    assert "offline: the test blocks downloads" in reason  # the real cause, not a made-up one
    assert lab.read_lab(result.folder)["datasets"]["mnist"] == {"status": "skipped", "reason": reason}
    assert not [r for r in result.runs if r["dataset"] == "mnist"]  # never replaced by another dataset
    assert lines[0] == f"lab: mnist skipped - {records.short_reason(reason)}"
    text = result.report[0].read_text()
    assert "`mnist`: **skipped** - DatasetNotFoundError" in text and "offline: the test blocks downloads" in text


def test_running_again_reuses_finished_runs(tiny_lab, offline):
    result, _ = tiny_lab
    before = {p: (p / "history.csv").stat().st_mtime_ns for p in result.run_dirs}
    metrics_before = {p: (p / "metrics.json").read_bytes() for p in result.run_dirs}
    folders = sorted(p.name for p in (result.folder / lab.RUNS_DIR).iterdir())
    again = lab.run_lab(("mnist", "digits"), profile="smoke", output_dir=result.folder, overrides=SMALL,
                        verbose=0, **GRID)
    assert [r["state"] for r in again.runs] == ["reused"] * 3
    assert again.run_dirs == result.run_dirs
    assert sorted(p.name for p in (result.folder / lab.RUNS_DIR).iterdir()) == folders
    for p in result.run_dirs:
        assert (p / "history.csv").stat().st_mtime_ns == before[p]
        assert (p / "metrics.json").read_bytes() == metrics_before[p]
    assert [r["state"] for r in lab.read_lab(result.folder)["runs"]] == ["reused"] * 3


def test_find_finished_matches_the_whole_config(tiny_lab, tmp_path):
    result, _ = tiny_lab
    path = result.run_dirs[0]
    config = runs.read_config(path)
    runs_dir = result.folder / lab.RUNS_DIR
    assert lab.find_finished(runs_dir, config) == path
    assert lab.find_finished(runs_dir, config.replace(output_dir=str(tmp_path))) == path  # the folder may move
    assert lab.find_finished(runs_dir, config.replace(seed=1)) is None
    assert lab.find_finished(runs_dir, config.replace(epochs=3)) is None
    # A newer folder of the same config that did not finish is not reused.
    copy = tmp_path / "runs" / (path.name + "-copy")
    shutil.copytree(path, copy)
    shutil.copytree(path, tmp_path / "runs" / path.name)
    runs.write_status(copy, "failed", error="killed")
    assert lab.find_finished(tmp_path / "runs", config) == tmp_path / "runs" / path.name


def test_a_failing_point_is_recorded_and_the_lab_goes_on(offline, tmp_path, monkeypatch):
    from gan_kit import training

    real_train = training.train

    def flaky(config, **kwargs):
        if config.loss == "hinge":
            raise ValueError("boom from the test")
        return real_train(config, **kwargs)

    monkeypatch.setattr(training, "train", flaky)
    result = lab.run_lab(("digits",), gan_losses=("hinge", "bce"), z_dims=(8,), vae_latents=(), profile="smoke",
                         output_dir=tmp_path, overrides={**SMALL, "metrics_every": 0}, evaluate=False, report=False,
                         verbose=0)
    assert [r["state"] for r in result.runs] == ["failed", "trained"]
    assert result.failed[0]["error"] == "ValueError: boom from the test" and "path" not in result.failed[0]
    assert result.report is None
    assert lab.read_lab(tmp_path)["runs"][0]["state"] == "failed"
