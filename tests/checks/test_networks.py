"""The checks of the generator and discriminator exercises (``gan_kit.checks.networks``)."""

from __future__ import annotations

import re

import keras
import pytest
import tensorflow as tf
from keras import layers

import gan_kit.losses
import gan_kit.metrics
import gan_kit.models
import gan_kit.steps
import gan_kit.vae
from gan_kit import checks

# Imported under other names before any check runs: the checks must refuse these too.
from gan_kit.models import build_discriminator as kit_build_d
from gan_kit.models import build_generator as kit_build_g
from tests.checks.conftest import KIT, assert_passes, rejected


# ================================================================= check_generator (about 1 s a call: few calls)
def build_generator(latent_dim=100, width=64):
    model = keras.Sequential([keras.Input(shape=(latent_dim,)),
                              layers.Dense(4 * 4 * 8 * width, use_bias=False),
                              layers.BatchNormalization(),
                              layers.LeakyReLU(0.2),
                              layers.Reshape((4, 4, 8 * width))])
    for filters in (4 * width, 2 * width, width):
        model.add(layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False))
        model.add(layers.BatchNormalization())
        model.add(layers.LeakyReLU(0.2))
        model.add(layers.Conv2D(filters, 3, padding="same", use_bias=False))
        model.add(layers.BatchNormalization())
        model.add(layers.LeakyReLU(0.2))
    model.add(layers.Conv2D(3, 3, padding="same", activation="tanh"))
    return model


def _generator_with(slope=0.2, dense_bias=False, kernel=4, strides=2, refine=True, refine_bias=False, fixed_width=None,
                    output="tanh"):
    def wrong_generator(latent_dim=100, width=64):
        w = fixed_width or width
        leaky = (lambda: layers.LeakyReLU()) if slope is None else (lambda: layers.LeakyReLU(slope))
        model = keras.Sequential([keras.Input(shape=(latent_dim,)), layers.Dense(4 * 4 * 8 * w, use_bias=dense_bias),
                                  layers.BatchNormalization(), leaky(), layers.Reshape((4, 4, 8 * w))])
        for filters in (4 * w, 2 * w, w):
            model.add(layers.Conv2DTranspose(filters, kernel, strides=strides, padding="same", use_bias=False))
            model.add(layers.BatchNormalization())
            model.add(leaky())
            if refine:
                model.add(layers.Conv2D(filters, 3, padding="same", use_bias=refine_bias))
                model.add(layers.BatchNormalization())
                model.add(leaky())
        model.add(layers.Conv2D(3, 3, padding="same", activation=output))
        return model
    return wrong_generator


def test_generator_passes(capsys):
    assert_passes(capsys, checks.check_generator, build_generator)


WRONG_GENERATOR = {
    "LeakyReLU() with Keras' default slope": (_generator_with(slope=None),
                                              r"is activation\(leaky_relu\(0\.3\)\).*expected activation\("
                                              r"leaky_relu\(0\.2\)\).*default slope is 0\.3"),
    "bias before BatchNorm (Dense)": (_generator_with(dense_bias=True), r"dense\(8192, bias\).*use_bias=False"),
    "kernel 5 transposed conv": (_generator_with(kernel=5),
                                 r"conv_transpose\(256, 5x5.*expected conv_transpose\(256, 4x4"),
    "stride 1 transposed conv": (_generator_with(strides=1),
                                 r"stride 1.*expected conv_transpose\(256, 4x4, stride 2"),
    "no refinement conv": (_generator_with(refine=False),
                           r"is conv_transpose\(128, .*expected conv\(256, 3x3, stride 1"),
    "hard-coded width 64": (_generator_with(fixed_width=64),
                            r"\(latent_dim=8, width=4\).*is dense\(8192, no bias\).*expected dense\(512, no bias\)"),
    "sigmoid output": (_generator_with(output="sigmoid"), r"activation\(sigmoid\).*expected activation\(tanh\)"),
    "no output activation": (_generator_with(output=None),
                             r"stops after 23 operations; next expected: activation\(tanh\)"),
    "no width argument": (lambda latent_dim=100: build_generator(latent_dim),
                          r"must accept the keyword argument\(s\) \['width'\]"),
}


@pytest.mark.parametrize("name", WRONG_GENERATOR)
def test_generator_rejects(name):
    wrong, match = WRONG_GENERATOR[name]
    rejected(checks.check_generator, wrong, match=match)


def test_generator_bias_on_refinement_conv_names_use_bias():
    rejected(checks.check_generator, _generator_with(refine_bias=True), match=r"(?s)no bias.*use_bias=False")


