"""Tests for gan_kit.runs: run folders (creation, listing, history, status, safe loading) and RunFolder, the one
writer of a run folder (the files it writes, the callbacks that write through the writer they are handed, a
training run that writes nothing else, and the names it refuses)."""

from __future__ import annotations

import json
import math
import os
import stat
import types
from pathlib import Path

import keras
import numpy as np
import pytest

import gan_kit
from gan_kit import callbacks, checkpoints, diagnostics, fileio, runs, tracking
from gan_kit.images import save_image_grid
from gan_kit.runs import RunFolder


def test_create_run_dir_never_reuses(tmp_path):
    a = runs.create_run_dir(tmp_path, "x", timestamp="t")
    b = runs.create_run_dir(tmp_path, "x", timestamp="t")
    assert a.name == "x-t" and b.name == "x-t-1"
    assert (a / "samples").is_dir()


def test_unwritable_output_dir(tmp_path, monkeypatch):
    # CI runs as root, who can write anywhere, so the permission check itself is simulated.
    monkeypatch.setattr(runs.os, "access", lambda path, mode: False)
    with pytest.raises(fileio.RunFolderError, match="not writable.*output_dir"):
        runs.create_run_dir(tmp_path, "x")
    assert list(tmp_path.iterdir()) == []


def test_output_dir_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(fileio.RunFolderError, match="output_dir"):
        runs.create_run_dir(f / "runs", "x")


def test_history_round_trip_with_nan(tmp_path):
    runs.write_history(tmp_path, {"epoch": [1, 2], "g_loss": [0.5, float("nan")]})
    h = runs.load_history(tmp_path)
    assert h["epoch"] == [1.0, 2.0] and h["g_loss"][0] == 0.5 and math.isnan(h["g_loss"][1])


def test_atomic_write_leaves_no_temp_files(tmp_path):
    fileio.atomic_write_text(tmp_path / "a.txt", "one")
    fileio.atomic_write_text(tmp_path / "a.txt", "two")
    assert (tmp_path / "a.txt").read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_json_and_status(tmp_path):
    fileio.write_json(tmp_path / "m.json", {"fid": float("inf"), "n": 3})
    assert fileio.read_json(tmp_path / "m.json") == {"fid": None, "n": 3}
    assert runs.read_status(tmp_path)["state"] == "unknown"
    runs.write_status(tmp_path, "finished", epochs=2)
    assert runs.read_status(tmp_path)["state"] == "finished"
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(fileio.RunFolderError, match="bad.json"):
        fileio.read_json(tmp_path / "bad.json")


def test_list_runs(tmp_path):
    assert runs.list_runs(tmp_path / "none") == []
    a = runs.create_run_dir(tmp_path, "a")
    fileio.write_json(a / "config.json", {})
    runs.create_run_dir(tmp_path, "no-config")
    assert runs.list_runs(tmp_path) == [a]


def test_atomic_writes_get_the_usual_permissions(tmp_path):
    # A report or grid written by the kit must be readable by others (a browser, a web server), like
    # any file the user creates: 0666 minus the umask, not mkstemp's private 0600.
    old = os.umask(0o022)
    try:
        path = fileio.atomic_write_text(tmp_path / "report.html", "<html></html>")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_models_load_in_safe_mode(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda t: t * 2)])
    (tmp_path / "generator.keras").parent.mkdir(exist_ok=True)
    model.save(tmp_path / "generator.keras")
    with pytest.raises(ValueError, match="(?i)lambda|unsafe|safe_mode"):
        gan_kit.runs.load_generator(tmp_path)


# ----------------------------------------------------------------- RunFolder, the one writer
class RecordingFolder(RunFolder):
    """A writer that keeps the name of every file (or folder) it is asked to write."""

    def __init__(self, path):
        super().__init__(path)
        self.names: list[str] = []

    def file(self, name: str) -> Path:
        self.names.append(name)
        return super().file(name)


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def _tiny_model() -> keras.Model:
    inputs = keras.Input((3,))
    return keras.Model(inputs, keras.layers.Dense(2)(inputs))


# =============================================================================== the files it writes


