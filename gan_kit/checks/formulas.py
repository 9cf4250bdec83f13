"""Checks of the formula exercises: the GAN losses, the gradient penalty, the VAE's reparameterization
and KL term, FID, and the conditional generator's input.

Nothing here computes an expected value: each check reads its stored expected values (float64, computed by
the instructor's references, see :mod:`gan_kit.checks.fixtures`), with the inputs they were computed on and
the values the known wrong answers give there: logits of +-50 and +-120 where a naive ``log(sigmoid(x))``
overflows, a nonlinear critic and a fixed interpolation weight for the penalty (then the student's own
alphas, then a backward pass through a flat critic), log-variances of +-20 and -120, rank-deficient
features for FID. Each check is two steps a grader can run apart: ``collect_<name>(student_fns, fixture)``
runs the student's functions on the stored inputs (with the kit's own implementation switched off, so an
answer that calls it fails) and returns NumPy arrays; ``judge_<name>(outputs, fixture)`` compares them with
the stored values and raises ``CheckFailed``, naming the mistake when a wrong value matches a known one.

The public names live in ``gan_kit.checks`` (import them from there); this module's own ``__all__`` lists only
what it alone adds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from . import fixtures
from ._base import CheckFailed, collect_output, collected, compare, kit_disabled, passed, value

__all__ = ["collect_conditional_input", "collect_fid", "collect_gan_losses", "collect_gradient_penalty", "collect_kl",
           "collect_reparameterize", "judge_conditional_input", "judge_fid", "judge_gan_losses",
           "judge_gradient_penalty", "judge_kl", "judge_reparameterize"]

Outputs = dict[str, np.ndarray]
Fixture = Mapping[str, Any]

LOSS_KIT = ("losses:bce_discriminator_loss", "losses:bce_generator_loss", "losses:minimax_generator_loss",
            "losses:least_squares_discriminator_loss", "losses:least_squares_generator_loss",
            "losses:hinge_discriminator_loss", "losses:hinge_generator_loss", "losses:wasserstein_discriminator_loss",
            "losses:wasserstein_generator_loss", "losses:_bce", "losses:get_losses")
GP_KIT = ("losses:gradient_penalty",)
VAE_KIT = ("losses:kl_divergence", "losses:reconstruction_loss", "vae:VAE.reparameterize", "vae:VAE.compute_losses")
FID_KIT = ("metrics.maths:fid_from_features", "metrics.maths:frechet_distance", "metrics.maths:_sqrtm_product",
           "metrics.maths:feature_statistics")
CONDITIONAL_KIT = ("models:build_conditional_generator", "models:build_conditional_models",
                   "conditional:ConditionalGAN.generate")


def _f32(x: Any) -> np.ndarray:
    """A stored array as the float32 array a student's function is given."""
    return np.asarray(x, dtype=np.float32)


def _diagnose(got: Any, known: Mapping[str, Any], rtol: float = 1e-4) -> str:
    """The name of the known mistake whose value ``got`` equals, as a sentence ("" when none does)."""
    g = np.asarray(got)
    if np.iscomplexobj(g) or g.dtype == object:
        return ""
    g = g.astype(np.float64)
    for mistake, v in known.items():
        v = np.asarray(v, np.float64)
        if g.shape == v.shape or g.size == v.size == 1:
            if np.isfinite(g).all() and np.allclose(g.reshape(v.shape), v, rtol=rtol, atol=1e-6):
                what = "value is" if v.size == 1 else "values are"
                return f" Your {what} what {mistake} gives."
    return ""


# ----------------------------------------------------------------- GAN losses (notebook 02)
D_LOSS_HINT = ("mean BCE of D(real) against 1 plus mean BCE of D(fake) against 0, from logits "
               "(tf.nn.sigmoid_cross_entropy_with_logits)")
G_LOSS_HINT = "the non-saturating loss: mean BCE of D(G(z)) against the label 1 ('real'), from logits"


