"""The expected values of notebook 06's KID check (``gan_kit.checks.kid``), computed independently of the kit.

KID on one pair of feature sets is the unbiased estimate of the squared MMD with the kernel
``k(x, y) = (x . y / d + 1)^3`` (Bińkowski et al. 2018): the kernel's mean over pairs of *distinct* examples of
each set, minus twice its mean over all (real, fake) pairs. Here it is written with explicit off-diagonal masks
in float64 (the kit subtracts traces), and each known wrong answer is written out as students write it, so the
check can name the mistake whose value a wrong answer gives. :func:`kid_cases` is registered in
:mod:`.references` as the builder of the fixture ``kid``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["kid_cases", "mmd2_unbiased"]


def _kernel(x: np.ndarray, y: np.ndarray, degree: int = 3, scale: float | None = None, offset: float = 1.0,
            scale_after: bool = False) -> np.ndarray:
    """``(x . y / scale + offset)^degree`` for every pair of rows (``scale`` defaults to the feature count d);
    ``scale_after``: ``(x . y + offset)^degree / scale`` instead."""
    d = float(x.shape[1] if scale is None else scale)
    if scale_after:
        return (x @ y.T + offset) ** degree / d
    return (x @ y.T / d + offset) ** degree


def _off_diagonal_mean(k: np.ndarray) -> float:
    """The mean of a square matrix's entries off its diagonal."""
    mask = ~np.eye(len(k), dtype=bool)
    return float(k[mask].mean())


def mmd2_unbiased(x: np.ndarray, y: np.ndarray, **kernel: Any) -> float:
    """The unbiased MMD^2 between the rows of ``x`` and of ``y`` with :func:`_kernel` (KID's kernel by default)."""
    return (_off_diagonal_mean(_kernel(x, x, **kernel)) + _off_diagonal_mean(_kernel(y, y, **kernel))
            - 2.0 * float(_kernel(x, y, **kernel).mean()))


def _mistakes(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """What the known wrong answers return on ``(x, y)``, keyed by the text the check quotes; a mistake whose value
    equals the right one, or an earlier mistake's, on these sets is left out (it could not be told apart)."""
    n, m = len(x), len(y)
    kxx, kyy, kxy = _kernel(x, x), _kernel(y, y), _kernel(x, y)
    right = mmd2_unbiased(x, y)
    mx, my = x.mean(0, keepdims=True), y.mean(0, keepdims=True)
    within_sums = (kxx.sum() - np.trace(kxx), kyy.sum() - np.trace(kyy))
    candidates = {
        "the biased estimate (the within-set means keep the diagonal terms k(x_i, x_i))":
            kxx.mean() + kyy.mean() - 2 * kxy.mean(),
        "dividing the within-set sums without their diagonals by n^2 instead of n (n - 1)":
            within_sums[0] / n**2 + within_sums[1] / m**2 - 2 * kxy.mean(),
        "the two sets' sizes swapped in the within-set averages":
            within_sums[0] / (m * (m - 1)) + within_sums[1] / (n * (n - 1)) - 2 * kxy.mean(),
        "a kernel without the scale 1/d, (x . y + 1)^3": mmd2_unbiased(x, y, scale=1.0),
        "a kernel scaled by the number of examples instead of the number of features d":
            mmd2_unbiased(x, y, scale=float(n)),
        "a kernel scaled after cubing, (x . y + 1)^3 / d": mmd2_unbiased(x, y, scale_after=True),
        "the square (degree 2) instead of the cube of (x . y / d + 1)": mmd2_unbiased(x, y, degree=2),
        "a kernel without the + 1, (x . y / d)^3": mmd2_unbiased(x, y, offset=0.0),
        "the cross term subtracted once instead of twice":
            _off_diagonal_mean(kxx) + _off_diagonal_mean(kyy) - kxy.mean(),
        "the cross term added instead of subtracted":
            _off_diagonal_mean(kxx) + _off_diagonal_mean(kyy) + 2 * kxy.mean(),
        "the kernel of the mean feature vectors instead of the kernel's mean over pairs of examples":
            float((_kernel(mx, mx) + _kernel(my, my) - 2 * _kernel(mx, my))[0, 0]),
        "the squared distance between the mean feature vectors (only the means compared)":
            float(np.sum((mx - my) ** 2)),
        "the square root of MMD^2 (the MMD itself) instead of MMD^2": float(np.sqrt(abs(right))),
    }
    kept: dict[str, float] = {}
    for text, v in candidates.items():
        v = float(v)
        if all(not np.isclose(v, w, rtol=1e-3, atol=1e-6) for w in (right, *kept.values())):
            kept[text] = v
    return kept


def _case(where: str, x: np.ndarray, y: np.ndarray | None) -> dict[str, Any]:
    """One case: the inputs (``b`` left out when a set is compared with itself), the estimate, the mistakes."""
    other = x if y is None else y
    inputs = {"a": x} if y is None else {"a": x, "b": y}
    return {"where": where, "inputs": inputs, "expected": {"kid": mmd2_unbiased(x, other)},
            "mistakes": {"kid": _mistakes(x, other)}, "tolerance": {"rtol": 1e-4, "atol": 1e-5}}


def kid_cases(seed: int) -> list[dict[str, Any]]:
    """Non-negative features as a ReLU network gives them: two sets of 40 x 6 (more examples than features, so
    a scale by the wrong count shows), sets of 30 and 45 examples (so swapped sizes show), and a set compared with
    itself (the unbiased estimate is slightly negative there, the biased one exactly 0)."""
    rng = np.random.default_rng(seed)
    a = np.abs(rng.standard_normal((40, 6)))
    b = np.abs(rng.standard_normal((40, 6))) * 1.3 + 0.2
    c = np.abs(rng.standard_normal((30, 5)))
    d = np.abs(rng.standard_normal((45, 5))) * 0.8 + 0.4
    return [_case("two feature sets (40 x 6 each)", a, b),
            _case("sets of different sizes (30 and 45 examples of 5 features)", c, d),
            _case("a set compared with itself (40 x 6)", a, None)]
