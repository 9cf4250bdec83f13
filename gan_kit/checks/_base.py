"""What every check shares: the failure type, value comparison, and switching the kit's own code off."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterable, Iterator
from types import FunctionType
from typing import Any

import numpy as np

__all__ = ["CheckFailed", "KitCallError", "compare", "kit_disabled", "passed", "value"]


class CheckFailed(AssertionError):
    """A student's answer is wrong; the message says what was expected, on which input, and a hint."""


class KitCallError(RuntimeError):
    """Raised by the kit's own implementation while a check runs: the answer called it instead of doing the work."""


def value(x: Any) -> np.ndarray:
    """A tensor, array or number as a float64 NumPy array."""
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x, dtype=np.float64)


def compare(name: str, got: Any, expected: Any, hint: str, rtol: float = 1e-4, atol: float = 1e-5,
            where: str = "") -> None:
    """Raise ``CheckFailed`` unless ``got`` matches ``expected`` (shape, finiteness, value)."""
    hint = hint.rstrip(".") + "."
    if got is None:
        raise CheckFailed(f"{name}{where}: returned None. Did you forget the return statement?")
    try:
        got_v = value(got)
    except (TypeError, ValueError) as exc:
        raise CheckFailed(f"{name}{where}: returned {type(got).__name__}, which is not a number or a tensor "
                          f"({exc}).") from None
    if np.iscomplexobj(got_v):
        raise CheckFailed(f"{name}{where}: returned a complex value. Hint: keep the real part (.real).")
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
    flat = np.round(np.asarray(x, np.float64).reshape(-1), 5)
    text = np.array2string(flat[:6], separator=", ")
    return text if flat.size <= 6 else text[:-1] + ", ...]"


def passed(name: str) -> None:
    """Print the line a passing check prints."""
    print(f"passed: {name}")


def _refuse(*args: Any, **kwargs: Any) -> Any:
    # Runs with the kit function's own globals and name, so it may use builtins only.
    frame_name = __import__("sys")._getframe().f_code.co_qualname
    raise __import__("gan_kit.checks._base", fromlist=["KitCallError"]).KitCallError(
        f"your answer called the kit's own {frame_name}(). Write this part yourself: the check compares your code "
        "with an independent computation, so calling the kit's implementation proves nothing.")


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
    try:
        for f in functions:
            f.__code__ = _refuse.__code__.replace(co_name=f.__name__, co_qualname=f"{f.__module__}.{f.__qualname__}")
        yield
    finally:
        for f, code in zip(functions, saved):
            f.__code__ = code


def run_answer(name: str, function: Callable, *args: Any, **kwargs: Any) -> Any:
    """Call a student's function, turning the kit's ``KitCallError`` and a stub's ``NotImplementedError`` into
    messages that say what to do; any other error is reported with its type and text."""
    try:
        return function(*args, **kwargs)
    except NotImplementedError:
        raise
    except KitCallError as exc:
        raise CheckFailed(f"{name}: {exc}") from None
    except CheckFailed:
        raise
    except Exception as exc:
        raise CheckFailed(f"{name} raised {type(exc).__name__}: {exc}") from exc
