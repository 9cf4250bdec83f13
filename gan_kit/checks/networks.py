"""Checks of a student's generator and discriminator against the DCGAN specification, layer by layer.

The specification is written out here as a list of operations (dense, conv, transposed conv,
batch norm, activation, dropout, reshape, flatten) with their settings, output shapes and
parameter counts; it does not call ``gan_kit.models``. A student's ``keras.Sequential`` is read
into the same form (an activation given as a layer argument, a string, a function or a layer
object, counts as its own operation, named by what it computes), the first operation that
differs is named (an activation placed before BatchNorm as such, not as a missing BatchNorm),
and then a reference network built from the specification, given the student's weights, must
compute the same outputs. Where the handout leaves a bias before BatchNorm open (the
discriminator), either choice passes, against the parameter count and reference of that choice.

The public names live in ``gan_kit.checks`` (import them from there); this module's own ``__all__`` lists only
what it alone adds.
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
WEIGHTED_KINDS = ("dense", "conv", "conv_transpose")  # layers with weights and a bias
# A layer's bias setting in the specification: "bias", "no bias", or either (a bias right before BatchNorm is
# redundant, not wrong: BatchNorm subtracts the batch mean and adds its own shift).
BIAS, NO_BIAS, EITHER = "bias", "no bias", "bias or not"

__all__ = ["Op", "collect_network", "discriminator_sizes", "generator_sizes", "judge_network", "read_network"]


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
    """The DCGAN generator: Dense to 4x4x(8w), then three times a stride-2 4x4 transposed conv and a 3x3
    refinement conv (4w, 2w, w filters), each followed by BatchNorm and LeakyReLU(0.2); a 3x3 conv to 3
    channels and tanh. Convolutions before BatchNorm have no bias (BatchNorm adds its own)."""
    start = 8 * width
    ops = [Op("dense", (4 * 4 * start, "no bias"), (4 * 4 * start,), latent_dim * 16 * start),
           Op("batchnorm", (), (4 * 4 * start,), 2 * 16 * start),
           Op("activation", (f"leaky_relu({LEAK})",), (4 * 4 * start,)),
           Op("reshape", ((4, 4, start),), (4, 4, start))]
    side, channels = 4, start
    for maps in (4 * width, 2 * width, width):  # the three stages' feature maps
        side *= 2
        ops += [Op("conv_transpose", (maps, "4x4", "stride 2", "same", "no bias"), (side, side, maps),
                   16 * channels * maps),
                Op("batchnorm", (), (side, side, maps), 2 * maps),
                Op("activation", (f"leaky_relu({LEAK})",), (side, side, maps)),
                Op("conv", (maps, "3x3", "stride 1", "same", "no bias"), (side, side, maps), 9 * maps * maps),
                Op("batchnorm", (), (side, side, maps), 2 * maps),
                Op("activation", (f"leaky_relu({LEAK})",), (side, side, maps))]
        channels = maps
    ops += [Op("conv", (3, "3x3", "stride 1", "same", "bias"), (32, 32, 3), 9 * width * 3 + 3),
            Op("activation", ("tanh",), (32, 32, 3))]
    return ops


def discriminator_spec(width: int = 64, dropout: float = 0.3) -> list[Op]:
    """The DCGAN discriminator: three stride-2 4x4 convs (w, 2w, 4w filters) each followed by LeakyReLU(0.2)
    and Dropout, with BatchNorm between conv and activation from the second conv on; Flatten; Dense to one
    logit (no sigmoid: the loss applies it). The handout's table leaves the bias of the convs BatchNorm follows
    to Keras' default (a bias) while its rule for the generator says such a layer needs none: either passes
    (their parameter count is the spec's without the bias, plus one per filter with it)."""
    ops: list[Op] = []
    side, channels = 32, 3
    for stage, maps in enumerate((width, 2 * width, 4 * width)):
        side //= 2
        bias = EITHER if stage > 0 else BIAS
        ops.append(Op("conv", (maps, "4x4", "stride 2", "same", bias), (side, side, maps),
                      16 * channels * maps + (maps if bias == BIAS else 0)))
        if stage > 0:
            ops.append(Op("batchnorm", (), (side, side, maps), 2 * maps))
        ops += [Op("activation", (f"leaky_relu({LEAK})",), (side, side, maps)),
                Op("dropout", (dropout,), (side, side, maps))]
        channels = maps
    features = side * side * channels
    ops += [Op("flatten", (), (features,)), Op("dense", (1, "bias"), (1,), features + 1)]
    return ops


# ----------------------------------------------------------------- reading a student's network
_PROBE_POINTS = (-8.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 8.0)


def _activation_name(fn: Any) -> str | None:
    """What an activation computes, as the spec writes it: None for the identity, ``leaky_relu(<slope>)``,
    ``relu``, ``tanh``, ``sigmoid``; found by evaluating it (so a string, a function, ``tf.nn.leaky_relu``, a
    ``LeakyReLU``/``ReLU`` layer object given as ``activation=`` all read the same), else its name."""
    import keras

    if fn is None or fn is keras.activations.linear:
        return None
    name = getattr(fn, "__name__", None) or type(fn).__name__
    try:
        x = np.asarray(_PROBE_POINTS, np.float32)
        y = np.asarray(fn(keras.ops.convert_to_tensor(x)), np.float64).reshape(-1)
    except Exception:
        return name
    if y.shape != x.shape or not np.isfinite(y).all():
        return name
    pos, neg = x > 0, x < 0
    if np.allclose(y, x, atol=1e-6):
        return None
    if np.allclose(y[pos], x[pos], atol=1e-6) and abs(y[x == 0][0]) < 1e-6:
        slope = float(y[x == -1.0][0]) / -1.0
        if abs(slope) < 1e-7 and np.allclose(y[neg], 0.0, atol=1e-6):
            return "relu"
        if np.allclose(y[neg], slope * x[neg], rtol=1e-5, atol=1e-6):
            return f"leaky_relu({float(f'{slope:.6g}'):g})"
    if np.allclose(y, np.tanh(x), atol=1e-5):
        return "tanh"
    if np.allclose(y, 1.0 / (1.0 + np.exp(-x)), atol=1e-5):
        return "sigmoid"
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
        elif isinstance(layer, layers.LeakyReLU | layers.ReLU):
            fn = _activation_name(layer)
            if fn is not None:
                ops.append(Op("activation", (fn,), shape, 0, name))
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

    def layer(op: Op) -> Any:
        if op.kind == "dense":
            return layers.Dense(op.settings[0], use_bias=op.settings[1] == "bias")
        if op.kind in ("conv", "conv_transpose"):
            kernel, stride = int(op.settings[1].split("x")[0]), int(op.settings[2].split()[1])
            cls = layers.Conv2DTranspose if op.kind == "conv_transpose" else layers.Conv2D
            return cls(op.settings[0], kernel, strides=stride, padding=op.settings[3],
                       use_bias=op.settings[4] != NO_BIAS)
        if op.kind == "activation":
            fn = op.settings[0]
            return layers.LeakyReLU(LEAK) if fn.startswith("leaky_relu") else layers.Activation(fn)
        simple = {"batchnorm": layers.BatchNormalization, "flatten": layers.Flatten}
        return simple[op.kind]() if op.kind in simple else getattr(layers, op.kind.capitalize())(op.settings[0])

    return keras.Sequential([keras.Input(input_shape), *(layer(op) for op in spec)])


# ----------------------------------------------------------------- the checks
_HINTS = {
    "dense": "a Dense layer; `use_bias=False` when BatchNorm follows",
    "conv_transpose": "layers.Conv2DTranspose(filters, 4, strides=2, padding='same', use_bias=False)",
    "conv": "layers.Conv2D(filters, kernel, strides=..., padding='same'), with use_bias=False when BatchNorm follows",
    "batchnorm": "layers.BatchNormalization()",
    "dropout": "layers.Dropout(rate)",
    "reshape": "layers.Reshape((4, 4, 8 * width))",
    "flatten": "layers.Flatten()",
}
_LAYER_NAMES = {"batchnorm": "BatchNorm", "dropout": "Dropout", "flatten": "Flatten", "reshape": "Reshape",
                "dense": "Dense", "conv": "Conv2D", "conv_transpose": "Conv2DTranspose"}


def _op_name(op: Op) -> str:
    """How a student would call the operation: LeakyReLU, BatchNorm, Conv2D, ..."""
    if op.kind == "activation":
        fn = str(op.settings[0]) if op.settings else ""
        return {"relu": "ReLU", "tanh": "tanh", "sigmoid": "sigmoid"}.get(
            fn, "LeakyReLU" if fn.startswith("leaky_relu") else f"activation {fn}")
    return _LAYER_NAMES.get(op.kind, op.kind)


def _hint(mine: Op, want: Op) -> str:
    """What to write instead of ``mine`` where the spec has ``want`` (same position)."""
    if want.kind == "activation":
        fn = str(want.settings[0])
        if fn.startswith("leaky_relu"):
            if mine.kind == "activation" and mine.settings == ("relu",):
                return (f"the DCGAN uses LeakyReLU({LEAK}) here, not ReLU (a ReLU passes no gradient for negative "
                        f"inputs): layers.LeakyReLU({LEAK})")
            return f"layers.LeakyReLU({LEAK}) (Keras' default slope is 0.3)"
        if fn == "tanh":
            return "layers.Activation('tanh') (or activation='tanh' on the last Conv2D): pixels in [-1, 1]"
        return f"layers.Activation({fn!r})"
    if (mine.kind == want.kind and want.kind in WEIGHTED_KINDS
            and mine.settings[:-1] == want.settings[:-1] and mine.settings[-1] != want.settings[-1]):
        if want.settings[-1] == NO_BIAS:
            return ("use_bias=False, as the handout's table says: BatchNorm follows and adds its own shift, so a "
                    "bias here is redundant")
        return "keep the bias (use_bias=True, Keras' default): no BatchNorm follows this layer to add a shift"
    return _HINTS.get(want.kind, want.kind)


def _resolve(got: list[Op], spec: list[Op]) -> list[Op]:
    """The spec with each either-bias layer given the student's choice where their layer is otherwise the
    spec's (its parameter count without the bias, plus one per output with it)."""
    resolved = []
    for i, want in enumerate(spec):
        if want.settings and want.settings[-1] == EITHER and i < len(got):
            mine = got[i]
            if mine.kind == want.kind and mine.settings[:-1] == want.settings[:-1] and mine.settings[-1] in (
                    BIAS, NO_BIAS):
                with_bias = mine.settings[-1] == BIAS
                want = Op(want.kind, (*want.settings[:-1], mine.settings[-1]), want.shape,
                          want.params + (int(want.settings[0]) if with_bias else 0), want.layer)
        resolved.append(want)
    return resolved


def _compare_ops(name: str, got: list[Op], spec: list[Op], size: str) -> None:
    def same(a: Op, b: Op) -> bool:  # b from the spec: its either-bias setting takes either
        if b.settings and b.settings[-1] == EITHER and a.kind == b.kind and a.settings:
            return a.settings[:-1] == b.settings[:-1] and a.settings[-1] in (BIAS, NO_BIAS)
        return (a.kind, a.settings) == (b.kind, b.settings)

    spec = _resolve(got, spec)
    for i, (mine, want) in enumerate(zip(got, spec)):
        if not same(mine, want):
            if (i + 1 < len(spec) and i + 1 < len(got) and same(mine, spec[i + 1]) and same(got[i + 1], want)):
                if {mine.kind, want.kind} == {"activation", "batchnorm"}:
                    why = (f" {_op_name(mine)} before {_op_name(want)}: put BatchNorm between the convolution and "
                           "the activation (convolution, BatchNormalization, then the activation).")
                else:
                    why = (f" {_op_name(mine)} before {_op_name(want)}: swap the two (the expected order is "
                           f"{_op_name(want)}, then {_op_name(mine)}).")
            elif i + 1 < len(spec) and same(mine, spec[i + 1]):
                why = f" The expected network has {want.describe()} before it: it is missing."
            elif i + 1 < len(got) and same(got[i + 1], want):
                why = f" Your {mine.kind} layer is one too many here: remove it."
                if mine.kind == "batchnorm" and i == 1 and spec[0].kind == "conv":
                    why += (" The first conv of the DCGAN discriminator has no BatchNorm: it would normalise the raw "
                            "image statistics D is meant to judge.")
            else:
                why = f" Hint: {_hint(mine, want)}."
            raise CheckFailed(
                f"{name} ({size}): operation {i + 1} (layer {mine.layer!r}) is {mine.describe()}; expected "
                f"{want.describe()}.{why}")
        if mine.shape != want.shape:
            raise CheckFailed(f"{name} ({size}): layer {mine.layer!r} outputs {mine.shape}; expected {want.shape}."
                              " Hint: compute every size from latent_dim and width (no numbers written in).")
        if mine.params != want.params:
            extra = ""
            if want.kind in WEIGHTED_KINDS and mine.params - want.params == want.settings[0]:
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
                          f"{extra.layer!r} ({extra.describe()}) on; the expected network ends with "
                          f"{spec[-1].describe()}.{why}")


