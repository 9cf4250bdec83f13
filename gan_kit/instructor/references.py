"""The self-checks' expected values, computed independently of the kit: the answers to the exercises.

The students' checks (:mod:`gan_kit.checks`) only read stored values; this module computes them, in float64
NumPy (and, for the training steps, TensorFlow networks in float64), never with ``gan_kit.losses`` or
``gan_kit.metrics``. :func:`build_fixture` returns one check's fixture for one seed (layout in
:mod:`gan_kit.checks.fixtures`): the inputs the student's function is given (float32 inputs stored already
rounded to float32), the expected outputs, and the outputs of the known wrong answers keyed by the text
the check's message quotes. :func:`write_fixtures` writes them as ``<check>-<seed>.json``; a student release
ships those files for :data:`gan_kit.checks.fixtures.PUBLIC_SEEDS` and leaves this folder out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..checks import fixtures
from .equal_steps_reference import equal_steps_cases
from .kid_reference import kid_cases
from .prepare_image_reference import prepare_image_cases
from .projection_reference import projection_cases

__all__ = ["build_fixture", "write_fixtures"]

Case = dict[str, Any]


def build_fixture(check_name: str, seed: int | None) -> dict[str, Any]:
    """The fixture of ``check_name`` for ``seed`` (``None`` for a check without one; the class count for
    ``conditional_input``), JSON-serialisable."""
    if check_name not in _BUILDERS:
        raise ValueError(f"no check named {check_name!r}; known: {', '.join(sorted(_BUILDERS))}.")
    seedless = check_name in _SEEDLESS
    if (seed is not None and seedless) or (seed is None and not seedless and check_name not in _SEED_OPTIONAL):
        raise ValueError(f"check {check_name} takes {'no seed' if seedless else 'a seed'}, got {seed!r}.")
    cases = _BUILDERS[check_name](None if seed is None else int(seed))
    return _plain({"check": check_name, "seed": seed, "format": fixtures.FORMAT, "cases": cases})


def write_fixtures(folder: str | Path, seeds: Mapping[str, Iterable[int | None]]) -> list[Path]:
    """Write ``folder/<check>-<seed>.json`` for every check and seed in ``seeds`` (e.g.
    ``fixtures.PUBLIC_SEEDS``); the paths written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for check_name, check_seeds in seeds.items():
        for seed in check_seeds:
            path = folder / fixtures.file_name(check_name, seed)
            path.write_text(json.dumps(build_fixture(check_name, seed), allow_nan=False) + "\n", encoding="utf-8")
            written.append(path)
    return written


# ----------------------------------------------------------------- helpers
def _plain(x: Any) -> Any:
    """Arrays and NumPy numbers as lists and Python numbers, recursively."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return x


def _f32(x: Any) -> np.ndarray:
    """``x`` rounded to float32, as float64: what a student's float32 code is given, exactly."""
    return np.asarray(x, np.float32).astype(np.float64)


def _case(where: str, inputs: dict, expected: dict, mistakes: dict | None = None, **tolerance: float) -> Case:
    case = {"where": where, "inputs": inputs, "expected": expected, "mistakes": mistakes or {}}
    return {**case, "tolerance": tolerance} if tolerance else case


# ----------------------------------------------------------------- GAN losses
_LOGIT_CASES = {
    "ordinary logits": ([[2.0], [-0.5], [0.3], [1.2], [-1.7]], [[-1.0], [0.5], [-2.2], [0.1], [0.8]]),
    "confident logits (+-50)": ([[50.0], [-50.0], [3.0], [50.0]], [[50.0], [-50.0], [-3.0], [50.0]]),
    "saturated logits (+-120)": ([[120.0], [-120.0], [0.5]], [[-120.0], [120.0], [-0.5]]),
}


def _softplus(x: np.ndarray) -> np.ndarray:
    """``log(1 + exp(x))`` without overflow."""
    return np.logaddexp(0.0, x)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _d_loss_mistakes(real: np.ndarray, fake: np.ndarray) -> dict[str, float]:
    """D's loss as the known wrong answers compute it."""
    correct = _softplus(-real).mean() + _softplus(fake).mean()
    return {"summing over the batch instead of averaging": _softplus(-real).sum() + _softplus(fake).sum(),
            "swapped labels (real against 0, fake against 1)": _softplus(real).mean() + _softplus(-fake).mean(),
            "averaging the two terms (half the sum)": 0.5 * correct,
            "a sigmoid applied before a loss that takes logits":
                _softplus(-_sigmoid(real)).mean() + _softplus(_sigmoid(fake)).mean(),
            "only the real term": _softplus(-real).mean()}