@pytest.mark.parametrize("answer", [
    lambda latent_dim=100, width=64: gan_kit.models.build_generator(latent_dim, (32, 32, 3), width),
    lambda latent_dim=100, width=64: kit_build_g(latent_dim, (32, 32, 3), width),
    kit_build_g,
], ids=["module attr", "calls the alias", "the alias itself"])
def test_generator_refuses_the_kit(answer):
    rejected(checks.check_generator, answer, match=f"{KIT} gan_kit.models.build_generator")
    assert gan_kit.models.build_generator(8, (32, 32, 3), 4).output_shape == (None, 32, 32, 3)


def test_generator_lets_a_stub_through():
    def build_generator(latent_dim=100, width=64):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        checks.check_generator(build_generator)


# ================================================================= check_discriminator (about 1 s a call)
def build_discriminator(width=64, dropout=0.3):
    return keras.Sequential([
        keras.Input(shape=(32, 32, 3)),
        layers.Conv2D(width, 4, strides=2, padding="same"), layers.LeakyReLU(0.2), layers.Dropout(dropout),
        layers.Conv2D(2 * width, 4, strides=2, padding="same"), layers.BatchNormalization(), layers.LeakyReLU(0.2),
        layers.Dropout(dropout),
        layers.Conv2D(4 * width, 4, strides=2, padding="same"), layers.BatchNormalization(), layers.LeakyReLU(0.2),
        layers.Dropout(dropout),
        layers.Flatten(),
        layers.Dense(1),
    ])


def _discriminator_with(first_bn=False, dropout_rate=None, use_dropout=True, act=lambda: layers.LeakyReLU(0.2),
                        output=None, fixed_width=None):
    def wrong_discriminator(width=64, dropout=0.3):
        w, rate = fixed_width or width, dropout if dropout_rate is None else dropout_rate
        model = keras.Sequential([keras.Input(shape=(32, 32, 3))])
        for i, filters in enumerate((w, 2 * w, 4 * w)):
            model.add(layers.Conv2D(filters, 4, strides=2, padding="same"))
            if i > 0 or first_bn:
                model.add(layers.BatchNormalization())
            model.add(act())
            if use_dropout:
                model.add(layers.Dropout(rate))
        model.add(layers.Flatten())
        model.add(layers.Dense(1, activation=output))
        return model
    return wrong_discriminator


def test_discriminator_passes(capsys):
    assert_passes(capsys, checks.check_discriminator, build_discriminator)


WRONG_DISCRIMINATOR = {
    "sigmoid at the end": (_discriminator_with(output="sigmoid"), r"no sigmoid at the end"),
    "BatchNorm on the first conv": (_discriminator_with(first_bn=True),
                                    r"operation 2 .* is batchnorm.*expected activation\(leaky_relu\(0\.2\)\)"),
    "no Dropout": (_discriminator_with(use_dropout=False), r"expected dropout\(0\.3\).*it is missing"),
    "Dropout rate hard-coded (ignores dropout)": (
        _discriminator_with(dropout_rate=0.3),
        r"\(width=4, dropout=0\.25\).*is dropout\(0\.3\).*expected dropout\(0\.25\)"),
    "Dropout 0.5": (_discriminator_with(dropout_rate=0.5), r"is dropout\(0\.5\).*expected dropout\(0\.3\)"),
    "ReLU instead of LeakyReLU": (_discriminator_with(act=layers.ReLU),
                                  r"is activation\(relu\).*expected activation\(leaky_relu\(0\.2\)\)"),
    "hard-coded width 64": (_discriminator_with(fixed_width=64), r"\(width=4, dropout=0\.25\).*expected conv\(4, 4x4"),
    "no dropout argument": (lambda width=64: build_discriminator(width), r"keyword argument\(s\) \['dropout'\]"),
}


@pytest.mark.parametrize("name", WRONG_DISCRIMINATOR)
def test_discriminator_rejects(name):
    wrong, match = WRONG_DISCRIMINATOR[name]
    rejected(checks.check_discriminator, wrong, match=match)


def test_discriminator_first_batchnorm_message_says_so():
    rejected(checks.check_discriminator, _discriminator_with(first_bn=True), match=r"(?i)first conv.*batch ?norm")


def test_discriminator_accepts_the_leaky_relu_activation_string(capsys):
    assert_passes(capsys, checks.check_discriminator, _discriminator_with(act=lambda: layers.Activation("leaky_relu")))


