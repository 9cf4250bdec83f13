"""Hidden tests judged outside the student's kernel.

A hidden-test cell calls checks (``checks.check_fid(fid_by_hand, seed=11)``). At grading, :func:`recording_source`
turns each call into the recording function of the same name (:mod:`gan_kit.checks.recording`), which runs the
student's functions on the inputs of the grader's fixture and writes their outputs into the job's folder. The
job's package holds those inputs only (:func:`write_inputs`); the expected values stay in the grader's process,
where :func:`judge` compares the recorded outputs with them after the notebook has run. Patching the checks or
the recorder in the notebook therefore changes nothing the grader trusts.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..checks import equal_steps, formulas, kid, networks, preparation, projection, steps
from ..checks.fixtures import file_name
from ..checks.recording import record_key

MAX_RECORD_BYTES = 256 * 2**20
# check function -> (fixture name or network kind, the argument that picks its inputs, that argument's default)
CHECKS: dict[str, tuple[str, str | None, Any]] = {
    "check_gan_losses": ("gan_losses", "seed", None), "check_gradient_penalty": ("gradient_penalty", "seed", 0),
    "check_reparameterize": ("reparameterize", None, None), "check_kl": ("kl", None, None),
    "check_fid": ("fid", "seed", 0), "check_conditional_input": ("conditional_input", "num_classes", 10),
    "check_kid": ("kid", "seed", 0), "check_compare_at_equal_steps": ("equal_steps", "seed", 0),
    "check_prepare_image": ("prepare_image", "seed", 0), "check_projection_logit": ("projection", "seed", 0),
    "check_train_step": ("train_step", "seed", 0), "check_toy_step": ("toy_step", "seed", 0),
    "check_generator": ("generator", "small", (8, 4)), "check_discriminator": ("discriminator", "small", (4, 0.25)),
}
NETWORKS = {"generator": ("build_generator", networks.generator_sizes),
            "discriminator": ("build_discriminator", networks.discriminator_sizes)}
_CALL = re.compile(r"\bchecks\.(check_\w+)\(")
RECORDER = "_grader_recording"


@dataclass(frozen=True)
class HiddenCall:
    """One check a hidden test calls: which, with which input-picking argument."""

    check: str  # e.g. "check_fid"
    arguments: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return CHECKS[self.check][0]

    @property
    def seed(self) -> Any:
        _, argument, default = CHECKS[self.check]
        return self.arguments.get(argument, default) if argument else None

    @property
    def key(self) -> str:
        argument = CHECKS[self.check][1]
        return record_key(self.name, **({argument: self.seed} if argument else {}))


def hidden_calls(source: str, where: str = "hidden test") -> list[HiddenCall]:
    """The checks a hidden test's source calls as ``checks.check_...(...)``; ``ValueError`` for a check the grader
    cannot judge outside the kernel or an argument that is not a literal."""
    calls = []
    for node in ast.walk(ast.parse(source)):
        func = node.func if isinstance(node, ast.Call) else None
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "checks"):
            continue
        if func.attr not in CHECKS:
            raise ValueError(f"{where}: checks.{func.attr} has no recording counterpart; the grader can judge "
                             f"{', '.join(sorted(CHECKS))}.")
        try:
            arguments = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
        except ValueError:
            raise ValueError(f"{where}: give checks.{func.attr}'s arguments other than the student's functions as "
                             "literals (seed=11).") from None
        calls.append(HiddenCall(func.attr, arguments))
    return calls


def recording_source(source: str) -> str:
    """A hidden test's source with each ``checks.check_x(`` calling the recorder of the same name instead."""
    return (f"from gan_kit.checks import recording as {RECORDER}\n"
            + _CALL.sub(lambda m: f"{RECORDER}.{m.group(1)}(", source))


_BUILT: dict[tuple[str, str], str] = {}


def full_fixture(call: HiddenCall) -> dict:
    """The grader's fixture of a call, expected values included (built by the references once per process, never
    written to a file)."""
    from .references import build_fixture

    key = (call.name, repr(call.seed))
    if key not in _BUILT:
        _BUILT[key] = json.dumps(build_fixture(call.name, call.seed))
    return json.loads(_BUILT[key])


def write_inputs(calls: list[HiddenCall], folder: Path) -> None:
    """The fixtures of ``calls`` without their expected values, for the job's package (network checks need none).
    A call whose fixture the release ships already (a public one: a check without a seed, or the public seed) keeps
    that file, so the notebook's own check cells still work."""
    folder.mkdir(parents=True, exist_ok=True)
    for call in calls:
        if call.name in NETWORKS or (folder / file_name(call.name, call.seed)).exists():
            continue
        fixture = full_fixture(call)
        for case in fixture["cases"]:
            case["expected"], case["mistakes"] = {}, {}
        (folder / file_name(call.name, call.seed)).write_text(json.dumps(fixture), encoding="utf-8")


def read_record(path: Path) -> dict[str, np.ndarray]:
    """A job's record, read as untrusted data; ``ValueError`` when it is not a plain array archive."""
    if not path.is_file():
        raise ValueError("the hidden test recorded nothing (did the cell finish?)")
    if path.stat().st_size > MAX_RECORD_BYTES:
        raise ValueError(f"the record is larger than {MAX_RECORD_BYTES // 2**20} MiB")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {k: archive[k] for k in archive.files}
    except Exception as exc:  # a record is the student's file: any way it breaks is its failure
        raise ValueError(f"the record is not readable ({type(exc).__name__})") from None


def _judge_network(call: HiddenCall, outputs: dict[str, np.ndarray]) -> None:
    name, sizes = NETWORKS[call.name]
    for i, (_, spec, shape, size) in enumerate(sizes(call.seed)):
        prefix = f"{i}/"
        networks.judge_network(name, {k[len(prefix):]: v for k, v in outputs.items() if k.startswith(prefix)},
                               spec, shape, size)


def judge(call: HiddenCall, record_dir: Path) -> tuple[str, str]:
    """``("pass", "")`` or ``("fail", why)`` for one call, from its record and the grader's expected values."""
    from ..checks import CheckFailed

    try:
        outputs = read_record(record_dir / f"{call.key}.npz")
        if call.name in NETWORKS:
            _judge_network(call, outputs)
        else:
            module = {"train_step": steps, "toy_step": steps, "kid": kid,
                      "equal_steps": equal_steps, "prepare_image": preparation,
                      "projection": projection}.get(call.name, formulas)
            getattr(module, f"judge_{call.name}")(outputs, full_fixture(call))
    except CheckFailed as exc:
        return "fail", str(exc)
    except ValueError as exc:
        return "fail", str(exc)
    except Exception as exc:  # a record with missing or malformed entries
        return "fail", f"the recorded outputs are malformed ({type(exc).__name__}: {exc})"
    return "pass", ""


__all__ = ["CHECKS", "HiddenCall", "full_fixture", "hidden_calls", "judge", "read_record", "recording_source",
           "write_inputs"]
