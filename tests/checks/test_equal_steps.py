"""Notebook 04's exercise: runs compared at an equal number of steps (``check_compare_at_equal_steps``, the kit's
``compare.compare_at_equal_steps`` / ``at_equal_steps`` and ``step_history``), its fixture, recording and verdict."""

from __future__ import annotations

import bisect
import json
import math

import numpy as np
import pytest

from gan_kit import checks, compare, exercises, runs
from gan_kit.checks import equal_steps, recording
from gan_kit.instructor import verdicts
from gan_kit.instructor.references import build_fixture


def rejected(answer, match: str, seed: int = 0) -> str:
    with pytest.raises(checks.CheckFailed, match=match) as info:
        checks.check_compare_at_equal_steps(answer, seed=seed)
    return str(info.value)


# ----------------------------------------------------------------- right answers, in the styles a student may write
def with_interp(histories, metric):
    step = min(h["step"][-1] for h in histories)
    return step, [float(np.interp(step, h["step"], h[metric], left=np.nan, right=np.nan)) for h in histories]


def with_loops(histories, metric):
    step = min(h["step"][-1] for h in histories)
    values = []
    for h in histories:
        s, v = h["step"], h[metric]
        i = bisect.bisect_left(s, step)
        if s[i] == step:
            values.append(v[i])
        elif i == 0:
            values.append(float("nan"))
        else:
            values.append(v[i - 1] + (v[i] - v[i - 1]) * (step - s[i - 1]) / (s[i] - s[i - 1]))
    return step, values


def with_searchsorted(histories, metric):
    step = np.min([np.asarray(h["step"])[-1] for h in histories])
    out = np.full(len(histories), np.nan)
    for k, h in enumerate(histories):
        s, v = np.asarray(h["step"]), np.asarray(h[metric])
        i = int(np.searchsorted(s, step))
        if s[i] == step:
            out[k] = v[i]
        elif i > 0:
            w = (step - s[i - 1]) / (s[i] - s[i - 1])
            out[k] = (1 - w) * v[i - 1] + w * v[i]
    return np.float32(step), out  # NumPy types, an array of values: accepted too


@pytest.mark.parametrize("answer", [with_interp, with_loops, with_searchsorted])
@pytest.mark.parametrize("seed", [0, 11, 12])
def test_right_answers_pass(answer, seed, capsys):
    checks.check_compare_at_equal_steps(answer, seed=seed)
    assert capsys.readouterr().out.startswith("passed: runs compared at an equal step")


@pytest.mark.parametrize("seed", [0, 11, 12, 3])
def test_the_kits_own_function_gives_the_stored_answers(seed):
    fixture = build_fixture("equal_steps", seed)
    outputs = {}
    for i, case in enumerate(fixture["cases"]):
        step, values = compare.compare_at_equal_steps(case["inputs"]["histories"], case["inputs"]["metric"])
        outputs[f"{i}/step"], outputs[f"{i}/values"] = np.float64(step), np.asarray(values, np.float64)
    equal_steps.judge_equal_steps(outputs, fixture)


# ----------------------------------------------------------------- wrong answers, each named
def last_values(histories, metric):
    return min(h["step"][-1] for h in histories), [h[metric][-1] for h in histories]


def largest_step(histories, metric):
    step = max(h["step"][-1] for h in histories)
    return step, [float(np.interp(step, h["step"], h[metric])) for h in histories]


def by_epoch(histories, metric):
    epoch = min(h["epoch"][-1] for h in histories)
    return epoch, [float(np.interp(epoch, h["epoch"], h[metric], left=np.nan)) for h in histories]


def epoch_values_step_axis(histories, metric):  # the right step, the values read at the equal epoch
    _, values = by_epoch(histories, metric)
    return min(h["step"][-1] for h in histories), values


def same_row(histories, metric):
    row = min(len(h["step"]) for h in histories) - 1
    return min(h["step"][-1] for h in histories), [h[metric][row] for h in histories]


def nearest(histories, metric):
    step = min(h["step"][-1] for h in histories)
    return step, [h[metric][int(np.argmin(np.abs(np.asarray(h["step"]) - step)))] for h in histories]


def previous(histories, metric):
    step = min(h["step"][-1] for h in histories)
    values = []
    for h in histories:
        before = [v for s, v in zip(h["step"], h[metric]) if s <= step]
        values.append(before[-1] if before else float("nan"))
    return step, values


def interp_default(histories, metric):
    step = min(h["step"][-1] for h in histories)
    return step, [float(np.interp(step, h["step"], h[metric])) for h in histories]


def extrapolated(histories, metric):
    step = min(h["step"][-1] for h in histories)
    values = []
    for h in histories:
        s, v = h["step"], h[metric]
        i = max(1, min(bisect.bisect_left(s, step), len(s) - 1))
        values.append(v[i - 1] + (v[i] - v[i - 1]) * (step - s[i - 1]) / (s[i] - s[i - 1]))
    return step, values