def collect_gan_losses(student_fns: Mapping[str, Callable], fixture: Fixture) -> Outputs:
    """``{"<case>/discriminator_loss": ..., "<case>/generator_loss": ...}`` on each case's logits (float32)."""
    import tensorflow as tf

    out: Outputs = {}
    for i, case in enumerate(fixture["cases"]):
        real = tf.constant(_f32(case["inputs"]["real"]))
        fake = tf.constant(_f32(case["inputs"]["fake"]))
        where = f" on {case['where']}"
        with kit_disabled(LOSS_KIT):
            collect_output(out, f"{i}/discriminator_loss", "discriminator_loss", student_fns["discriminator_loss"],
                           real, fake, where=where)
            collect_output(out, f"{i}/generator_loss", "generator_loss", student_fns["generator_loss"], fake,
                           where=where)
    return out


def judge_gan_losses(outputs: Outputs, fixture: Fixture) -> None:
    """Both losses against the stored values, case by case, D's first."""
    for i, case in enumerate(fixture["cases"]):
        for name, hint in (("discriminator_loss", D_LOSS_HINT), ("generator_loss", G_LOSS_HINT)):
            _loss_compare(name, collected(outputs, f"{i}/{name}"), case["expected"][name], f" on {case['where']}",
                          case["mistakes"][name], hint)


def check_gan_losses(discriminator_loss: Callable, generator_loss: Callable, seed: int | None = None) -> None:
    """Non-saturating BCE losses from logits (notebook 02): D's loss and G's loss on three sets of logits
    (ordinary, confident +-50, saturated +-120, where a formula that takes the log of a sigmoid overflows);
    with ``seed``, a batch of random logits drawn from it too."""
    fixture = fixtures.load("gan_losses", seed)
    outputs = collect_gan_losses({"discriminator_loss": discriminator_loss, "generator_loss": generator_loss},
                                 fixture)
    judge_gan_losses(outputs, fixture)
    passed("both losses, on ordinary, confident (+-50) and saturated (+-120) logits")


def _loss_compare(name: str, got: np.ndarray, expected: Any, where: str, known: Mapping[str, Any],
                  hint: str) -> None:
    try:
        compare(name, got, expected, hint, where=where)
    except CheckFailed as exc:
        extra = _diagnose(got, known)
        if not extra and not np.iscomplexobj(got) and not np.isfinite(value(got)).all():
            extra = (" Taking the log of a sigmoid overflows for large logits: compute BCE from the logits "
                     "(tf.nn.sigmoid_cross_entropy_with_logits).")
        raise CheckFailed(str(exc) + extra) from None


# ----------------------------------------------------------------- gradient penalty (notebook 03)
GP_HINT = ("mean over examples of (||dD/dx_hat||_2 - 1)^2 with x_hat = real + alpha * (fake - real), alpha as "
           "given (one per example), the norm per example")


def _critic(spec: list[Mapping[str, Any]], batch: int):
    """A small Keras critic from stored weights: dense layers on the flattened input (``training=`` accepted).
    It keeps the last batch it was called on, flattened, in ``points``: where the student evaluated it."""
    import keras
    import tensorflow as tf

    class Critic(keras.Model):
        def __init__(self) -> None:
            super().__init__(name="check_critic")
            self.dense = [keras.layers.Dense(np.shape(s["kernel"])[1], activation=s.get("activation"),
                                             use_bias="bias" in s) for s in spec]
            self.points = self.add_weight(shape=(batch, np.shape(spec[0]["kernel"])[0]), initializer="zeros",
                                          trainable=False, name="points")

        def call(self, x, training=False):
            h = tf.reshape(tf.cast(x, tf.float32), [tf.shape(x)[0], -1])
            self.points.assign(h)
            for layer in self.dense:
                h = layer(h)
            return h

    critic = Critic()
    critic(tf.zeros((batch, np.shape(spec[0]["kernel"])[0])))
    for layer, s in zip(critic.dense, spec):
        layer.set_weights([_f32(s["kernel"])] + ([_f32(s["bias"])] if "bias" in s else []))
    return critic