def test_the_writer_writes_each_run_file_under_its_name(tmp_path):
    config = gan_kit.for_profile("smoke", dataset="cifar10", output_dir=str(tmp_path), epochs=2)
    folder = RunFolder.create(tmp_path, "tiny", timestamp="t")
    assert folder.path == tmp_path / "tiny-t" and _files(folder.path) == set() and (folder.path / "samples").is_dir()

    assert folder.write_config(config) == folder.path / "config.json"
    assert (folder.path / "config.json").read_text() == config.to_json() + "\n"
    assert runs.read_config(folder) == config  # a RunFolder is path-like: the readers take it
    folder.write_status("running", epoch=0)
    assert runs.read_status(folder.path)["state"] == "running" and runs.read_status(folder.path)["epoch"] == 0
    folder.write_json(runs.RUNTIME_FILE, {"mixed_precision": "float32", "score": math.nan})
    assert json.loads((folder.path / "runtime.json").read_text()) == {"mixed_precision": "float32", "score": None}
    folder.write_history({"epoch": [1, 2, 3], "g_loss": [0.5, math.nan, 0.25]})
    assert (folder.path / "history.csv").read_text() == "epoch,g_loss\n1,0.5\n2,nan\n3,0.25\n"
    folder.write_history({"step": [1], "epoch": [1], "d_loss": [1.5]}, file=runs.STEPS_FILE)
    assert runs.load_steps(folder.path) == {"step": [1.0], "epoch": [1.0], "d_loss": [1.5]}
    kept = folder.truncate_history(2)  # read back as floats, so written back as floats
    assert kept["epoch"] == [1.0, 2.0] and kept["g_loss"][0] == 0.5 and math.isnan(kept["g_loss"][1])
    assert (folder.path / "history.csv").read_text() == "epoch,g_loss\n1.0,0.5\n2.0,nan\n"

    assert folder.save_progress_gif() is None  # no grid yet: no gif
    images = np.random.default_rng(0).uniform(-1, 1, (4, 8, 8, 1)).astype(np.float32)
    for epoch in (0, 3):
        assert folder.save_samples(images, epoch, 2) == runs.sample_path(folder.path, epoch)
    expected = save_image_grid(images, tmp_path / "expected.png", 2)
    assert runs.sample_path(folder.path, 3).read_bytes() == expected.read_bytes()
    assert folder.save_progress_gif() == folder.path / "progress.gif"
    assert (folder.path / "progress.gif").read_bytes()[:6] == b"GIF89a"
    assert _files(folder.path) == {"config.json", "status.json", "runtime.json", "history.csv", "steps.csv",
                                   "samples/epoch_0000.png", "samples/epoch_0003.png", "progress.gif"}


def test_the_writer_saves_models_and_weights_through_temp_files(tmp_path):
    folder = RunFolder(tmp_path / "run")
    model = _tiny_model()
    folder.save_models({runs.GENERATOR_FILE: model})
    path = folder.save_weights(model, "checkpoints/epoch_0001.weights.h5")
    folder.write_bytes("checkpoints/fixed_noise.npy", b"\x93NUMPY")
    assert path == tmp_path / "run" / "checkpoints" / "epoch_0001.weights.h5"
    assert _files(folder.path) == {"generator.keras", "checkpoints/epoch_0001.weights.h5",
                                   "checkpoints/fixed_noise.npy"}  # no temp file is left
    x = np.ones((2, 3), np.float32)
    np.testing.assert_allclose(runs.load_model(folder.path / "generator.keras")(x), model(x), atol=1e-6)
    copy = _tiny_model()
    copy.load_weights(path)
    np.testing.assert_allclose(copy(x), model(x), atol=1e-6)
    folder.remove("checkpoints/epoch_0001.weights.h5")
    folder.remove("checkpoints/epoch_0001.weights.h5")  # already gone: nothing happens
    assert folder.folder(runs.TENSORBOARD_DIR).is_dir()
    assert _files(folder.path) == {"generator.keras", "checkpoints/fixed_noise.npy"}


def test_the_module_writers_keep_the_files_they_wrote_before(tmp_path):
    """``runs.write_history`` / ``write_status`` / ``save_keras`` / ``truncate_history`` write through a RunFolder
    and give the same files as the writer itself."""
    history = {"epoch": [1, 2], "g_loss": [0.5, 0.25]}
    runs.write_history(tmp_path / "a", history)
    RunFolder(tmp_path / "b").write_history(history)
    assert (tmp_path / "a" / "history.csv").read_bytes() == (tmp_path / "b" / "history.csv").read_bytes()
    runs.truncate_history(tmp_path / "a", 1)
    assert (tmp_path / "a" / "history.csv").read_text() == "epoch,g_loss\n1.0,0.5\n"
    runs.write_status(tmp_path / "a", "finished", epochs=2)
    assert runs.read_state(tmp_path / "a") == "finished"
    runs.save_keras(tmp_path / "a", {"generator.keras": _tiny_model()})
    assert _files(tmp_path / "a") == {"history.csv", "status.json", "generator.keras"}


# =============================================================================== callbacks write through it


