"""What every check shares: the failure type, value comparison, and switching the kit's own code off.

The public names live in ``gan_kit.checks`` (import them from there); this module's own ``__all__`` lists only
what it alone adds.
"""

from __future__ import annotations

import contextlib
import importlib
import re
from collections.abc import Callable, Iterable, Iterator
from types import FunctionType
from typing import Any

import numpy as np

__all__ = ["AnswerMistake", "as_output", "brief_error", "collect_output", "collected", "passed", "value"]


class CheckFailed(AssertionError):
    """A student's answer is wrong; the message says what was expected, on which input, and a hint."""


class KitCallError(RuntimeError):
    """Raised by the kit's own implementation while a check runs: the answer called it instead of doing the work."""


class AnswerMistake(RuntimeError):
    """Raised by what a check hands the answer (e.g. its optimizers) when the answer misuses it: ``run_answer``
    reports the message as the check's, also when TensorFlow wraps it (inside a ``tf.function``)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"[check] {message} [/check]")


def value(x: Any) -> np.ndarray:
    """A tensor, array or number as a float64 NumPy array."""
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x, dtype=np.float64)


def as_output(name: str, got: Any, where: str = "") -> np.ndarray:
    """What a student's function returned, as a NumPy array a judge can read in another process: float64, or
    complex128 when complex (the judge says to keep the real part). ``CheckFailed`` for None or a non-number."""
    if got is None:
        raise CheckFailed(f"{name}{where}: returned None. Did you forget the return statement?")
    try:
        raw = np.asarray(got.numpy() if hasattr(got, "numpy") else got)
        return raw.astype(np.complex128 if np.iscomplexobj(raw) else np.float64)
    except (TypeError, ValueError) as exc:
        raise CheckFailed(f"{name}{where}: returned {type(got).__name__}, which is not a number or a tensor "
                          f"({exc}).") from None


def collect_output(outputs: dict[str, np.ndarray], key: str, name: str, function: Callable, *args: Any,
                   where: str = "") -> Any:
    """Run a student's function (as :func:`run_answer`) and store what it returned as ``outputs[key]``; the raw
    return value, or None when it failed. A failure is stored as ``outputs["error/" + key]`` (its message, a
    string array), for the judge to raise in its turn (:func:`collected`), so checks report in the same order
    whether collect and judge run together or apart. A stub's ``NotImplementedError`` is raised at once."""
    try:
        got = run_answer(name, function, *args)
        outputs[key] = as_output(name, got, where)
        return got
    except CheckFailed as exc:
        outputs["error/" + key] = np.array(str(exc))
        return None


def collected(outputs: dict[str, np.ndarray], key: str) -> np.ndarray:
    """``outputs[key]``, or the ``CheckFailed`` collect stored in its place."""
    if "error/" + key in outputs:
        raise CheckFailed(str(outputs["error/" + key]))
    return outputs[key]


def compare(name: str, got: Any, expected: Any, hint: str, rtol: float = 1e-4, atol: float = 1e-5,
            where: str = "") -> None:
    """Raise ``CheckFailed`` unless ``got`` matches ``expected`` (shape, finiteness, value)."""
    hint = hint.rstrip(".") + "."
    if got is None:
        raise CheckFailed(f"{name}{where}: returned None. Did you forget the return statement?")
    try:
        raw = np.asarray(got.numpy() if hasattr(got, "numpy") else got)
    except (TypeError, ValueError) as exc:
        raise CheckFailed(f"{name}{where}: returned {type(got).__name__}, which is not a number or a tensor "
                          f"({exc}).") from None
    if np.iscomplexobj(raw):
        raise CheckFailed(f"{name}{where}: returned a complex value. Hint: keep the real part (.real).")
    try:
        got_v = value(raw)
    except (TypeError, ValueError) as exc:
        raise CheckFailed(f"{name}{where}: returned {type(got).__name__}, which is not a number or a tensor "
                          f"({exc}).") from None
    expected_v = value(expected)
    if got_v.shape != expected_v.shape and got_v.size == expected_v.size == 1:
        got_v, expected_v = got_v.reshape(()), expected_v.reshape(())
    if got_v.shape != expected_v.shape:
        raise CheckFailed(f"{name}{where}: expected shape {expected_v.shape}, got {got_v.shape}. Hint: {hint}")
    if not np.isfinite(got_v).all():
        raise CheckFailed(f"{name}{where}: got a NaN or infinite value ({_short(got_v)}) where "
                          f"{_short(expected_v)} was expected. Hint: {hint}")
    if not np.allclose(got_v, expected_v, rtol=rtol, atol=atol):
        raise CheckFailed(f"{name}{where}: expected {_short(expected_v)}, got {_short(got_v)}. Hint: {hint}")


