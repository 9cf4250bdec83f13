"""What the checks' tests share: correct and wrong answers, the cases, and the pass/reject helpers."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import linalg

import gan_kit.losses
import gan_kit.metrics
import gan_kit.models
import gan_kit.steps
import gan_kit.vae
from gan_kit import checks

KIT = "called the kit's own"


def assert_passes(capsys, check, *args, **kwargs):
    check(*args, **kwargs)
    out = capsys.readouterr().out
    assert any(line.startswith("passed") for line in out.splitlines()), out


def stub(*args, **kwargs):
    raise NotImplementedError("write this exercise")


def rejected(check, *args, match: str, **kwargs) -> str:
    with pytest.raises(checks.CheckFailed, match=match) as info:
        check(*args, **kwargs)
    return str(info.value)


# ================================================================= check_gan_losses
def _bce(labels, logits):
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)


def d_loss(real, fake):
    return tf.reduce_mean(_bce(tf.ones_like(real), real)) + tf.reduce_mean(_bce(tf.zeros_like(fake), fake))


def g_loss(fake):
    return tf.reduce_mean(_bce(tf.ones_like(fake), fake))


_keras_bce = keras.losses.BinaryCrossentropy(from_logits=True)


def d_loss_keras(real, fake):
    return _keras_bce(tf.ones_like(real), real) + _keras_bce(tf.zeros_like(fake), fake)


def g_loss_keras(fake):
    return _keras_bce(tf.ones_like(fake), fake)


_probs_bce = keras.losses.BinaryCrossentropy()  # expects probabilities: clips them to [1e-7, 1 - 1e-7]


WRONG_D = {
    "sum over the batch": (
        lambda r, f: tf.reduce_sum(_bce(tf.ones_like(r), r)) + tf.reduce_sum(_bce(tf.zeros_like(f), f)),
        "summing over the batch instead of averaging"),
    "swapped labels": (lambda r, f: d_loss(-r, -f), r"swapped labels \(real against 0, fake against 1\)"),
    "averaging the two terms": (lambda r, f: 0.5 * d_loss(r, f), r"averaging the two terms"),
    "sigmoid then a from-logits loss": (lambda r, f: d_loss(tf.sigmoid(r), tf.sigmoid(f)),
                                        "a sigmoid applied before a loss that takes logits"),
    "naive -log(sigmoid(x))": (
        lambda r, f: -tf.reduce_mean(tf.math.log(tf.sigmoid(r))) - tf.reduce_mean(tf.math.log(1.0 - tf.sigmoid(f))),
        r"(?s)on confident logits.*NaN or infinite.*log of a sigmoid overflows.*from the logits"),
    "keras BCE on sigmoid probabilities": (lambda r, f: _probs_bce(tf.ones_like(r), tf.sigmoid(r))
                                           + _probs_bce(tf.zeros_like(f), tf.sigmoid(f)),
                                           r"on confident logits.*sigmoid_cross_entropy_with_logits"),
    "only the real term": (lambda r, f: tf.reduce_mean(_bce(tf.ones_like(r), r)), "only the real term"),
}


WRONG_G = {
    "saturating log(1 - D(G(z)))": (lambda f: -tf.reduce_mean(_bce(tf.zeros_like(f), f)),
                                    r"non-saturating.*the saturating loss log\(1 - D\(G\(z\)\)\)"),
    "label 0 for G (saturating, sign flipped)": (lambda f: tf.reduce_mean(_bce(tf.zeros_like(f), f)),
                                                 "saturating loss with the sign flipped"),
    "sum over the batch": (lambda f: tf.reduce_sum(_bce(tf.ones_like(f), f)), "summing over the batch"),
    "sigmoid then a from-logits loss": (lambda f: g_loss(tf.sigmoid(f)), "a sigmoid applied before a loss"),
    "naive -log(sigmoid(x))": (lambda f: -tf.reduce_mean(tf.math.log(tf.sigmoid(f))),
                               r"(?s)on saturated logits \(\+-120\).*log of a sigmoid overflows"),
    "the kit's minimax loss": (gan_kit.losses.minimax_generator_loss, KIT),
}


# ================================================================= check_gradient_penalty
def _interpolate(real, fake, alpha):
    if alpha is None:
        alpha = tf.random.uniform([tf.shape(real)[0]])
    return real + tf.reshape(alpha, [-1, 1, 1, 1]) * (fake - real)


def _input_gradients(critic, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = critic(x)
    return tf.reshape(tape.gradient(out, x), [tf.shape(x)[0], -1])


def gradient_penalty(critic, real, fake, alpha=None):
    grads = _input_gradients(critic, _interpolate(real, fake, alpha))
    norms = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=1) + 1e-12)
    return tf.reduce_mean(tf.square(norms - 1.0))


def _gp_with(mix=_interpolate, norm=lambda g: tf.sqrt(tf.reduce_sum(tf.square(g), axis=1) + 1e-12),
             reduce=lambda n: tf.reduce_mean(tf.square(n - 1.0))):
    def wrong_penalty(critic, real, fake, alpha=None):
        return reduce(norm(_input_gradients(critic, mix(real, fake, alpha))))
    return wrong_penalty


def _gp_axis_norm(critic, real, fake, alpha=None):  # the norm over the channel axis only (per pixel)
    x = _interpolate(real, fake, alpha)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = critic(x)
    norms = tf.sqrt(tf.reduce_sum(tf.square(tape.gradient(out, x)), axis=-1) + 1e-12)
    return tf.reduce_mean(tf.square(norms - 1.0))


WRONG_GP = {
    "x_hat = real": (_gp_with(mix=lambda r, f, a: r), r"x_hat = real \(no interpolation\)"),
    "alpha on the wrong side": (_gp_with(mix=lambda r, f, a: f + tf.reshape(a, [-1, 1, 1, 1]) * (r - f)),
                                "alpha on the wrong side"),
    "ignoring the given alpha": (_gp_with(mix=lambda r, f, a: _interpolate(r, f, None)), "alpha as given"),
    "tf.norm (no epsilon)": (_gp_with(norm=lambda g: tf.norm(g, axis=1)),
                             r"(?s)not a finite number.*sqrt\(sum\(g\^2\) \+ 1e-12\) instead of tf\.norm"),
    "sqrt without epsilon": (_gp_with(norm=lambda g: tf.sqrt(tf.reduce_sum(tf.square(g), axis=1))),
                             r"derivative of sqrt at 0 is infinite"),
    "epsilon outside the sqrt": (_gp_with(norm=lambda g: tf.sqrt(tf.reduce_sum(tf.square(g), axis=1)) + 1e-12),
                                 r"1e-12"),
    "(mean(norm) - 1)^2": (_gp_with(reduce=lambda n: tf.square(tf.reduce_mean(n) - 1.0)),
                           r"\(mean norm - 1\)\^2 instead of mean\(\(norm - 1\)\^2\)"),
    "the squared norm": (_gp_with(norm=lambda g: tf.reduce_sum(tf.square(g), axis=1)),
                         "the squared norm instead of the norm"),
    "norm per pixel, not per example": (_gp_axis_norm, "the norm per example"),
}


# ================================================================= check_reparameterize
def reparameterize(mean, log_var, eps):
    return mean + tf.exp(0.5 * log_var) * eps


WRONG_REPARAMETERIZE = {
    "exp(log_var)": (lambda m, lv, e: m + tf.exp(lv) * e,
                     r"(?s)exp\(log_var / 2\).*exp\(log_var\) \* eps \(the variance, not the standard deviation\)"),
    "fresh noise instead of eps": (lambda m, lv, e: m + tf.exp(0.5 * lv) * tf.random.normal(tf.shape(m)),
                                   "use the eps given"),
    "log_var * eps": (lambda m, lv, e: m + lv * e, r"what log_var \* eps gives"),
    "sqrt(log_var)": (lambda m, lv, e: m + tf.sqrt(lv) * e, r"(?s)NaN or infinite.*exp\(log_var / 2\)"),
    "no mean": (lambda m, lv, e: tf.exp(0.5 * lv) * e, r"exp\(log_var / 2\)"),
}


# ================================================================= check_kl
def kl_divergence(mean, log_var):
    return 0.5 * tf.reduce_sum(tf.square(mean) + tf.exp(log_var) - 1.0 - log_var, axis=-1)


WRONG_KL = {
    "mean over the latent axis": (lambda m, lv: 0.5 * tf.reduce_mean(tf.square(m) + tf.exp(lv) - 1.0 - lv, axis=-1),
                                  "the mean over the latent axis instead of the sum"),
    "missing 1/2": (lambda m, lv: tf.reduce_sum(tf.square(m) + tf.exp(lv) - 1.0 - lv, axis=-1),
                    "leaving out the factor 1/2"),
    "exp(log_var / 2) for the variance": (
        lambda m, lv: 0.5 * tf.reduce_sum(tf.square(m) + tf.exp(lv / 2) - 1.0 - lv, axis=-1),
        r"exp\(log_var / 2\) \(the standard deviation\) for the variance"),
    "log(exp(log_var))": (
        lambda m, lv: 0.5 * tf.reduce_sum(tf.square(m) + tf.exp(lv) - 1.0 - tf.math.log(tf.exp(lv)), axis=-1),
        r"(?s)NaN or infinite.*not log\(exp\(log_var\)\)"),
    "summed over the batch too (one number)": (
        lambda m, lv: 0.5 * tf.reduce_sum(tf.square(m) + tf.exp(lv) - 1.0 - lv),
        r"returned one number.*sum over the latent axis only \(axis=-1\)"),
    "averaged over the batch (one number)": (lambda m, lv: tf.reduce_mean(kl_divergence(m, lv)), "returned one number"),
    "the sign flipped": (lambda m, lv: 0.5 * tf.reduce_sum(1.0 + lv - tf.square(m) - tf.exp(lv), axis=-1),
                         "the negative of the KL"),
}


# ================================================================= check_fid
def fid_from_features(a, b):
    mu1, mu2 = a.mean(axis=0), b.mean(axis=0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def _fid_with(cov=lambda x: np.cov(x, rowvar=False), root=lambda s1, s2: linalg.sqrtm(s1 @ s2).real, two=2.0):
    def wrong_fid(a, b):
        s1, s2 = cov(a), cov(b)
        return np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(s1 + s2) - two * np.trace(root(s1, s2))
    return wrong_fid


WRONG_FID = {
    "ddof=0": (_fid_with(cov=lambda x: np.cov(x, rowvar=False, ddof=0)), r"ddof=0 covariances"),
    "biased covariance by hand": (_fid_with(cov=lambda x: (x - x.mean(0)).T @ (x - x.mean(0)) / len(x)),
                                  r"ddof=0 covariances"),
    "np.sqrt(s1 * s2)": (_fid_with(root=lambda s1, s2: np.sqrt(np.abs(s1 * s2))),
                         r"an elementwise square root \(np\.sqrt\)"),
    "np.sqrt(s1 @ s2)": (_fid_with(root=lambda s1, s2: np.sqrt(np.abs(s1 @ s2))),
                         r"an elementwise square root of S1 S2 \(np\.sqrt\(S1 @ S2\)\)"),
    "missing the factor 2": (_fid_with(two=1.0), "leaving out the factor 2"),
    "rowvar=True (wrong axis)": (_fid_with(cov=np.cov), r"np\.cov\(\.\.\., rowvar=False\)"),
    "only the means": (lambda a, b: np.sum((a.mean(0) - b.mean(0)) ** 2), "only the distance between the means"),
}


# ================================================================= check_conditional_input
def conditional_input(z, labels, num_classes):
    return tf.concat([z, tf.one_hot(labels, num_classes)], axis=-1)


WRONG_CONDITIONAL = {
    "raw label appended": (lambda z, y, k: tf.concat([z, tf.cast(y[:, None], tf.float32)], -1),
                           r"appended as one number.*tf\.one_hot\(labels, num_classes\)"),
    "one-hot first": (lambda z, y, k: tf.concat([tf.one_hot(y, k), z], -1), "the one-hot label comes first"),
    "num_classes + 1": (lambda z, y, k: tf.concat([z, tf.one_hot(y, k + 1)], -1),
                        r"expected 14 columns .*got 15.*use the num_classes argument"),
    "num_classes - 1": (lambda z, y, k: tf.concat([z, tf.one_hot(y, k - 1)], -1), r"expected 14 columns .*got 13"),
    "label scaled instead of one-hot": (lambda z, y, k: tf.concat([z, tf.cast(y[:, None], tf.float32) / k], -1),
                                        "appended as one number"),
}


# ================================================================= check_train_step (story 1's rule)
def make_train_step(generator, discriminator, g_optimizer, d_optimizer):
    cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)

    @tf.function
    def train_step(real_images, noise):
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake_images = generator(noise, training=True)
            real_logits = discriminator(real_images, training=True)
            fake_logits = discriminator(fake_images, training=True)
            g_loss = cross_entropy(tf.ones_like(fake_logits), fake_logits)
            d_loss = (cross_entropy(tf.ones_like(real_logits), real_logits)
                      + cross_entropy(tf.zeros_like(fake_logits), fake_logits))
        g_grads = g_tape.gradient(g_loss, generator.trainable_variables)
        d_grads = d_tape.gradient(d_loss, discriminator.trainable_variables)
        g_optimizer.apply_gradients(zip(g_grads, generator.trainable_variables))
        d_optimizer.apply_gradients(zip(d_grads, discriminator.trainable_variables))
        return {"g_loss": g_loss, "d_loss": d_loss}

    return train_step


def make_alternating_step(generator, discriminator, g_optimizer, d_optimizer):
    def step(real, noise):
        with tf.GradientTape() as tape:
            fake_logits = discriminator(generator(noise, training=True), training=True)
            real_logits = discriminator(real, training=True)
            d_value = d_loss(real_logits, fake_logits)
        grads = tape.gradient(d_value, discriminator.trainable_variables)
        d_optimizer.apply_gradients(zip(grads, discriminator.trainable_variables))
        with tf.GradientTape() as tape:
            g_value = g_loss(discriminator(generator(noise, training=True), training=True))
        grads = tape.gradient(g_value, generator.trainable_variables)
        g_optimizer.apply_gradients(zip(grads, generator.trainable_variables))
        return {"g_loss": g_value, "d_loss": d_value}

    return step


def _step_with(rule="story1", training=True, apply_g=True, apply_d=True, decorate=True, returns="dict",
               swap_optimizers=False, new_noise=False, fake_first=False, losses=(d_loss, g_loss), g_training=None,
               d_real_training=None, d_fake_training=None, joined=False, swap_d_args=False, own_noise=False,
               mix_up=None):
    """A step factory with one mistake (or none: the defaults are story 1's rule). ``new_noise``: G's update (of
    the alternating rule) draws fresh noise; ``own_noise``: the step ignores its noise argument and draws its
    own; ``mix_up``: "g_grads_to_d" (G's gradients given to D's optimizer with D's variables) or "d_grads_to_g"
    (D's gradients zipped with G's variables)."""
    d_fn, g_fn = losses
    g_training = training if g_training is None else g_training
    d_real_training = training if d_real_training is None else d_real_training
    d_fake_training = training if d_fake_training is None else d_fake_training

    def make_step(generator, discriminator, g_optimizer, d_optimizer):
        g_opt, d_opt = (d_optimizer, g_optimizer) if swap_optimizers else (g_optimizer, d_optimizer)
        g_vars, d_vars = generator.trainable_variables, discriminator.trainable_variables

        def judge(real, fake_images):
            if joined:
                logits = discriminator(tf.concat([real, fake_images], 0), training=d_real_training)
                return logits[: tf.shape(real)[0]], logits[tf.shape(real)[0]:]
            if fake_first:
                fake_logits = discriminator(fake_images, training=d_fake_training)
                return discriminator(real, training=d_real_training), fake_logits
            return discriminator(real, training=d_real_training), discriminator(fake_images, training=d_fake_training)

        def d_value(real_logits, fake_logits):
            return d_fn(fake_logits, real_logits) if swap_d_args else d_fn(real_logits, fake_logits)

        def step(real, noise):
            if own_noise:
                noise = tf.random.normal(tf.shape(noise))
            if rule == "alternating":
                with tf.GradientTape() as tape:
                    real_logits, fake_logits = judge(real, generator(noise, training=g_training))
                    d_loss_value = d_value(real_logits, fake_logits)
                if apply_d:
                    d_opt.apply_gradients(zip(tape.gradient(d_loss_value, d_vars), d_vars))
                g_noise = tf.random.normal(tf.shape(noise)) if new_noise else noise
                with tf.GradientTape() as tape:
                    g_loss_value = g_fn(discriminator(generator(g_noise, training=g_training),
                                                      training=d_fake_training))
                if apply_g:
                    g_opt.apply_gradients(zip(tape.gradient(g_loss_value, g_vars), g_vars))
            else:
                with tf.GradientTape(persistent=True) as tape:
                    real_logits, fake_logits = judge(real, generator(noise, training=g_training))
                    g_loss_value, d_loss_value = g_fn(fake_logits), d_value(real_logits, fake_logits)
                    both = g_loss_value + d_loss_value
                g_target, d_target = {"story1": (g_loss_value, d_loss_value),
                                      "swapped": (d_loss_value, g_loss_value),
                                      "one_loss": (both, both)}[rule]
                g_grads, d_grads = tape.gradient(g_target, g_vars), tape.gradient(d_target, d_vars)
                if mix_up == "g_grads_to_d":
                    d_grads = g_grads
                if mix_up == "d_grads_to_g":
                    g_grads = d_grads
                if apply_g:
                    g_opt.apply_gradients(zip(g_grads, g_vars))
                if apply_d:
                    d_opt.apply_gradients(zip(d_grads, d_vars))
            if returns == "tuple":
                return g_loss_value, d_loss_value
            return {"g_loss": g_loss_value, "d_loss": d_loss_value}

        return tf.function(step) if decorate else step

    return make_step


WRONG_TRAIN_STEP = {
    "swapped gradients": (_step_with(rule="swapped"), "swapped gradients: D followed G's loss"),
    "one loss (g_loss + d_loss) for both": (_step_with(rule="one_loss"), r"one loss \(g_loss \+ d_loss\)"),
    "the alternating rule": (_step_with(rule="alternating"),
                             r"(?s)differs from story 1's rule.*what the alternating rule \(G's loss through the "
                             r"already updated D\) gives"),
    "no training=True": (_step_with(training=False), r"called without training=True"),
    "forgot G's update": (_step_with(apply_g=False), r"update of the generator's weights differs"),
    "forgot D's update": (_step_with(apply_d=False), r"update of the discriminator's weights differs"),
    "not a tf.function": (_step_with(decorate=False), r"@tf\.function"),
    "returns a tuple": (_step_with(returns="tuple"), r"must return a dict with at least 'g_loss' and 'd_loss'"),
    "saturating G loss inside": (_step_with(losses=(d_loss, WRONG_G["saturating log(1 - D(G(z)))"][0])),
                                 r"the generator's weights differs from story 1's rule"),
}


WRONG_TOY_STEP = {
    "story 1's rule": (_step_with(decorate=False),
                       r"(?s)differs from the alternating rule.*what story 1's rule \(both losses from one forward "
                       r"pass, before either update\) gives"),
    "forgot D's update": (_step_with(rule="alternating", apply_d=False), r"D's weights did not change"),
    "forgot G's update": (_step_with(rule="alternating", apply_g=False), r"G's weights did not change"),
    "new noise for G's step": (_step_with(rule="alternating", new_noise=True),
                               r"the generator's weights differs from the alternating rule.*G's update drew fresh "
                               r"noise"),
    "returns a tuple": (_step_with(rule="alternating", returns="tuple"), r"must return a dict"),
}


# ================================================================= stored expected values (gan_kit.checks.fixtures)
CHECK_CASES = {  # check -> (check, a correct answer's args, a wrong answer's args, what the wrong one's message names)
    "gan_losses": (checks.check_gan_losses, (d_loss, g_loss), (WRONG_D["swapped labels"][0], g_loss),
                   r"swapped labels \(real against 0"),
    "gradient_penalty": (checks.check_gradient_penalty, (gradient_penalty,), (WRONG_GP["the squared norm"][0],),
                         "the squared norm instead of the norm"),
    "reparameterize": (checks.check_reparameterize, (reparameterize,), (WRONG_REPARAMETERIZE["log_var * eps"][0],),
                       r"what log_var \* eps gives"),
    "kl": (checks.check_kl, (kl_divergence,), (WRONG_KL["missing 1/2"][0],), "leaving out the factor 1/2"),
    "fid": (checks.check_fid, (fid_from_features,), (WRONG_FID["ddof=0"][0],), "ddof=0 covariances"),
    "conditional_input": (checks.check_conditional_input, (conditional_input,),
                          (WRONG_CONDITIONAL["one-hot first"][0],), "the one-hot label comes first"),
    "train_step": (checks.check_train_step, (make_train_step,), (WRONG_TRAIN_STEP["swapped gradients"][0],),
                   "swapped gradients: D followed G's loss"),
    "toy_step": (checks.check_toy_step, (make_alternating_step,), (WRONG_TOY_STEP["story 1's rule"][0],),
                 r"what story 1's rule \(both losses"),
}
