"""Checks of a student's training step: one step of theirs from stored weights, real batch and noise, against
the weights the rule's reference step reached from the same start (stored, see :mod:`gan_kit.checks.fixtures`).

The student writes a step factory ``make_step(generator, discriminator, g_optimizer, d_optimizer)``
returning ``step(real_images, noise) -> {"g_loss": ..., "d_loss": ..., ...}`` (see ``gan_kit.steps``).
The check builds two tiny networks (with BatchNorm, so a forgotten ``training=True`` shows), sets their
stored starting weights, runs the student's step with plain SGD and compares the weights after the step
network by network with the stored ones (computed in float64). Learning rates of 0.02 for G and 0.05 for D
(different, so swapped optimizers show) move each weight by about 1e-3 to 1e-2, while float32 round-off is
about 1e-7, so the tolerance on the trainable weights (relative 1e-4, absolute 1e-5) passes a correct step
and fails a wrong update. BatchNorm's moving statistics depend slightly on the order of D's two calls, so
they are compared with a looser tolerance (absolute 1e-4). When the student's weights match those a known
wrong variant reaches (stored too: another rule, a forgotten ``training=True``, D called once on the joined
batches, swapped loss arguments or optimizers, ...), the message names it. The step is run twice more from the
same start, with the same batch (a step drawing its own noise moves elsewhere) and with other noise (a step
ignoring its noise argument does not); the optimizers it is handed refuse one network's gradients zipped with
the other's variables, naming the mix-up. The toy's D starts with logits of up to +-130, where BCE taken as
``log(sigmoid(x))`` overflows. A training step that is not a ``tf.function`` gets the verdict on its maths first.

As in :mod:`.formulas`, each check is ``collect_<name>(student_fns, fixture)`` (runs the student's step,
returns NumPy arrays) and ``judge_<name>(outputs, fixture)`` (raises ``CheckFailed``).

The public names live in ``gan_kit.checks`` (import them from there); this module's own ``__all__`` lists only
what it alone adds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from . import fixtures
from ._base import AnswerMistake, CheckFailed, as_output, compare, kit_disabled, passed, run_answer
from .formulas import LOSS_KIT

__all__ = ["collect_toy_step", "collect_train_step", "judge_toy_step", "judge_train_step", "tiny_image_networks",
           "tiny_toy_networks"]

Outputs = dict[str, np.ndarray]
Fixture = Mapping[str, Any]

STEP_KIT = (*LOSS_KIT, "steps:story1_train_step", "steps:alternating_train_step", "steps:StepModel.train_step",
            "gan:GAN.train_step", "gan:GAN.discriminator_step", "gan:GAN.generator_step")
RULES = {
    "story1": "story 1's rule: G makes one batch, D judges the real and the generated batch once, both losses come "
              "from that one forward pass (two tapes), then each network takes its own optimizer step",
    "alternating": "the alternating rule: D's loss and update first; then G's loss through the updated D, from the "
                   "same noise, and G's update",
}
NETS = ("generator", "discriminator")
LOGS = ("g_loss", "d_loss", "d_real_prob", "d_fake_prob")


# ----------------------------------------------------------------- tiny networks (their weights are stored)
def tiny_image_networks(dtype: str = "float32") -> tuple[Any, Any]:
    """The DCGAN networks in miniature: 4 -> 8x8x1 images, with BatchNorm; weights as Keras initialises them."""
    import keras
    from keras import layers

    g = keras.Sequential([keras.Input((4,), dtype=dtype), layers.Dense(4 * 4 * 4, use_bias=False, dtype=dtype),
                          layers.BatchNormalization(dtype=dtype), layers.LeakyReLU(0.2, dtype=dtype),
                          layers.Reshape((4, 4, 4), dtype=dtype),
                          layers.Conv2DTranspose(4, 4, strides=2, padding="same", use_bias=False, dtype=dtype),
                          layers.BatchNormalization(dtype=dtype), layers.LeakyReLU(0.2, dtype=dtype),
                          layers.Conv2D(1, 3, padding="same", dtype=dtype), layers.Activation("tanh", dtype=dtype)],
                         name="tiny_generator")
    d = keras.Sequential([keras.Input((8, 8, 1), dtype=dtype),
                          layers.Conv2D(4, 4, strides=2, padding="same", dtype=dtype),
                          layers.LeakyReLU(0.2, dtype=dtype),
                          layers.Conv2D(8, 4, strides=2, padding="same", dtype=dtype),
                          layers.BatchNormalization(dtype=dtype), layers.LeakyReLU(0.2, dtype=dtype),
                          layers.Flatten(dtype=dtype), layers.Dense(1, dtype=dtype)], name="tiny_discriminator")
    return g, d


def tiny_toy_networks(dtype: str = "float32") -> tuple[Any, Any]:
    """The 2-D toy's networks in miniature: MLPs of 16 units."""
    import keras
    from keras import layers

    g = keras.Sequential([keras.Input((2,), dtype=dtype), layers.Dense(16, activation="relu", dtype=dtype),
                          layers.Dense(2, dtype=dtype)], name="toy_generator")
    d = keras.Sequential([keras.Input((2,), dtype=dtype), layers.Dense(16, dtype=dtype),
                          layers.LeakyReLU(0.2, dtype=dtype), layers.Dense(1, dtype=dtype)], name="toy_discriminator")
    return g, d


