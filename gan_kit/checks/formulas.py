"""Checks of the formula exercises: the GAN losses, the gradient penalty, the VAE's reparameterization
and KL term, FID, and the conditional generator's input.

Each expected value is computed here in float64 NumPy (never with ``gan_kit.losses`` or
``gan_kit.metrics``), on inputs chosen so that the usual wrong answers give other numbers: logits
of +-50 and +-120 where a naive ``log(sigmoid(x))`` overflows, a nonlinear critic and a fixed
interpolation weight for the penalty (plus a backward pass through a flat critic), log-variances
of +-20 and -120, rank-deficient features for FID. While a check runs, the kit's own
implementation raises, so an answer that calls it fails. When a wrong value matches a known
mistake, the message names the mistake.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._base import CheckFailed, compare, kit_disabled, passed, run_answer, value

__all__ = ["check_conditional_input", "check_fid", "check_gan_losses", "check_gradient_penalty", "check_kl",
           "check_reparameterize"]

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


def _diagnose(got: Any, known: dict[str, float], rtol: float = 1e-4) -> str:
    """The name of the known mistake whose value ``got`` equals, as a sentence ("" when none does)."""
    try:
        g = float(np.asarray(value(got)).reshape(-1)[0]) if np.size(value(got)) == 1 else None
    except (TypeError, ValueError):
        return ""
    if g is None or not np.isfinite(g):
        return ""
    for mistake, v in known.items():
        if np.isfinite(v) and np.isclose(g, v, rtol=rtol, atol=1e-6):
            return f" Your value is what {mistake} gives."
    return ""


# ----------------------------------------------------------------- GAN losses (notebook 02)
_LOGIT_CASES = {
    "ordinary logits": (np.array([[2.0], [-0.5], [0.3], [1.2], [-1.7]]), np.array([[-1.0], [0.5], [-2.2], [0.1],
                                                                                 [0.8]])),
    "confident logits (+-50)": (np.array([[50.0], [-50.0], [3.0], [50.0]]), np.array([[50.0], [-50.0], [-3.0],
                                                                                    [50.0]])),
    "saturated logits (+-120)": (np.array([[120.0], [-120.0], [0.5]]), np.array([[-120.0], [120.0], [-0.5]])),
}


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def check_gan_losses(discriminator_loss: Callable, generator_loss: Callable, seed: int | None = None) -> None:
    """Non-saturating BCE losses from logits (notebook 02): D's loss and G's loss on three sets of logits.

    Expected: ``L_D = mean(softplus(-real)) + mean(softplus(fake))``, ``L_G = mean(softplus(-fake))``,
    computed in float64. The logits of +-50 and +-120 overflow a formula that takes the log of a sigmoid.
    With ``seed``, a batch of random logits drawn from it is checked too.
    """
    import tensorflow as tf

    cases = dict(_LOGIT_CASES)
    if seed is not None:
        rng = np.random.default_rng(seed)
        cases[f"random logits (seed {seed})"] = (rng.normal(0, 4, (7, 1)), rng.normal(0, 4, (7, 1)))
    for case, (real, fake) in cases.items():
        real_t, fake_t = tf.constant(real, tf.float32), tf.constant(fake, tf.float32)
        sig_r, sig_f = 1 / (1 + np.exp(-real)), 1 / (1 + np.exp(-fake))
        d_expected = _softplus(-real).mean() + _softplus(fake).mean()
        g_expected = _softplus(-fake).mean()
        d_known = {
            "summing over the batch instead of averaging": _softplus(-real).sum() + _softplus(fake).sum(),
            "swapped labels (real against 0, fake against 1)": _softplus(real).mean() + _softplus(-fake).mean(),
            "averaging the two terms (half the sum)": 0.5 * d_expected,
            "a sigmoid applied before a loss that takes logits": _softplus(-sig_r).mean() + _softplus(sig_f).mean(),
            "only the real term": _softplus(-real).mean(),
        }
        g_known = {
            "the saturating loss log(1 - D(G(z)))": -_softplus(fake).mean(),
            "the saturating loss with the sign flipped, -log(1 - D(G(z)))": _softplus(fake).mean(),
            "summing over the batch instead of averaging": _softplus(-fake).sum(),
            "a sigmoid applied before a loss that takes logits": _softplus(-sig_f).mean(),
        }
        with kit_disabled(LOSS_KIT):
            d_got = run_answer("discriminator_loss", discriminator_loss, real_t, fake_t)
            g_got = run_answer("generator_loss", generator_loss, fake_t)
        where = f" on {case}"
        _loss_compare("discriminator_loss", d_got, d_expected, where, d_known,
                      "mean BCE of D(real) against 1 plus mean BCE of D(fake) against 0, from logits "
                      "(tf.nn.sigmoid_cross_entropy_with_logits)")
        _loss_compare("generator_loss", g_got, g_expected, where, g_known,
                      "the non-saturating loss: mean BCE of D(G(z)) against the label 1 ('real'), from logits")
    passed("both losses, on ordinary, confident (+-50) and saturated (+-120) logits")


def _loss_compare(name: str, got: Any, expected: float, where: str, known: dict[str, float], hint: str) -> None:
    try:
        compare(name, got, expected, hint, where=where)
    except CheckFailed as exc:
        extra = _diagnose(got, known)
        if not extra and not np.isfinite(value(got)).all():
            extra = (" Taking the log of a sigmoid overflows for large logits: compute BCE from the logits "
                     "(tf.nn.sigmoid_cross_entropy_with_logits, or softplus).")
        raise CheckFailed(str(exc) + extra) from None


# ----------------------------------------------------------------- gradient penalty (notebook 03)
_W = np.array([[0.8, -0.5], [0.3, 0.9], [-0.7, 0.4], [0.5, 0.6]])  # a 4 -> 2 -> 1 tanh critic
_V = np.array([1.5, -2.0])


def _critic_numpy(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Output (n,) and input gradient (n, 4) of the nonlinear critic sum_j v_j tanh(x . w_j)."""
    h = np.tanh(x @ _W)
    return h @ _V, ((1 - h**2) * _V) @ _W.T