def _model_error(model: Any, input_shape: tuple, size: str, name: str) -> str:
    """Why ``model`` cannot be judged against the spec ("" when it can)."""
    import keras

    if not isinstance(model, keras.Sequential):
        return f"{name}: returned {type(model).__name__}; expected a keras.Sequential model."
    if not model.built:
        try:
            model.build((None, *input_shape))
        except Exception as exc:
            return (f"{name} ({size}): the model cannot take inputs of shape {input_shape} ({exc}). "
                    "Hint: start the Sequential with keras.Input(shape=...).")
    got_in = tuple(model.inputs[0].shape[1:])
    if got_in != tuple(input_shape):
        return f"{name} ({size}): takes inputs of shape {got_in}; expected {tuple(input_shape)}."
    return ""


def _probe(input_shape: tuple) -> np.ndarray:
    x = np.random.default_rng(0).standard_normal((3, *input_shape)).astype(np.float32)
    return np.tanh(x) if len(input_shape) == 3 else x


def collect_network(name: str, build: Callable[..., Any], kwargs: dict[str, Any], input_shape: tuple,
                    size: str) -> dict[str, np.ndarray]:
    """What a judge needs of the student's network at one size: its layers (as ``Op`` rows, JSON), its weights
    and its outputs on fixed inputs; or ``error``, the reason it cannot be judged."""
    import json

    with kit_disabled(KIT_BUILDERS):
        model = run_answer(name, build, **kwargs)
    error = _model_error(model, input_shape, size, name)
    if error:
        return {"error": np.array(error)}
    ops = [[op.kind, list(op.settings), list(op.shape), op.params, op.layer] for op in read_network(model)]
    out = {"ops": np.array(json.dumps(ops, default=list)),
           "outputs": np.asarray(model(_probe(input_shape), training=False), np.float64)}
    out.update({f"weights/{i}": np.asarray(w) for i, w in enumerate(model.get_weights())})
    return out