def collect_gradient_penalty(student_fns: Mapping[str, Callable], fixture: Fixture) -> Outputs:
    """The penalty with the given alpha (``penalty``), with ``alpha`` left out (``drawn_penalty``, and the
    points the critic saw, ``drawn_points``), and for a flat critic (``flat_penalty``, and the penalty's
    gradient with respect to that critic's kernel, ``flat_grad``, empty when there is none)."""
    import tensorflow as tf

    penalty_fn, out = student_fns["gradient_penalty"], {}
    given, drawn, flat = fixture["cases"]
    real, fake = tf.constant(_f32(given["inputs"]["real"])), tf.constant(_f32(given["inputs"]["fake"]))
    alpha, batch = tf.constant(_f32(given["inputs"]["alpha"])), int(real.shape[0])
    with kit_disabled(GP_KIT):
        critic = _critic(given["inputs"]["critic"], batch)
        collect_output(out, "penalty", "gradient_penalty", penalty_fn, critic, real, fake, alpha)
        critic = _critic(drawn["inputs"]["critic"], batch)
        collect_output(out, "drawn_penalty", "gradient_penalty (alpha left out)", penalty_fn, critic, real, fake)
        out["drawn_points"] = np.asarray(critic.points.numpy(), np.float64)
        critic = _critic(flat["inputs"]["critic"], batch)
        with tf.GradientTape() as tape:  # measures the student's backward pass; computes no expected value
            got = collect_output(out, "flat_penalty", "gradient_penalty of a flat critic", penalty_fn, critic, real,
                                 fake, alpha)
        grad = tape.gradient(got, critic.dense[0].kernel) if tf.is_tensor(got) else None
    out["flat_grad"] = np.zeros(0) if grad is None else np.asarray(grad, np.float64)
    return out


def judge_gradient_penalty(outputs: Outputs, fixture: Fixture) -> None:
    """The given-alpha penalty against the stored value, the alphas the student drew (per example, in [0, 1]),
    and the flat critic's penalty (1) and finite backward pass."""
    given, drawn, flat = fixture["cases"]
    got = collected(outputs, "penalty")
    try:
        compare("gradient_penalty", got, given["expected"]["penalty"], GP_HINT, rtol=1e-4, where=f" ({given['where']})")
    except CheckFailed as exc:
        raise CheckFailed(str(exc) + _diagnose(got, given["mistakes"]["penalty"])) from None
    _judge_drawn_alpha(outputs, drawn)
    compare("gradient_penalty of a flat critic", collected(outputs, "flat_penalty"), flat["expected"]["penalty"],
            "a zero gradient has norm 0, so the penalty is (0 - 1)^2 = 1", atol=1e-3)
    grad = outputs["flat_grad"]
    if grad.size == 0:
        raise CheckFailed("gradient_penalty of a flat critic: the penalty has no gradient with respect to the "
                          "critic's weights, so it would not train the critic. Hint: compute it with TensorFlow ops "
                          "on the critic's input gradient and return that tensor (not a NumPy value or a float).")
    if not np.isfinite(grad).all():
        raise CheckFailed("gradient_penalty of a flat critic: the penalty's gradient with respect to the critic's "
                          f"weights is {grad.reshape(-1)}, not a finite number, so one such batch would turn every "
                          "weight into NaN. Hint: the derivative of sqrt at 0 is infinite; compute the norm as "
                          "sqrt(sum(g^2) + 1e-12) instead of tf.norm or sqrt(sum(g^2)).")


