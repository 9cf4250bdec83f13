"""Training-health checks: plain-language warnings when a GAN run goes wrong, with a suggested fix.

Each check is a pure function of a run's history (the columns of ``history.csv``) or of
a series of measurements on the fixed-noise samples, and returns a :class:`Finding` when
its condition holds at the latest epoch, else ``None``:

* :func:`check_d_overpowering`: D(real) near 1 and D(fake) near 0 for several epochs
  while G's loss climbs: D classifies nearly every image right and G's gradients vanish, so G stops learning.
* :func:`check_mode_collapse`: the samples are far less varied than real images and not
  recovering (optionally: few of the classes a classifier knows are generated).
* :func:`check_divergence`: a NaN or Inf loss (``callbacks.DivergenceGuard`` stops the run).
* :func:`check_loss_jump`: a loss far outside its range over the previous epochs.
* :func:`check_stagnation`: samples and numbers stopped changing.
* :func:`check_oscillation`: D's margin between real and fake swings up and down every epoch.

``check_all`` runs them all at the latest epoch; ``scan`` replays a finished history epoch
by epoch. ``callbacks.DiagnosticsCallback`` runs the checks while training, prints each
finding when it first fires and keeps them in ``<run>/diagnostics.json``; :func:`summarize`
reads that file back for reports. The thresholds are the module constants below; they
were chosen on small CPU runs (see ``tests/test_diagnostics.py``) and are a starting
point, not a law.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import fileio
from .runs import DIAGNOSTICS_FILE, RunFolder

CODES = ("divergence", "loss_jump", "d_overpowering", "mode_collapse", "stagnation", "oscillation")
"""Every finding code, in the order reports list them."""

# ----------------------------------------------------------------- thresholds
OVERPOWER_REAL_MIN = 0.85
"""Mean D(real) at or above this counts as "near 1" (D is sure real images are real)."""
OVERPOWER_FAKE_MAX = 0.15
"""Mean D(fake) at or below this counts as "near 0" (D is sure generated images are fake)."""
OVERPOWER_EPOCHS = 3
"""Consecutive epochs D must be that sure, with G's loss higher at the end than at the start."""

COLLAPSE_RATIO = 0.25
"""Sample diversity below this fraction of the real images' diversity counts as "far below"."""
COLLAPSE_EPOCHS = 3
"""Consecutive measured epochs the diversity must stay that low without recovering."""
COLLAPSE_GROWTH = 0.1
"""Relative growth of diversity over those epochs that counts as recovering (early training grows fast)."""
COLLAPSE_CLASS_FRACTION = 0.5
"""With a classifier: covering at most this fraction of the real classes counts as collapse."""

JUMP_WINDOW = 5
"""Previous epochs that define a loss's recent range."""
JUMP_FACTOR = 5.0
"""A loss further than this many range-widths outside its recent range has jumped."""
JUMP_MIN_SPREAD = 0.1
"""Smallest range-width used, as a fraction of the loss's typical size (a flat loss may still wiggle)."""

STAGNATION_EPOCHS = 8
"""Epochs without change before a run counts as stagnant."""
STAGNATION_SAMPLE_CHANGE = 0.002
"""Mean absolute change per epoch of the fixed-noise samples (pixels in [-1, 1]) below which they are frozen."""
STAGNATION_REL_CHANGE = 0.01
"""Largest relative change of every loss and D probability over the window for the numbers to count as frozen."""

OSCILLATION_EPOCHS = 8
"""Epochs over which D's margin D(real) - D(fake) is watched for swings."""
OSCILLATION_FLIP_FRACTION = 0.8
"""Fraction of consecutive changes of the margin that reverse direction."""
OSCILLATION_AMPLITUDE = 0.15
"""Mean absolute epoch-to-epoch change of the margin (a probability difference) that counts as a swing."""

_LOSSES = ("g_loss", "d_loss")

