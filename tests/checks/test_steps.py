"""The checks of the training-step exercises (``gan_kit.checks.steps``)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import tensorflow as tf

import gan_kit.losses
import gan_kit.metrics
import gan_kit.models
import gan_kit.steps
import gan_kit.vae
from gan_kit import checks
from gan_kit.checks import fixtures

# Imported under other names before any check runs: the checks must refuse these too.
from gan_kit.losses import bce_discriminator_loss as kit_d_loss
from gan_kit.losses import bce_generator_loss as kit_g_loss
from gan_kit.steps import alternating_train_step as kit_alternating
from gan_kit.steps import story1_train_step as kit_story1
from tests.checks.conftest import (
    KIT,
    WRONG_D,
    WRONG_G,
    WRONG_TOY_STEP,
    WRONG_TRAIN_STEP,
    _step_with,
    assert_passes,
    d_loss,
    d_loss_keras,
    g_loss,
    g_loss_keras,
    make_alternating_step,
    make_train_step,
    rejected,
    stub,
)


def test_train_step_passes(capsys):
    assert_passes(capsys, checks.check_train_step, make_train_step)
    assert_passes(capsys, checks.check_train_step, _step_with())  # one persistent tape, tf.nn losses


def test_train_step_accepts_d_on_fake_first(capsys):
    assert_passes(capsys, checks.check_train_step, _step_with(fake_first=True))


@pytest.mark.parametrize("name", WRONG_TRAIN_STEP)
def test_train_step_rejects(name):
    wrong, match = WRONG_TRAIN_STEP[name]
    rejected(checks.check_train_step, wrong, match=match)


def test_train_step_judges_the_maths_of_a_plain_function():
    """A step without @tf.function gets the verdict on its maths too: right maths, only the decorator to add; wrong
    maths, the mistake named, and the decorator."""
    msg = rejected(checks.check_train_step, _step_with(decorate=False),
                   match=re.escape("the update is right, but decorate train_step with @tf.function"))
    assert "differs" not in msg
    rejected(checks.check_train_step, _step_with(decorate=False, g_training=False),
             match=r"(?s)what calling G without training=True.*Also decorate train_step with @tf\.function")


def _no_dump(msg: str) -> None:
    """A message is sentences: no traceback, no TensorFlow frames, no tensor or weight dump."""
    assert "Traceback" not in msg and 'File "' not in msg and "in user code" not in msg, msg
    assert not re.search(r"(-?\d+\.\d+(e[-+]?\d+)?[,\s\]\[]+){7,}", msg), msg
    assert len(msg) < 1200, msg


NAMED_TRAIN_STEP = {
    "training=True missing from G": (_step_with(g_training=False),
                                     r"what calling G without training=True \(its BatchNorm"),
    "training=True missing from D": (_step_with(d_real_training=False, d_fake_training=False),
                                     r"what calling D without training=True \(its BatchNorm"),
    "training=True missing from D's real call": (_step_with(d_real_training=False),
                                                 r"what leaving training=True out of D's call on the real batch"),
    "training=True missing from D's fake call": (_step_with(d_fake_training=False),
                                                 r"what leaving training=True out of D's call on the generated batch"),
    "noise drawn in the step": (_step_with(own_noise=True), r"it draws its own noise\. Use the noise argument"),
    "D once on concat([real, fake])": (_step_with(joined=True), r"what calling D once on tf\.concat\(\[real, fake\]\)"),
    "D loss's arguments swapped": (_step_with(swap_d_args=True), r"what swapping discriminator_loss's arguments"),
    "optimizers swapped": (_step_with(swap_optimizers=True), r"what swapping the two optimizers"),
    "G's gradients to D's optimizer": (_step_with(mix_up="g_grads_to_d"),
                                       r"^the step: G's gradients were given to d_optimizer with D's variables"),
    "D's gradients zipped with G's variables": (
        _step_with(mix_up="d_grads_to_g"), r"^the step: D's gradients were given to g_optimizer with G's variables"),
    "G's gradients to D's optimizer (eager)": (_step_with(mix_up="g_grads_to_d", decorate=False),
                                               r"^the step: G's gradients were given to d_optimizer"),
    "saturating G loss": (_step_with(losses=(d_loss, WRONG_G["saturating log(1 - D(G(z)))"][0])),
                          r"what the saturating G loss log\(1 - D\(G\(z\)\)\)"),
}


@pytest.mark.parametrize("name", NAMED_TRAIN_STEP)
def test_train_step_names_each_mistake(name):
    wrong, match = NAMED_TRAIN_STEP[name]
    _no_dump(rejected(checks.check_train_step, wrong, match=match))


def test_train_step_reports_an_error_inside_the_tf_function_briefly():
    def make_step(generator, discriminator, g_optimizer, d_optimizer):
        @tf.function
        def step(real, noise):
            generator(tf.reshape(noise, [-1, 3]), training=True)  # a shape error inside the graph
            return {"g_loss": 0.0, "d_loss": 0.0}
        return step

    _no_dump(rejected(checks.check_train_step, make_step, match=r"^the step raised ValueError: (?!ValueError)"))


def test_train_step_names_a_gradient_mix_up_from_the_record(tmp_path):
    """At grading the step runs in the notebook and is judged from its record: the mix-up's message is recorded."""
    from gan_kit.checks import steps

    fixture = fixtures.load("train_step", 0)
    outputs = steps.collect_train_step({"make_train_step": _step_with(mix_up="d_grads_to_g")}, fixture)
    np.savez(tmp_path / "record.npz", **outputs)
    with np.load(tmp_path / "record.npz", allow_pickle=False) as stored:
        outputs = dict(stored)
    with pytest.raises(checks.CheckFailed, match=r"D's gradients were given to g_optimizer with G's variables"):
        steps.judge_train_step(outputs, fixture)