def _penalty_numpy(real: np.ndarray, fake: np.ndarray, alpha: np.ndarray, wrong: str = "") -> float:
    mix = {"x_hat = real (no interpolation)": real,
           "x_hat = fake + alpha * (real - fake) (alpha on the wrong side)": fake + alpha[:, None] * (real - fake),
           }.get(wrong, real + alpha[:, None] * (fake - real))
    norms = np.linalg.norm(_critic_numpy(mix)[1], axis=1)
    if wrong == "(mean norm - 1)^2 instead of mean((norm - 1)^2)":
        return float((norms.mean() - 1) ** 2)
    if wrong == "the squared norm instead of the norm":
        return float(np.mean((norms**2 - 1) ** 2))
    return float(np.mean((norms - 1) ** 2))


def check_gradient_penalty(gradient_penalty: Callable, seed: int = 0) -> None:
    """WGAN-GP's penalty ``mean((||grad D(x_hat)|| - 1)^2)`` with ``x_hat = real + alpha (fake - real)``
    (notebook 03), for ``gradient_penalty(critic, real, fake, alpha)``.

    A nonlinear critic (so the gradient depends on where x_hat lies) and a fixed alpha per example;
    then a flat critic, whose input gradient is zero: the penalty is 1 and its gradient with respect to
    the critic's weights must be finite (an epsilon inside the square root; ``tf.norm`` gives NaN there).
    """
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    real = rng.standard_normal((6, 2, 2, 1))
    fake = rng.standard_normal((6, 2, 2, 1)) * 1.5 + 0.5
    alpha = np.array([0.1, 0.25, 0.5, 0.6, 0.8, 0.95])
    w, v = tf.constant(_W, tf.float32), tf.constant(_V, tf.float32)

    def critic(x):
        flat = tf.reshape(tf.cast(x, tf.float32), [tf.shape(x)[0], 4])
        return tf.reduce_sum(tf.tanh(flat @ w) * v, axis=1, keepdims=True)

    flat_real, flat_fake = real.reshape(6, 4), fake.reshape(6, 4)
    expected = _penalty_numpy(flat_real, flat_fake, alpha)
    known = {mistake: _penalty_numpy(flat_real, flat_fake, alpha, mistake) for mistake in (
        "x_hat = real (no interpolation)", "x_hat = fake + alpha * (real - fake) (alpha on the wrong side)",
        "(mean norm - 1)^2 instead of mean((norm - 1)^2)", "the squared norm instead of the norm")}
    args = (tf.constant(real, tf.float32), tf.constant(fake, tf.float32), tf.constant(alpha, tf.float32))
    with kit_disabled(GP_KIT):
        got = run_answer("gradient_penalty", gradient_penalty, critic, *args)
    try:
        compare("gradient_penalty", got, expected, "mean over examples of (||dD/dx_hat||_2 - 1)^2 with "
                "x_hat = real + alpha * (fake - real), alpha as given (one per example), the norm per example",
                rtol=1e-4, where=" (a tanh critic, alpha given)")
    except CheckFailed as exc:
        raise CheckFailed(str(exc) + _diagnose(got, known)) from None

    scale = tf.Variable(1.0)

    def flat_critic(x):  # its output does not depend on x: the input gradient is exactly zero
        return scale * (0.0 * tf.reduce_sum(tf.reshape(tf.cast(x, tf.float32), [tf.shape(x)[0], -1]), axis=1,
                                            keepdims=True) + 1.0)

    with kit_disabled(GP_KIT), tf.GradientTape() as tape:
        penalty = run_answer("gradient_penalty", gradient_penalty, flat_critic, *args)
    compare("gradient_penalty of a flat critic", penalty, 1.0,
            "a zero gradient has norm 0, so the penalty is (0 - 1)^2 = 1", atol=1e-3)
    grad = tape.gradient(penalty, scale)
    if grad is None or not np.isfinite(value(grad)).all():
        raise CheckFailed("gradient_penalty of a flat critic: the penalty's gradient with respect to the critic's "
                          f"weights is {None if grad is None else value(grad)}, not a finite number, so one such "
                          "batch would turn every weight into NaN. Hint: the derivative of sqrt at 0 is infinite; "
                          "compute the norm as sqrt(sum(g^2) + 1e-12) instead of tf.norm or sqrt(sum(g^2)).")
    passed("gradient penalty: a nonlinear critic with fixed alpha, and a finite backward pass at zero gradient")