MIN_EPOCHS = {
    "divergence": 1,
    "loss_jump": JUMP_WINDOW + 1,
    "d_overpowering": OVERPOWER_EPOCHS,
    "mode_collapse": COLLAPSE_EPOCHS,
    "stagnation": STAGNATION_EPOCHS,
    "oscillation": OSCILLATION_EPOCHS + 1,
}
"""The fewest epochs after which each check can fire at all: a shorter run says nothing about it."""


def cannot_fire(epochs: int) -> list[str]:
    """The checks a run of ``epochs`` epochs is too short for (in ``CODES`` order)."""
    return [code for code in CODES if epochs < MIN_EPOCHS[code]]


@dataclass(frozen=True)
class Finding:
    """One diagnosis of a run at one epoch.

    Args:
        code: one of ``CODES``.
        epoch: the (1-based) epoch at which the check fired.
        title: a one-line name of the problem.
        explanation: what the numbers show and why it matters, in plain language.
        fix: what to try, naming config fields.
        values: the numbers behind the finding.
    """

    code: str
    epoch: int
    title: str
    explanation: str
    fix: str
    values: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Finding:
        """Rebuild from :meth:`to_dict` output."""
        return cls(code=str(values["code"]), epoch=int(values["epoch"]), title=str(values["title"]),
                   explanation=str(values["explanation"]), fix=str(values["fix"]),
                   values=dict(values.get("values") or {}))

    def __str__(self) -> str:
        return f"[epoch {self.epoch}] {self.title}. {self.explanation} Try: {self.fix}"


# ----------------------------------------------------------------- helpers
def _column(history: Mapping[str, Sequence[float]], key: str) -> np.ndarray:
    values = history.get(key)
    if values is None:
        return np.zeros(0)
    return np.asarray([math.nan if v is None else float(v) for v in values], dtype=np.float64)


def _epochs(history: Mapping[str, Sequence[float]]) -> np.ndarray:
    n = max((len(v) for v in history.values()), default=0)
    if "epoch" in history and len(history["epoch"]) == n:
        return np.asarray(history["epoch"], dtype=np.float64)
    return np.arange(1, n + 1, dtype=np.float64)


def _last_epoch(history: Mapping[str, Sequence[float]]) -> int:
    epochs = _epochs(history)
    return int(epochs[-1]) if len(epochs) else 0


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _f(value: float, digits: int = 3) -> float:
    return float(round(float(value), digits))


def sample_diversity(images: Any) -> float:
    """Mean pairwise Euclidean distance between samples, divided by the square root of their size.

    For images in [-1, 1] this is a per-pixel RMS difference: 0 when every sample is the
    same image, about 0.8 for Fashion-MNIST or CIFAR-10 images. Works on features too.
    """
    x = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    if len(x) < 2:
        raise ValueError(f"sample_diversity needs at least 2 samples. Received: {len(x)}.")
    sq = np.einsum("ij,ij->i", x, x)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (x @ x.T), 0.0)
    iu = np.triu_indices(len(x), 1)
    return float(np.sqrt(d2[iu]).mean() / math.sqrt(x.shape[1]))


def sample_change(previous: Any, current: Any) -> float:
    """Mean absolute difference between two batches of samples from the same noise."""
    a, b = np.asarray(previous, dtype=np.float64), np.asarray(current, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"sample_change needs batches of one shape. Received: {a.shape} and {b.shape}.")
    return float(np.abs(a - b).mean())