def test_train_step_forgotten_update_says_did_not_change():
    rejected(checks.check_train_step, _step_with(apply_g=False), match=r"G's weights did not change")


@pytest.mark.parametrize("answer", [lambda g, d, go, do: gan_kit.steps.story1_train_step(g, d, go, do), kit_story1],
                         ids=["module attr", "the alias"])
def test_train_step_refuses_the_kit(answer):
    rejected(checks.check_train_step, answer, match=f"{KIT} gan_kit.steps.story1_train_step")
    assert callable(gan_kit.steps.story1_train_step(None, None, None, None))


def test_train_step_refuses_a_kit_loss_inside_the_tf_function():
    rejected(checks.check_train_step, _step_with(losses=(kit_d_loss, g_loss)), match=KIT)
    assert np.isclose(float(kit_d_loss(tf.zeros((2, 1)), tf.zeros((2, 1)))), 2 * np.log(2.0))


def test_train_step_names_the_kit_loss_called_inside_the_tf_function():
    rejected(checks.check_train_step, _step_with(losses=(kit_d_loss, g_loss)),
             match=r"^the step: your answer called the kit's own gan_kit\.losses\.bce_discriminator_loss\(\)")


def test_train_step_lets_a_stub_through():
    with pytest.raises(NotImplementedError):
        checks.check_train_step(stub)


# ================================================================= check_toy_step (the alternating rule)
def test_toy_step_passes(capsys):
    assert_passes(capsys, checks.check_toy_step, make_alternating_step)
    assert_passes(capsys, checks.check_toy_step, _step_with(rule="alternating"))  # a tf.function is fine too


@pytest.mark.parametrize("name", WRONG_TOY_STEP)
def test_toy_step_rejects(name):
    wrong, match = WRONG_TOY_STEP[name]
    rejected(checks.check_toy_step, wrong, match=match)


def test_toy_step_rejects_swapped_optimizers():
    rejected(checks.check_toy_step, _step_with(rule="alternating", swap_optimizers=True),
             match="what swapping the two optimizers")


def _log_sigmoid_d(real, fake):
    return -tf.reduce_mean(tf.math.log_sigmoid(real)) - tf.reduce_mean(tf.math.log_sigmoid(-fake))


def _log_sigmoid_g(fake):
    return -tf.reduce_mean(tf.math.log_sigmoid(fake))


def _naive_d(real, fake):
    return -tf.reduce_mean(tf.math.log(tf.sigmoid(real))) - tf.reduce_mean(tf.math.log(1.0 - tf.sigmoid(fake)))


def _naive_g(fake):
    return -tf.reduce_mean(tf.math.log(tf.sigmoid(fake)))


@pytest.mark.parametrize("losses", [(d_loss_keras, g_loss_keras), (_log_sigmoid_d, _log_sigmoid_g)],
                         ids=["keras BCE from logits (the handout)", "tf.math.log_sigmoid"])
def test_toy_step_accepts_stable_losses_on_large_logits(capsys, losses):
    assert_passes(capsys, checks.check_toy_step, _step_with(rule="alternating", decorate=False, losses=losses))