# ----------------------------------------------------------------- the VAE's two formulas (notebook 05)
def check_reparameterize(reparameterize: Callable) -> None:
    """The reparameterization trick ``z = mean + exp(log_var / 2) * eps`` (notebook 05), for
    ``reparameterize(mean, log_var, eps)``; log-variances up to 20 separate exp(log_var / 2) from exp(log_var)."""
    mean = np.array([[0.0, 1.0, -3.0], [-2.0, 0.5, 4.0]])
    log_var = np.array([[0.0, np.log(4.0), 20.0], [np.log(0.25), -6.0, 2.0]])
    eps = np.array([[1.0, -1.0, 0.5], [2.0, 0.5, -1.5]])
    known = {"exp(log_var) * eps (the variance, not the standard deviation)": mean + np.exp(log_var) * eps,
             "log_var * eps": mean + log_var * eps}
    with kit_disabled(VAE_KIT):
        got = run_answer("reparameterize", reparameterize, mean.astype(np.float32), log_var.astype(np.float32),
                         eps.astype(np.float32))
    expected = mean + np.exp(0.5 * log_var) * eps
    try:
        compare("reparameterize", got, expected, "the standard deviation is exp(log_var / 2); use the eps given",
                rtol=1e-4)
    except CheckFailed as exc:
        g = value(got)
        extra = next((f" Your values are what {m} gives." for m, v in known.items()
                      if g.shape == v.shape and np.allclose(g, v, rtol=1e-4)), "")
        raise CheckFailed(str(exc) + extra) from None
    passed("reparameterization, log-variances from -6 to 20")