# ----------------------------------------------------------------- checks on the history
def check_d_overpowering(history: Mapping[str, Sequence[float]], loss: str | None = None) -> Finding | None:
    """D(real) >= ``OVERPOWER_REAL_MIN`` and D(fake) <= ``OVERPOWER_FAKE_MAX`` for the last
    ``OVERPOWER_EPOCHS`` epochs, with G's loss climbing over them (or D that sure for twice as long).

    Skipped for ``loss="wasserstein"``: a critic's scores are not probabilities.
    """
    if loss == "wasserstein":
        return None
    real, fake, g = _column(history, "d_real_prob"), _column(history, "d_fake_prob"), _column(history, "g_loss")
    if len(real) < OVERPOWER_EPOCHS or len(fake) != len(real):
        return None
    sure = (real >= OVERPOWER_REAL_MIN) & (fake <= OVERPOWER_FAKE_MAX)
    run = 0
    for flag in sure[::-1]:
        if not flag:
            break
        run += 1
    if run < OVERPOWER_EPOCHS:
        return None
    window = slice(len(real) - run, len(real))
    g_start, g_end = (g[window][0], g[window][-1]) if len(g) == len(real) else (math.nan, math.nan)
    climbing = bool(np.isfinite([g_start, g_end]).all() and g_end > g_start)
    if not climbing and run < 2 * OVERPOWER_EPOCHS:
        return None
    r, f = float(np.mean(real[window])), float(np.mean(fake[window]))
    trend = (f"G's loss climbed from {g_start:.2f} to {g_end:.2f}" if climbing
             else f"G's loss stayed high ({g_end:.2f})")
    return Finding(
        code="d_overpowering",
        epoch=_last_epoch(history),
        title="The discriminator is overpowering the generator",
        explanation=(
            f"For the last {run} epochs D gave real images a mean probability of {r:.2f} and generated images "
            f"{f:.2f}: it tells them apart almost perfectly. A discriminator this sure passes the generator almost "
            f"no useful gradient, so G stops improving; {trend}."
        ),
        fix=(
            "weaken D or help G: one-sided label smoothing (label_smoothing=0.1), instance noise on D's inputs "
            "(instance_noise=0.1), a lower D learning rate than G's (d_lr below g_lr), more dropout in D "
            "(d_dropout), or more generator steps per D step (g_steps=2)."
        ),
        values={"epochs": run, "d_real_prob": _f(r), "d_fake_prob": _f(f), "g_loss_start": _f(g_start),
                "g_loss_end": _f(g_end), "g_loss_climbing": climbing},
    )


def check_divergence(history: Mapping[str, Sequence[float]], guard: Mapping[str, Any] | None = None
                     ) -> Finding | None:
    """A NaN or Inf loss: reported from ``DivergenceGuard``'s record (``guard``) or the history's last row."""
    if guard is None:
        for key in _LOSSES:
            values = _column(history, key)
            if len(values) and not math.isfinite(values[-1]):
                guard = {"epoch": _last_epoch(history), "metric": key, "value": str(values[-1])}
                break
    if guard is None:
        return None
    where = f"epoch {guard.get('epoch')}" + (f", step {guard['step']}" if guard.get("step") is not None else "")
    return Finding(
        code="divergence",
        epoch=int(guard.get("epoch") or _last_epoch(history)),
        title="Training diverged",
        explanation=(
            f"{guard.get('metric')} became {guard.get('value')} at {where}: the numbers overflowed, usually because "
            "a learning rate is too high or a loss saturated. Once a weight is NaN every later step is NaN too, so "
            "training stopped; the run is marked diverged and keeps its last good checkpoint and samples."
        ),
        fix=(
            "lower the learning rates (halve g_lr and d_lr), add a gradient penalty (gradient_penalty=10) or "
            "spectral normalisation (spectral_norm=True), and check that the data holds no NaN."
        ),
        values={k: guard[k] for k in ("epoch", "step", "metric", "value") if k in guard},
    )