def _ops(text: str) -> list[Op]:
    import json

    def frozen(v: Any) -> Any:
        return tuple(frozen(x) for x in v) if isinstance(v, list) else v

    return [Op(kind, frozen(settings), tuple(shape), params, layer)
            for kind, settings, shape, params, layer in json.loads(text)]


def judge_network(name: str, outputs: dict[str, np.ndarray], spec: list[Op], input_shape: tuple, size: str) -> None:
    """The collected network against the spec, layer by layer, then its outputs against the spec's network
    with the same weights."""
    if "error" in outputs:
        raise CheckFailed(str(outputs["error"]))
    got = _ops(str(outputs["ops"]))
    _compare_ops(name, got, spec, size)
    reference = _reference(_resolve(got, spec), input_shape)
    count = sum(1 for key in outputs if key.startswith("weights/"))
    reference.set_weights([outputs[f"weights/{i}"] for i in range(count)])
    compare(f"{name} ({size}) outputs", outputs["outputs"], reference(_probe(input_shape), training=False),
            "the layers match the specification but compute something else: check each layer's settings "
            "(BatchNormalization's defaults, the activation's slope).", rtol=1e-4, atol=1e-4)


def _check_network(name: str, build: Callable[..., Any], kwargs: dict[str, Any], spec: list[Op],
                   input_shape: tuple, size: str) -> None:
    judge_network(name, collect_network(name, build, kwargs, input_shape, size), spec, input_shape, size)