def check_kl(kl_divergence: Callable) -> None:
    """``KL(N(mean, exp(log_var)) || N(0, I))`` per example, summed over the latent axis (notebook 05):
    ``0.5 * sum(mean^2 + exp(log_var) - 1 - log_var)``. A log-variance of -120 breaks ``log(exp(log_var))``."""
    mean = np.array([[0.0, 0.0, 0.0], [1.0, -1.0, 2.0], [0.5, 3.0, -0.2]])
    log_var = np.array([[0.0, 0.0, 0.0], [np.log(2.0), 0.0, -120.0], [20.0, -20.0, 1.0]])
    per_dim = mean**2 + np.exp(log_var) - 1 - log_var
    expected = 0.5 * per_dim.sum(axis=1)
    known = {"the mean over the latent axis instead of the sum": 0.5 * per_dim.mean(axis=1),
             "leaving out the factor 1/2": per_dim.sum(axis=1),
             "exp(log_var / 2) (the standard deviation) for the variance":
                 0.5 * (mean**2 + np.exp(log_var / 2) - 1 - log_var).sum(axis=1),
             "the negative of the KL": -expected}
    with kit_disabled(VAE_KIT):
        got = run_answer("kl_divergence", kl_divergence, mean.astype(np.float32), log_var.astype(np.float32))
    g = value(got)
    if g.size == 1 and expected.size > 1:
        raise CheckFailed(f"kl_divergence: returned one number ({float(g.reshape(-1)[0]):.5g}); expected one value "
                          f"per example, shape {expected.shape}. Hint: sum over the latent axis only (axis=-1).")
    try:
        compare("kl_divergence", got, expected, "0.5 * sum over the latent axis of (mean^2 + exp(log_var) - 1 - "
                "log_var), one value per example; use log_var itself, not log(exp(log_var))", rtol=1e-4)
    except CheckFailed as exc:
        extra = next((f" Your values are what {m} gives." for m, v in known.items()
                      if g.shape == v.shape and np.allclose(g, v, rtol=1e-4)), "")
        raise CheckFailed(str(exc) + extra) from None
    passed("KL term against the closed form, log-variances from -120 to 20")


# ----------------------------------------------------------------- FID (notebooks 01 and 06)
def _fid_numpy(a: np.ndarray, b: np.ndarray, ddof: int = 1) -> float:
    """FID with the trace of the square root taken exactly: the eigenvalues of S1 S2 are the squared singular
    values of ``A B^T / (n - ddof)`` (A, B centred, n x n), so no near-zero eigenvalue's round-off enters."""
    ac, bc = a - a.mean(0), b - b.mean(0)
    trace_root = np.linalg.svd(ac @ bc.T / (len(a) - ddof), compute_uv=False).sum()
    s1, s2 = np.cov(a, rowvar=False, ddof=ddof), np.cov(b, rowvar=False, ddof=ddof)
    return float(np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(s1 + s2) - 2 * trace_root)


