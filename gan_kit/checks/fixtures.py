"""The stored expected values the self-checks judge by ("fixtures"), one JSON file per check and seed.

A check never computes its expected values: it reads them from ``fixtures/<check>-<seed>.json`` next to this
module (a student release ships those files for the public seeds, :data:`PUBLIC_SEEDS`). In the instructor's
full package, where ``gan_kit.instructor.references`` can be imported, a missing file is built in memory
instead (once per process; nothing is written into the source tree). With neither, :func:`load` raises
:class:`FixtureMissing`.

Layout of a fixture (all numbers float64 or int, arrays as nested lists)::

    {"check": "fid", "seed": 0, "format": 1,
     "cases": [{"where": "two feature sets (500 x 4)",          # the case's name, quoted in messages
                "inputs": {"a": [[...]], "b": [[...]]},          # what the student's function is given
                "expected": {"fid": 1.234},                      # what it must return
                "mistakes": {"fid": {"<mistake's text>": 2.5}},  # what each known wrong answer returns
                "tolerance": {"rtol": 1e-05, "atol": 0.0}},      # optional
               ...]}

A check with one case still has a list of one. Output names per check: ``gan_losses``: ``discriminator_loss``,
``generator_loss``; ``gradient_penalty``: three cases (alpha given: ``penalty``; alpha drawn by the answer:
``penalty_table``, each example's term on a grid of alphas; a flat critic: ``penalty``), critics stored as
``[{"kernel", "bias"?, "activation"?}, ...]``; ``reparameterize``: ``z``; ``kl``: ``kl``; ``fid``: ``fid``
(a case without ``b`` compares ``a`` with itself); ``kid``: ``kid`` (the same inputs); ``conditional_input``:
``joined`` (the mistake's text is the whole message); ``projection``: inputs ``logit``, ``features``,
``class_embeddings``, ``labels``, output ``logit``; ``train_step`` / ``toy_step``: inputs ``generator`` /
``discriminator`` (starting weights in ``get_weights()`` order), ``trainable`` (a flag per weight), ``real``,
``noise``, the two learning rates;
expected: the weights after one step and the logged losses; mistakes: ``{"weights": {text: {"generator": [...],
"discriminator": [...]}}}``.

The public names live in ``gan_kit.checks`` (import them from there); this module's own ``__all__`` lists only
what it alone adds.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from ._base import CheckFailed

__all__ = ["FIXTURE_DIR", "PUBLIC_SEEDS", "clear_memo", "file_name"]

FIXTURE_DIR = Path(__file__).with_name("fixtures")
FORMAT = 1
# The seed (or, for conditional_input, the class count) each check uses by default: what a release ships.
PUBLIC_SEEDS: dict[str, list[int | None]] = {
    "gan_losses": [None], "gradient_penalty": [0], "reparameterize": [None], "kl": [None], "fid": [0], "kid": [0],
    "conditional_input": [10, 7], "train_step": [0], "toy_step": [0], "equal_steps": [0],
    "prepare_image": [0], "projection": [0],
}
_MEMO: dict[tuple[str, int | None], dict[str, Any]] = {}  # fixtures built in memory from the instructor's references


class FixtureMissing(CheckFailed):
    """This release holds no expected values for the check and seed asked for."""


def file_name(check_name: str, seed: int | None) -> str:
    """``<check>-<seed>.json``; ``<check>-none.json`` for a check without a seed."""
    return f"{check_name}-{'none' if seed is None else int(seed)}.json"


def clear_memo() -> None:
    """Forget the fixtures built in memory (tests use it)."""
    _MEMO.clear()


def load(check_name: str, seed: int | None) -> dict[str, Any]:
    """The fixture of ``check_name`` for ``seed``: the stored file, else one built from the instructor's references,
    else :class:`FixtureMissing`."""
    path = Path(FIXTURE_DIR) / file_name(check_name, seed)
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    try:
        importlib.import_module("gan_kit.instructor")
        references = importlib.import_module("gan_kit.instructor.references")
        if Path(references.__file__).resolve().parents[1] != Path(__file__).resolve().parent.parent:
            raise ImportError("the references of another copy of the package")  # e.g. an editable install's
    except ImportError:
        raise FixtureMissing(f"no stored expected values for check {check_name} with seed {seed} in this release; "
                             "the self-checks use the default seed (the grader uses others)") from None
    key = (check_name, None if seed is None else int(seed))
    if key not in _MEMO:  # through JSON, so a built fixture looks exactly like a stored one
        _MEMO[key] = json.loads(json.dumps(references.build_fixture(check_name, seed), allow_nan=False))
    return _MEMO[key]