def generator_sizes(small: tuple[int, int]) -> list[tuple[dict[str, Any], list[Op], tuple, str]]:
    """``(kwargs, spec, input shape, label)`` of each size check_generator builds."""
    latent, width = small
    return [({}, generator_spec(), (100,), "latent_dim=100, width=64"),
            ({"latent_dim": latent, "width": width}, generator_spec(latent, width), (latent,),
             f"latent_dim={latent}, width={width}")]


def discriminator_sizes(small: tuple[int, float]) -> list[tuple[dict[str, Any], list[Op], tuple, str]]:
    """``(kwargs, spec, input shape, label)`` of each size check_discriminator builds."""
    width, dropout = small
    return [({}, discriminator_spec(), IMAGE_SHAPE, "width=64, dropout=0.3"),
            ({"width": width, "dropout": dropout}, discriminator_spec(width, dropout), IMAGE_SHAPE,
             f"width={width}, dropout={dropout}")]


def _keywords(function: Callable, names: tuple[str, ...]) -> None:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return
    if not any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
        missing = [n for n in names if n not in parameters]
        if missing:
            raise CheckFailed(f"{getattr(function, '__name__', 'your function')} must accept the keyword "
                              f"argument(s) {missing} (with the handout's values as defaults).")


def check_generator(build_generator: Callable[..., Any], small: tuple[int, int] = (8, 4)) -> None:
    """``build_generator(latent_dim=100, width=64)`` against ``generator_spec``, at full size and at
    ``small = (latent_dim, width)`` (which catches numbers written in instead of computed)."""
    _keywords(build_generator, ("latent_dim", "width"))
    for kwargs, spec, shape, size in generator_sizes(small):
        _check_network("build_generator", build_generator, kwargs, spec, shape, size)
    passed("the generator matches the DCGAN specification, layer by layer, and computes the same outputs")


def check_discriminator(build_discriminator: Callable[..., Any], small: tuple[int, float] = (4, 0.25)) -> None:
    """``build_discriminator(width=64, dropout=0.3)`` against ``discriminator_spec``, at full size and at
    ``small = (width, dropout)``."""
    _keywords(build_discriminator, ("width", "dropout"))
    for kwargs, spec, shape, size in discriminator_sizes(small):
        _check_network("build_discriminator", build_discriminator, kwargs, spec, shape, size)
    passed("the discriminator matches the DCGAN specification, layer by layer, and computes the same logits")