NETWORKS: dict[str, Callable[..., tuple[Any, Any]]] = {"train_step": tiny_image_networks,
                                                       "toy_step": tiny_toy_networks}


# ----------------------------------------------------------------- collect
def _is_tf_function(step: Any) -> bool:
    return hasattr(step, "get_concrete_function") and hasattr(step, "python_function")


def _optimizers(g: Any, d: Any, inputs: Mapping[str, Any]) -> tuple[Any, Any]:
    """G's and D's SGD optimizers, which refuse, with a message naming the mix-up, gradients that do not fit the
    variables they come with (one network's gradients zipped with the other's variables)."""
    import keras

    networks = {"G": g, "D": d}

    def owner(variables: list) -> str:
        for short, model in networks.items():
            mine = [tuple(v.shape) for v in model.trainable_variables]
            if [tuple(v.shape) for v in variables] == mine[: len(variables)] and variables:
                return short
        return ""

    class CheckedSGD(keras.optimizers.SGD):
        def __init__(self, learning_rate: float, short: str) -> None:
            super().__init__(learning_rate)
            self.short = short

        def apply(self, grads: Any, trainable_variables: Any = None) -> Any:
            if trainable_variables is not None:
                grads, trainable_variables = list(grads), list(trainable_variables)
                self._refuse_a_mix_up(grads, trainable_variables)
            return super().apply(grads, trainable_variables)

        def _refuse_a_mix_up(self, grads: list, variables: list) -> None:
            for grad, var in zip(grads, variables):
                if grad is None or tuple(grad.shape) == tuple(var.shape):
                    continue
                ids = {short: {id(v) for v in model.trainable_variables} for short, model in networks.items()}
                var_owner = next((short for short in ids if id(var) in ids[short]), "")
                grad_owner = owner([x for x in grads if x is not None])
                what = (f"{grad_owner}'s gradients" if grad_owner else "gradients that do not fit") + (
                    f" were given to {self.short.lower()}_optimizer") + (
                    f" with {var_owner}'s variables" if var_owner else "")
                raise AnswerMistake(
                    f"{what} (a gradient of shape {tuple(grad.shape)} for a variable of shape "
                    f"{tuple(var.shape)}). Zip each network's own gradients with its own variables, for its own "
                    "optimizer: g_optimizer.apply_gradients(zip(g_grads, generator.trainable_variables)), "
                    "d_optimizer.apply_gradients(zip(d_grads, discriminator.trainable_variables)).")

    return CheckedSGD(inputs["g_learning_rate"], "G"), CheckedSGD(inputs["d_learning_rate"], "D")


def _other_noise(noise: np.ndarray) -> np.ndarray:
    """Another noise batch of the same shape: a step whose weights do not change with it ignores its argument."""
    return (0.5 * noise[:, ::-1] + 0.3).astype(np.float32)


def _collect_step(make_step: Callable, fixture: Fixture, name: str, needs_tf_function: bool) -> Outputs:
    """Run the student's step once from the stored start; ``{"generator/<i>": ..., "discriminator/<i>": ...,
    "log/<key>": ...}``: each network's weights after the step (``get_weights`` order) and the step's logs; then
    again from the same start with the same batch (``again/<net>/<i>``: a step drawing its own noise differs) and
    with other noise (``other/<net>/<i>``: a step ignoring its noise argument does not). ``plain_function`` when
    the step should be a ``tf.function`` and is not (judged after its maths); ``error/step``, the message, when the
    step cannot be run or judged."""
    inputs = fixture["cases"][0]["inputs"]
    g, d = NETWORKS[fixture["check"]]("float32")
    start = {net: [np.asarray(w, np.float32) for w in inputs[net]] for net in NETS}

    def reset() -> None:
        for net, model in zip(NETS, (g, d)):
            model.set_weights(start[net])

    def weights(prefix: str) -> Outputs:
        return {f"{prefix}{net}/{i}": np.asarray(w, np.float64) for net, model in zip(NETS, (g, d))
                for i, w in enumerate(model.get_weights())}

    reset()
    g_opt, d_opt = _optimizers(g, d, inputs)
    real, noise = np.asarray(inputs["real"], np.float32), np.asarray(inputs["noise"], np.float32)
    out: Outputs = {}
    with kit_disabled(STEP_KIT):
        try:
            step = run_answer(name, make_step, g, d, g_opt, d_opt)
            if not callable(step):
                raise CheckFailed(f"{name}(generator, discriminator, g_optimizer, d_optimizer) must return the step "
                                  f"function; it returned {type(step).__name__}.")
            logs = run_answer("the step", step, real, noise)
            if not isinstance(logs, dict) or not {"g_loss", "d_loss"} <= set(logs):
                got = sorted(map(str, logs)) if isinstance(logs, dict) else type(logs).__name__
                raise CheckFailed(f"the step must return a dict with at least 'g_loss' and 'd_loss'; it returned "
                                  f"{got}.")
            out.update({f"log/{key}": as_output(f"the step's {key}", logs[key]) for key in LOGS if key in logs})
            out.update(weights(""))
        except CheckFailed as exc:
            return {"error/step": np.array(str(exc))}
        if needs_tf_function and not _is_tf_function(step):
            out["plain_function"] = np.array(True)
        for prefix, batch in (("again/", noise), ("other/", _other_noise(noise))):
            reset()
            try:
                run_answer("the step", step, real, batch)
            except CheckFailed:
                continue
            out.update(weights(prefix))
    return out


