"""The autograder's half of the checks: in a graded notebook, run the student's functions and record what they
return; the grader judges the record in its own process.

At grading, each hidden test calls these functions instead of the checks of the same names (the grader
rewrites ``checks.check_fid(`` to this module's ``check_fid(``). Each runs the student's functions on the
grader's inputs, a fixture of the grader's seed without its expected values (:mod:`.fixtures`), and writes the
outputs to ``$GAN_KIT_RECORD_DIR/<key>.npz`` (:func:`record_key`). The expected values never enter the job's
folder, so replacing these functions or the checks in the notebook gains nothing: the grader compares only what
was recorded, with values the notebook cannot read.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import equal_steps, fixtures, formulas, kid, networks, preparation, projection, steps

# The check_* functions share the public checks' names (gan_kit.checks) and are reached by module
# (``recording.check_fid``), so only what this module alone provides is listed.
__all__ = ["RECORD_ENV", "record_key"]

RECORD_ENV = "GAN_KIT_RECORD_DIR"


def record_key(check: str, **arguments: Any) -> str:
    """The file name (without ``.npz``) of a check's record: the check's name and its arguments."""
    parts = [check] + [f"{k}={'x'.join(map(str, v)) if isinstance(v, tuple | list) else v}"
                       for k, v in sorted(arguments.items())]
    return "-".join(parts)


def _write(key: str, outputs: dict[str, np.ndarray]) -> None:
    folder = Path(os.environ.get(RECORD_ENV, "outputs/grading-record"))
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / f"{key}.npz", **outputs)
    print(f"recorded for the grader: {key}")


def _formula(check: str, seed: Any, student: dict[str, Callable], key: str) -> None:
    collect = getattr(steps if check in ("train_step", "toy_step") else formulas, f"collect_{check}")
    _write(key, collect(student, fixtures.load(check, seed)))


def check_gan_losses(discriminator_loss: Callable, generator_loss: Callable, seed: int | None = None) -> None:
    """Record both losses on the grader's logits."""
    _formula("gan_losses", seed, {"discriminator_loss": discriminator_loss, "generator_loss": generator_loss},
             record_key("gan_losses", seed=seed))


def check_gradient_penalty(gradient_penalty: Callable, seed: int = 0) -> None:
    """Record the penalty on the grader's critics and images."""
    _formula("gradient_penalty", seed, {"gradient_penalty": gradient_penalty}, record_key("gradient_penalty",
                                                                                           seed=seed))


def check_reparameterize(reparameterize: Callable) -> None:
    """Record the samples on the grader's means, log-variances and noise."""
    _formula("reparameterize", None, {"reparameterize": reparameterize}, record_key("reparameterize"))


def check_kl(kl_divergence: Callable) -> None:
    """Record the KL terms on the grader's inputs."""
    _formula("kl", None, {"kl_divergence": kl_divergence}, record_key("kl"))


def check_fid(fid_from_features: Callable, seed: int = 0) -> None:
    """Record the FIDs on the grader's feature sets."""
    _formula("fid", seed, {"fid_from_features": fid_from_features}, record_key("fid", seed=seed))


def check_kid(kid_from_features: Callable, seed: int = 0) -> None:
    """Record the KID estimates on the grader's feature sets."""
    _write(record_key("kid", seed=seed), kid.collect_kid({"kid_from_features": kid_from_features},
                                                          fixtures.load("kid", seed)))


def check_conditional_input(conditional_input: Callable, num_classes: int = 10) -> None:
    """Record the joined inputs for the grader's class count."""
    _formula("conditional_input", num_classes, {"conditional_input": conditional_input},
             record_key("conditional_input", num_classes=num_classes))


def check_projection_logit(projection_logit: Callable, seed: int = 0) -> None:
    """Record the projection discriminator's logits on the grader's features, embeddings and labels."""
    _write(record_key("projection", seed=seed), projection.collect_projection(
        {"projection_logit": projection_logit}, fixtures.load("projection", seed)))


def check_prepare_image(prepare_image: Callable, seed: int = 0) -> None:
    """Record the prepared images of the grader's image files."""
    _write(record_key("prepare_image", seed=seed), preparation.collect_prepare_image(
        {"prepare_image": prepare_image}, fixtures.load("prepare_image", seed)))


def check_compare_at_equal_steps(compare_at_equal_steps: Callable, seed: int = 0) -> None:
    """Record the step and values on the grader's histories."""
    _write(record_key("equal_steps", seed=seed), equal_steps.collect_equal_steps(
        {"compare_at_equal_steps": compare_at_equal_steps}, fixtures.load("equal_steps", seed)))


def check_train_step(make_train_step: Callable, seed: int = 0) -> None:
    """Record the weights after one step of the student's training step from the grader's weights and batch."""
    _formula("train_step", seed, {"make_train_step": make_train_step}, record_key("train_step", seed=seed))


def check_toy_step(make_toy_step: Callable, seed: int = 0) -> None:
    """Record the weights after one step of the student's toy step from the grader's weights and batch."""
    _formula("toy_step", seed, {"make_toy_step": make_toy_step}, record_key("toy_step", seed=seed))


def _network(name: str, build: Callable, sizes: list, key: str) -> None:
    outputs: dict[str, np.ndarray] = {}
    for i, (kwargs, _, shape, size) in enumerate(sizes):
        collected = networks.collect_network(name, build, kwargs, shape, size)
        outputs.update({f"{i}/{k}": v for k, v in collected.items()})
    _write(key, outputs)


def check_generator(build_generator: Callable, small: tuple[int, int] = (8, 4)) -> None:
    """Record the student's generator (layers, weights, outputs) at both sizes."""
    _network("build_generator", build_generator, networks.generator_sizes(small),
             record_key("generator", small=small))


def check_discriminator(build_discriminator: Callable, small: tuple[int, float] = (4, 0.25)) -> None:
    """Record the student's discriminator (layers, weights, outputs) at both sizes."""
    _network("build_discriminator", build_discriminator, networks.discriminator_sizes(small),
             record_key("discriminator", small=small))
