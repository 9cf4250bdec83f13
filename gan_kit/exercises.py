"""The student's own answers, handed to the kit: the one way a notebook makes the kit train and evaluate with them.

A notebook registers the functions its student wrote; from then on the kit calls them wherever it needs that
piece, in every run the notebook starts (``train``, sweeps, the lab), instead of its own implementation::

    from gan_kit import exercises

    exercises.use(gradient_penalty=gradient_penalty)   # notebook 03: WGAN-GP runs use this penalty
    exercises.use(reparameterize=reparameterize, kl_divergence=kl_divergence)   # notebook 05: the VAE's terms

| name | signature | used by |
| --- | --- | --- |
| ``gradient_penalty`` | ``(critic, real, fake, alpha=None) -> scalar`` | WGAN-GP's critic loss (``gan.GAN``) |
| ``reparameterize`` | ``(mean, log_var, eps) -> z`` (TensorFlow ops) | the VAE's sampling (``vae.VAE``) |
| ``kl_divergence`` | ``(mean, log_var) -> per-example KL`` (TensorFlow ops) | the VAE's loss (``vae.VAE``) |
| ``fid_from_features`` | ``(real_features, fake_features) -> float`` | FID in ``metrics.evaluate`` |

The registry lives in the Python process: runs started in other processes (``parallel`` sweeps) use the kit's
own implementation, and say so in their log. ``exercises.clear()`` forgets every answer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

__all__ = ["EXERCISES", "answer", "clear", "registered", "use", "using"]

EXERCISES: dict[str, str] = {  # name -> the notebook whose exercise it is
    "fid_from_features": "01_gan_theory",
    "gradient_penalty": "03_stabilizing_gans",
    "reparameterize": "05_gan_vs_vae",
    "kl_divergence": "05_gan_vs_vae",
}
_ANSWERS: dict[str, Callable] = {}


def use(**answers: Callable) -> None:
    """Register the student's functions by exercise name (see the table in the module's docstring)."""
    for name, function in answers.items():
        if name not in EXERCISES:
            raise ValueError(f"exercises.use: {name!r} is not an exercise the kit can use; the names are "
                             f"{', '.join(sorted(EXERCISES))}.")
        if not callable(function):
            raise TypeError(f"exercises.use: {name} must be a function, not {type(function).__name__}.")
    _ANSWERS.update(answers)


def answer(name: str) -> Callable | None:
    """The student's function registered under ``name``, or None (the kit then uses its own)."""
    if name not in EXERCISES:
        raise KeyError(f"{name!r} is not an exercise name ({', '.join(sorted(EXERCISES))}).")
    return _ANSWERS.get(name)


def registered() -> dict[str, Callable]:
    """Every registered answer, by name."""
    return dict(_ANSWERS)


def clear(*names: str) -> None:
    """Forget the answers ``names`` (every answer when none is named)."""
    for name in names or tuple(_ANSWERS):
        _ANSWERS.pop(name, None)


@contextlib.contextmanager
def using(**answers: Callable) -> Iterator[None]:
    """Register ``answers`` for the block only; what was registered before comes back after it."""
    saved = dict(_ANSWERS)
    use(**answers)
    try:
        yield
    finally:
        _ANSWERS.clear()
        _ANSWERS.update(saved)