def collect_train_step(student_fns: Mapping[str, Callable], fixture: Fixture) -> Outputs:
    """The DCGAN training step (``student_fns["make_train_step"]``, which must return a ``@tf.function``), run once (and
    twice more, see :func:`_collect_step`)."""
    return _collect_step(student_fns["make_train_step"], fixture, "make_train_step", needs_tf_function=True)


def collect_toy_step(student_fns: Mapping[str, Callable], fixture: Fixture) -> Outputs:
    """The toy's step (``student_fns["make_toy_step"]``), run once (and twice more)."""
    return _collect_step(student_fns["make_toy_step"], fixture, "make_toy_step", needs_tf_function=False)


# ----------------------------------------------------------------- judge
def _weights(outputs: Outputs, net: str, count: int, prefix: str = "") -> list[np.ndarray] | None:
    """A network's weights after the step (``prefix`` "again/" or "other/": after a rerun; None when absent)."""
    keys = [f"{prefix}{net}/{i}" for i in range(count)]
    return [outputs[k] for k in keys] if all(k in outputs for k in keys) else None


def _same(got: list[np.ndarray], want: list[Any], trainable: list[bool]) -> bool:
    """Trainable weights to 1e-5, BatchNorm's moving statistics to 1e-4 (they depend on the order of D's calls)."""
    return all(np.shape(x) == np.shape(y) and (np.allclose(x, y, rtol=1e-4, atol=1e-5) if t
                                               else np.allclose(x, y, rtol=1e-3, atol=1e-4))
               for x, y, t in zip(got, want, trainable))


BCE_FROM_LOGITS = ("compute BCE from the logits (tf.nn.sigmoid_cross_entropy_with_logits, or "
                   "keras.losses.BinaryCrossentropy(from_logits=True)), never as log(sigmoid(x))")


def _noise_mistake(outputs: Outputs, inputs: Mapping[str, Any], after: dict[str, list[np.ndarray]],
                   rule: str) -> str:
    """Why the weights depend on something other than the stored batch ("" when they do not): a rerun from the same
    start and batch that moves a network elsewhere (noise drawn inside the step), or other noise that changes
    nothing (the noise argument ignored)."""
    count = {net: len(inputs[net]) for net in NETS}
    again = {net: _weights(outputs, net, count[net], "again/") for net in NETS}
    if all(again[net] is not None for net in NETS):
        moved = [net for net in NETS if not _same(again[net], after[net], inputs["trainable"][net])]
        if moved == ["generator"] and rule == "alternating":
            return ("Run twice from the same weights and batch, your step moved G differently each time while D "
                    "moved the same: G's update drew fresh noise. Make G's images for its update from the same noise "
                    "argument as D's (the step's second argument).")
        if moved:
            return ("Run twice from the same weights and batch, your step moved the weights differently each time: "
                    "it draws its own noise. Use the noise argument (the step's second argument) for G's input, so "
                    "that the check (and the kit) can give your step and the reference the same batch.")
    other = {net: _weights(outputs, net, count[net], "other/") for net in NETS}
    if all(other[net] is not None for net in NETS) and all(
            _same(other[net], after[net], inputs["trainable"][net]) for net in NETS):
        return ("Given other noise, your step moved the weights exactly as before: it ignores its noise argument. "
                "Feed the noise argument (the step's second argument) to G.")
    return ""