def _g_loss_mistakes(fake: np.ndarray) -> dict[str, float]:
    """G's loss as the known wrong answers compute it."""
    return {"the saturating loss log(1 - D(G(z)))": -_softplus(fake).mean(),
            "the saturating loss with the sign flipped, -log(1 - D(G(z)))": _softplus(fake).mean(),
            "summing over the batch instead of averaging": _softplus(-fake).sum(),
            "a sigmoid applied before a loss that takes logits": _softplus(-_sigmoid(fake)).mean()}


def _gan_losses(seed: int | None) -> list[Case]:
    """Non-saturating BCE from logits: ``L_D = mean(softplus(-real)) + mean(softplus(fake))``,
    ``L_G = mean(softplus(-fake))``, on fixed logits and, with a seed, random ones."""
    logits = {k: (_f32(r), _f32(f)) for k, (r, f) in _LOGIT_CASES.items()}
    if seed is not None:
        rng = np.random.default_rng(seed)
        logits[f"random logits (seed {seed})"] = (_f32(rng.normal(0, 4, (7, 1))), _f32(rng.normal(0, 4, (7, 1))))
    return [_case(where, {"real": real, "fake": fake},
                  {"discriminator_loss": _softplus(-real).mean() + _softplus(fake).mean(),
                   "generator_loss": _softplus(-fake).mean()},
                  {"discriminator_loss": _d_loss_mistakes(real, fake), "generator_loss": _g_loss_mistakes(fake)})
            for where, (real, fake) in logits.items()]


# ----------------------------------------------------------------- gradient penalty
_W = np.array([[0.8, -0.5], [0.3, 0.9], [-0.7, 0.4], [0.5, 0.6]])  # a 4 -> 2 -> 1 tanh critic
_V = np.array([[1.5], [-2.0]])
_ALPHA = np.array([0.1, 0.25, 0.5, 0.6, 0.8, 0.95])
GP_MISTAKES = ("x_hat = real (no interpolation)", "x_hat = fake + alpha * (real - fake) (alpha on the wrong side)",
               "(mean norm - 1)^2 instead of mean((norm - 1)^2)", "the squared norm instead of the norm")