def _short(x: np.ndarray) -> str:
    flat = np.asarray(x, np.float64).reshape(-1)
    text = "[" + ", ".join(f"{v:.6g}" for v in flat[:6]) + (", ...]" if flat.size > 6 else "]")
    return text


def passed(name: str) -> None:
    """Print the line a passing check prints."""
    print(f"passed: {name}")


_REFUSED: dict[Any, str] = {}  # the code objects kit_disabled installs -> the kit function each one replaces


def _refusal(code: Any) -> KitCallError:
    # AutoGraph (inside a tf.function) runs a converted copy of this code, named tf__<function name>.
    short = code.co_name.removeprefix("tf__")
    names = ([_REFUSED[code]] if code in _REFUSED else
             sorted({q for q in _REFUSED.values() if q.rsplit(".", 1)[-1] == short}) or sorted(set(_REFUSED.values())))
    what = names[0] if len(names) == 1 else "one of " + ", ".join(names)
    return KitCallError(f"your answer called the kit's own {what}(). Write this part yourself: the check compares "
                        "your code with an independent computation, so calling the kit's implementation proves "
                        "nothing.")


def _refuse(*args: Any, **kwargs: Any) -> Any:
    # Runs with the kit function's own globals (and, inside a tf.function, as AutoGraph's copy of this code),
    # so it may use builtins only.
    base = __import__("gan_kit.checks._base", fromlist=["_refusal"])
    raise base._refusal(__import__("sys")._getframe().f_code)


def kit_functions(targets: Iterable[str]) -> list[FunctionType]:
    """The kit's functions named ``"module:name"`` or ``"module:Class.method"`` (``gan_kit.`` is implied)."""
    found = []
    for target in targets:
        module_name, _, attr = target.partition(":")
        obj: Any = importlib.import_module(f"gan_kit.{module_name}")
        for part in attr.split("."):
            obj = getattr(obj, part)
        function = getattr(obj, "__func__", obj)
        if not isinstance(function, FunctionType):
            raise TypeError(f"{target} is not a Python function.")
        found.append(function)
    return found


@contextlib.contextmanager
def kit_disabled(targets: Iterable[str]) -> Iterator[None]:
    """While the block runs, the kit functions ``targets`` raise ``KitCallError`` however they are reached
    (module attribute, an alias imported earlier, a registry entry): their code objects are swapped."""
    functions = kit_functions(targets)
    saved = [f.__code__ for f in functions]
    installed = []
    try:
        for f in functions:
            qualname = f"{f.__module__}.{f.__qualname__}"
            code = _refuse.__code__.replace(co_name=f.__name__, co_qualname=qualname)
            _REFUSED[code] = qualname
            installed.append(code)
            f.__code__ = code
            # AutoGraph calls a function it sees as its own artifact as it is, instead of converting its source
            # (which would be _refuse's, under another name): so the message names the right function.
            f.autograph_info__ = None
        yield
    finally:
        for f, code in zip(functions, saved):
            f.__code__ = code
            f.__dict__.pop("autograph_info__", None)
        for code in installed:
            _REFUSED.pop(code, None)


_MISTAKE = re.compile(r"\[check\] (.*?) \[/check\]", re.S)
_REFUSAL = re.compile(r"your answer called the kit's own [^\n]*?proves nothing\.")
MAX_ERROR_CHARS = 300


def brief_error(exc: BaseException) -> str:
    """An error's own message, short: TensorFlow's "in user code" frames (a traceback in the message) left out,
    whitespace collapsed, at most :data:`MAX_ERROR_CHARS` characters (no tensor or weight dumps)."""
    text = str(exc).strip()
    if "in user code:" in text or 'File "' in text:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        text = lines[-1] if lines else text  # the original error, after the frames
        text = text.removeprefix(f"{type(exc).__name__}: ")  # its type is reported beside it
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 4].rstrip() + " ..."


def run_answer(name: str, function: Callable, *args: Any, **kwargs: Any) -> Any:
    """Call a student's function, turning the kit's ``KitCallError``, an ``AnswerMistake`` and a stub's
    ``NotImplementedError`` into messages that say what to do; any other error is reported with its type and
    (brief) text."""
    try:
        return function(*args, **kwargs)
    except NotImplementedError:
        raise
    except KitCallError as exc:
        raise CheckFailed(f"{name}: {exc}") from None
    except CheckFailed:
        raise
    except Exception as exc:
        text = str(exc)
        found = _REFUSAL.search(text)
        if found:  # inside a tf.function the refusal comes wrapped in TensorFlow's staging error
            raise CheckFailed(f"{name}: {found.group(0)}") from None
        found = _MISTAKE.search(text)
        if found:
            raise CheckFailed(f"{name}: {found.group(1)}") from None
        if "NotImplementedError" in type(exc).__name__ or "NotImplementedError:" in text:
            raise NotImplementedError(text) from exc
        raise CheckFailed(f"{name} raised {type(exc).__name__}: {brief_error(exc)}") from exc