NAMED_TOY_STEP = {
    "D's loss as log(sigmoid(x))": ((_naive_d, g_loss),
                                    r"(?s)NaN or infinite values in .*D's weights.*from the logits"),
    "G's loss as log(sigmoid(x))": ((d_loss, _naive_g), r"(?s)NaN or infinite values in G's weights.*from the logits"),
    "both losses as log(sigmoid(x))": ((_naive_d, _naive_g), r"overflow in float32"),
    "saturating G loss": ((d_loss, WRONG_G["saturating log(1 - D(G(z)))"][0]),
                          r"what the saturating G loss log\(1 - D\(G\(z\)\)\)"),
    "swapped labels": ((WRONG_D["swapped labels"][0], g_loss), r"what swapped labels in D's loss"),
    "halved D loss": ((WRONG_D["averaging the two terms"][0], g_loss), r"what halving D's loss"),
}


@pytest.mark.parametrize("name", NAMED_TOY_STEP)
def test_toy_step_names_each_mistake(name):
    losses, match = NAMED_TOY_STEP[name]
    _no_dump(rejected(checks.check_toy_step, _step_with(rule="alternating", decorate=False, losses=losses),
                      match=match))


@pytest.mark.parametrize("answer, match", [
    (_step_with(rule="alternating", new_noise=True), r"G's update drew fresh noise"),
    (_step_with(rule="alternating", own_noise=True), r"it draws its own noise"),
    (_step_with(rule="alternating", swap_optimizers=True), r"what swapping the two optimizers"),
], ids=["fresh noise for G's update", "noise drawn in the step", "optimizers swapped"])
def test_toy_step_names_noise_and_optimizer_mistakes(answer, match):
    _no_dump(rejected(checks.check_toy_step, answer, match=match))


def test_toy_step_messages_hold_no_weight_dump():
    for wrong, match in WRONG_TOY_STEP.values():
        _no_dump(rejected(checks.check_toy_step, wrong, match=match))


@pytest.mark.parametrize("name, seed", [("train_step", 0), ("toy_step", 0), ("train_step", 3), ("toy_step", 5)])
def test_step_fixtures_tell_every_mistake_apart(name, seed):
    """Each stored wrong variant's weights differ, at the check's tolerance, from the right ones and from every other
    variant's, so the message names the one the student made; the toy's D starts with logits beyond +-100."""
    from gan_kit.checks import steps
    from gan_kit.instructor import references

    case = references.build_fixture(name, seed)["cases"][0]
    trainable = case["inputs"]["trainable"]

    def same(a, b):
        return all(steps._same([np.asarray(w) for w in a[net]], b[net], trainable[net]) for net in steps.NETS)

    variants = [("right", case["expected"]), *case["mistakes"]["weights"].items()]
    for i, (meaning, weights) in enumerate(variants):
        assert not any(same(weights, other) for _, other in variants[i + 1:]), meaning
    assert len(variants) >= (14 if name == "train_step" else 8)
    if name == "toy_step":
        g, d = steps.tiny_toy_networks()
        g.set_weights([np.asarray(w, np.float32) for w in case["inputs"]["generator"]])
        d.set_weights([np.asarray(w, np.float32) for w in case["inputs"]["discriminator"]])
        logits = np.asarray(d(g(np.asarray(case["inputs"]["noise"], np.float32))))
        assert logits.min() < -100 and logits.max() > 100


@pytest.mark.parametrize("answer, name", [
    (lambda g, d, go, do: gan_kit.steps.alternating_train_step(g, d, go, do), "steps.alternating_train_step"),
    (kit_alternating, "steps.alternating_train_step"),
    (_step_with(rule="alternating", decorate=False, losses=(d_loss, kit_g_loss)), "losses.bce_generator_loss"),
], ids=["module attr", "the alias", "own plain step, kit loss"])
def test_toy_step_refuses_the_kit(answer, name):
    rejected(checks.check_toy_step, answer, match=rf"^(make_toy_step|the step): your answer {KIT} gan_kit\.{name}\(\)")
    assert callable(gan_kit.steps.alternating_train_step(None, None, None, None))
    assert np.isclose(float(kit_g_loss(tf.zeros((2, 1)))), np.log(2.0))


def test_toy_step_lets_a_stub_through():
    with pytest.raises(NotImplementedError):
        checks.check_toy_step(stub)