WRONG = {
    "each run's last value": (last_values, "each run's last logged value, each at its own last step"),
    "the largest step": (largest_step, "Your step matches a known mistake: the largest of the runs' last steps"),
    "epochs instead of steps": (by_epoch, "Your step matches a known mistake: epochs instead of steps"),
    "values read at the equal epoch": (epoch_values_step_axis, "Your values match a known mistake: epochs instead"),
    "the same row": (same_row, "the same row of every run"),
    "the nearest row": (nearest, "the nearest logged row instead of interpolating"),
    "the previous row": (previous, "the last row at or before the step"),
    "np.interp's default before the first row": (interp_default, r"np.interp's default.*left=np.nan"),
    "extrapolated before the first row": (extrapolated, "extrapolated from the run's first two rows"),
}


@pytest.mark.parametrize("name", list(WRONG))
def test_wrong_answers_are_named(name):
    answer, match = WRONG[name]
    message = rejected(answer, match)
    assert "expected" in message and "Traceback" not in message


@pytest.mark.parametrize("name", ["each run's last value", "the nearest row",
                                  "np.interp's default before the first row"])
def test_wrong_answers_fail_the_hidden_seeds_too(name):
    answer, match = WRONG[name]
    rejected(answer, match, seed=11)


def test_a_hard_coded_column_fails():
    rejected(lambda h, m: with_interp(h, "d_loss"), "expected values", seed=0)  # seed 0 compares g_loss
    rejected(lambda h, m: with_interp(h, "g_loss"), "expected values", seed=11)  # seed 11 d_loss


# ----------------------------------------------------------------- broken submissions
@pytest.mark.parametrize(("answer", "match"), [
    (lambda h, m: None, "returned None. Did you forget the return statement"),
    (lambda h, m: with_interp(h, m)[1], "return a pair \\(step, values\\)"),
    (lambda h, m: (with_interp(h, m)[1], with_interp(h, m)[1]), "the step .* must be one number"),
    (lambda h, m: (with_interp(h, m)[0], with_interp(h, m)[1][:1]), "expected one value per run"),
    (lambda h, m: (240, "values"), "returned str, which is not a number"),
    (lambda h, m: h[0]["steps"], "raised KeyError: 'steps'"),
    (lambda h, m: 1 / 0, "raised ZeroDivisionError: division by zero"),
])
def test_broken_submissions_get_a_clear_message(answer, match):
    message = rejected(answer, match)
    assert "Traceback" not in message


def test_calling_the_kit_is_refused():
    rejected(compare.compare_at_equal_steps, "called the kit's own gan_kit.compare.compare_at_equal_steps")
    assert compare.compare_at_equal_steps([{"step": [1.0], "x": [2.0]}], "x") == (1.0, [2.0])  # restored after


def test_a_stub_is_let_through():
    def stub(histories, metric):
        raise NotImplementedError("write compare_at_equal_steps")

    with pytest.raises(NotImplementedError, match="write compare_at_equal_steps"):
        checks.check_compare_at_equal_steps(stub)


def test_the_answer_gets_fresh_copies_of_the_inputs():
    def mutating(histories, metric):
        for h in histories:
            h["step"].reverse()
        return 0.0, [0.0] * len(histories)

    rejected(mutating, "compared at step 0")
    checks.check_compare_at_equal_steps(with_interp)  # the stored inputs are untouched


# ----------------------------------------------------------------- fixture, recording and the grader's verdict
def test_fixture_is_plain_json_and_its_mistakes_differ_from_the_answer():
    for seed in (0, 11, 12):
        fixture = json.loads(json.dumps(build_fixture("equal_steps", seed), allow_nan=False))
        for case in fixture["cases"]:
            want = np.asarray(case["expected"]["values"], np.float64)
            for wrong in case["mistakes"]["values"].values():
                assert not np.allclose(np.asarray(wrong, np.float64), want, equal_nan=True)
    assert None in build_fixture("equal_steps", 0)["cases"][1]["expected"]["values"]  # NaN is stored as null
    assert build_fixture("equal_steps", 11) != build_fixture("equal_steps", 12)


def test_recording_and_verdict(tmp_path, monkeypatch):
    monkeypatch.setenv(recording.RECORD_ENV, str(tmp_path))
    call = verdicts.hidden_calls("checks.check_compare_at_equal_steps(compare_at_equal_steps, seed=11)")[0]
    recording.check_compare_at_equal_steps(with_loops, seed=11)
    assert verdicts.judge(call, tmp_path) == ("pass", "")
    recording.check_compare_at_equal_steps(nearest, seed=11)
    state, why = verdicts.judge(call, tmp_path)
    assert state == "fail" and "the nearest logged row" in why


