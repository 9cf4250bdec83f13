"""``distribute="multi_worker"``: two worker processes on 127.0.0.1 train one run together.

Two ``python -m gan_kit train --set distribute=multi_worker`` processes, one CPU device each, form a
``TF_CONFIG`` cluster on free local ports. Only the chief (worker 0) writes the run folder; the other
worker's scratch folder is removed. The run is then resumed from the chief's checkpoint by both
workers, and the generator is compared with one process trained on the global batch.

Tolerance: both optimizers are SGD (lr 0.005), float32, no dropout. SGD makes every update proportional
to the gradient, so a loss scaled by the local instead of the global batch (twice the step), noise that
every worker draws alike, or BatchNorm over each worker's half of the batch each move the generator away
from one process by about as much as training moves it. Measured 2026-12-02 on this CPU, 4 steps: local
batch 8.3e-3, unshared noise 5.3e-3, unsynchronized BatchNorm 5.3e-3 (trainable weights moved 6.7e-3);
the correct code 6.1e-6, float32 round-off from summing the two halves' gradients and the synchronized
variance. The bound, 1e-4, is 16x that round-off and 50x below the smallest of those errors.

Why lr 0.005: at lr 0.05 this tiny GAN is chaotic. Scaling D's initial weights by (1 + 1e-7 * noise), a
round-off-sized change, moved one process's generator by 1.7e-3 after 4 steps (lr 0.01: 2.6e-4); at
lr 0.005 by 1.2e-7. A bound must sit above round-off amplified by the dynamics, so the dynamics must
not amplify it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gan_kit import devices, runs
from gan_kit.config import for_profile
from gan_kit.devices import ClusterError

REPO = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-4


def _config(tmp_path, **kw):
    values = dict(name="mw", dataset="digits", output_dir=str(tmp_path / "runs"), batch_size=16, max_examples=64,
                  steps_per_epoch=2, epochs=1, g_width=8, d_width=8, d_dropout=0.0, grid_size=2, sample_every=1,
                  checkpoint_every=1, tensorboard=False, diagnostics=False, mixed_precision="off", seed=0,
                  g_optimizer="sgd", d_optimizer="sgd", g_lr=0.005, d_lr=0.005)
    values.update(kw)
    return for_profile("smoke", **values)


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _workers(argv: list[str], tmp_path: Path, timeout: float = 400) -> list[tuple[int, str, Path]]:
    """Run ``python -m gan_kit *argv`` as the two workers of a fresh cluster: (exit code, output, temp folder)."""
    addresses = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    children = []
    for index in range(2):
        scratch = tmp_path / f"tmp-worker{index}-{len(list(tmp_path.glob(f'tmp-worker{index}-*')))}"
        scratch.mkdir()
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MPLBACKEND": "Agg", "TMPDIR": str(scratch),
               "PYTHONPATH": str(REPO), "CUDA_VISIBLE_DEVICES": "",
               "TF_CONFIG": json.dumps({"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}})}
        children.append((subprocess.Popen([sys.executable, "-m", "gan_kit", *argv], cwd=REPO, env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True), scratch))
    results = []
    try:
        for child, scratch in children:
            out, _ = child.communicate(timeout=timeout)
            results.append((child.returncode, out[-3000:], scratch))
    finally:
        for child, _ in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    return results


def _only_run(output_dir: Path) -> Path:
    folders = [p for p in output_dir.iterdir()]
    assert len(folders) == 1 and runs.is_run(folders[0]), folders  # exactly one run folder, nothing else
    return folders[0]


def test_two_workers_write_one_run_folder_resume_it_and_match_one_process(tmp_path):
    import gan_kit

    cfg = _config(tmp_path)
    cfg.to_json(tmp_path / "config.json")
    started = _workers(["train", "--config", str(tmp_path / "config.json"), "--set", "distribute=multi_worker"],
                       tmp_path)
    for code, out, scratch in started:
        assert code == 0, out
        assert list(scratch.iterdir()) == []  # the non-chief's scratch folder was removed; the chief made none
    run_dir = _only_run(tmp_path / "runs")
    assert runs.read_state(run_dir) == "finished"
    runtime = json.loads((run_dir / runs.RUNTIME_FILE).read_text())
    assert runtime["distribute"] == "multi_worker" and "2 worker(s)" in runtime["reasons"]["distribute"]
    assert "the chief" in runtime["reasons"]["distribute"]
    assert runs.read_config(run_dir).distribute == "multi_worker"

    # Both workers resume from the chief's checkpoint (worker 1 from a private copy it then removes).
    resumed = _workers(["train", "--resume", str(run_dir), "--set", "epochs=2"], tmp_path)
    for code, out, scratch in resumed:
        assert code == 0, out
        assert list(scratch.iterdir()) == []
    assert _only_run(tmp_path / "runs") == run_dir
    assert runs.read_state(run_dir) == "finished" and runs.load_history(run_dir)["epoch"] == [1.0, 2.0]

    # One process, the global batch (16), the same seed, two epochs straight.
    reference = gan_kit.train(cfg.replace(distribute="off", epochs=2, output_dir=str(tmp_path / "reference")),
                              verbose=0)
    expected = reference.generator.get_weights()
    got = runs.load_generator(run_dir).get_weights()
    import keras

    from gan_kit.models import build_models

    keras.utils.set_random_seed(cfg.seed)
    initial = [w.numpy() for w in build_models(cfg)[0].trainable_weights]
    trained = [w.numpy() for w in reference.generator.trainable_weights]
    moved = max(float(np.abs(a - b).max()) for a, b in zip(trained, initial))
    diff = max(float(np.abs(a - b).max()) for a, b in zip(expected, got))  # BatchNorm statistics included
    assert moved > 30 * TOLERANCE, moved  # training moved the trainable weights far more than the tolerance
    history = runs.load_history(run_dir)
    assert diff < TOLERANCE, (f"multi-worker generator differs from one process by {diff:.2e} (moved {moved:.2e}); "
                              f"losses {history['g_loss']} vs {reference.history['g_loss']}")
    for key in ("g_loss", "d_loss"):
        assert history[key] == pytest.approx(reference.history[key], rel=1e-4)


# ----------------------------------------------------------------- TF_CONFIG, no cluster needed
def _tf_config(workers: int = 2, index: int = 0, kind: str = "worker", chief: int = 0) -> dict[str, str]:
    cluster = {"worker": [f"127.0.0.1:{2000 + i}" for i in range(workers)]}
    if chief:
        cluster["chief"] = ["127.0.0.1:1999"]
    return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}})}


def test_worker_role_reads_tf_config():
    assert devices.worker_role(_tf_config(2, 0)) == {"workers": 2, "type": "worker", "index": 0, "chief": True}
    assert devices.worker_role(_tf_config(2, 1))["chief"] is False
    with_chief = devices.worker_role(_tf_config(2, 0, chief=1))  # a cluster with a chief task: worker 0 is not it
    assert with_chief["chief"] is False and with_chief["workers"] == 3
    assert devices.worker_role(_tf_config(2, 0, kind="chief", chief=1))["chief"] is True
    for bad, match in (({}, "not set"), ({"TF_CONFIG": "{"}, "not a cluster"), ({"TF_CONFIG": '{"task": {}}'},
                                                                                    "not a cluster"),
                       (_tf_config(2, 2), "not in its cluster"), (_tf_config(2, 0, kind="ps"), "not in its cluster")):
        with pytest.raises(ClusterError, match=match):
            devices.worker_role(bad)


def test_multi_worker_runtime_and_refusals(tmp_path, monkeypatch):
    import gan_kit

    monkeypatch.setenv("TF_CONFIG", _tf_config(2, 1)["TF_CONFIG"])
    runtime = devices.choose_runtime(_config(tmp_path, distribute="multi_worker"),
                                     {"device": "CPU", "gpus": [], "metal": False})
    assert runtime["distribute"] == "multi_worker" and "worker 1" in runtime["reasons"]["distribute"]
    assert "chief" not in runtime["reasons"]["distribute"]
    # The VAE and a student's own step train on one device: refused before any folder exists.
    with pytest.raises(ValueError, match="vae family trains on one device"):
        gan_kit.train(_config(tmp_path, distribute="multi_worker", model="vae"))
    monkeypatch.delenv("TF_CONFIG")
    with pytest.raises(ClusterError, match="TF_CONFIG is not set"):
        gan_kit.train(_config(tmp_path, distribute="multi_worker"))
    assert not (tmp_path / "runs").exists()