def test_each_writing_callback_writes_through_the_writer_it_is_handed(tmp_path):
    folder = RecordingFolder(tmp_path / "run")
    history = callbacks.HistoryWriter(folder, columns=["g_loss"])
    assert history.folder is folder and history.run_dir == folder.path
    history.on_epoch_end(0, {"g_loss": 1.0})
    assert folder.names == ["history.csv"]

    model = types.SimpleNamespace(grid_images=lambda noise: np.zeros((4, 8, 8, 1), np.float32), diverged=None)
    grid = callbacks.SampleGrid(folder, np.zeros((4, 2), np.float32), every=1)
    grid.set_model(model)
    grid.set_params({"epochs": 1})
    grid.on_train_begin()
    grid.on_epoch_end(0)
    steps = callbacks.StepLogger(folder, keys=("g_loss",))
    steps.on_epoch_begin(0)
    steps.on_train_batch_end(0, {"g_loss": 0.5})
    steps.on_epoch_end(0)
    callbacks.save_models(types.SimpleNamespace(generator=_tiny_model(), discriminator=_tiny_model()), folder)
    checkpoints.fixed_noise_for(folder, gan_kit.for_profile("smoke", dataset="cifar10"))
    diagnostics.write(folder, [])
    logger = tracking.TensorBoardLogger(folder)
    logger.set_model(model)
    logger.on_train_begin()
    logger.on_train_end()
    assert folder.names == ["history.csv", "samples/epoch_0000.png", "samples/epoch_0001.png", "steps.csv",
                            "generator.keras", "discriminator.keras", "checkpoints/fixed_noise.npy",
                            "diagnostics.json", "tensorboard"]
    written = _files(folder.path)
    assert {n for n in written if not n.startswith("tensorboard/")} == set(folder.names) - {"tensorboard"}


def test_a_callback_given_a_path_makes_its_own_writer(tmp_path):
    for callback in (callbacks.HistoryWriter(tmp_path), callbacks.StepLogger(tmp_path),
                     callbacks.ModelCheckpoints(tmp_path, every=1), callbacks.DiagnosticsCallback(tmp_path),
                     callbacks.SampleGrid(str(tmp_path), np.zeros((1, 2), np.float32)),
                     checkpoints.TrainingState(tmp_path), tracking.TensorBoardLogger(tmp_path),
                     tracking.WandbLogger(tmp_path)):
        assert isinstance(callback.folder, RunFolder) and callback.run_dir == tmp_path, type(callback).__name__
    given = RunFolder(tmp_path)
    assert RunFolder.of(given) is given and RunFolder.of(tmp_path).path == tmp_path


# =============================================================================== training writes only through it


def test_a_training_run_writes_every_file_through_its_one_writer(tiny_config, tiny_dataset, monkeypatch):
    seen: list[tuple[int, str]] = []
    original = RunFolder.file

    def recording(self, name):
        seen.append((id(self), name))
        return original(self, name)

    monkeypatch.setattr(RunFolder, "file", recording)
    run = gan_kit.train(tiny_config.replace(log_steps=True, tensorboard=True, diagnostics=True), dataset=tiny_dataset,
                        verbose=0)
    assert len({writer for writer, _ in seen}) == 1  # one writer for the whole run
    names = {name for _, name in seen}
    files = _files(run.path)
    unowned = {f for f in files if f not in names and not any(f.startswith(n + "/") for n in names)}
    assert not unowned, f"written into the run folder without its writer: {sorted(unowned)}"
    assert {"config.json", "status.json", "runtime.json", "history.csv", "steps.csv", "diagnostics.json",
            "progress.gif", "generator.keras", "discriminator.keras", "samples/epoch_0000.png",
            "samples/epoch_0002.png", "checkpoints/state.json", "checkpoints/fixed_noise.npy",
            "checkpoints/epoch_0002.weights.h5"} <= files
    assert any(f.startswith("tensorboard/events.out.tfevents") for f in files)
    assert not [f for f in files if ".tmp" in f]
    assert runs.read_state(run.path) == "finished"


# =============================================================================== bad input


def test_a_folder_that_is_a_file_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("epoch\n")
    with pytest.raises(fileio.RunFolderError, match=r"history\.csv is a file, not a run folder.*Pass the folder"):
        RunFolder(path)
    with pytest.raises(fileio.RunFolderError, match="is a file, not a run folder"):
        callbacks.HistoryWriter(path)  # at construction, not at the end of the first epoch
    with pytest.raises(fileio.RunFolderError, match="is a file, not a run folder"):
        runs.write_status(path, "running")