def _judge_drawn_alpha(outputs: Outputs, case: Mapping[str, Any]) -> None:
    """With alpha left out: the critic's points lie on the segments real -> fake, at one alpha in [0, 1] per
    example (not one for the whole batch), and the penalty is the one those alphas give (read off the stored
    table of each example's term over a grid of alphas)."""
    name = "gradient_penalty (alpha left out, so your function draws it)"
    got = collected(outputs, "drawn_penalty")
    real = _f32(case["inputs"]["real"]).reshape(len(outputs["drawn_points"]), -1).astype(np.float64)
    span = _f32(case["inputs"]["fake"]).reshape(real.shape).astype(np.float64) - real
    offset = outputs["drawn_points"] - real
    alpha = np.sum(offset * span, axis=1) / np.sum(span**2, axis=1)
    off = np.linalg.norm(offset - alpha[:, None] * span, axis=1) / np.linalg.norm(span, axis=1)
    if off.max() > 1e-3:
        raise CheckFailed(f"{name}: the critic was not called at points x_hat = real + alpha * (fake - real) of "
                          "each example's own segment. Hint: draw one alpha per example, "
                          "tf.random.uniform([batch, 1, 1, 1]), not one per pixel, and interpolate between the "
                          "example's real and fake image.")
    if alpha.min() < -1e-4 or alpha.max() > 1 + 1e-4:
        raise CheckFailed(f"{name}: alphas from {alpha.min():.4g} to {alpha.max():.4g}. Hint: draw alpha from "
                          "U(0, 1) (tf.random.uniform).")
    if alpha.max() - alpha.min() < 1e-6:
        raise CheckFailed(f"{name}: every example was interpolated with the same alpha ({alpha[0]:.4g}). Hint: "
                          "draw one alpha per example, tf.random.uniform([batch, 1, 1, 1]), not one for the batch.")
    table = case["expected"]["penalty_table"]
    terms = [np.interp(a, table["alpha"], row) for a, row in zip(np.clip(alpha, 0.0, 1.0), table["penalty"])]
    compare(name, got, float(np.mean(terms)), GP_HINT, rtol=1e-4, atol=5e-4,
            where=f" (the alphas it drew, {alpha.min():.3g} to {alpha.max():.3g}, read from where it called the "
                  "critic)")


def check_gradient_penalty(gradient_penalty: Callable, seed: int = 0) -> None:
    """WGAN-GP's penalty ``mean((||grad D(x_hat)|| - 1)^2)`` with ``x_hat = real + alpha (fake - real)``
    (notebook 03), for ``gradient_penalty(critic, real, fake, alpha=None)``.

    A nonlinear Keras critic (so the gradient depends on where x_hat lies) and a fixed alpha per example;
    then alpha left out (the student's function draws one per example in [0, 1]); then a flat critic, whose
    input gradient is zero: the penalty is 1 and its gradient with respect to the critic's weights must be
    finite (an epsilon inside the square root; ``tf.norm`` gives NaN there).
    """
    fixture = fixtures.load("gradient_penalty", seed)
    judge_gradient_penalty(collect_gradient_penalty({"gradient_penalty": gradient_penalty}, fixture), fixture)
    passed("gradient penalty: a nonlinear critic with fixed and with drawn alphas, and a finite backward pass at "
           "zero gradient")


# ----------------------------------------------------------------- the VAE's two formulas (notebook 05)
def collect_reparameterize(student_fns: Mapping[str, Callable], fixture: Fixture) -> Outputs:
    """``{"0/z": ...}``: the student's ``reparameterize(mean, log_var, eps)`` on the stored float32 inputs."""
    inputs = fixture["cases"][0]["inputs"]
    out: Outputs = {}
    with kit_disabled(VAE_KIT):
        collect_output(out, "0/z", "reparameterize", student_fns["reparameterize"], _f32(inputs["mean"]),
                       _f32(inputs["log_var"]), _f32(inputs["eps"]))
    return out


def judge_reparameterize(outputs: Outputs, fixture: Fixture) -> None:
    """``z`` against the stored value; a wrong one is matched against the known mistakes."""
    case, got = fixture["cases"][0], collected(outputs, "0/z")
    try:
        compare("reparameterize", got, case["expected"]["z"],
                "the standard deviation is exp(log_var / 2); use the eps given", rtol=1e-4)
    except CheckFailed as exc:
        raise CheckFailed(str(exc) + _diagnose(got, case["mistakes"]["z"])) from None


def check_reparameterize(reparameterize: Callable) -> None:
    """The reparameterization trick ``z = mean + sigma * eps`` (notebook 05), for
    ``reparameterize(mean, log_var, eps)``; log-variances up to 20 separate the standard deviation from the
    variance."""
    fixture = fixtures.load("reparameterize", None)
    judge_reparameterize(collect_reparameterize({"reparameterize": reparameterize}, fixture), fixture)
    passed("reparameterization, log-variances from -6 to 20")