def _discriminator_styled(bias_before_bn=True, first_bias=True, first_activation=None, act_before_bn=False,
                          act=lambda: layers.LeakyReLU(0.2)):
    """Story 1's discriminator in other styles: the bias of the convs BatchNorm follows, the first conv's bias, its
    activation given as ``activation=`` (folded into the conv), an activation placed before BatchNorm."""
    def build(width=64, dropout=0.3):
        model = keras.Sequential([keras.Input(shape=(32, 32, 3))])
        model.add(layers.Conv2D(width, 4, strides=2, padding="same", use_bias=first_bias,
                                activation=first_activation))
        if first_activation is None:
            model.add(act())
        model.add(layers.Dropout(dropout))
        for filters in (2 * width, 4 * width):
            model.add(layers.Conv2D(filters, 4, strides=2, padding="same", use_bias=bias_before_bn))
            model.add(act() if act_before_bn else layers.BatchNormalization())
            model.add(layers.BatchNormalization() if act_before_bn else act())
            model.add(layers.Dropout(dropout))
        model.add(layers.Flatten())
        model.add(layers.Dense(1))
        return model
    return build


@pytest.mark.parametrize("answer", [
    _discriminator_styled(bias_before_bn=False),
    _discriminator_styled(first_activation=layers.LeakyReLU(0.2)),
    _discriminator_styled(bias_before_bn=False, first_activation=tf.nn.leaky_relu),  # its default slope is 0.2
    _discriminator_styled(first_activation="leaky_relu", act=lambda: layers.ReLU(negative_slope=0.2)),
], ids=["use_bias=False before BatchNorm", "activation=LeakyReLU(0.2) layer", "activation=tf.nn.leaky_relu",
        "activation string, ReLU(negative_slope=0.2)"])
def test_discriminator_accepts_every_style_the_handout_allows(capsys, answer):
    """A bias right before BatchNorm is redundant, not wrong (the handout's table keeps Keras' default, its rule for
    the generator leaves it out): both pass, each compared with the spec's parameter count for that choice; an
    activation folded into the conv computes the same as a layer after it."""
    assert_passes(capsys, checks.check_discriminator, answer)


def test_discriminator_still_wants_the_bias_no_batchnorm_follows():
    msg = rejected(checks.check_discriminator, _discriminator_styled(first_bias=False),
                   match=r"is conv\(64, 4x4, stride 2, same, no bias\).*expected conv\(64, 4x4, stride 2, same, bias\)"
                         r".*keep the bias")
    assert "use_bias=False" not in msg


def test_discriminator_names_a_folded_activation_by_what_it_computes():
    msg = rejected(checks.check_discriminator, _discriminator_styled(first_activation=layers.LeakyReLU()),
                   match=r"activation\(leaky_relu\(0\.3\)\).*expected activation\(leaky_relu\(0\.2\)\).*default slope")
    assert " object at 0x" not in msg and "<" not in msg


@pytest.mark.parametrize("check, answer", [
    (checks.check_discriminator, _discriminator_styled(act_before_bn=True)),
    (checks.check_generator, lambda latent_dim=100, width=64: keras.Sequential(
        [keras.Input(shape=(latent_dim,)), layers.Dense(4 * 4 * 8 * width, use_bias=False), layers.LeakyReLU(0.2),
         layers.BatchNormalization(), *build_generator(latent_dim, width).layers[3:]])),
], ids=["discriminator", "generator"])
def test_network_names_leaky_relu_before_batchnorm(check, answer):
    msg = rejected(check, answer, match=re.escape("LeakyReLU before BatchNorm: put BatchNorm between the convolution "
                                                  "and the activation"))
    assert "missing" not in msg


def test_discriminator_relu_is_told_to_use_leaky_relu():
    msg = rejected(checks.check_discriminator, _discriminator_with(act=layers.ReLU),
                   match=r"(?s)is activation\(relu\).*Hint: .*not ReLU.*layers\.LeakyReLU\(0\.2\)")
    assert "tanh" not in msg


@pytest.mark.parametrize("answer", [
    lambda width=64, dropout=0.3: gan_kit.models.build_discriminator((32, 32, 3), width, dropout),
    lambda width=64, dropout=0.3: kit_build_d((32, 32, 3), width, dropout),
], ids=["module attr", "calls the alias"])
def test_discriminator_refuses_the_kit(answer):
    rejected(checks.check_discriminator, answer, match=f"{KIT} gan_kit.models.build_discriminator")
    assert gan_kit.models.build_discriminator((32, 32, 3), 4, 0.25).output_shape == (None, 1)


def test_discriminator_lets_a_stub_through():
    def build_discriminator(width=64, dropout=0.3):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        checks.check_discriminator(build_discriminator)
