"""Self-checks students run after each exercise.

Each check compares the student's code with stored expected values (:mod:`.fixtures`: computed
independently by the instructor's ``gan_kit.instructor.references``, which a student release leaves
out, never with the kit function the student might call), on inputs where the usual mistakes give
other numbers, and switches the kit's own implementation off while it runs, so an answer that calls
it fails. A check prints a line starting with "passed", or raises ``CheckFailed`` with what was
expected, on which input, and a hint (naming the mistake when the wrong value matches a stored known
one). A stub that still raises ``NotImplementedError`` is let through unchanged, so an unfinished
exercise is easy to spot. The formula and training-step checks are each ``collect_<name>(student_fns,
fixture)`` (runs the student's code, returns NumPy arrays) then ``judge_<name>(outputs, fixture)``
(raises ``CheckFailed``), so a grader can run the two in different processes.

The public names live here: ``gan_kit.checks.<name>`` is their one documented path (a submodule's own
``__all__`` lists only what it alone adds, such as its ``collect_``/``judge_`` halves).

| exercise | notebook | check |
| --- | --- | --- |
| FID from features | 01, 06 | ``check_fid`` |
| KID from features | 06 | ``check_kid`` |
| the toy GAN's training step | 01 | ``check_toy_step`` |
| the DCGAN generator / discriminator | 02 | ``check_generator``, ``check_discriminator`` |
| the BCE losses | 02 | ``check_gan_losses`` |
| the DCGAN training step | 02 | ``check_train_step`` |
| the gradient penalty | 03 | ``check_gradient_penalty`` |
| runs at an equal number of steps | 04 | ``check_compare_at_equal_steps`` |
| reparameterization, KL | 05 | ``check_reparameterize``, ``check_kl`` |
| preparing an image-folder file | 07 | ``check_prepare_image`` |
| the conditional input | 08 | ``check_conditional_input`` |
| the projection discriminator's output | 08 | ``check_projection_logit`` |
"""

from __future__ import annotations

from ._base import CheckFailed, KitCallError, kit_disabled
from .equal_steps import check_compare_at_equal_steps
from .fixtures import FixtureMissing
from .formulas import (
    check_conditional_input,
    check_fid,
    check_gan_losses,
    check_gradient_penalty,
    check_kl,
    check_reparameterize,
)
from .kid import check_kid
from .networks import check_discriminator, check_generator, discriminator_spec, generator_spec
from .preparation import check_prepare_image
from .projection import check_projection_logit
from .steps import check_toy_step, check_train_step

__all__ = [
    "CheckFailed",
    "FixtureMissing",
    "KitCallError",
    "check_compare_at_equal_steps",
    "check_conditional_input",
    "check_discriminator",
    "check_fid",
    "check_gan_losses",
    "check_generator",
    "check_gradient_penalty",
    "check_kid",
    "check_kl",
    "check_prepare_image",
    "check_projection_logit",
    "check_reparameterize",
    "check_toy_step",
    "check_train_step",
    "discriminator_spec",
    "generator_spec",
    "kit_disabled",
]