def _critic_gradient(x: np.ndarray, w: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Input gradient (n, 4) of the critic ``tanh(x w) v``."""
    h = np.tanh(x @ w)
    return ((1 - h**2) * v[:, 0]) @ w.T


def _penalty(real: np.ndarray, fake: np.ndarray, alpha: np.ndarray, w: np.ndarray, v: np.ndarray,
             wrong: str = "") -> float:
    """``mean((||grad D(x_hat)|| - 1)^2)``, or the value of the known mistake ``wrong``."""
    mix = {GP_MISTAKES[0]: real, GP_MISTAKES[1]: fake + alpha[:, None] * (real - fake)}.get(
        wrong, real + alpha[:, None] * (fake - real))
    norms = np.linalg.norm(_critic_gradient(mix, w, v), axis=1)
    if wrong == GP_MISTAKES[2]:
        return float((norms.mean() - 1) ** 2)
    if wrong == GP_MISTAKES[3]:
        return float(np.mean((norms**2 - 1) ** 2))
    return float(np.mean((norms - 1) ** 2))


def _penalty_table(real: np.ndarray, fake: np.ndarray, w: np.ndarray, v: np.ndarray,
                   points: int = 1001) -> dict[str, np.ndarray]:
    """Each example's term ``(||grad D(x_hat)|| - 1)^2`` on a grid of alphas in [0, 1] (``penalty``: examples x
    grid), for the check to read off the penalty of the alphas a student's function drew (linear interpolation
    between grid points is off by less than 1e-4 for this critic)."""
    grid = np.linspace(0.0, 1.0, points)
    table = np.stack([(np.linalg.norm(_critic_gradient(real + a * (fake - real), w, v), axis=1) - 1) ** 2
                      for a in grid], axis=1)
    return {"alpha": grid, "penalty": table}


def _gradient_penalty(seed: int) -> list[Case]:
    """The penalty with a fixed alpha per example on a tanh critic; its range for drawn alphas; 1 for a flat critic."""
    rng = np.random.default_rng(seed)
    real = _f32(rng.standard_normal((6, 2, 2, 1)))
    fake = _f32(rng.standard_normal((6, 2, 2, 1)) * 1.5 + 0.5)
    w, v, alpha = _f32(_W), _f32(_V), _f32(_ALPHA)
    flat_real, flat_fake = real.reshape(6, 4), fake.reshape(6, 4)
    critic = [{"kernel": w, "activation": "tanh"}, {"kernel": v}]
    inputs = {"real": real, "fake": fake, "critic": critic}
    return [_case("a tanh critic, alpha given", {**inputs, "alpha": alpha},
                  {"penalty": _penalty(flat_real, flat_fake, alpha, w, v)},
                  {"penalty": {m: _penalty(flat_real, flat_fake, alpha, w, v, m) for m in GP_MISTAKES}}),
            _case("a tanh critic, alpha drawn by the answer", inputs,
                  {"penalty_table": _penalty_table(flat_real, flat_fake, w, v)}),
            _case("a flat critic (zero input gradient)",
                  {**inputs, "alpha": alpha, "critic": [{"kernel": np.zeros((4, 1)), "bias": np.ones(1)}]},
                  {"penalty": 1.0})]


# ----------------------------------------------------------------- the VAE's two formulas
def _reparameterize(seed: None) -> list[Case]:
    """``z = mean + exp(log_var / 2) * eps``, with log-variances up to 20."""
    mean = _f32([[0.0, 1.0, -3.0], [-2.0, 0.5, 4.0]])
    log_var = _f32([[0.0, np.log(4.0), 20.0], [np.log(0.25), -6.0, 2.0]])
    eps = _f32([[1.0, -1.0, 0.5], [2.0, 0.5, -1.5]])
    return [_case("fixed inputs", {"mean": mean, "log_var": log_var, "eps": eps},
                  {"z": mean + np.exp(0.5 * log_var) * eps},
                  {"z": {"exp(log_var) * eps (the variance, not the standard deviation)": mean + np.exp(log_var) * eps,
                         "log_var * eps": mean + log_var * eps}})]


def _kl(seed: None) -> list[Case]:
    """``0.5 * sum(mean^2 + exp(log_var) - 1 - log_var)`` over the latent axis, log-variances from -120 to 20."""
    mean = _f32([[0.0, 0.0, 0.0], [1.0, -1.0, 2.0], [0.5, 3.0, -0.2]])
    log_var = _f32([[0.0, 0.0, 0.0], [np.log(2.0), 0.0, -120.0], [20.0, -20.0, 1.0]])
    per_dim = mean**2 + np.exp(log_var) - 1 - log_var
    expected = 0.5 * per_dim.sum(axis=1)
    mistakes = {"the mean over the latent axis instead of the sum": 0.5 * per_dim.mean(axis=1),
                "leaving out the factor 1/2": per_dim.sum(axis=1),
                "exp(log_var / 2) (the standard deviation) for the variance":
                    0.5 * (mean**2 + np.exp(log_var / 2) - 1 - log_var).sum(axis=1),
                "the negative of the KL": -expected}
    return [_case("fixed inputs", {"mean": mean, "log_var": log_var}, {"kl": expected}, {"kl": mistakes})]


# ----------------------------------------------------------------- FID
def _fid_exact(a: np.ndarray, b: np.ndarray, ddof: int = 1) -> float:
    """FID with the trace of the square root taken exactly: the eigenvalues of S1 S2 are the squared singular
    values of ``A B^T / (n - ddof)`` (A, B centred, n x n), so no near-zero eigenvalue's round-off enters."""
    ac, bc = a - a.mean(0), b - b.mean(0)
    trace_root = np.linalg.svd(ac @ bc.T / (len(a) - ddof), compute_uv=False).sum()
    s1, s2 = np.cov(a, rowvar=False, ddof=ddof), np.cov(b, rowvar=False, ddof=ddof)
    return float(np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(s1 + s2) - 2 * trace_root)


