"""Collect and judge apart (``gan_kit.checks.recording``): the outputs survive a trip through a file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gan_kit import checks
from gan_kit.checks import fixtures

# Imported under other names before any check runs: the checks must refuse these too.
from tests.checks.conftest import CHECK_CASES


@pytest.mark.parametrize("name, key", [("fid", "fid_from_features"), ("toy_step", "make_toy_step"),
                                       ("gradient_penalty", "gradient_penalty")])
def test_collect_and_judge_run_apart(tmp_path, name, key):
    """collect's arrays survive a trip through a file (another process), and judge gives the same verdicts."""
    from gan_kit.checks import formulas, steps

    module = steps if name.endswith("step") else formulas
    collect, judge = getattr(module, f"collect_{name}"), getattr(module, f"judge_{name}")
    fixture = fixtures.load(name, 0)
    _, right, wrong, match = CHECK_CASES[name]
    for answer, verdict in ((right[0], None), (wrong[0], match)):
        outputs = collect({key: answer}, fixture)
        assert all(isinstance(v, np.ndarray) for v in outputs.values())
        np.savez(tmp_path / "outputs.npz", **outputs)
        with np.load(tmp_path / "outputs.npz", allow_pickle=False) as stored:
            outputs = dict(stored)
        if verdict is None:
            judge(outputs, json.loads(json.dumps(fixture)))
        else:
            with pytest.raises(checks.CheckFailed, match=verdict):
                judge(outputs, fixture)