# ----------------------------------------------------------------- the kit: step axis, equal-step table, the answer
def fake_run(folder, name, per_epoch, rows, log_steps=False, config_steps=True):
    """A run folder with ``rows`` (dicts of history columns) and, with ``log_steps``, a steps.csv."""
    path = folder / name
    path.mkdir()
    (path / runs.CONFIG_FILE).write_text(json.dumps({"name": name, "steps_per_epoch": per_epoch if config_steps
                                                     else None}), encoding="utf-8")
    runs.write_history(path, rows)
    if log_steps:
        epochs = len(rows["epoch"])
        steps = list(range(1, epochs * per_epoch + 1))
        runs.write_history(path, {"step": steps, "epoch": [(s - 1) // per_epoch + 1 for s in steps]},
                           runs.STEPS_FILE)
    return path


def two_runs(tmp_path):
    a = fake_run(tmp_path, "a", 64, {"epoch": [1, 2, 3, 4], "d_loss": [1.0, 2.0, 3.0, 4.0],
                                     "fid": [math.nan, math.nan, math.nan, 9.0]})
    b = fake_run(tmp_path, "b", 40, {"epoch": [1, 2, 3, 4, 5], "d_loss": [5.0, 6.0, 7.0, 8.0, 9.0],
                                     "fid": [math.nan, 4.0, math.nan, 3.0, math.nan]}, log_steps=True)
    return a, b


def test_step_history_from_steps_csv_or_the_config(tmp_path):
    a, b = two_runs(tmp_path)
    assert compare.step_history(a)["step"] == [64.0, 128.0, 192.0, 256.0]
    assert compare.step_history(b)["step"] == [40.0, 80.0, 120.0, 160.0, 200.0]
    c = fake_run(tmp_path, "c", None, {"epoch": [1], "d_loss": [1.0]}, config_steps=False)
    with pytest.raises(ValueError, match="log_steps=True or a fixed steps_per_epoch"):
        compare.step_history(c)


def test_at_equal_steps_reads_every_run_at_the_step_all_reached(tmp_path):
    table = compare.at_equal_steps(two_runs(tmp_path), ["d_loss", "fid", "g_loss"]).table
    assert [row["steps done"] for row in table] == [256, 200]
    # d_loss at step 200: a between its rows at 192 and 256, b on its last row
    assert [row["d_loss @ step 200"] for row in table] == [3.125, 9.0]
    # fid (NaN rows left out): a measured it at 256 only, b last at 160 -> at 160, a has nothing yet
    assert math.isnan(table[0]["fid @ step 160"]) and table[1]["fid @ step 160"] == 3.0
    assert all(math.isnan(row["g_loss"]) for row in table)  # a column no run logged
    markdown = compare.at_equal_steps([tmp_path / "a", tmp_path / "b"], ["d_loss"]).to_markdown()
    assert markdown.startswith("| run | steps_per_epoch | steps done | d_loss @ step 200 |\n")  # what differs


def test_at_equal_steps_uses_the_registered_answer(tmp_path):
    seen = []

    def mine(histories, metric):
        seen.append((metric, [h["step"] for h in histories]))
        return 7, [0.5] * len(histories)

    paths = two_runs(tmp_path)
    with exercises.using(compare_at_equal_steps=mine):
        table = compare.at_equal_steps(paths, ["d_loss"]).table
    assert seen == [("d_loss", [[64.0, 128.0, 192.0, 256.0], [40.0, 80.0, 120.0, 160.0, 200.0]])]
    assert [row["d_loss @ step 7"] for row in table] == [0.5, 0.5]
    assert compare.at_equal_steps(paths, ["d_loss"]).table[0]["d_loss @ step 200"] == 3.125  # the kit's own again


def test_at_equal_steps_needs_runs():
    with pytest.raises(ValueError, match="at least one run folder"):
        compare.at_equal_steps([])


def test_a_release_judges_from_its_stored_fixture_and_refuses_other_seeds(monkeypatch, tmp_path, capsys):
    import sys

    from gan_kit.checks import fixtures
    from gan_kit.instructor import references

    references.write_fixtures(tmp_path, {"equal_steps": fixtures.PUBLIC_SEEDS["equal_steps"]})
    monkeypatch.setattr(fixtures, "FIXTURE_DIR", tmp_path)  # as in a student release: no references to build from
    monkeypatch.setitem(sys.modules, "gan_kit.instructor", None)
    monkeypatch.setitem(sys.modules, "gan_kit.instructor.references", None)
    fixtures.clear_memo()
    checks.check_compare_at_equal_steps(with_loops)
    assert capsys.readouterr().out.startswith("passed")
    rejected(nearest, "the nearest logged row")
    rejected(with_loops, "no stored expected values for check equal_steps with seed 11", seed=11)
    assert not fixtures._MEMO
