"""Checks of a student's training step: one step of theirs against one of an independent reference, from the
same weights, optimizer states, real batch and noise.

The student writes a step factory ``make_step(generator, discriminator, g_optimizer, d_optimizer)``
returning ``step(real_images, noise) -> {"g_loss": ..., "d_loss": ..., ...}`` (see ``gan_kit.steps``).
The check builds two tiny networks (with BatchNorm, so a forgotten ``training=True`` shows), copies
them, runs the student's step on one copy and its own reference on the other, and compares the
weights after the step network by network. SGD with learning rates of 0.02 for G and 0.05 for D
(different, so swapped optimizers show) moves each weight by about 1e-3 to 1e-2, while the same
computation in another order differs by about 1e-7 in float32, so the tolerance on the trainable
weights (relative 1e-4, absolute 1e-5) passes a correct step and fails a wrong update. BatchNorm's
moving statistics depend slightly on the order of D's two calls, so they are compared with a looser
tolerance (absolute 1e-4). When the student's weights match a known wrong rule, the message names it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._base import CheckFailed, compare, kit_disabled, passed, run_answer, value
from .formulas import LOSS_KIT

__all__ = ["check_toy_step", "check_train_step"]

STEP_KIT = (*LOSS_KIT, "steps:story1_train_step", "steps:alternating_train_step", "steps:StepModel.train_step",
            "gan:GAN.train_step", "gan:GAN.discriminator_step", "gan:GAN.generator_step")
G_LEARNING_RATE, D_LEARNING_RATE = 0.02, 0.05  # different, so that swapped optimizers show
RULES = {
    "story1": "story 1's rule: G makes one batch, D judges the real and the generated batch once, both losses come "
              "from that one forward pass (two tapes), then each network takes its own optimizer step",
    "alternating": "the alternating rule: D's loss and update first; then G's loss through the updated D, from the "
                   "same noise, and G's update",
}


# ----------------------------------------------------------------- tiny networks
def _image_networks(seed: int):
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    g = keras.Sequential([keras.Input((4,)), layers.Dense(4 * 4 * 4, use_bias=False), layers.BatchNormalization(),
                          layers.LeakyReLU(0.2), layers.Reshape((4, 4, 4)),
                          layers.Conv2DTranspose(4, 4, strides=2, padding="same", use_bias=False),
                          layers.BatchNormalization(), layers.LeakyReLU(0.2), layers.Conv2D(1, 3, padding="same"),
                          layers.Activation("tanh")], name="tiny_generator")
    d = keras.Sequential([keras.Input((8, 8, 1)), layers.Conv2D(4, 4, strides=2, padding="same"),
                          layers.LeakyReLU(0.2), layers.Conv2D(8, 4, strides=2, padding="same"),
                          layers.BatchNormalization(), layers.LeakyReLU(0.2), layers.Flatten(), layers.Dense(1)],
                         name="tiny_discriminator")
    rng = np.random.default_rng(seed)
    return g, d, np.tanh(rng.standard_normal((8, 8, 8, 1))).astype(np.float32), \
        rng.standard_normal((8, 4)).astype(np.float32)


def _toy_networks(seed: int):
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    g = keras.Sequential([keras.Input((2,)), layers.Dense(16, activation="relu"), layers.Dense(2)],
                         name="toy_generator")
    d = keras.Sequential([keras.Input((2,)), layers.Dense(16), layers.LeakyReLU(0.2), layers.Dense(1)],
                         name="toy_discriminator")
    rng = np.random.default_rng(seed)
    angles = 2 * np.pi * rng.integers(0, 8, 16) / 8
    real = 2.0 * np.stack([np.cos(angles), np.sin(angles)], 1) + 0.05 * rng.standard_normal((16, 2))
    return g, d, real.astype(np.float32), rng.standard_normal((16, 2)).astype(np.float32)


def _copy(model):
    import keras

    twin = keras.models.clone_model(model)
    twin.set_weights(model.get_weights())
    return twin


# ----------------------------------------------------------------- the reference rules
def _bce_d(real_logits, fake_logits):
    import tensorflow as tf

    return tf.reduce_mean(tf.nn.softplus(-real_logits)) + tf.reduce_mean(tf.nn.softplus(fake_logits))


def _bce_g(fake_logits):
    import tensorflow as tf

    return tf.reduce_mean(tf.nn.softplus(-fake_logits))


def _reference(rule: str, g, d, real, noise, training: bool = True) -> dict[str, float]:
    """One step of ``rule`` (or of a known wrong variant) on ``g`` and ``d`` with plain SGD; the losses."""
    import tensorflow as tf

    def sgd(grads, variables, lr):
        for grad, var in zip(grads, variables):
            if grad is not None:
                var.assign_sub(lr * grad)

    real, noise = tf.constant(real), tf.constant(noise)
    if rule == "alternating":
        with tf.GradientTape() as tape:
            real_logits, fake_logits = d(real, training=training), d(g(noise, training=training), training=training)
            d_loss = _bce_d(real_logits, fake_logits)
        sgd(tape.gradient(d_loss, d.trainable_variables), d.trainable_variables, D_LEARNING_RATE)
        with tf.GradientTape() as tape:
            g_loss = _bce_g(d(g(noise, training=training), training=training))
        sgd(tape.gradient(g_loss, g.trainable_variables), g.trainable_variables, G_LEARNING_RATE)
        return {"g_loss": float(g_loss), "d_loss": float(d_loss)}
    with tf.GradientTape(persistent=True) as tape:
        fake = g(noise, training=training)
        real_logits, fake_logits = d(real, training=training), d(fake, training=training)
        g_loss, d_loss = _bce_g(fake_logits), _bce_d(real_logits, fake_logits)
        both = g_loss + d_loss
    g_target, d_target = {"story1": (g_loss, d_loss), "one_loss": (both, both), "swapped": (d_loss, g_loss)}[rule]
    g_grads = tape.gradient(g_target, g.trainable_variables)
    d_grads = tape.gradient(d_target, d.trainable_variables)
    sgd(g_grads, g.trainable_variables, G_LEARNING_RATE)
    sgd(d_grads, d.trainable_variables, D_LEARNING_RATE)
    return {"g_loss": float(g_loss), "d_loss": float(d_loss),
            "d_real_prob": float(tf.reduce_mean(tf.sigmoid(real_logits))),
            "d_fake_prob": float(tf.reduce_mean(tf.sigmoid(fake_logits)))}


_VARIANTS = {  # (rule, training) -> what the student did, for the message
    ("alternating", True): "the alternating rule (G's loss through the already updated D)",
    ("story1", True): "story 1's rule (both losses from one forward pass, before either update)",
    ("one_loss", True): "one loss (g_loss + d_loss) for both networks: each network must follow the gradient of "
                        "its own loss, from its own tape",
    ("swapped", True): "swapped gradients: D followed G's loss and G followed D's loss",
    ("story1", False): "story 1's rule with the networks called without training=True (BatchNorm used its "
                       "moving statistics instead of the batch's)",
    ("alternating", False): "the alternating rule with the networks called without training=True",
}


def _weights(model) -> tuple[list[np.ndarray], list[np.ndarray]]:
    return ([np.array(w.numpy()) for w in model.trainable_weights],
            [np.array(w.numpy()) for w in model.non_trainable_weights])


def _same(a: tuple[list, list], b: tuple[list, list]) -> bool:
    """Trainable weights to 1e-5, BatchNorm's moving statistics to 1e-4 (they depend on the order of D's calls)."""
    return (all(np.allclose(x, y, rtol=1e-4, atol=1e-5) for x, y in zip(a[0], b[0]))
            and all(np.allclose(x, y, rtol=1e-3, atol=1e-4) for x, y in zip(a[1], b[1])))


def _is_tf_function(step: Any) -> bool:
    return hasattr(step, "get_concrete_function") and hasattr(step, "python_function")


def _check(make_step: Callable, rule: str, networks: Callable, name: str, needs_tf_function: bool,
           seed: int = 0) -> None:
    import keras

    g, d, real, noise = networks(seed)
    g_ref, d_ref = _copy(g), _copy(d)
    g_before, d_before = _weights(g), _weights(d)
    g_opt, d_opt = keras.optimizers.SGD(G_LEARNING_RATE), keras.optimizers.SGD(D_LEARNING_RATE)
    with kit_disabled(STEP_KIT):
        step = run_answer(name, make_step, g, d, g_opt, d_opt)
        if not callable(step):
            raise CheckFailed(f"{name}(generator, discriminator, g_optimizer, d_optimizer) must return the step "
                              f"function; it returned {type(step).__name__}.")
        if needs_tf_function and not _is_tf_function(step):
            raise CheckFailed(f"{name} returned a plain Python function; decorate the step with @tf.function so "
                              "Keras-style graph compilation runs it.")
        logs = run_answer("the step", step, real, noise)
    if not isinstance(logs, dict) or not {"g_loss", "d_loss"} <= set(logs):
        got = sorted(logs) if isinstance(logs, dict) else type(logs).__name__
        raise CheckFailed(f"the step must return a dict with at least 'g_loss' and 'd_loss'; it returned {got}.")
    expected = _reference(rule, g_ref, d_ref, real, noise)
    g_after, d_after = _weights(g), _weights(d)
    g_ok, d_ok = _same(g_after, _weights(g_ref)), _same(d_after, _weights(d_ref))
    if not (g_ok and d_ok):
        which = " and ".join(n for n, ok in (("the generator's", g_ok), ("the discriminator's", d_ok)) if not ok)
        detail = []
        for net, after, before in (("G", g_after, g_before), ("D", d_after, d_before)):
            if all(np.allclose(x, y) for x, y in zip(after[0], before[0])):
                detail.append(f"{net}'s weights did not change: apply its gradients with its own optimizer "
                              f"({'g' if net == 'G' else 'd'}_optimizer.apply_gradients(zip(grads, "
                              f"{'generator' if net == 'G' else 'discriminator'}.trainable_variables))).")
        if not detail:
            for (variant, training), meaning in _VARIANTS.items():
                if (variant, training) == (rule, True):
                    continue
                gv, dv = networks(seed)[:2]
                _reference(variant, gv, dv, real, noise, training=training)
                if _same(g_after, _weights(gv)) and _same(d_after, _weights(dv)):
                    detail.append(f"Your weights are what {meaning} gives.")
                    break
        raise CheckFailed(f"the step's update of {which} weights differs from {RULES[rule]}. "
                          + (" ".join(detail) or "Check which loss each tape differentiates and which variables "
                                                 "each optimizer updates."))
    for key in ("g_loss", "d_loss", "d_real_prob", "d_fake_prob"):
        if key in logs and key in expected:
            compare(f"the step's {key}", logs[key], expected[key],
                    "return the losses of this step's forward pass (before the updates)", rtol=1e-4, atol=1e-5)
    if "g_loss" in logs and not np.isfinite(value(logs["g_loss"])).all():
        raise CheckFailed("the step's g_loss is not finite.")


def check_train_step(make_train_step: Callable, seed: int = 0) -> None:
    """Story 1's training step (notebook 02): ``make_train_step(generator, discriminator, g_optimizer,
    d_optimizer)`` returning a ``@tf.function`` ``train_step(real_images, noise)``, checked against the rule
    in ``RULES["story1"]`` on tiny convolutional networks with BatchNorm (weights and data drawn from ``seed``)."""
    _check(make_train_step, "story1", _image_networks, "make_train_step", needs_tf_function=True, seed=seed)
    passed("one step from the same weights and noise updates G and D exactly as story 1's rule does")


def check_toy_step(make_toy_step: Callable, seed: int = 0) -> None:
    """The 2-D toy's training step (notebook 01): ``make_toy_step(generator, discriminator, g_optimizer,
    d_optimizer)`` returning ``step(real_points, noise)``, checked against the alternating rule (d2l's) on
    tiny MLPs (weights and data drawn from ``seed``)."""
    _check(make_toy_step, "alternating", _toy_networks, "make_toy_step", needs_tf_function=False, seed=seed)
    passed("one step from the same weights and noise updates D, then G through the updated D, as the reference does")