def _judge_maths(outputs: Outputs, fixture: Fixture, rule: str) -> None:
    """Both networks' weights after the step against the stored ones (naming non-finite weights, a network left
    unchanged, noise not taken from the argument, or the known wrong rule the weights match), then the logged
    losses."""
    case = fixture["cases"][0]
    inputs, expected = case["inputs"], case["expected"]
    after = {net: _weights(outputs, net, len(inputs[net])) for net in NETS}
    ok = {net: _same(after[net], expected[net], inputs["trainable"][net]) for net in NETS}
    if not all(ok.values()):
        which = " and ".join(f"the {net}'s" for net in NETS if not ok[net])
        detail = []
        broken = [net for net in NETS if not all(np.isfinite(w).all() for w in after[net])]
        if broken:
            nets = " and ".join(f"{net[0].upper()}'s" for net in broken)
            detail.append(f"The step left NaN or infinite values in {nets} weights: with large logits (this "
                          "check's D gives some beyond +-100) log(sigmoid(x)) and log(1 - sigmoid(x)) overflow in "
                          f"float32. Hint: {BCE_FROM_LOGITS}.")
        for net, short, model in (("generator", "g", "generator"), ("discriminator", "d", "discriminator")):
            trainable = inputs["trainable"][net]
            if not broken and all(np.allclose(x, y) for x, y, t in zip(after[net], inputs[net], trainable) if t):
                detail.append(f"{short.upper()}'s weights did not change: apply its gradients with its own optimizer "
                              f"({short}_optimizer.apply_gradients(zip(grads, {model}.trainable_variables))).")
        if not detail:
            noise = _noise_mistake(outputs, inputs, after, rule)
            if noise:
                detail.append(noise)
        if not detail:
            for meaning, weights in case["mistakes"]["weights"].items():
                if all(_same(after[net], weights[net], inputs["trainable"][net]) for net in NETS):
                    detail.append(f"Your weights are what {meaning} gives.")
                    break
        raise CheckFailed(f"the step's update of {which} weights differs from {RULES[rule]}. "
                          + (" ".join(detail) or "Check which loss each tape differentiates and which variables "
                                                 f"each optimizer updates, and {BCE_FROM_LOGITS}."))
    for key in LOGS:
        if f"log/{key}" in outputs and key in expected:
            compare(f"the step's {key}", outputs[f"log/{key}"], expected[key],
                    "return the losses of this step's forward pass (before the updates)", rtol=1e-4, atol=1e-5)


def _judge_step(outputs: Outputs, fixture: Fixture, rule: str) -> None:
    """The step's error if it had one; its maths; then whether it is a ``tf.function`` (when it must be)."""
    if "error/step" in outputs:
        raise CheckFailed(str(outputs["error/step"]))
    plain = "plain_function" in outputs
    try:
        _judge_maths(outputs, fixture, rule)
    except CheckFailed as exc:
        if plain:
            raise CheckFailed(f"{exc} Also decorate train_step with @tf.function.") from None
        raise
    if plain:
        raise CheckFailed("make_train_step returned a plain Python function: the update is right, but decorate "
                          "train_step with @tf.function, so that TensorFlow traces it once into a graph and runs the "
                          "graph for every batch.")


def judge_train_step(outputs: Outputs, fixture: Fixture) -> None:
    """The weights and losses after the student's step against the one-pass rule (``RULES["story1"]``)."""
    _judge_step(outputs, fixture, "story1")


def judge_toy_step(outputs: Outputs, fixture: Fixture) -> None:
    """The weights and losses after the student's step against the alternating rule."""
    _judge_step(outputs, fixture, "alternating")


# ----------------------------------------------------------------- the checks
def check_train_step(make_train_step: Callable, seed: int = 0) -> None:
    """The DCGAN training step (notebook 02): ``make_train_step(generator, discriminator, g_optimizer,
    d_optimizer)`` returning a ``@tf.function`` ``train_step(real_images, noise)``, checked against the rule
    in ``RULES["story1"]`` on tiny convolutional networks with BatchNorm (weights and data stored for ``seed``)."""
    fixture = fixtures.load("train_step", seed)
    judge_train_step(collect_train_step({"make_train_step": make_train_step}, fixture), fixture)
    passed("one step from the same weights and noise updates G and D exactly as story 1's rule does")


def check_toy_step(make_toy_step: Callable, seed: int = 0) -> None:
    """The 2-D toy's training step (notebook 01): ``make_toy_step(generator, discriminator, g_optimizer,
    d_optimizer)`` returning ``step(real_points, noise)``, checked against the alternating rule (d2l's) on
    tiny MLPs (weights and data stored for ``seed``)."""
    fixture = fixtures.load("toy_step", seed)
    judge_toy_step(collect_toy_step({"make_toy_step": make_toy_step}, fixture), fixture)
    passed("one step from the same weights and noise updates D, then G through the updated D, as the reference does")
