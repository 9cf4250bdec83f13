"""The GAN as a keras.Model with its own train_step, and the builder that compiles one from a config.

``GAN`` owns G, D, the latent size and its own seed generator; ``compile`` takes the two
optimizers, a loss name from ``gan_kit.losses`` and the stabilization switches; ``train_step``
is a short D step and a short G step. ``gan_kit.conditional.ConditionalGAN`` overrides three
hooks of it to pass labels on. ``gan_kit.train`` runs it through the kit's run lifecycle.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from . import exercises
from .augment import diff_augment, parse_policy
from .config import OPTIMIZERS, Config, check_label_tricks, check_range
from .losses import feature_matching_loss, get_losses, gradient_penalty
from .models import build_models, precision

HISTORY_COLUMNS = ["g_loss", "d_loss", "d_real_prob", "d_fake_prob", "epoch_time"]

__all__ = ["GAN", "HISTORY_COLUMNS", "build_gan", "compile_gan", "config_optimizers", "make_optimizer"]


class GAN(keras.Model):
    """A generator and a discriminator trained against each other by ``fit()``.

    Each ``train_step`` makes ``n_critic`` discriminator updates on the real batch, then
    ``g_steps`` generator updates. With ``reuse_fakes`` (the default) the last D update and
    the first G update share one generated batch, so G runs forward once for both; every
    other update draws fresh noise. Losses come from
    ``gan_kit.losses`` by name. The step reports ``g_loss``, ``d_loss`` and the mean
    probabilities D gives real (``d_real_prob``) and generated (``d_fake_prob``)
    images (sigmoid of D's output, also for hinge and Wasserstein critics),
    averaged over the epoch, plus ``gp`` and ``fm`` when those terms are on.

    Example:
        >>> gan = GAN(build_generator(), build_discriminator(), latent_dim=100)
        >>> gan.compile(keras.optimizers.Adam(1e-4, 0.5), keras.optimizers.Adam(1e-4, 0.5))
        >>> gan.fit(dataset, epochs=5)

    Args:
        generator: maps (batch, latent_dim) noise to images in [-1, 1].
        discriminator: maps images to logits of shape (batch, 1).
        latent_dim: size of the noise vector.
        seed: seed of the model's own random streams (noise, labels, penalties).
        ema: decay of an exponential moving average of G's weights used for sampling (0: off); warmed up
            as TensorFlow's ``ExponentialMovingAverage`` with ``num_updates``: the decay after t G updates is
            ``min(ema, (1 + t) / (10 + t))``, so the average does not lag behind G's first steps.
        feature_layer: name of D's layer whose output feature matching compares.
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        latent_dim: int,
        seed: int = 0,
        ema: float = 0.0,
        feature_layer: str = "features",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(latent_dim) < 1:
            raise ValueError(f"latent_dim must be >= 1. Received: latent_dim={latent_dim}.")
        check_range("ema", float(ema), "GAN argument")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.ema = float(ema)
        self.feature_layer = feature_layer
        self.ema_generator = None
        self.augment_policy: tuple[str, ...] = ()
        if self.ema > 0:
            self.ema_generator = keras.models.clone_model(generator)
            self.ema_generator.set_weights(generator.get_weights())
        self.instance_noise_std = keras.Variable(0.0, trainable=False, dtype="float32", name="instance_noise_std")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real_prob")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake_prob")
        self.gp_tracker = keras.metrics.Mean(name="gp")
        self.fm_tracker = keras.metrics.Mean(name="fm")
        self._features = None
        self.built = True  # G and D are built Sequential models; nothing is created lazily

    def compile(
        self,
        g_optimizer: keras.optimizers.Optimizer,
        d_optimizer: keras.optimizers.Optimizer,
        loss: str = "bce",
        label_smoothing: float = 0.0,
        label_noise: float = 0.0,
        label_flip: float = 0.0,
        gp_weight: float = 0.0,
        n_critic: int = 1,
        g_steps: int = 1,
        feature_matching: float = 0.0,
        reuse_fakes: bool = True,
        diffaugment: str = "",
        **kwargs: Any,
    ) -> None:
        """Set the optimizers, the loss family and the stabilization tricks of the step.

        Args:
            g_optimizer: optimizer for the generator.
            d_optimizer: optimizer for the discriminator.
            loss: a name registered in ``gan_kit.losses.LOSSES``.
            label_smoothing: one-sided smoothing in [0, 0.5): D's target for real images is ``1 - s``.
            label_noise: s in real = 1 + s*N(0,1), fake = 0 + s*N(0,1) (Gaussian label noise).
            label_flip: probability of swapping an example's real/fake target.
            gp_weight: weight of the gradient penalty on D (10 for WGAN-GP; 0 off).
            n_critic: D updates per train step.
            g_steps: G updates per train step.
            feature_matching: weight of the feature-matching term added to G's loss (0 off).
            reuse_fakes: the last D update and the first G update of a step share one generated
                batch (one G forward pass less per step, as PyTorch's DCGAN example does); False
                gives each update its own fresh noise.
            diffaugment: DiffAugment's transforms for every image D sees, e.g. ``"color,translation,cutout"``
                (``gan_kit.augment``; ``""`` off).
            **kwargs: passed to ``keras.Model.compile`` (e.g. ``jit_compile``, ``steps_per_execution``).

        Raises:
            ValueError: for an unknown loss or a value out of range.
        """
        super().compile(**kwargs)
        where = "GAN.compile argument"  # the config's own rules for these numbers (gan_kit.config)
        check_range("gradient_penalty", float(gp_weight), where, shown="gp_weight")
        check_range("feature_matching", float(feature_matching), where)
        check_range("n_critic", int(n_critic), where)
        check_range("g_steps", int(g_steps), where)
        pair = get_losses(loss)
        check_label_tricks(loss, pair.uses_labels, float(label_smoothing), float(label_noise), float(label_flip),
                           where)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        self.loss_name = loss
        self.g_loss_fn, self.d_loss_fn = pair.generator, pair.discriminator
        self.real_label = 1.0 - float(label_smoothing)
        self.label_noise = float(label_noise)
        self.label_flip = float(label_flip)
        self.gp_weight = float(gp_weight)
        self.n_critic = int(n_critic)
        self.g_steps = int(g_steps)
        self.feature_matching = float(feature_matching)
        self.reuse_fakes = bool(reuse_fakes)
        self.augment_policy = parse_policy(diffaugment)
        if self.feature_matching > 0:
            try:
                layer = self.discriminator.get_layer(self.feature_layer)
            except ValueError:
                raise ValueError(
                    f"Feature matching needs a layer named {self.feature_layer!r} in the discriminator."
                ) from None
            self._features = keras.Model(self.discriminator.inputs, layer.output, name="d_features")

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        tracked = [self.g_loss_tracker, self.d_loss_tracker, self.d_real_tracker, self.d_fake_tracker]
        if getattr(self, "gp_weight", 0) > 0:
            tracked.append(self.gp_tracker)
        if getattr(self, "feature_matching", 0) > 0:
            tracked.append(self.fm_tracker)
        return tracked

    @property
    def sampler(self) -> keras.Model:
        """The generator used for samples: the EMA copy when ``ema`` is on, else G itself."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def call(self, z, training: bool = False):
        """Generated images for the noise ``z``."""
        return self.generator(z, training=training)

    def sample_noise(self, batch_size) -> tf.Tensor:
        """Standard normal noise of shape (batch_size, latent_dim) from the model's seed generator."""
        return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)

    def _noisy(self, images: tf.Tensor) -> tf.Tensor:
        """What D sees of a batch: DiffAugment's transforms (when on), then instance noise of the current std."""
        if self.augment_policy:
            images = diff_augment(images, self.augment_policy, self.seed_generator)
        std = tf.cast(self.instance_noise_std, images.dtype)
        noise = keras.random.normal(tf.shape(images), seed=self.seed_generator, dtype=images.dtype)
        return images + std * noise

    @staticmethod
    def _for_gradients(optimizer, loss: tf.Tensor) -> tf.Tensor:
        """The loss to differentiate: divided by the replica count (gradients are summed across replicas,
        so the update matches one device on the global batch) and scaled for mixed precision."""
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas > 1:
            loss = loss / tf.cast(replicas, loss.dtype)
        return optimizer.scale_loss(loss)

    def _labels(self, batch) -> tuple[tf.Tensor, tf.Tensor]:
        real = tf.fill([batch], tf.constant(self.real_label, tf.float32))
        fake = tf.zeros([batch], tf.float32)
        if self.label_noise > 0:
            real += self.label_noise * keras.random.normal([batch], seed=self.seed_generator)
            fake += self.label_noise * keras.random.normal([batch], seed=self.seed_generator)
        if self.label_flip > 0:
            flip = keras.random.uniform([batch], seed=self.seed_generator) < self.label_flip
            real, fake = tf.where(flip, fake, real), tf.where(flip, real, fake)
        return real, fake

    # The three hooks a conditional GAN overrides to pass the labels on (gan_kit.conditional).
    def _generate(self, z: tf.Tensor, labels: tf.Tensor | None = None) -> tf.Tensor:
        """G's images for the noise ``z`` in training mode."""
        return self.generator(z, training=True)

    def _discriminate(self, images: tf.Tensor, labels: tf.Tensor | None = None):
        """D's real/fake logits in training mode, and its class logits (None: D has no class head)."""
        return self.discriminator(images, training=True), None

    def _class_terms(self, labels, class_logits, side: str) -> tuple[Any, dict[str, tf.Tensor]]:
        """The weighted class loss to add to ``side``'s ("d" or "g") loss and its logs; none without a class head."""
        return 0.0, {}

    def discriminator_step(self, real: tf.Tensor, labels: tf.Tensor | None = None,
                           fake: tf.Tensor | None = None) -> dict[str, tf.Tensor]:
        """One update of D on a real batch and a generated batch of the same size.

        ``fake`` is a batch G already made this step (``reuse_fakes``); without it G makes one from fresh noise.
        """
        batch = tf.shape(real)[0]
        if fake is None:
            fake = self._generate(self.sample_noise(batch), labels)
        real_in, fake_in = self._noisy(real), self._noisy(tf.cast(fake, real.dtype))
        real_labels, fake_labels = self._labels(batch)
        out = {}
        with tf.GradientTape() as tape:
            real_logits, real_classes = self._discriminate(real_in, labels)
            fake_logits, _ = self._discriminate(fake_in, labels)
            d_loss = self.d_loss_fn(real_logits, fake_logits, real_labels, fake_labels)
            if self.gp_weight > 0:
                alpha = keras.random.uniform([batch], seed=self.seed_generator)
                penalty = exercises.answer("gradient_penalty") or gradient_penalty
                gp = penalty(lambda x, training=True: self._discriminate(x, labels)[0], real_in, fake_in, alpha)
                d_loss += self.gp_weight * gp
                out["gp"] = gp
            extra, logs = self._class_terms(labels, real_classes, "d")
            d_loss += extra
            out.update(logs)
            scaled = self._for_gradients(self.d_optimizer, d_loss)
        grads = tape.gradient(scaled, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
        out.update(
            d_loss=d_loss,
            d_real_prob=tf.reduce_mean(tf.sigmoid(tf.cast(real_logits, tf.float32))),
            d_fake_prob=tf.reduce_mean(tf.sigmoid(tf.cast(fake_logits, tf.float32))),
        )
        return out

    def generator_step(self, real: tf.Tensor, labels: tf.Tensor | None = None, fake: tf.Tensor | None = None,
                       tape: tf.GradientTape | None = None) -> dict[str, tf.Tensor]:
        """One update of G: make D call its images real (plus feature matching when on).

        Without ``fake`` G makes a batch from fresh noise. With ``fake`` (``reuse_fakes``) it
        takes the batch of this step's D update, which ``tape`` recorded G making, so G's
        forward pass is not run twice; D judges it with its just-updated weights either way.
        """
        if fake is None:
            fake, tape = self._recorded_fake(real, labels)
        out = {}
        with tape:  # re-entering the tape goes on recording where it stopped
            fake = self._noisy(tf.cast(fake, real.dtype))
            fake_logits, fake_classes = self._discriminate(fake, labels)
            g_loss = self.g_loss_fn(fake_logits)
            extra, logs = self._class_terms(labels, fake_classes, "g")
            g_loss += extra
            out.update(logs)
            if self.feature_matching > 0:
                fm = feature_matching_loss(self._features(self._noisy(real), training=True),
                                           self._features(fake, training=True))
                g_loss += self.feature_matching * fm
                out["fm"] = fm
            scaled = self._for_gradients(self.g_optimizer, g_loss)
        grads = tape.gradient(scaled, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        if self.ema_generator is not None:  # warmed up: decay min(ema, (1 + t) / (10 + t)) after t G updates
            t = tf.cast(self.g_optimizer.iterations, tf.float32)
            decay = tf.minimum(self.ema, (1.0 + t) / (10.0 + t))
            for avg, w in zip(self.ema_generator.weights, self.generator.weights):
                avg.assign(tf.cast(decay, avg.dtype) * avg + tf.cast(1.0 - decay, avg.dtype) * tf.cast(w, avg.dtype))
        out["g_loss"] = g_loss
        return out

    def _recorded_fake(self, real: tf.Tensor, labels: tf.Tensor | None) -> tuple[tf.Tensor, tf.GradientTape]:
        """A batch G makes from fresh noise (as many images as ``real``) and the tape that recorded it."""
        tape = tf.GradientTape()
        with tape:
            fake = self._generate(self.sample_noise(tf.shape(real)[0]), labels)
        return fake, tape

    def _unpack(self, data) -> tuple[tf.Tensor, tf.Tensor | None]:
        """The real images of a batch and its labels (None: an unconditional GAN ignores them)."""
        return (data[0] if isinstance(data, (tuple, list)) else data), None

    def train_step(self, data):
        real, labels = self._unpack(data)
        for _ in range(self.n_critic - 1):
            d_out = self.discriminator_step(real, labels)
        if self.reuse_fakes:  # the last D update and the first G update share one generated batch
            fake, tape = self._recorded_fake(real, labels)
            d_out = self.discriminator_step(real, labels, fake=fake)
            g_out = self.generator_step(real, labels, fake=fake, tape=tape)
        else:
            d_out = self.discriminator_step(real, labels)
            g_out = self.generator_step(real, labels)
        for _ in range(self.g_steps - 1):
            g_out = self.generator_step(real, labels)
        logs = {**d_out, **g_out}
        for metric in self.metrics:
            metric.update_state(logs[metric.name])
        return {m.name: m.result() for m in self.metrics}


def make_optimizer(name: str, learning_rate: float, beta1: float = 0.5, beta2: float = 0.999,
                   momentum: float = 0.0) -> keras.optimizers.Optimizer:
    """``adam`` (with the betas), ``sgd`` (with ``momentum``; plain, without Nesterov) or
    ``rmsprop``; the betas apply to Adam only."""
    if name == "adam":
        return keras.optimizers.Adam(learning_rate, beta_1=beta1, beta_2=beta2)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=momentum)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate)
    raise ValueError(f"Unknown optimizer {name!r}. Valid optimizers: {sorted(OPTIMIZERS)}.")


