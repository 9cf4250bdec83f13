"""Checks of a student's generator and discriminator against story 1's specification, layer by layer.

The specification is written out here as a list of operations (dense, conv, transposed conv,
batch norm, activation, dropout, reshape, flatten) with their settings, output shapes and
parameter counts; it does not call ``gan_kit.models``. A student's ``keras.Sequential`` is read
into the same form (an activation given as a layer argument counts as its own operation), the
first operation that differs is named, and then a reference network built from the
specification, given the student's weights, must compute the same outputs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._base import CheckFailed, compare, kit_disabled, passed, run_answer

# The kit's own builders: an answer that calls them is refused while the check runs.
KIT_BUILDERS = ("models:build_generator", "models:build_discriminator", "models:build_models",
                "models:build_conditional_generator", "models:build_conditional_discriminator",
                "gan:build_gan", "training:build_model", "training:build_step_model")
IMAGE_SHAPE = (32, 32, 3)
LEAK = 0.2

__all__ = ["Op", "check_discriminator", "check_generator", "discriminator_spec", "generator_spec", "read_network"]


@dataclass(frozen=True)
class Op:
    """One operation of a network: its kind and settings, the shape it outputs and its trainable weights."""

    kind: str
    settings: tuple = ()
    shape: tuple = ()
    params: int = 0
    layer: str = field(default="", compare=False)

    def describe(self) -> str:
        text = self.kind + (f"({', '.join(str(s) for s in self.settings)})" if self.settings else "")
        return f"{text} -> {self.shape}, {self.params:,} parameters"


# ----------------------------------------------------------------- the specification
def generator_spec(latent_dim: int = 100, width: int = 64) -> list[Op]:
    """Story 1's generator: Dense to 4x4x(8w), then three times a stride-2 4x4 transposed conv and a 3x3
    refinement conv (4w, 2w, w filters), each followed by BatchNorm and LeakyReLU(0.2); a 3x3 conv to 3
    channels and tanh. Convolutions before BatchNorm have no bias (BatchNorm adds its own)."""
    start = 8 * width
    ops = [Op("dense", (4 * 4 * start, "no bias"), (4 * 4 * start,), latent_dim * 16 * start),
           Op("batchnorm", (), (4 * 4 * start,), 2 * 16 * start),
           Op("activation", (f"leaky_relu({LEAK})",), (4 * 4 * start,)),
           Op("reshape", ((4, 4, start),), (4, 4, start))]
    side, channels = 4, start
    for filters in (4 * width, 2 * width, width):
        side *= 2
        ops += [Op("conv_transpose", (filters, "4x4", "stride 2", "same", "no bias"), (side, side, filters),
                   16 * channels * filters),
                Op("batchnorm", (), (side, side, filters), 2 * filters),
                Op("activation", (f"leaky_relu({LEAK})",), (side, side, filters)),
                Op("conv", (filters, "3x3", "stride 1", "same", "no bias"), (side, side, filters),
                   9 * filters * filters),
                Op("batchnorm", (), (side, side, filters), 2 * filters),
                Op("activation", (f"leaky_relu({LEAK})",), (side, side, filters))]
        channels = filters
    ops += [Op("conv", (3, "3x3", "stride 1", "same", "bias"), (32, 32, 3), 9 * width * 3 + 3),
            Op("activation", ("tanh",), (32, 32, 3))]
    return ops


def discriminator_spec(width: int = 64, dropout: float = 0.3) -> list[Op]:
    """Story 1's discriminator: three stride-2 4x4 convs (w, 2w, 4w filters) each followed by LeakyReLU(0.2)
    and Dropout, with BatchNorm between conv and activation from the second conv on; Flatten; Dense to one
    logit (no sigmoid: the loss applies it)."""
    ops: list[Op] = []
    side, channels = 32, 3
    for i, filters in enumerate((width, 2 * width, 4 * width)):
        side //= 2
        ops.append(Op("conv", (filters, "4x4", "stride 2", "same", "bias"), (side, side, filters),
                      16 * channels * filters + filters))
        if i > 0:
            ops.append(Op("batchnorm", (), (side, side, filters), 2 * filters))
        ops += [Op("activation", (f"leaky_relu({LEAK})",), (side, side, filters)),
                Op("dropout", (dropout,), (side, side, filters))]
        channels = filters
    features = side * side * channels
    ops += [Op("flatten", (), (features,)), Op("dense", (1, "bias"), (1,), features + 1)]
    return ops


# ----------------------------------------------------------------- reading a student's network
def _activation_name(fn: Any) -> str | None:
    import keras

    name = getattr(fn, "__name__", str(fn))
    if name in ("linear", None) or fn is keras.activations.linear:
        return None
    if name == "leaky_relu":  # keras.activations.leaky_relu's default slope
        return f"leaky_relu({LEAK})"
    return name


def _params(layer: Any) -> int:
    return int(sum(int(np.prod(w.shape)) for w in layer.trainable_weights))


def read_network(model: Any) -> list[Op]:
    """A Keras model's layers as ``Op``s (an activation argument of a Dense or Conv layer becomes its own Op)."""
    from keras import layers

    ops: list[Op] = []
    for layer in model.layers:
        shape = tuple(int(v) if v is not None else None for v in layer.output.shape[1:])
        name = layer.name
        act = None
        if isinstance(layer, layers.Dense):
            ops.append(Op("dense", (layer.units, "bias" if layer.use_bias else "no bias"), shape, _params(layer), name))
            act = _activation_name(layer.activation)
        elif isinstance(layer, (layers.Conv2DTranspose, layers.Conv2D)):
            kind = "conv_transpose" if isinstance(layer, layers.Conv2DTranspose) else "conv"
            k = "x".join(str(v) for v in layer.kernel_size)
            stride = layer.strides[0] if len(set(layer.strides)) == 1 else layer.strides
            ops.append(Op(kind, (layer.filters, k, f"stride {stride}", layer.padding,
                                 "bias" if layer.use_bias else "no bias"), shape, _params(layer), name))
            act = _activation_name(layer.activation)
        elif isinstance(layer, layers.BatchNormalization):
            ops.append(Op("batchnorm", (), shape, _params(layer), name))
        elif isinstance(layer, layers.LeakyReLU):
            slope = float(getattr(layer, "negative_slope", getattr(layer, "alpha", 0.3)))
            ops.append(Op("activation", (f"leaky_relu({slope:g})",), shape, 0, name))
        elif isinstance(layer, layers.ReLU):
            ops.append(Op("activation", ("relu",), shape, 0, name))
        elif isinstance(layer, layers.Activation):
            fn = _activation_name(layer.activation)
            if fn is not None:
                ops.append(Op("activation", (fn,), shape, 0, name))
        elif isinstance(layer, layers.Reshape):
            ops.append(Op("reshape", (tuple(layer.target_shape),), shape, 0, name))
        elif isinstance(layer, layers.Flatten):
            ops.append(Op("flatten", (), shape, 0, name))
        elif isinstance(layer, layers.Dropout):
            ops.append(Op("dropout", (float(layer.rate),), shape, 0, name))
        else:
            ops.append(Op(type(layer).__name__, (), shape, _params(layer), name))
        if act is not None:
            ops.append(Op("activation", (act,), shape, 0, f"{name} (activation={act!r})"))
    return ops


