"""The checks' stored expected values (``gan_kit.checks.fixtures``)."""

from __future__ import annotations

import json
import re
import sys

import pytest

from gan_kit.checks import fixtures

# Imported under other names before any check runs: the checks must refuse these too.
from tests.checks.conftest import CHECK_CASES, assert_passes, rejected

HONEST = "no stored expected values for check {} with seed {} in this release; the self-checks use the default seed"


@pytest.fixture(scope="module")
def public_fixture_files(tmp_path_factory):
    """The fixture files a student release ships (the public seeds), written by the instructor's references."""
    from gan_kit.instructor import references

    folder = tmp_path_factory.mktemp("fixtures")
    written = references.write_fixtures(folder, fixtures.PUBLIC_SEEDS)
    assert sorted(p.name for p in written) == sorted(p.name for p in folder.iterdir())
    return folder


def _as_release(monkeypatch, folder):
    """As in a student release: fixtures read from ``folder``, ``gan_kit.instructor`` not importable."""
    monkeypatch.setattr(fixtures, "FIXTURE_DIR", folder)
    monkeypatch.setitem(sys.modules, "gan_kit.instructor", None)
    monkeypatch.setitem(sys.modules, "gan_kit.instructor.references", None)
    fixtures.clear_memo()


@pytest.mark.parametrize("name", CHECK_CASES)
def test_release_checks_judge_from_stored_fixtures(capsys, monkeypatch, public_fixture_files, name):
    check, right, wrong, match = CHECK_CASES[name]
    _as_release(monkeypatch, public_fixture_files)
    with pytest.raises(ImportError):
        __import__("gan_kit.instructor.references")
    assert_passes(capsys, check, *right)
    rejected(check, *wrong, match=match)
    assert not fixtures._MEMO  # read from the files, nothing built


@pytest.mark.parametrize("name", CHECK_CASES)
def test_without_fixture_or_instructor_the_message_is_honest(monkeypatch, tmp_path, name):
    check, right, _, _ = CHECK_CASES[name]
    _as_release(monkeypatch, tmp_path)
    seed = fixtures.PUBLIC_SEEDS[name][0]
    message = rejected(check, *right, match=re.escape(HONEST.format(name, seed)))
    assert message.endswith("(the grader uses others)")


@pytest.mark.parametrize("call, args", [
    ("check_fid", {"seed": 11}), ("check_train_step", {"seed": 3}), ("check_toy_step", {"seed": 5}),
    ("check_gan_losses", {"seed": 13}), ("check_gradient_penalty", {"seed": 9}),
], ids=["fid", "train_step", "toy_step", "gan_losses", "gradient_penalty"])
def test_release_refuses_a_grader_seed_honestly(monkeypatch, public_fixture_files, call, args):
    name = call.removeprefix("check_")
    check, right, _, _ = CHECK_CASES[name]
    _as_release(monkeypatch, public_fixture_files)
    rejected(check, *right, **args, match=re.escape(HONEST.format(name, args["seed"])))


@pytest.mark.parametrize("name, kwargs", [
    ("fid", {"seed": 11}), ("train_step", {"seed": 3}), ("toy_step", {"seed": 5}), ("gan_losses", {"seed": 13}),
    ("gradient_penalty", {"seed": 9}), ("conditional_input", {"num_classes": 7}),
])
def test_instructor_builds_other_seeds_in_memory(capsys, name, kwargs):
    check, right, wrong, match = CHECK_CASES[name]
    before = sorted(fixtures.FIXTURE_DIR.glob("*")) if fixtures.FIXTURE_DIR.is_dir() else []
    assert_passes(capsys, check, *right, **kwargs)
    rejected(check, *wrong, match=match, **kwargs)
    assert (sorted(fixtures.FIXTURE_DIR.glob("*")) if fixtures.FIXTURE_DIR.is_dir() else []) == before


def test_fixtures_are_plain_json_and_memoised():
    from gan_kit.instructor import references

    fixture = references.build_fixture("gan_losses", 13)
    assert json.loads(json.dumps(fixture, allow_nan=False)) == fixture
    assert fixture["check"] == "gan_losses" and fixture["seed"] == 13 and len(fixture["cases"]) == 4
    case = fixture["cases"][0]
    assert set(case) >= {"where", "inputs", "expected", "mistakes"}
    assert "summing over the batch instead of averaging" in case["mistakes"]["discriminator_loss"]
    assert fixtures.file_name("kl", None) == "kl-none.json" and fixtures.file_name("fid", 11) == "fid-11.json"
    assert fixtures.load("fid", 4) is fixtures.load("fid", 4)
    with pytest.raises(ValueError):
        references.build_fixture("kl", 3)
    with pytest.raises(ValueError):
        references.build_fixture("no_such_check", 0)