def check_loss_jump(history: Mapping[str, Sequence[float]]) -> Finding | None:
    """A loss at the latest epoch more than ``JUMP_FACTOR`` range-widths outside its range over the
    previous ``JUMP_WINDOW`` epochs (the width is at least ``JUMP_MIN_SPREAD`` of the loss's size)."""
    for key in _LOSSES:
        values = _column(history, key)
        if len(values) < JUMP_WINDOW + 1 or not math.isfinite(values[-1]):
            continue
        window = values[-JUMP_WINDOW - 1 : -1]
        if not np.isfinite(window).all():
            continue
        lo, hi = float(window.min()), float(window.max())
        scale = max(float(np.median(np.abs(window))), 0.1)
        spread = max(hi - lo, JUMP_MIN_SPREAD * scale)
        x = float(values[-1])
        if lo - JUMP_FACTOR * spread <= x <= hi + JUMP_FACTOR * spread:
            continue
        side = "generator's" if key == "g_loss" else "discriminator's"
        return Finding(
            code="loss_jump",
            epoch=_last_epoch(history),
            title=f"The {side} loss jumped",
            explanation=(
                f"{key} is {x:.3g} at this epoch, far outside its range over the previous {JUMP_WINDOW} epochs "
                f"({lo:.3g} to {hi:.3g}). A sudden jump like this often comes just before a run diverges or "
                "collapses: one side has started to win by a wide margin."
            ),
            fix=(
                "look at this epoch's samples; lower the learning rate of the side whose loss jumped, keep Adam's "
                "beta1 at 0.5 or lower, and consider a gradient penalty or spectral_norm=True. Resuming from an "
                "earlier checkpoint with a lower learning rate is often enough."
            ),
            values={"metric": key, "value": _f(x, 4), "recent_min": _f(lo, 4), "recent_max": _f(hi, 4),
                    "window": JUMP_WINDOW},
        )
    return None


def check_oscillation(history: Mapping[str, Sequence[float]]) -> Finding | None:
    """D's margin D(real) - D(fake) reverses direction at ``OSCILLATION_FLIP_FRACTION`` of the last
    ``OSCILLATION_EPOCHS`` epochs, moving ``OSCILLATION_AMPLITUDE`` or more per epoch on average."""
    real, fake = _column(history, "d_real_prob"), _column(history, "d_fake_prob")
    if len(real) < OSCILLATION_EPOCHS + 1 or len(fake) != len(real):
        return None
    margin = (real - fake)[-OSCILLATION_EPOCHS - 1 :]
    if not np.isfinite(margin).all():
        return None
    diffs = np.diff(margin)
    signs = np.sign(diffs)
    flips = float(np.mean(signs[1:] * signs[:-1] < 0))
    amplitude = float(np.mean(np.abs(diffs)))
    if flips < OSCILLATION_FLIP_FRACTION or amplitude < OSCILLATION_AMPLITUDE:
        return None
    return Finding(
        code="oscillation",
        epoch=_last_epoch(history),
        title="D and G are oscillating",
        explanation=(
            f"Over the last {OSCILLATION_EPOCHS} epochs D's margin between real and generated images "
            f"(D(real) - D(fake)) changed direction {flips:.0%} of the time, by {amplitude:.2f} per epoch on "
            "average: the two networks keep overshooting each other instead of settling."
        ),
        fix=(
            "lower both learning rates, lower Adam's beta1 (e.g. 0.5 or 0.0), sample from an average of G's "
            "weights (ema=0.999), or use a gradient penalty (gradient_penalty=10)."
        ),
        values={"epochs": OSCILLATION_EPOCHS, "flip_fraction": _f(flips), "mean_swing": _f(amplitude)},
    )