def collect_kl(student_fns: Mapping[str, Callable], fixture: Fixture) -> Outputs:
    """``{"0/kl": ...}``: the student's ``kl_divergence(mean, log_var)`` on the stored float32 inputs."""
    inputs = fixture["cases"][0]["inputs"]
    out: Outputs = {}
    with kit_disabled(VAE_KIT):
        collect_output(out, "0/kl", "kl_divergence", student_fns["kl_divergence"], _f32(inputs["mean"]),
                       _f32(inputs["log_var"]))
    return out


def judge_kl(outputs: Outputs, fixture: Fixture) -> None:
    """One KL per example against the stored values; a wrong one is matched against the known mistakes."""
    case, got = fixture["cases"][0], collected(outputs, "0/kl")
    expected = np.asarray(case["expected"]["kl"], np.float64)
    if got.size == 1 and expected.size > 1 and not np.iscomplexobj(got):
        raise CheckFailed(f"kl_divergence: returned one number ({float(got.reshape(-1)[0]):.5g}); expected one "
                          f"value per example, shape {expected.shape}. Hint: sum over the latent axis only "
                          "(axis=-1).")
    try:
        compare("kl_divergence", got, expected, "0.5 * sum over the latent axis of (mean^2 + exp(log_var) - 1 - "
                "log_var), one value per example; use log_var itself, not log(exp(log_var))", rtol=1e-4)
    except CheckFailed as exc:
        raise CheckFailed(str(exc) + _diagnose(got, case["mistakes"]["kl"])) from None


def check_kl(kl_divergence: Callable) -> None:
    """``KL(N(mean, exp(log_var)) || N(0, I))`` per example, summed over the latent axis (notebook 05).
    A log-variance of -120 breaks ``log(exp(log_var))``."""
    fixture = fixtures.load("kl", None)
    judge_kl(collect_kl({"kl_divergence": kl_divergence}, fixture), fixture)
    passed("KL term against the closed form, log-variances from -120 to 20")


# ----------------------------------------------------------------- FID (notebooks 01 and 06)
FID_HINT = ("||mu1 - mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^(1/2)), with covariances over examples "
            "(np.cov(..., rowvar=False)); Tr((S1 S2)^(1/2)) is the sum of the square roots of the eigenvalues of "
            "S1 S2 (np.linalg.eigvals(S1 @ S2), real parts clipped at 0), or, with scipy.linalg's matrix square "
            "root, np.trace(sqrtm(S1 @ S2).real)")
FID_ROOTS = {
    "complex": " Either route needs the real part: the real parts of np.linalg.eigvals(S1 @ S2) (clipped at 0) "
               "before their square roots, or sqrtm(S1 @ S2).real.",
    "nan": " The eigenvalues of S1 S2 include round-off just below 0, whose square root is NaN: clip their real parts "
           "at 0 first (np.sqrt(np.clip(eigenvalues.real, 0, None))).",
}


def collect_fid(student_fns: Mapping[str, Callable], fixture: Fixture) -> Outputs:
    """``{"<case>/fid": ...}``: the student's ``fid_from_features(a, b)`` on each case's float64 features
    (a case without ``b`` compares ``a`` with itself)."""
    out: Outputs = {}
    for i, case in enumerate(fixture["cases"]):
        a = np.asarray(case["inputs"]["a"], np.float64)
        b = np.asarray(case["inputs"]["b"], np.float64) if "b" in case["inputs"] else a
        with kit_disabled(FID_KIT):
            collect_output(out, f"{i}/fid", "fid_from_features", student_fns["fid_from_features"], a, b,
                           where=f" on {case['where']}")
    return out