def check_fid(fid_from_features: Callable, seed: int = 0) -> None:
    """FID ``||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))`` from two feature sets (notebooks 01 and 06),
    with covariances over examples (``ddof=1``), on full-rank, self-compared and rank-deficient features."""
    from scipy import linalg

    rng = np.random.default_rng(seed)
    a = rng.standard_normal((500, 4))
    b = rng.standard_normal((500, 4)) @ np.diag([1.0, 2.0, 0.5, 1.0]) + 0.3
    low = rng.standard_normal((300, 3))
    c, d = np.column_stack([low, low[:, :1]]), np.column_stack([low * 1.3 + 0.1, low[:, :1] * 1.3])  # rank 3 of 4
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    mu = np.sum((a.mean(0) - b.mean(0)) ** 2)
    known = {"ddof=0 covariances (use np.cov, as TF-GAN and pytorch-fid do)": _fid_numpy(a, b, ddof=0),
             "an elementwise square root (np.sqrt) instead of the matrix square root (scipy.linalg.sqrtm)":
                 mu + np.trace(s1 + s2) - 2 * np.trace(np.sqrt(np.abs(s1 * s2))),
             "an elementwise square root of S1 S2 (np.sqrt(S1 @ S2)) instead of its matrix square root":
                 mu + np.trace(s1 + s2) - 2 * np.trace(np.sqrt(np.abs(s1 @ s2))),
             "leaving out the factor 2 before the trace of the square root":
                 mu + np.trace(s1 + s2) - np.trace(np.real(linalg.sqrtm(s1 @ s2))),
             "only the distance between the means": mu}
    # 3 examples of 40 features: S1 S2 has rank 2, so 38 of its eigenvalues are zero and come out of any LAPACK as
    # round-off of either sign or as complex pairs; sqrtm and eigvals then return complex arrays (measured on
    # every OpenBLAS core type), and an answer that does not keep the real part returns a complex FID.
    few_a, few_b = rng.standard_normal((3, 40)), rng.standard_normal((3, 40)) * 1.5 + 0.5
    cases = (("two feature sets (500 x 4)", a, b, _fid_numpy(a, b), 1e-5, 0.0),
             ("a set compared with itself", a, a, 0.0, 0.0, 1e-6),
             ("rank-deficient features (a duplicated column)", c, d, _fid_numpy(c, d), 1e-4, 1e-6),
             ("fewer examples than features (3 x 40: sqrtm comes out complex)", few_a, few_b,
              _fid_numpy(few_a, few_b), 1e-4, 1e-5))
    for i, (where, x, y, expected, rtol, atol) in enumerate(cases):
        with kit_disabled(FID_KIT):
            got = run_answer("fid_from_features", fid_from_features, x, y)
        try:
            compare("fid_from_features", got, expected, "||mu1 - mu2||^2 + Tr(S1 + S2 - 2 sqrtm(S1 S2)), with "
                    "covariances over examples (np.cov(..., rowvar=False)) and the real part of sqrtm",
                    rtol=rtol, atol=atol, where=f" on {where}")
        except CheckFailed as exc:
            raise CheckFailed(str(exc) + (_diagnose(got, known, rtol=1e-5) if i == 0 else "")) from None
    passed("FID from features: full-rank, identical, rank-deficient and few-example feature sets")


# ----------------------------------------------------------------- the conditional generator's input (notebook 08)
def check_conditional_input(conditional_input: Callable, num_classes: int = 10) -> None:
    """The conditional generator's input (notebook 08): ``[z, one_hot(labels)]`` along the last axis, for
    ``num_classes`` classes and for 7 (a count written in, or taken from the labels, shows)."""
    z = np.arange(12, dtype=np.float32).reshape(3, 4) / 10.0
    for k in dict.fromkeys((int(num_classes), 7)):
        labels = np.array([2, 0, k - 2])  # the largest label is not k - 1
        eye = np.eye(k, dtype=np.float32)
        expected = np.concatenate([z, eye[labels]], axis=1)
        with kit_disabled(CONDITIONAL_KIT):
            got = run_answer("conditional_input", conditional_input, z, labels, k)
        g = value(got)
        where = f" (num_classes={k})"
        if g.shape == (3, 5):
            raise CheckFailed(f"conditional_input{where}: expected shape {expected.shape} (4 noise values + {k} "
                              "one-hot entries), got (3, 5): the label is appended as one number. Hint: "
                              "tf.one_hot(labels, num_classes).")
        if g.ndim == 2 and g.shape[0] == 3 and g.shape[1] != expected.shape[1]:
            raise CheckFailed(f"conditional_input{where}: expected {expected.shape[1]} columns (4 noise values + "
                              f"{k} one-hot entries), got {g.shape[1]}. Hint: the one-hot vector has num_classes "
                              "entries: use the num_classes argument, not a number written in or the largest label.")
        if g.shape == expected.shape and np.allclose(g, np.concatenate([eye[labels], z], axis=1)):
            raise CheckFailed("conditional_input: the one-hot label comes first; put the noise first "
                              "(tf.concat([z, one_hot], axis=-1)), as the generator's Dense layer expects.")
        compare("conditional_input", got, expected, "concatenate z and tf.one_hot(labels, num_classes) along the "
                "last axis", where=where)
    passed("conditional input")