# ----------------------------------------------------------------- checks on the samples
def check_mode_collapse(series: Mapping[str, Any]) -> Finding | None:
    """Sample diversity below ``COLLAPSE_RATIO`` of the real images' for the last ``COLLAPSE_EPOCHS``
    measurements and not growing by ``COLLAPSE_GROWTH`` over them; or, with a classifier, at most
    ``COLLAPSE_CLASS_FRACTION`` of the real classes covered for as long.

    Args:
        series: ``{"epoch": [...], "diversity": [...], "real_diversity": float}`` and optionally
            ``"classes_covered": [...]`` and ``"num_classes"`` (what ``DiagnosticsCallback`` records).
    """
    epochs = list(series.get("epoch") or [])
    diversity = np.asarray([math.nan if v is None else v for v in series.get("diversity") or []], np.float64)
    real = series.get("real_diversity")
    k = COLLAPSE_EPOCHS
    values: dict[str, Any] = {}
    reasons = []
    if real and len(diversity) >= k and np.isfinite(diversity[-k:]).all():
        ratio = diversity[-k:] / float(real)
        recovering = diversity[-1] > diversity[-k] * (1.0 + COLLAPSE_GROWTH) + 1e-3 * float(real)
        if (ratio < COLLAPSE_RATIO).all() and not recovering:
            values.update(diversity=_f(diversity[-1], 4), real_diversity=_f(real, 4), ratio=_f(ratio[-1]))
            reasons.append(
                f"the samples from the fixed noise are far less varied than real images: their mean pairwise "
                f"distance is {ratio[-1]:.0%} of the real images' ({diversity[-1]:.3f} vs {float(real):.3f}) and "
                f"has not recovered for {k} epochs"
            )
    covered = [v for v in series.get("classes_covered") or []]
    num_classes = series.get("num_classes")
    if num_classes and len(covered) >= k and all(c is not None for c in covered[-k:]):
        if max(covered[-k:]) <= COLLAPSE_CLASS_FRACTION * num_classes:
            values.update(classes_covered=int(covered[-1]), num_classes=int(num_classes))
            reasons.append(f"a classifier finds only {int(covered[-1])} of the {int(num_classes)} classes among "
                           f"the samples")
    if not reasons:
        return None
    return Finding(
        code="mode_collapse",
        epoch=int(epochs[-1]) if epochs else 0,
        title="Mode collapse: the generator makes only a few kinds of image",
        explanation=(
            _sentence("; and ".join(reasons)) + ". The generator has found a few outputs that fool D and maps "
            "most noise vectors to them, so the grid repeats itself."
        ),
        fix=(
            "let D see a batch's lack of variety (minibatch_std=True), add feature matching (feature_matching=1.0), "
            "lower the learning rates, use label smoothing, or switch to WGAN-GP (loss='wasserstein'), which "
            "collapses less."
        ),
        values=values,
    )


def check_stagnation(history: Mapping[str, Sequence[float]], series: Mapping[str, Any] | None = None
                     ) -> Finding | None:
    """Nothing changes for ``STAGNATION_EPOCHS`` epochs: the fixed-noise samples move less than
    ``STAGNATION_SAMPLE_CHANGE`` per epoch, or every loss and D probability stays within
    ``STAGNATION_REL_CHANGE`` of itself."""
    n = STAGNATION_EPOCHS
    detail = None
    values: dict[str, Any] = {}
    changes = np.asarray([math.nan if v is None else v for v in (series or {}).get("sample_change") or []],
                         np.float64)
    if len(changes) >= n and np.isfinite(changes[-n:]).all() and (changes[-n:] < STAGNATION_SAMPLE_CHANGE).all():
        values["mean_sample_change"] = _f(changes[-n:].mean(), 5)
        detail = (f"the samples from the fixed noise moved by only {changes[-n:].mean():.4f} per epoch on average "
                  "(pixels in [-1, 1]): the generator has stopped changing")
    if detail is None:
        columns = [c for c in ("g_loss", "d_loss", "d_real_prob", "d_fake_prob") if c in history]
        if columns and all(len(_column(history, c)) >= n + 1 for c in columns):
            rel = []
            for c in columns:
                window = _column(history, c)[-n - 1 :]
                if not np.isfinite(window).all():
                    return None
                rel.append(float(np.ptp(window)) / max(float(np.abs(window).mean()), 0.01))
            if max(rel) < STAGNATION_REL_CHANGE:
                values["max_relative_change"] = _f(max(rel), 5)
                detail = f"the losses and D's probabilities changed by less than {STAGNATION_REL_CHANGE:.0%}"
    if detail is None:
        return None
    values["epochs"] = n
    return Finding(
        code="stagnation",
        epoch=_last_epoch(history) or int(((series or {}).get("epoch") or [0])[-1]),
        title="Training has stagnated",
        explanation=(
            f"For {n} epochs nothing has changed: {detail}. This happens when D wins so completely that G's "
            "gradients vanish, or when the learning rate is too low to make progress."
        ),
        fix=(
            "if D(real) is near 1 and D(fake) near 0, weaken D (label_smoothing=0.1, instance_noise=0.1, lower d_lr); "
            "otherwise raise the learning rates a little, or stop: more epochs will not help."
        ),
        values=values,
    )