def judge_fid(outputs: Outputs, fixture: Fixture) -> None:
    """Each case's FID against the stored value, within the case's tolerance; a wrong value is matched
    against the known mistakes (stored for the first case)."""
    for i, case in enumerate(fixture["cases"]):
        got, tolerance = collected(outputs, f"{i}/fid"), case.get("tolerance", {})
        try:
            compare("fid_from_features", got, case["expected"]["fid"], FID_HINT, rtol=tolerance.get("rtol", 1e-4),
                    atol=tolerance.get("atol", 1e-6), where=f" on {case['where']}")
        except CheckFailed as exc:
            extra = _diagnose(got, case.get("mistakes", {}).get("fid", {}), rtol=1e-5)
            if np.iscomplexobj(got):
                extra = FID_ROOTS["complex"]
            elif not np.isfinite(value(got)).all():
                extra = FID_ROOTS["nan"]
            raise CheckFailed(str(exc) + extra) from None


def check_fid(fid_from_features: Callable, seed: int = 0) -> None:
    """FID ``||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))`` from two feature sets (notebooks 01 and 06),
    with covariances over examples (``ddof=1``), on full-rank, self-compared, rank-deficient and few-example
    features (3 x 40, where round-off makes eigenvalues of S1 S2 slightly negative or complex and sqrtm's result
    complex: clip the eigenvalues' real parts at 0, or keep sqrtm's real part)."""
    fixture = fixtures.load("fid", seed)
    judge_fid(collect_fid({"fid_from_features": fid_from_features}, fixture), fixture)
    passed("FID from features: full-rank, identical, rank-deficient and few-example feature sets")


# ----------------------------------------------------------------- the conditional generator's input (notebook 08)
def collect_conditional_input(student_fns: Mapping[str, Callable], fixture: Fixture) -> Outputs:
    """``{"0/joined": ...}``: the student's ``conditional_input(z, labels, num_classes)`` on the stored inputs."""
    inputs = fixture["cases"][0]["inputs"]
    out: Outputs = {}
    with kit_disabled(CONDITIONAL_KIT):
        collect_output(out, "0/joined", "conditional_input", student_fns["conditional_input"], _f32(inputs["z"]),
                       np.asarray(inputs["labels"], np.int64), int(inputs["num_classes"]))
    return out


def judge_conditional_input(outputs: Outputs, fixture: Fixture) -> None:
    """The joined input against the stored one: its width first (a label appended as a number, a class count
    not taken from ``num_classes``), then the known mistakes, then the values."""
    case, g = fixture["cases"][0], collected(outputs, "0/joined")
    expected, k = np.asarray(case["expected"]["joined"], np.float64), int(case["inputs"]["num_classes"])
    noise = np.shape(case["inputs"]["z"])[1]
    where = f" (num_classes={k})"
    if g.ndim == 2 and g.shape[0] == expected.shape[0] and g.shape[1] == noise + 1:
        raise CheckFailed(f"conditional_input{where}: expected shape {expected.shape} ({noise} noise values + {k} "
                          f"one-hot entries), got {g.shape}: the label is appended as one number. Hint: "
                          "tf.one_hot(labels, num_classes).")
    if g.ndim == 2 and g.shape[0] == expected.shape[0] and g.shape[1] != expected.shape[1]:
        raise CheckFailed(f"conditional_input{where}: expected {expected.shape[1]} columns ({noise} noise values + "
                          f"{k} one-hot entries), got {g.shape[1]}. Hint: the one-hot vector has num_classes "
                          "entries: use the num_classes argument, not a number written in or the largest label.")
    for message, wrong in case["mistakes"]["joined"].items():
        if g.shape == expected.shape and np.allclose(g, wrong):
            raise CheckFailed(f"conditional_input: {message}")
    compare("conditional_input", g, expected, "concatenate z and tf.one_hot(labels, num_classes) along the last axis",
            where=where)


def check_conditional_input(conditional_input: Callable, num_classes: int = 10) -> None:
    """The conditional generator's input (notebook 08): ``[z, one_hot(labels)]`` along the last axis, for
    ``num_classes`` classes and for 7 (a count written in, or taken from the labels, shows)."""
    for k in dict.fromkeys((int(num_classes), 7)):
        fixture = fixtures.load("conditional_input", k)
        judge_conditional_input(collect_conditional_input({"conditional_input": conditional_input}, fixture), fixture)
    passed("conditional input")