def _fid_mistakes(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """FID as the known wrong answers compute it."""
    from scipy import linalg

    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    mu = float(np.sum((a.mean(0) - b.mean(0)) ** 2))
    trace = np.trace(s1 + s2)
    return {"ddof=0 covariances (use np.cov, as TF-GAN and pytorch-fid do)": _fid_exact(a, b, ddof=0),
            "an elementwise square root (np.sqrt) of S1 * S2 instead of the matrix square root (the square roots of "
            "the eigenvalues of S1 S2, or scipy.linalg.sqrtm)":
                mu + trace - 2 * np.trace(np.sqrt(np.abs(s1 * s2))),
            "an elementwise square root of S1 S2 (np.sqrt(S1 @ S2)) instead of its matrix square root":
                mu + trace - 2 * np.trace(np.sqrt(np.abs(s1 @ s2))),
            "leaving out the factor 2 before the trace of the square root":
                mu + trace - np.trace(np.real(linalg.sqrtm(s1 @ s2))),
            "only the distance between the means": mu}


def _fid(seed: int) -> list[Case]:
    """Full-rank, self-compared, rank-deficient (a duplicated column) and few-example (3 x 40) feature sets."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((500, 4))
    b = rng.standard_normal((500, 4)) @ np.diag([1.0, 2.0, 0.5, 1.0]) + 0.3
    low = rng.standard_normal((300, 3))
    c, d = np.column_stack([low, low[:, :1]]), np.column_stack([low * 1.3 + 0.1, low[:, :1] * 1.3])  # rank 3 of 4
    # 3 examples of 40 features: S1 S2 has rank 2, so 38 of its eigenvalues are zero and come out of any LAPACK as
    # round-off of either sign or as complex pairs; sqrtm then returns a complex array (on every OpenBLAS core
    # type), and an answer that does not keep the real part returns a complex FID.
    few_a, few_b = rng.standard_normal((3, 40)), rng.standard_normal((3, 40)) * 1.5 + 0.5
    return [_case("two feature sets (500 x 4)", {"a": a, "b": b}, {"fid": _fid_exact(a, b)},
                  {"fid": _fid_mistakes(a, b)}, rtol=1e-5, atol=0.0),
            _case("a set compared with itself", {"a": a}, {"fid": 0.0}, rtol=0.0, atol=1e-6),
            _case("rank-deficient features (a duplicated column)", {"a": c, "b": d}, {"fid": _fid_exact(c, d)},
                  rtol=1e-4, atol=1e-6),
            _case("fewer examples than features (3 x 40: S1 S2 has 38 zero eigenvalues, which round-off turns slightly "
                  "negative or complex)", {"a": few_a, "b": few_b},
                  {"fid": _fid_exact(few_a, few_b)}, rtol=1e-4, atol=1e-5)]


# ----------------------------------------------------------------- the conditional generator's input
def _conditional_input(num_classes: int) -> list[Case]:
    """``[z, one_hot(labels, num_classes)]``, with labels whose largest is not ``num_classes - 1``."""
    z = _f32(np.arange(12).reshape(3, 4) / 10.0)
    labels = np.array([2, 0, num_classes - 2])
    one_hot = np.eye(num_classes)[labels]
    first = ("the one-hot label comes first; put the noise first (tf.concat([z, one_hot], axis=-1)), as the "
             "generator's Dense layer expects.")
    return [_case(f"num_classes={num_classes}", {"z": z, "labels": labels, "num_classes": num_classes},
                  {"joined": np.concatenate([z, one_hot], axis=1)},
                  {"joined": {first: np.concatenate([one_hot, z], axis=1)}})]


# ----------------------------------------------------------------- training steps
G_LEARNING_RATE, D_LEARNING_RATE = 0.02, 0.05  # different, so that swapped optimizers show
# A step's knobs: its rule ("story1": both losses from one forward pass, "alternating": D's update, then G's loss
# through the updated D); which loss each network follows ("own", "one_loss", "swapped"); training= of G's call and
# of D's calls on the real and on the generated batch; D called once on the two batches joined; D's loss with its
# arguments (labels) swapped, scaled, G's loss saturating; the two learning rates (optimizers) swapped.
_RIGHT = {"rule": "story1", "targets": "own", "g_training": True, "d_real_training": True, "d_fake_training": True,
          "joined": False, "d_swapped": False, "d_scale": 1.0, "g_saturating": False, "swap_optimizers": False}
_NO_TRAINING = {"g_training": False, "d_real_training": False, "d_fake_training": False}
# What a student doing each variant did, as the check's message quotes it ("Your weights are what ... gives."),
# -> the variant's knobs (beyond _RIGHT). A check's expected values are its rule's variant; the others are mistakes.
_COMMON_VARIANTS = {
    "the alternating rule (G's loss through the already updated D)": {"rule": "alternating"},
    "story 1's rule (both losses from one forward pass, before either update)": {"rule": "story1"},
    "one loss (g_loss + d_loss) for both networks: each network must follow the gradient of its own loss, from its "
    "own tape": {"targets": "one_loss"},
    "swapped gradients: D followed G's loss and G followed D's loss": {"targets": "swapped"},
    "story 1's rule with the networks called without training=True (BatchNorm used its moving statistics instead "
    "of the batch's)": _NO_TRAINING,
    "the alternating rule with the networks called without training=True": {"rule": "alternating", **_NO_TRAINING},
}
_STORY1_VARIANTS = {
    "calling G without training=True (its BatchNorm then uses its moving statistics, not the batch's: call "
    "generator(noise, training=True))": {"g_training": False},
    "calling D without training=True (its BatchNorm then uses its moving statistics, not the batch's: pass "
    "training=True to both of D's calls)": {"d_real_training": False, "d_fake_training": False},
    "leaving training=True out of D's call on the real batch (call discriminator(real_images, training=True))":
        {"d_real_training": False},
    "leaving training=True out of D's call on the generated batch (call discriminator(fake_images, "
    "training=True))": {"d_fake_training": False},
    "calling D once on tf.concat([real, fake]) (its BatchNorm then normalises the two batches together: call D on "
    "the real batch and on the generated batch separately)": {"joined": True},
    "swapping discriminator_loss's arguments (discriminator_loss(fake_logits, real_logits) judges real images "
    "against 0 and generated ones against 1: pass the real logits first)": {"d_swapped": True},
    "swapping the two optimizers (G updated by d_optimizer, D by g_optimizer: apply each network's gradients with "
    "its own optimizer)": {"swap_optimizers": True},
    "the saturating G loss log(1 - D(G(z))) instead of the non-saturating -log D(G(z))": {"g_saturating": True},
}
_TOY_VARIANTS = {
    "swapped labels in D's loss (real points against 0, generated ones against 1)":
        {"rule": "alternating", "d_swapped": True},
    "the saturating G loss log(1 - D(G(z))) instead of the non-saturating -log D(G(z)) (BCE of D(G(z)) against 1)":
        {"rule": "alternating", "g_saturating": True},
    "halving D's loss (the mean of its two BCE terms instead of their sum)": {"rule": "alternating", "d_scale": 0.5},
    "swapping the two optimizers (G updated by d_optimizer, D by g_optimizer: apply each network's gradients with "
    "its own optimizer)": {"rule": "alternating", "swap_optimizers": True},
}
STEP_VARIANTS = {"train_step": {**_COMMON_VARIANTS, **_STORY1_VARIANTS},
                 "toy_step": {**_COMMON_VARIANTS, **_TOY_VARIANTS}}
STEP_RULES = {"train_step": "story1", "toy_step": "alternating"}
# The toy's D gets its output weights scaled until its logits reach +-LOGIT_REACH on both batches, where BCE
# computed as log(sigmoid(x)) in float32 overflows (log(1 - sigmoid(x)) is -inf from x of about 17 on, and
# log(sigmoid(x)) from about -104 down): the check then tells such a step from one computing BCE from logits.
LOGIT_REACH = 130.0


def _image_data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """8 real 8x8 images in (-1, 1) and 8 noise vectors of 4."""
    rng = np.random.default_rng(seed)
    return _f32(np.tanh(rng.standard_normal((8, 8, 8, 1)))), _f32(rng.standard_normal((8, 4)))


def _toy_data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """16 points of a ring of 8 Gaussians (radius 2) and 16 noise vectors of 2."""
    rng = np.random.default_rng(seed)
    angles = 2 * np.pi * rng.integers(0, 8, 16) / 8
    real = 2.0 * np.stack([np.cos(angles), np.sin(angles)], 1) + 0.05 * rng.standard_normal((16, 2))
    return _f32(real), _f32(rng.standard_normal((16, 2)))


def _bce_d(real_logits: Any, fake_logits: Any) -> Any:
    import tensorflow as tf

    return tf.reduce_mean(tf.nn.softplus(-real_logits)) + tf.reduce_mean(tf.nn.softplus(fake_logits))


def _bce_g(fake_logits: Any, saturating: bool = False) -> Any:
    """The non-saturating ``-log D(G(z))``, or the saturating ``log(1 - D(G(z)))``, from logits."""
    import tensorflow as tf

    return -tf.reduce_mean(tf.nn.softplus(fake_logits)) if saturating else tf.reduce_mean(tf.nn.softplus(-fake_logits))


def _d_loss(real_logits: Any, fake_logits: Any, k: Mapping[str, Any]) -> Any:
    loss = _bce_d(fake_logits, real_logits) if k["d_swapped"] else _bce_d(real_logits, fake_logits)
    return k["d_scale"] * loss


def _sgd(grads: list, variables: list, learning_rate: float) -> None:
    for grad, var in zip(grads, variables):
        if grad is not None:
            var.assign_sub(learning_rate * grad)


def _rates(k: Mapping[str, Any]) -> tuple[float, float]:
    """G's and D's learning rates (swapped when the optimizers are)."""
    return (D_LEARNING_RATE, G_LEARNING_RATE) if k["swap_optimizers"] else (G_LEARNING_RATE, D_LEARNING_RATE)


def _judge(d: Any, real: Any, fake: Any, k: Mapping[str, Any]) -> tuple[Any, Any]:
    """D's logits on the real and on the generated batch: two calls (real first), or one on the two joined."""
    import tensorflow as tf

    if k["joined"]:
        logits = d(tf.concat([real, fake], 0), training=k["d_real_training"])
        return logits[: len(real)], logits[len(real):]
    return d(real, training=k["d_real_training"]), d(fake, training=k["d_fake_training"])


def _alternating(g: Any, d: Any, real: Any, noise: Any, k: Mapping[str, Any]) -> dict[str, float]:
    """D's loss and SGD update, then G's loss through the updated D from the same noise, and G's update."""
    import tensorflow as tf

    g_rate, d_rate = _rates(k)
    with tf.GradientTape() as tape:
        real_logits, fake_logits = _judge(d, real, g(noise, training=k["g_training"]), k)
        d_loss = _d_loss(real_logits, fake_logits, k)
    _sgd(tape.gradient(d_loss, d.trainable_variables), d.trainable_variables, d_rate)
    with tf.GradientTape() as tape:
        g_loss = _bce_g(d(g(noise, training=k["g_training"]), training=k["d_fake_training"]), k["g_saturating"])
    _sgd(tape.gradient(g_loss, g.trainable_variables), g.trainable_variables, g_rate)
    return {"g_loss": float(g_loss), "d_loss": float(d_loss)}


def _one_pass(g: Any, d: Any, real: Any, noise: Any, k: Mapping[str, Any]) -> dict[str, float]:
    """Both losses from one forward pass; each network follows the gradient ``k["targets"]`` gives it (the
    one-pass rule: its own loss's), with SGD."""
    import tensorflow as tf

    g_rate, d_rate = _rates(k)
    with tf.GradientTape(persistent=True) as tape:
        real_logits, fake_logits = _judge(d, real, g(noise, training=k["g_training"]), k)
        g_loss, d_loss = _bce_g(fake_logits, k["g_saturating"]), _d_loss(real_logits, fake_logits, k)
        both = g_loss + d_loss
    g_target, d_target = {"own": (g_loss, d_loss), "one_loss": (both, both), "swapped": (d_loss, g_loss)}[k["targets"]]
    _sgd(tape.gradient(g_target, g.trainable_variables), g.trainable_variables, g_rate)
    _sgd(tape.gradient(d_target, d.trainable_variables), d.trainable_variables, d_rate)
    return {"g_loss": float(g_loss), "d_loss": float(d_loss),
            "d_real_prob": float(tf.reduce_mean(tf.sigmoid(real_logits))),
            "d_fake_prob": float(tf.reduce_mean(tf.sigmoid(fake_logits)))}


def _reference_step(check_name: str, knobs: Mapping[str, Any], start: Mapping[str, list],
                    real: np.ndarray, noise: np.ndarray) -> dict[str, Any]:
    """One step of the variant ``knobs`` (over :data:`_RIGHT`) in float64 from the weights ``start``: the
    weights after it and the losses."""
    from ..checks.steps import NETWORKS

    k = {**_RIGHT, **knobs}
    g, d = NETWORKS[check_name]("float64")
    g.set_weights(start["generator"])
    d.set_weights(start["discriminator"])
    logs = (_alternating if k["rule"] == "alternating" else _one_pass)(g, d, real, noise, k)
    return {"generator": g.get_weights(), "discriminator": d.get_weights(), **logs}


def _reach_logits(g: Any, d: Any, noise: np.ndarray) -> None:
    """Scale D's output kernel and set its bias so that its logits on the generated batch run from -LOGIT_REACH
    to +LOGIT_REACH (a linear map of the logits Keras' initialisation gives)."""
    weights = d.get_weights()
    centred = np.asarray(d(g(noise, training=True), training=True), np.float64).reshape(-1) - weights[-1][0]
    scale = 2 * LOGIT_REACH / (centred.max() - centred.min())  # the kernel's part of the logits scales with it
    weights[-2] = weights[-2] * scale
    weights[-1] = np.full_like(weights[-1], -LOGIT_REACH - scale * centred.min())
    d.set_weights(weights)


def _step(check_name: str, data: Callable[[int], tuple[np.ndarray, np.ndarray]], seed: int) -> list[Case]:
    """Starting weights (Keras' initialisation, seeded; the toy's D with large logits), data, and the weights after
    one step of the check's rule and of each known wrong variant."""
    import keras

    from ..checks.steps import NETWORKS

    keras.utils.set_random_seed(seed)
    g, d = NETWORKS[check_name]("float32")
    real, noise = data(seed)
    if check_name == "toy_step":
        _reach_logits(g, d, noise)
    start = {"generator": [_f32(w) for w in g.get_weights()],
             "discriminator": [_f32(w) for w in d.get_weights()]}
    inputs = {**start, "trainable": {"generator": [w.trainable for w in g.weights],
                                     "discriminator": [w.trainable for w in d.weights]},
              "real": real, "noise": noise, "g_learning_rate": G_LEARNING_RATE, "d_learning_rate": D_LEARNING_RATE}
    expected = _reference_step(check_name, {"rule": STEP_RULES[check_name]}, start, real, noise)
    nets = ("generator", "discriminator")
    weights: dict[str, dict[str, list]] = {}
    for meaning, knobs in STEP_VARIANTS[check_name].items():
        after = _reference_step(check_name, knobs, start, real, noise)
        # A variant that changes nothing on these networks (training= without BatchNorm) is no mistake here.
        if not any(all(_equal(after[net], other[net]) for net in nets) for other in (expected, *weights.values())):
            weights[meaning] = {net: after[net] for net in nets}
    return [_case(f"seed {seed}", inputs, expected, {"weights": weights})]


def _equal(a: list, b: list) -> bool:
    return all(np.allclose(x, y, rtol=1e-10, atol=1e-12) for x, y in zip(a, b))


def _train_step(seed: int) -> list[Case]:
    """The one-pass rule (the TF DCGAN tutorial's) on the tiny image networks."""
    return _step("train_step", _image_data, seed)


def _toy_step(seed: int) -> list[Case]:
    """The alternating rule on the toy's MLPs, D's logits large."""
    return _step("toy_step", _toy_data, seed)


_BUILDERS: dict[str, Callable[[Any], list[Case]]] = {
    "gan_losses": _gan_losses, "gradient_penalty": _gradient_penalty, "reparameterize": _reparameterize,
    "kl": _kl, "fid": _fid, "kid": kid_cases, "conditional_input": _conditional_input, "train_step": _train_step,
    "toy_step": _toy_step, "equal_steps": equal_steps_cases,
    "prepare_image": prepare_image_cases, "projection": projection_cases,
}
_SEEDLESS = frozenset({"reparameterize", "kl"})
_SEED_OPTIONAL = frozenset({"gan_losses"})