@pytest.mark.parametrize("name", ["../escape.json", "samples/../../escape.json", "", "/tmp/escape.json"])
def test_names_outside_the_folder_are_refused(tmp_path, name):
    folder = RunFolder(tmp_path / "run")
    with pytest.raises(fileio.RunFolderError, match="is not a name inside the run folder.*without '..'"):
        folder.write_json(name, {"a": 1})
    with pytest.raises(fileio.RunFolderError, match="not a name inside the run folder"):
        folder.write_bytes(name, b"x")
    assert list(tmp_path.rglob("*")) == []


def test_an_unknown_state_is_refused():
    with pytest.raises(ValueError, match=r"Unknown run state 'done'.*'finished'"):
        RunFolder("anywhere").write_status("done")


# =============================================================================== the artifact writers write through it


def _tiny_generator(latent_dim: int, shape: tuple[int, int, int] = (32, 32, 1)) -> keras.Model:
    """Noise -> images in [-1, 1] of ``shape``, with seeded weights."""
    inputs = keras.Input((latent_dim,))
    init = keras.initializers.RandomNormal(seed=1)
    dense = keras.layers.Dense(int(np.prod(shape)), activation="tanh", kernel_initializer=init)(inputs)
    return keras.Model(inputs, keras.layers.Reshape(shape)(dense))


def _tiny_extractor(classes: int = 10):
    """A real ``FeatureExtractor`` around a seeded two-headed network: 4 features, ``classes`` logits."""
    from gan_kit.metrics import FeatureExtractor

    inputs = keras.Input((32, 32, 1))
    flat = keras.layers.Flatten()(inputs)
    init = keras.initializers.RandomNormal(seed=2)
    features = keras.layers.Dense(4, kernel_initializer=init)(flat)
    logits = keras.layers.Dense(classes, kernel_initializer=init)(flat)
    return FeatureExtractor(keras.Model(inputs, [features, logits]), "tiny-extractor", (32, 32, 1), classes,
                            batch_size=32)


def _tiny_run(tmp_path: Path, latent_dim: int) -> RecordingFolder:
    """A recording writer of a digits GAN run folder holding its config and a tiny generator, names cleared."""
    folder = RecordingFolder(tmp_path / "run")
    config = gan_kit.for_profile("smoke", dataset="digits", output_dir=str(tmp_path), latent_dim=latent_dim)
    folder.write_config(config)
    folder.save_models({runs.GENERATOR_FILE: _tiny_generator(latent_dim)})
    folder.names.clear()
    return folder


def test_vae_artifacts_are_written_through_the_writer(tmp_path):
    from gan_kit import vae

    config = gan_kit.for_profile("smoke", dataset="digits", model="vae", latent_dim=2)
    folder = RecordingFolder(tmp_path / "run")
    written = vae.save_artifacts(vae.build_vae(config), folder, config, n_recon=4, n_pairs=2, steps=3,
                                 n_scatter=40)
    assert folder.names == ["reconstructions.png", "interpolations.png", "latent_scatter.png"]
    assert written == {key: folder.path / f"{key}.png" for key in ("reconstructions", "interpolations",
                                                                    "latent_scatter")}
    assert _files(folder.path) == set(folder.names)


def test_gan_interpolations_are_written_through_the_writer(tmp_path):
    from gan_kit import lab

    folder = _tiny_run(tmp_path, latent_dim=4)
    written = lab.save_gan_interpolations(folder, pairs=2, steps=3)
    assert folder.names == ["interpolations.png"] and written == folder.path / "interpolations.png"
    first = written.read_bytes()
    assert lab.save_gan_interpolations(folder.path, pairs=2, steps=3).read_bytes() == first  # a path: same file


def test_metrics_are_written_through_the_writer(tmp_path):
    from gan_kit import metrics

    folder = _tiny_run(tmp_path, latent_dim=4)
    extractor, cache = _tiny_extractor(), tmp_path / "cache"
    result = metrics.evaluate(folder, extractor=extractor, samples=64, cache_dir=cache)
    rows = metrics.evaluate_per_class(folder, extractor=extractor, samples_per_class=8, real_samples=60,
                                      cache_dir=cache)
    assert folder.names == ["metrics.json", "metrics_per_class.json"]
    assert _files(folder.path) == {"config.json", "generator.keras", "metrics.json", "metrics_per_class.json"}
    fileio.write_json(tmp_path / "expected.json", result)  # the same bytes as the writer before RunFolder
    assert (folder.path / "metrics.json").read_bytes() == (tmp_path / "expected.json").read_bytes()
    per_class = json.loads((folder.path / "metrics_per_class.json").read_text())
    fileio.write_json(tmp_path / "rows.json", rows)
    assert per_class["table"] == json.loads((tmp_path / "rows.json").read_text()) and len(rows) == 10
    assert {"extractor": "tiny-extractor", "samples_per_class": 8, "seed": 0, "conditional": False}.items() \
        <= per_class.items()