# ----------------------------------------------------------------- all checks
def check_all(history: Mapping[str, Sequence[float]], series: Mapping[str, Any] | None = None, *,
              guard: Mapping[str, Any] | None = None, loss: str | None = None) -> list[Finding]:
    """Every check at the latest epoch; the findings whose condition holds now, in ``CODES`` order.

    Args:
        history: history columns up to the latest epoch (``Run.history`` or ``runs.load_history``).
        series: sample measurements (see :func:`check_mode_collapse`), when there are any.
        guard: ``DivergenceGuard.diverged`` when training stopped on a NaN/Inf.
        loss: the run's loss family (turns off checks that do not apply to it).
    """
    found = [
        check_divergence(history, guard),
        check_loss_jump(history),
        check_d_overpowering(history, loss),
        check_mode_collapse(series) if series else None,
        check_stagnation(history, series),
        check_oscillation(history),
    ]
    return [f for f in found if f is not None]


def scan(history: Mapping[str, Sequence[float]], series: Mapping[str, Any] | None = None, *,
         loss: str | None = None) -> list[Finding]:
    """Replay a history epoch by epoch, as the callback would have: one finding each time a check
    starts to hold (it is reported again only after it stopped holding for an epoch)."""
    n = max((len(v) for v in history.values()), default=0)
    epochs = _epochs(history)
    series = dict(series or {})
    s_epochs = list(series.get("epoch") or [])
    active: set[str] = set()
    findings: list[Finding] = []
    for i in range(1, n + 1):
        prefix = {k: list(v)[:i] for k, v in history.items()}
        upto = epochs[i - 1]
        j = sum(1 for e in s_epochs if e <= upto)
        partial = {k: (v[:j] if isinstance(v, list) else v) for k, v in series.items()}
        now = check_all(prefix, partial if series else None, loss=loss)
        codes = {f.code for f in now}
        findings.extend(f for f in now if f.code not in active)
        active = codes
    return findings


# ----------------------------------------------------------------- storage
def read(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The raw contents of a run's ``diagnostics.json`` (``{}`` when it has none)."""
    path = Path(run_dir) / DIAGNOSTICS_FILE
    return fileio.read_json(path) if path.exists() else {}


def write(run_dir: str | os.PathLike | RunFolder, findings: Sequence[Finding],
          series: Mapping[str, Any] | None = None, **extra: Any) -> Path:
    """Atomically write ``diagnostics.json`` through the run folder's writer (``run_dir`` is a path or a
    ``RunFolder``): the findings in order, the sample measurements, the thresholds."""
    return RunFolder.of(run_dir).write_json(DIAGNOSTICS_FILE, {
        "findings": [f.to_dict() for f in findings],
        "codes": sorted({f.code for f in findings}, key=CODES.index),
        "series": dict(series or {}),
        "thresholds": thresholds(),
        **extra,
    })


def summarize(run_dir: str | os.PathLike) -> list[Finding]:
    """The findings stored in a run's ``diagnostics.json``, in the order they fired ([] when none)."""
    return [Finding.from_dict(f) for f in read(run_dir).get("findings", [])]


def thresholds() -> dict[str, float]:
    """The module's thresholds by name (stored with each run's findings)."""
    return {name: value for name, value in globals().items()
            if name.isupper() and isinstance(value, (int, float)) and not isinstance(value, bool)}


def to_markdown(findings: Sequence[Finding]) -> str:
    """Findings as a markdown list (or a line saying that no check fired)."""
    if not findings:
        return "No training-health check fired."
    return "\n".join(f"- **{f.title}** (epoch {f.epoch}). {f.explanation} *Try:* {f.fix}" for f in findings)


__all__ = [
    "CODES",
    "MIN_EPOCHS",
    "Finding",
    "check_all",
    "check_d_overpowering",
    "check_divergence",
    "check_loss_jump",
    "check_mode_collapse",
    "check_oscillation",
    "check_stagnation",
    "cannot_fire",
    "read",
    "sample_change",
    "sample_diversity",
    "scan",
    "summarize",
    "thresholds",
    "to_markdown",
    "write",
]