# ----------------------------------------------------------------- the reference network built from the spec
def _reference(spec: list[Op], input_shape: tuple) -> Any:
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input(input_shape)])
    for op in spec:
        if op.kind == "dense":
            model.add(layers.Dense(op.settings[0], use_bias=op.settings[1] == "bias"))
        elif op.kind in ("conv", "conv_transpose"):
            kernel = int(op.settings[1].split("x")[0])
            stride = int(op.settings[2].split()[1])
            cls = layers.Conv2DTranspose if op.kind == "conv_transpose" else layers.Conv2D
            model.add(cls(op.settings[0], kernel, strides=stride, padding=op.settings[3],
                          use_bias=op.settings[4] == "bias"))
        elif op.kind == "batchnorm":
            model.add(layers.BatchNormalization())
        elif op.kind == "activation":
            fn = op.settings[0]
            model.add(layers.LeakyReLU(LEAK) if fn.startswith("leaky_relu") else layers.Activation(fn))
        elif op.kind == "reshape":
            model.add(layers.Reshape(op.settings[0]))
        elif op.kind == "flatten":
            model.add(layers.Flatten())
        elif op.kind == "dropout":
            model.add(layers.Dropout(op.settings[0]))
    return model


# ----------------------------------------------------------------- the checks
_HINTS = {
    "dense": "a Dense layer; `use_bias=False` when BatchNorm follows",
    "conv_transpose": "layers.Conv2DTranspose(filters, 4, strides=2, padding='same', use_bias=False)",
    "conv": "layers.Conv2D(filters, kernel, strides=..., padding='same'), with use_bias=False when BatchNorm follows",
    "batchnorm": "layers.BatchNormalization()",
    "activation": f"layers.LeakyReLU({LEAK}) (Keras' default slope is 0.3) or layers.Activation('tanh')",
    "dropout": "layers.Dropout(rate)",
    "reshape": "layers.Reshape((4, 4, 8 * width))",
    "flatten": "layers.Flatten()",
}


