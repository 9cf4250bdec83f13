import math
import os
import stat

import pytest

from gan_kit import fileio, runs


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
