"""What the tests of interrupted and failing runs share: a tiny run's config on a random ``.npz``, and ``python``
in a subprocess with the repository on its path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from gan_kit.config import for_profile
from tests.conftest import REPO

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}


def _npz(tmp_path, n=64, size=32, channels=3) -> Path:
    x = np.random.default_rng(0).integers(0, 256, (n, size, size, channels), dtype=np.uint8)
    path = tmp_path / "cifar10_train.npz"
    np.savez(path, x=x, y=np.zeros(n, np.int64))
    return path


def _config(tmp_path, out: str, **kw):
    values = dict(dataset="cifar10", data_path=str(_npz(tmp_path)), output_dir=str(tmp_path / out), name="r",
                  epochs=3, batch_size=16, max_examples=64, steps_per_epoch=None, g_width=8, d_width=8,
                  grid_size=2, sample_every=1, checkpoint_every=1, deterministic=True, seed=7)
    values.update(kw)
    return for_profile("smoke", **values)


def _run(args, **kw):
    return subprocess.run([sys.executable, *args], env=ENV, cwd=REPO, capture_output=True, text=True, timeout=300,
                          **kw)