def _compare_ops(name: str, got: list[Op], spec: list[Op], size: str) -> None:
    def same(a: Op, b: Op) -> bool:
        return (a.kind, a.settings) == (b.kind, b.settings)

    for i, (mine, want) in enumerate(zip(got, spec)):
        if not same(mine, want):
            if i + 1 < len(spec) and same(mine, spec[i + 1]):
                why = f" Story 1's network has {want.describe()} before it: it is missing."
            elif i + 1 < len(got) and same(got[i + 1], want):
                why = f" Your {mine.kind} layer is one too many here: remove it."
                if mine.kind == "batchnorm" and i == 1 and spec[0].kind == "conv":
                    why += (" The first conv of story 1's discriminator has no BatchNorm: it would normalise the raw "
                            "image statistics D is meant to judge.")
            else:
                why = f" Hint: {_HINTS.get(want.kind, want.kind)}."
            raise CheckFailed(
                f"{name} ({size}): operation {i + 1} (layer {mine.layer!r}) is {mine.describe()}; expected "
                f"{want.describe()}.{why}")
        if mine.shape != want.shape:
            raise CheckFailed(f"{name} ({size}): layer {mine.layer!r} outputs {mine.shape}; expected {want.shape}."
                              " Hint: compute every size from latent_dim and width (no numbers written in).")
        if mine.params != want.params:
            extra = ""
            if want.kind in ("dense", "conv", "conv_transpose") and mine.params - want.params == want.settings[0]:
                extra = " The difference is one bias per output: a layer followed by BatchNorm needs no bias " \
                        "(use_bias=False)."
            raise CheckFailed(f"{name} ({size}): layer {mine.layer!r} has {mine.params:,} trainable parameters; "
                              f"expected {want.params:,}.{extra}")
    if len(got) != len(spec):
        if len(got) < len(spec):
            missing = spec[len(got)]
            raise CheckFailed(f"{name} ({size}): it stops after {len(got)} operations; next expected: "
                              f"{missing.describe()}.")
        extra = got[len(spec)]
        why = (" D outputs a logit: no sigmoid at the end (the loss applies it, stably)."
               if extra.kind == "activation" and extra.settings == ("sigmoid",) else "")
        raise CheckFailed(f"{name} ({size}): it has {len(got) - len(spec)} operation(s) too many, from layer "
                          f"{extra.layer!r} ({extra.describe()}) on; story 1's network ends with "
                          f"{spec[-1].describe()}.{why}")


def _check_network(name: str, build: Callable[..., Any], kwargs: dict[str, Any], spec: list[Op],
                   input_shape: tuple, size: str) -> None:
    import keras
    import tensorflow as tf

    with kit_disabled(KIT_BUILDERS):
        model = run_answer(name, build, **kwargs)
    if not isinstance(model, keras.Sequential):
        raise CheckFailed(f"{name}: returned {type(model).__name__}; expected a keras.Sequential model.")
    if not model.built:
        try:
            model.build((None, *input_shape))
        except Exception as exc:
            raise CheckFailed(f"{name} ({size}): the model cannot take inputs of shape {input_shape} ({exc}). "
                              "Hint: start the Sequential with keras.Input(shape=...).") from None
    got_in = tuple(model.inputs[0].shape[1:])
    if got_in != tuple(input_shape):
        raise CheckFailed(f"{name} ({size}): takes inputs of shape {got_in}; expected {tuple(input_shape)}.")
    _compare_ops(name, read_network(model), spec, size)
    reference = _reference(spec, input_shape)
    reference.set_weights(model.get_weights())
    x = tf.constant(np.random.default_rng(0).standard_normal((3, *input_shape)), tf.float32)
    if len(input_shape) == 3:
        x = tf.tanh(x)
    compare(f"{name} ({size}) outputs", model(x, training=False), reference(x, training=False),
            "the layers match the specification but compute something else: check each layer's settings "
            "(BatchNormalization's defaults, the activation's slope).", rtol=1e-4, atol=1e-4)


def _keywords(function: Callable, names: tuple[str, ...]) -> None:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return
    if not any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
        missing = [n for n in names if n not in parameters]
        if missing:
            raise CheckFailed(f"{getattr(function, '__name__', 'your function')} must accept the keyword "
                              f"argument(s) {missing} (with story 1's values as defaults).")


def check_generator(build_generator: Callable[..., Any], small: tuple[int, int] = (8, 4)) -> None:
    """``build_generator(latent_dim=100, width=64)`` against story 1's generator, at story 1's size and at
    ``small = (latent_dim, width)`` (which catches numbers written in instead of computed)."""
    _keywords(build_generator, ("latent_dim", "width"))
    _check_network("build_generator", build_generator, {}, generator_spec(), (100,), "latent_dim=100, width=64")
    latent, width = small
    _check_network("build_generator", build_generator, {"latent_dim": latent, "width": width},
                   generator_spec(latent, width), (latent,), f"latent_dim={latent}, width={width}")
    passed("the generator matches story 1's, layer by layer, and computes the same outputs")


def check_discriminator(build_discriminator: Callable[..., Any], small: tuple[int, float] = (4, 0.25)) -> None:
    """``build_discriminator(width=64, dropout=0.3)`` against story 1's discriminator, at story 1's size and at
    ``small = (width, dropout)``."""
    _keywords(build_discriminator, ("width", "dropout"))
    _check_network("build_discriminator", build_discriminator, {}, discriminator_spec(), IMAGE_SHAPE,
                   "width=64, dropout=0.3")
    width, dropout = small
    _check_network("build_discriminator", build_discriminator, {"width": width, "dropout": dropout},
                   discriminator_spec(width, dropout), IMAGE_SHAPE, f"width={width}, dropout={dropout}")
    passed("the discriminator matches story 1's, layer by layer, and computes the same logits")