def config_optimizers(config: Config) -> tuple[keras.optimizers.Optimizer, keras.optimizers.Optimizer]:
    """G's and D's optimizers as the config says (``g_optimizer``/``d_optimizer``, their rates, betas, momentum)."""
    return (make_optimizer(config.g_optimizer, config.g_lr, config.g_beta1, config.g_beta2, config.sgd_momentum),
            make_optimizer(config.d_optimizer, config.d_lr, config.d_beta1, config.d_beta2, config.sgd_momentum))


def compile_gan(gan: GAN, config: Config, runtime: dict[str, Any]) -> None:
    """Compile ``gan`` with the config's optimizers, loss and tricks and the runtime's fast path."""
    optimizers = list(config_optimizers(config))
    if runtime["mixed_precision"] == "mixed_float16":
        optimizers = [keras.optimizers.LossScaleOptimizer(o) for o in optimizers]
    gan.runtime = runtime
    gan.compile(
        g_optimizer=optimizers[0],
        d_optimizer=optimizers[1],
        loss=config.loss,
        label_smoothing=config.label_smoothing,
        label_noise=config.label_noise,
        label_flip=config.label_flip,
        gp_weight=config.gp_weight,
        n_critic=config.n_critic,
        g_steps=config.g_steps,
        feature_matching=config.feature_matching,
        reuse_fakes=config.reuse_fakes,
        diffaugment=config.diffaugment,
        jit_compile=runtime["jit_compile"],
        steps_per_execution=runtime["steps_per_execution"],
    )


def build_gan(config: Config, runtime: dict[str, Any] | None = None) -> GAN:
    """A compiled ``GAN`` with the config's models, optimizers, loss and tricks, on the chosen fast path.

    Args:
        config: the experiment.
        runtime: the choice of ``gan_kit.devices.choose_runtime`` (made here when None): XLA,
            steps per execution, and mixed precision (float16/bfloat16 compute with float32
            weights, logits and losses; float16 adds dynamic loss scaling to both optimizers).
    """
    from .devices import choose_runtime

    if config.conditional or config.model != "gan":
        raise ValueError(f"build_gan builds the unconditional GAN; this config has model={config.model!r}, "
                         f"conditional={config.conditional}. Use gan_kit.training.build_model(config), which "
                         "builds the config's own family.")
    runtime = runtime or choose_runtime(config)
    with precision(runtime["mixed_precision"]):
        generator, discriminator = build_models(config)
        gan = GAN(generator, discriminator, config.latent_dim, seed=config.seed, ema=config.ema, name="gan")
    compile_gan(gan, config, runtime)
    return gan
