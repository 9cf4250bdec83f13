"""Sweeps over a grid of configs (resumable, retried, recorded) and the comparison of their runs.

The grid logic is checked without training; the rest trains real, tiny GANs (digits,
widths 8, two epochs of two steps of batch 16), in this process and, for the kill test,
through ``python -m gan_kit sweep`` in a child process that is SIGKILLed midway.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import pytest

from gan_kit import fileio, runs, training
from gan_kit.__main__ import _grid, main
from gan_kit.compare import compare
from gan_kit.config import ConfigError, for_profile
from gan_kit.runs import SWEEP_FILE, read_sweep
from gan_kit.sweep import grid_points, point_fields, point_label, sweep

REPO = Path(__file__).resolve().parents[1]


def _tiny(tmp_path, **kw):
    values = dict(name="sw", dataset="digits", output_dir=str(tmp_path / "runs"), batch_size=16, max_examples=64,
                  steps_per_epoch=2, epochs=2, g_width=8, d_width=8, grid_size=2, sample_every=1,
                  checkpoint_every=100, tensorboard=False, seed=0)
    values.update(kw)
    return for_profile("smoke", **values)


def _run_folders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if (p / runs.CONFIG_FILE).is_file())


def _mtimes(run_dir: Path) -> dict[str, int]:
    return {str(p.relative_to(run_dir)): p.stat().st_mtime_ns for p in run_dir.rglob("*") if p.is_file()}


# ----------------------------------------------------------------- grids, no training
def test_grid_is_the_cartesian_product_and_a_random_subset_is_a_seeded_part_of_it():
    grid = {"d_lr": [1e-4, 1e-3], "batch_size": [32, 64, 128]}
    points = grid_points(grid)
    assert len(points) == 6
    assert points[:3] == [{"d_lr": 1e-4, "batch_size": b} for b in (32, 64, 128)]  # the last key varies fastest
    subset = grid_points(grid, random_subset=3, seed=1)
    assert len(subset) == 3 and all(p in points for p in subset)
    assert subset == sorted(subset, key=points.index)  # listed in grid order
    assert subset == grid_points(grid, random_subset=3, seed=1)  # the same seed, the same points
    assert {json.dumps(grid_points(grid, 3, seed=s)) for s in range(6)} != {json.dumps(subset)}
    assert grid_points(grid, random_subset=10) == points
    assert point_label({"d_lr": 0.001, "loss": "hinge"}) == "d_lr=0.001, loss='hinge'"
    # A key joining fields with '+' gives them one value (e.g. both networks' Adam beta1).
    tied = grid_points({"g_beta1+d_beta1": [0.2, 0.5], "latent_dim": [100]})
    assert [point_fields(p) for p in tied] == [{"g_beta1": b, "d_beta1": b, "latent_dim": 100} for b in (0.2, 0.5)]
    for bad in ({}, {"d_lr": []}, {"d_lr": "0.1"}, {"d_lr": 0.1}):
        with pytest.raises(ConfigError, match="grid|Grid"):
            grid_points(bad)
    with pytest.raises(ConfigError, match="random_subset"):
        grid_points(grid, random_subset=0)


def test_a_bad_grid_is_refused_before_anything_runs(tmp_path):
    base = _tiny(tmp_path)
    with pytest.raises(ConfigError, match="Unknown grid key.*Valid fields"):
        sweep(base, {"learning_rate": [1e-4]})
    with pytest.raises(ConfigError, match="cannot be swept"):
        sweep(base, {"output_dir": ["a", "b"]})
    with pytest.raises(ConfigError, match=r"d_lr=-1.*not a valid config"):
        sweep(base, {"d_lr": [1e-4, -1]})
    with pytest.raises(ConfigError, match="same config"):
        sweep(base, {"d_lr": [1e-4, 0.0001]})
    with pytest.raises(ConfigError, match=r"Unknown grid key.*g_lr\+betas"):
        sweep(base, {"g_lr+betas": [1e-4]})
    with pytest.raises(ConfigError, match=r"\['d_lr'\] appear in more than one"):
        sweep(base, {"g_lr+d_lr": [1e-4], "d_lr": [2e-4]})
    assert not (tmp_path / "runs").exists()  # nothing was created


def test_cli_grid_values():
    assert _grid(["d_lr=1e-4,2e-4", "d_optimizer=adam, sgd", "latent_dim=[100, 200]"]) == {
        "d_lr": [1e-4, 2e-4], "d_optimizer": ["adam", "sgd"], "latent_dim": [100, 200]}
    for bad in (["d_lr"], ["d_lr="], ["d_lr=1", "d_lr=2"]):
        with pytest.raises(ConfigError, match="--grid"):
            _grid(bad)


def test_cli_sweep_reports_a_bad_grid_as_an_error(capsys):
    assert main(["sweep", "--profile", "smoke", "--grid", "learning_rate=1e-4,1e-3"]) == 2
    assert "Valid fields" in capsys.readouterr().err


# ----------------------------------------------------------------- real, tiny sweeps
def test_sweep_killed_midway_and_started_again_finishes_only_the_missing_runs(tmp_path, capsys):
    """``python -m gan_kit sweep`` is SIGKILLed once its first run has finished; the same command again
    trains the two missing runs and leaves the finished one untouched."""
    config_file = tmp_path / "base.json"
    _tiny(tmp_path).to_json(config_file)
    out = tmp_path / "sweeps"
    argv = ["sweep", "--config", str(config_file), "--grid", "d_lr=1e-4,2e-4,4e-4", "--name", "lr",
            "--output-dir", str(out), "--columns", "g_loss,d_loss"]
    folder = out / "lr"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MPLBACKEND": "Agg"}
    child = subprocess.Popen([sys.executable, "-m", "gan_kit", *argv], cwd=REPO, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and child.poll() is None:
            try:
                states = [p["state"] for p in read_sweep(folder)["points"]]
            except (fileio.RunFolderError, KeyError):
                states = []
            if "finished" in states:
                break
            time.sleep(0.05)
        assert child.poll() is None, child.stderr.read().decode()[-3000:]  # still running: killed midway
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
        child.stderr.close()
    before = read_sweep(folder)
    assert [p["state"] for p in before["points"]][0] == "finished"
    assert [p["state"] for p in before["points"]].count("finished") == 1
    first = folder / before["points"][0]["folder"]
    first_files = _mtimes(first)

    capsys.readouterr()
    assert main(argv) == 0  # the same command again, in this process
    printed = capsys.readouterr().out
    assert "1 already done" in printed and "0 failed" in printed

    after = read_sweep(folder)
    assert [p["state"] for p in after["points"]] == ["finished"] * 3
    assert _mtimes(first) == first_files  # the finished run was not trained again ...
    assert [a.get("result") for a in after["points"][0]["attempts"] if "result" in a] == ["finished"]  # ... once
    folders = _run_folders(folder)
    assert len(folders) == 3  # one run folder per point; an interrupted one was resumed or replaced
    assert sorted(p["folder"] for p in after["points"]) == [p.name for p in folders]
    for point, record in zip(grid_points({"d_lr": [1e-4, 2e-4, 4e-4]}), after["points"]):
        run_dir = folder / record["folder"]
        assert runs.read_config(run_dir).d_lr == point["d_lr"]
        assert runs.load_history(run_dir)["epoch"] == [1.0, 2.0]
    # The comparison the command printed and saved.
    assert printed.count("| lr-") == 3 and "| d_lr |" in printed
    assert (folder / "compare.png").stat().st_size > 0


class _CrashAt(keras.callbacks.Callback):
    def __init__(self, epoch: int):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError(f"simulated crash in epoch {epoch + 1}")


@pytest.fixture
def flaky_sweep(tmp_path, monkeypatch):
    """A random 3 of a 2 x 2 grid in which the first point crashes once in its second epoch and the
    last always fails before training."""
    grid = {"d_lr": [1e-4, 1e-3], "g_lr": [1e-4, 2e-4]}
    chosen = grid_points(grid, random_subset=3, seed=3)
    crash_once, always = (chosen[0]["d_lr"], chosen[0]["g_lr"]), (chosen[2]["d_lr"], chosen[2]["g_lr"])
    crashes = []
    real_build = training.build_gan

    def build(config, runtime=None):
        key = (config.d_lr, config.g_lr)
        if key == always:
            raise RuntimeError("simulated failure before training")
        gan = real_build(config, runtime)
        if key == crash_once and not crashes:
            crashes.append(key)
            fit = gan.fit

            def crashing_fit(*args, callbacks=(), **kwargs):
                return fit(*args, callbacks=[*callbacks, _CrashAt(epoch=1)], **kwargs)

            gan.fit = crashing_fit
        return gan

    monkeypatch.setattr(training, "build_gan", build)
    base = _tiny(tmp_path)

    def run():
        return sweep(base, grid, random_subset=3, seed=3, output_dir=tmp_path / "sweeps", name="flaky", retries=1)

    return run, chosen


def test_a_crashed_run_is_resumed_and_a_failing_one_recorded(flaky_sweep, capsys):
    run_sweep, chosen = flaky_sweep
    result = run_sweep()
    assert result.points == chosen and len(result.runs) == 3
    assert result.statuses == ["finished", "finished", "failed"]
    assert result.failed == {point_label(chosen[2]): "RuntimeError: simulated failure before training"}
    assert "failed: RuntimeError: simulated crash in epoch 2" in capsys.readouterr().out  # said when it happened

    record = read_sweep(result.folder)
    crashed, healthy, failing = record["points"]
    assert crashed["errors"] == ["RuntimeError: simulated crash in epoch 2"]
    results = [(a["action"], a["result"]) for a in crashed["attempts"] if "result" in a]
    assert results == [("new", "failed"), ("resume", "finished")]  # retried from its epoch-1 checkpoint
    assert runs.load_history(result.runs[0])["epoch"] == [1.0, 2.0]
    assert "errors" not in healthy and healthy["state"] == "finished"
    assert failing["state"] == "failed" and len(failing["errors"]) == 2  # 1 + retries attempts
    assert runs.read_status(result.runs[2])["state"] == "failed"  # the folder says so too
    assert "simulated failure" in runs.read_status(result.runs[2])["error"]
    assert len(_run_folders(result.folder)) == 3

    # Started again: the done runs are skipped untouched, the failing point is tried again.
    done = {p: _mtimes(p) for p in result.runs[:2]}
    again = run_sweep()
    assert again.skipped == result.runs[:2] and again.runs[:2] == result.runs[:2]
    assert {p: _mtimes(p) for p in result.runs[:2]} == done
    assert len(read_sweep(result.folder)["points"][2]["errors"]) == 4  # errors of both calls are kept

    # Another sweep over the same points reuses the done runs of this one (e.g. a shared baseline).
    other = sweep(_tiny(result.folder.parent.parent), {"d_lr": [chosen[0]["d_lr"]], "g_lr": [chosen[0]["g_lr"]]},
                  output_dir=result.folder.parent, name="other", reuse=[result.folder])
    assert other.runs == [result.runs[0]] and other.skipped == [result.runs[0]]
    assert read_sweep(other.folder)["points"][0]["reused"] is True
    assert compare([other.folder]).runs == [result.runs[0]]  # stored relative to the sweep folder
    assert {p: _mtimes(p) for p in result.runs[:2]} == done

    # compare(): config differences and final values, and overlay plots of the chosen columns.
    comparison = again.compare(columns=["g_loss", "d_fake_prob"], save_to=result.folder / "cmp.png")
    table = comparison.table
    assert [row["run"] for row in table] == [p.name for p in again.runs]  # the failing point's folder is new
    assert [row["status"] for row in table] == ["finished", "finished", "failed"]
    differing = [k for k in ("d_lr", "g_lr") if len({p[k] for p in chosen}) > 1]
    assert differing and all(k in table[0] for k in differing)
    for row, point in zip(table, chosen):
        assert {k: row[k] for k in differing} == {k: point[k] for k in differing}
        assert "seed" not in row and "name" not in row  # only what differs
    for row, path in zip(table[:2], result.runs[:2]):
        history = runs.load_history(path)
        assert row["epochs_done"] == 2
        assert row["g_loss"] == history["g_loss"][-1] and row["d_fake_prob"] == history["d_fake_prob"][-1]
    assert table[2]["epochs_done"] == 0 and math.isnan(table[2]["g_loss"])
    axes = [ax for ax in comparison.figure.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == ["g_loss", "d_fake_prob"]
    for ax in axes:  # one labelled line per run that has a history (the 0.5 reference line has no label)
        assert len([line for line in ax.get_lines() if not line.get_label().startswith("_")]) == 2
    assert (result.folder / "cmp.png").read_bytes()[:4] == b"\x89PNG"
    markdown = comparison.to_markdown()
    assert markdown.splitlines()[0].startswith("| run | status |") and len(markdown.splitlines()) == 5
    # A sweep folder stands for its runs, in grid order.
    assert compare([result.folder]).runs == again.runs
    with pytest.raises(ValueError, match="neither|not a run folder"):
        compare([result.folder / "nothing"])
    assert (result.folder / SWEEP_FILE).is_file()


# ----------------------------------------------------------------- parallel sweeps (separate processes)
def test_two_points_train_at_once_in_two_processes(tmp_path):
    """``parallel=2``: both points train at the same time, each in its own spawned process; both finish and the
    sweep table (``sweep.json``, ``compare``) lists them in grid order."""
    grid = {"d_lr": [1e-4, 2e-4]}
    result = sweep(_tiny(tmp_path), grid, parallel=2, output_dir=tmp_path / "sweeps", name="par")
    assert result.statuses == ["finished", "finished"] and not result.failed and not result.skipped
    record = read_sweep(result.folder)
    assert record["parallel"] == 2
    assert [p["state"] for p in record["points"]] == ["finished", "finished"]
    assert [p["point"] for p in record["points"]] == grid_points(grid)
    assert [result.folder / p["folder"] for p in record["points"]] == result.runs
    spans = []
    for point, run_dir in zip(grid_points(grid), result.runs):
        assert runs.read_config(run_dir).d_lr == point["d_lr"]
        assert runs.load_history(run_dir)["epoch"] == [1.0, 2.0]
        assert (run_dir / "generator.keras").is_file()
        spans.append(((run_dir / runs.CONFIG_FILE).stat().st_mtime, (run_dir / "status.json").stat().st_mtime))
    (start_a, end_a), (start_b, end_b) = spans
    assert start_a < end_b and start_b < end_a  # the two runs overlapped in time: trained at once
    table = result.compare(columns=["g_loss"]).table
    assert [row["run"] for row in table] == [p.name for p in result.runs]
    assert [row["d_lr"] for row in table] == [1e-4, 2e-4] and [row["status"] for row in table] == ["finished"] * 2


def _workers_of(pid: int) -> list[int]:
    """The processes ``multiprocessing`` spawned for ``pid`` (its pool's workers; not its resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid and "multiprocessing" in cmdline and "resource_tracker" not in cmdline:
            found.append(int(entry.name))
    return sorted(found)


def _run_held_open_by(pid: int, folder: Path) -> Path | None:
    """The run folder in ``folder`` of which process ``pid`` holds a file open (its TensorBoard event file)."""
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return None
    for fd in fds:
        try:
            target = Path(os.readlink(fd))
        except OSError:
            continue
        if folder in target.parents:
            return folder / target.relative_to(folder).parts[0]
    return None


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="finds the sweep's worker processes through /proc")
def test_a_killed_worker_process_leaves_the_other_run_intact_and_resumable(tmp_path, capsys):
    """``sweep --parallel 2``: one worker process is SIGKILLed after its run's first checkpoint. The other run
    trains on to the end untouched; the killed one is resumed from its checkpoint by the same command."""
    config_file = tmp_path / "base.json"
    _tiny(tmp_path, epochs=3, tensorboard=True).to_json(config_file)  # TensorBoard's open event file names the run
    out = tmp_path / "sweeps"
    argv = ["sweep", "--config", str(config_file), "--grid", "d_lr=1e-4,2e-4", "--name", "kill", "--parallel", "2",
            "--retries", "0", "--output-dir", str(out)]
    folder = (out / "kill").resolve()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MPLBACKEND": "Agg"}
    child = subprocess.Popen([sys.executable, "-m", "gan_kit", *argv], cwd=REPO, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    victim = victim_run = None
    try:
        deadline = time.monotonic() + 300
        while victim is None and time.monotonic() < deadline and child.poll() is None:
            held = {pid: _run_held_open_by(pid, folder) for pid in _workers_of(child.pid)}
            training = {pid: run for pid, run in held.items() if run is not None and runs.read_state(run) == "running"}
            if len(training) == 2:  # both points training at once; kill one that has a checkpoint
                for pid, run_dir in training.items():
                    if (run_dir / "checkpoints" / "state.json").is_file():
                        victim, victim_run = pid, run_dir
                        break
            time.sleep(0.02)
        assert victim is not None, "no worker reached its first checkpoint: " + child.stderr.read().decode()[-3000:]
        os.kill(victim, signal.SIGKILL)
        child.wait(timeout=300)
        stderr = child.stderr.read().decode()[-3000:]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stderr.close()
    record = read_sweep(folder)
    states = {p["folder"]: p["state"] for p in record["points"]}
    assert child.returncode == 1, (states, stderr)  # the killed point is reported failed (no retries in this call)
    assert len(states) == 2 and states.pop(victim_run.name) != "finished"
    other = folder / next(iter(states))
    assert states[other.name] == "finished", stderr
    killed = next(p for p in record["points"] if p["folder"] == victim_run.name)
    assert killed["errors"] and "terminated abruptly" in killed["errors"][-1]
    # The other run went on to the end in its own process: complete and consistent.
    assert runs.read_state(other) == "finished" and runs.load_history(other)["epoch"] == [1.0, 2.0, 3.0]
    assert (other / "generator.keras").is_file() and (other / "progress.gif").is_file()
    # The killed run still says running (nobody could mark it) and holds a complete checkpoint.
    assert runs.read_state(victim_run) == "running"
    saved = json.loads((victim_run / "checkpoints" / "state.json").read_text())
    assert saved["epoch"] >= 1 and (victim_run / "checkpoints" / saved["weights"]).is_file()
    other_files = _mtimes(other)

    capsys.readouterr()
    assert main(argv[:-2] + ["--parallel", "1", "--output-dir", str(out)]) == 0  # the same sweep again
    after = read_sweep(folder)
    assert [p["state"] for p in after["points"]] == ["finished", "finished"]
    resumed = next(p for p in after["points"] if p["folder"] == victim_run.name)
    assert ("resume", "finished") in [(a["action"], a.get("result")) for a in resumed["attempts"] if "result" in a]
    assert runs.load_history(victim_run)["epoch"] == [1.0, 2.0, 3.0]
    assert _mtimes(other) == other_files  # the other run was not touched
    assert len(_run_folders(folder)) == 2
