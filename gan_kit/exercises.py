"""The student's own answers, handed to the kit: the one way a notebook makes the kit train and evaluate with them.

A notebook registers the functions its student wrote; from then on the kit calls them wherever it needs that
piece, in every run the notebook starts (``train``, sweeps, the lab), instead of its own implementation::

    from gan_kit import exercises

    exercises.use(gradient_penalty=gradient_penalty)   # notebook 03: WGAN-GP runs use this penalty
    exercises.use(reparameterize=reparameterize, kl_divergence=kl_divergence)   # notebook 05: the VAE's terms
    exercises.use(kid_from_features=kid_from_features)   # notebook 06: KID's estimate on each subset
    exercises.use(prepare_image=prepare_image)   # notebook 07: how image-folder files become training images
    exercises.use(conditional_input=conditional_input)   # notebook 08: the conditional generator's input
    exercises.use(projection_logit=projection_logit)   # notebook 08: the projection discriminator's class term

| name | signature | used by |
| --- | --- | --- |
| ``gradient_penalty`` | ``(critic, real, fake, alpha=None) -> scalar`` | WGAN-GP's critic loss (``gan.GAN``) |
| ``reparameterize`` | ``(mean, log_var, eps) -> z`` (TensorFlow ops) | the VAE's sampling (``vae.VAE``) |
| ``kl_divergence`` | ``(mean, log_var) -> per-example KL`` (TensorFlow ops) | the VAE's loss (``vae.VAE``) |
| ``fid_from_features`` | ``(real_features, fake_features) -> float`` | FID in ``metrics.evaluate`` |
| ``kid_from_features`` | ``(real_features, fake_features) -> float`` (one subset) | KID in ``metrics.evaluate`` |
| ``compare_at_equal_steps`` | ``(histories, metric) -> (step, values)`` | ``compare.at_equal_steps`` |
| ``prepare_image`` | ``(image, size) -> float32 (size, size, 3) in [-1, 1]`` | the ``image_folder`` dataset |
| ``conditional_input`` | ``(z, labels, num_classes) -> [z, one_hot]`` (TF ops) | ``models.ConditionalInput`` |
| ``projection_logit`` | ``(logit, features, class_embeddings, labels) -> logit`` (TF) | ``models.ProjectionLogit`` |

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
    "compare_at_equal_steps": "04_hyperparameters",
    "reparameterize": "05_gan_vs_vae",
    "kl_divergence": "05_gan_vs_vae",
    "kid_from_features": "06_evaluating_gans",
    "prepare_image": "07_cifar100_and_custom_data",
    "conditional_input": "08_conditional_gan",
    "projection_logit": "08_conditional_gan",
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
