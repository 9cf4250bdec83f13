"""Class-conditional GANs: generate the class you ask for (notebook 08).

``ConditionalGAN`` subclasses the kit's ``GAN``, so every stabilization switch, the
trackers, the EMA copy, loss scaling and ``fit()`` work unchanged; its step reads
``(images, labels)`` batches (``make_dataset`` yields them when ``config.conditional``):

- the generator (``models.build_conditional_generator``) takes ``[z, label]``: the
  one-hot label joined to the noise, then the DCGAN blocks;
- ``conditioning="projection"`` (Miyato & Koyama 2018): D takes ``[image, label]`` and
  its logit is ``psi(phi(x)) + <embed(y), phi(x)>``; generated images in D's step get
  the real batch's labels, so D judges image and label together;
- ``conditioning="acgan"`` (Odena et al. 2017): D takes the image only and also
  classifies it; its loss adds the cross-entropy of the real images' labels, and G's
  adds the cross-entropy of the labels it was asked for, both weighted by ``class_weight``.

``gan_kit.train(config)`` with ``conditional=True`` builds one through
``build_conditional_gan`` (``gan_kit.training``'s "conditional" family). Sampling by class:
``grid_images`` (one row per class, fixed noise per column; ``SampleGrid`` saves it),
``sample(n, labels)`` and ``interpolate_classes``. Per-class metrics (per-class accuracy and
intra-class FID) live in ``gan_kit.metrics``: ``per_class_table``, ``per_class_metrics``,
``evaluate_per_class``.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from .config import CONDITIONINGS, NO_RECIPE, Config, for_profile
from .gan import GAN, compile_gan
from .losses import class_loss
from .metrics.per_class import generator_classes
from .models import build_conditional_models, precision


@keras.saving.register_keras_serializable(package="gan_kit")
class CycleLabels(layers.Layer):
    """Labels 0, 1, ..., num_classes - 1, 0, 1, ... for the rows of a noise batch (int32, shape (batch,)).

    Lets a noise-only caller (``Run.sample``, ``MetricsCallback``) sample a conditional
    generator with every class equally often (row i gets class i mod num_classes).
    """

    def __init__(self, num_classes: int, **kwargs):
        super().__init__(**kwargs)
        if int(num_classes) < 1:
            raise ValueError(f"CycleLabels needs num_classes >= 1. Received: num_classes={num_classes}.")
        self.num_classes = int(num_classes)

    def call(self, z):
        n = keras.ops.shape(z)[0]
        return keras.ops.mod(keras.ops.arange(n, dtype="int32"), self.num_classes)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],)

    def compute_output_spec(self, z):
        return keras.KerasTensor((z.shape[0],), dtype="int32")

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


def balanced_sampler(generator: keras.Model, num_classes: int | None = None) -> keras.Model:
    """A noise-only view of a conditional generator: row i of a batch is generated as class i mod K.

    Args:
        generator: a model from ``models.build_conditional_generator`` (inputs ``[z, label]``).
        num_classes: K (read from the generator when None).

    Returns:
        A ``keras.Model`` mapping (batch, latent_dim) noise to images, sharing the generator's weights.
    """
    k = int(num_classes or generator_classes(generator))
    z = keras.Input(shape=(int(generator.inputs[0].shape[-1]),), name="z")
    labels = CycleLabels(k, name="cycle_labels")(z)
    return keras.Model(z, generator([z, labels]), name=f"{generator.name}_balanced")


class ConditionalGAN(GAN):
    """A class-conditional GAN trained by ``fit()`` on ``(images, labels)`` batches.

    Each ``train_step`` makes ``n_critic`` D updates and ``g_steps`` G updates, as ``GAN``
    does; the generated images of a step carry the real batch's labels (so they follow the
    data's class mix). Besides ``GAN``'s logs it reports, with ``acgan``, ``d_class_loss``
    (D's cross-entropy on real labels), ``d_class_acc`` (D's accuracy on them) and
    ``g_class_loss`` (the cross-entropy of D's class for generated images against the
    requested label); ``d_loss`` and ``g_loss`` include these terms times ``class_weight``.

    Example:
        >>> g, d = models.build_conditional_models(config, num_classes=10)
        >>> gan = ConditionalGAN(g, d, latent_dim=100, num_classes=10, conditioning="projection")
        >>> gan.compile(keras.optimizers.Adam(2e-4, 0.5), keras.optimizers.Adam(2e-4, 0.5))
        >>> gan.fit(labelled_dataset, epochs=5)

    Args:
        generator: maps ``[z, label]`` to images in [-1, 1] (``models.build_conditional_generator``).
        discriminator: ``[image, label] -> logit`` for projection, ``image -> [logit, class_logits]``
            for acgan (``models.build_conditional_discriminator``).
        latent_dim: size of the noise vector.
        num_classes: number of classes.
        conditioning: ``"projection"`` or ``"acgan"``.
        class_weight: weight of the auxiliary classification losses (acgan).
        class_names: optional names of the classes, for tables and plots.
        seed, ema: as in ``GAN``.

    Raises:
        ValueError: for an unknown conditioning, fewer than 2 classes, or models of the wrong kind.
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        latent_dim: int,
        num_classes: int,
        conditioning: str = "projection",
        class_weight: float = 1.0,
        class_names: list[str] | None = None,
        seed: int = 0,
        ema: float = 0.0,
        **kwargs,
    ):
        if conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning must be one of {list(CONDITIONINGS)}. "
                             f"Received: conditioning={conditioning!r}.")
        if isinstance(num_classes, bool) or int(num_classes) < 2:
            raise ValueError(f"A conditional GAN needs num_classes >= 2. Received: num_classes={num_classes}.")
        if not 0.0 <= float(class_weight) <= 1000.0:
            raise ValueError(f"class_weight must be in [0, 1000]. Received: class_weight={class_weight}.")
        if len(generator.inputs) != 2:
            raise ValueError(f"The generator must take [z, label]; {generator.name!r} has {len(generator.inputs)} "
                             "input(s). Build it with gan_kit.models.build_conditional_generator.")
        expected = (2, 1) if conditioning == "projection" else (1, 2)
        got = (len(discriminator.inputs), len(discriminator.outputs))
        if got != expected:
            raise ValueError(f"A {conditioning!r} discriminator has (inputs, outputs) = {expected}; "
                             f"{discriminator.name!r} has {got}. Build it with "
                             f"gan_kit.models.build_conditional_discriminator(..., conditioning={conditioning!r}).")
        super().__init__(generator, discriminator, latent_dim, seed=seed, ema=ema, **kwargs)
        self.num_classes = int(num_classes)
        self.conditioning = conditioning
        self.class_weight = float(class_weight)
        names = [str(n) for n in (class_names or [])]
        self.class_names = tuple(names[: self.num_classes] + [str(i) for i in range(len(names), self.num_classes)])
        self.d_class_tracker = keras.metrics.Mean(name="d_class_loss")
        self.d_class_acc_tracker = keras.metrics.Mean(name="d_class_acc")
        self.g_class_tracker = keras.metrics.Mean(name="g_class_loss")

    # ------------------------------------------------------------------ setup
    def compile(self, g_optimizer, d_optimizer, *args, feature_matching: float = 0.0, **kwargs) -> None:
        """As ``GAN.compile``; feature matching compares D's ``discriminator_body`` features."""
        super().compile(g_optimizer, d_optimizer, *args, feature_matching=0.0, **kwargs)
        if not 0.0 <= float(feature_matching) <= 1000.0:
            raise ValueError(f"feature_matching must be in [0.0, 1000.0]. "
                             f"Received: feature_matching={feature_matching}.")
        self.feature_matching = float(feature_matching)
        if self.feature_matching > 0:
            try:
                self._features = self.discriminator.get_layer("discriminator_body")
            except ValueError:
                raise ValueError("Feature matching needs D's nested 'discriminator_body' "
                                 "(gan_kit.models.build_conditional_discriminator).") from None

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        tracked = super().metrics
        if getattr(self, "conditioning", None) == "acgan":
            tracked += [self.d_class_tracker, self.d_class_acc_tracker, self.g_class_tracker]
        return tracked

    @property
    def conditional_sampler(self) -> keras.Model:
        """The ``[z, label]`` generator used for samples: the EMA copy when ``ema`` is on, else G."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    @property
    def sampler(self) -> keras.Model:
        """A noise-only view of ``conditional_sampler`` asking for classes 0, 1, ..., K-1 in turn.

        Code written for unconditional GANs (``Run.sample``, ``MetricsCallback``) calls
        ``sampler(z)`` and so gets a class-balanced mix. Use ``sample`` to choose classes.
        """
        return balanced_sampler(self.conditional_sampler, self.num_classes)

    def call(self, inputs, training: bool = False):
        """Generated images for ``[z, labels]`` (or for noise alone, classes cycling)."""
        if isinstance(inputs, (list, tuple)):
            return self.generator(list(inputs), training=training)
        z = inputs
        labels = tf.math.floormod(tf.range(tf.shape(z)[0], dtype=tf.int32), self.num_classes)
        return self.generator([z, labels], training=training)

    # ------------------------------------------------------------------ the step: GAN's, with labels passed on
    def _unpack(self, data) -> tuple[tf.Tensor, tf.Tensor]:
        """The real images of a batch and their integer labels."""
        if not isinstance(data, (tuple, list)) or len(data) < 2:
            raise ValueError("ConditionalGAN trains on (images, labels) batches. Received batches without labels: "
                             "set config conditional=True (gan_kit.train builds labelled batches) or pass a "
                             "dataset of (images, labels).")
        return data[0], tf.cast(tf.reshape(data[1], [-1]), tf.int32)

    def _generate(self, z: tf.Tensor, labels: tf.Tensor | None = None) -> tf.Tensor:
        """G's images for noise ``z`` of the classes ``labels`` (the real batch's labels in a step)."""
        return self.generator([z, labels], training=True)

    def _discriminate(self, images: tf.Tensor, labels: tf.Tensor | None = None):
        """D's real/fake logits and (acgan) class logits; projection D reads the labels."""
        if self.conditioning == "projection":
            return self.discriminator([images, labels], training=True), None
        logits, class_logits = self.discriminator(images, training=True)
        return logits, class_logits

    def _class_terms(self, labels, class_logits, side: str) -> tuple[Any, dict[str, tf.Tensor]]:
        """AC-GAN: D learns the real images' classes ("d"); G is rewarded when D sees the asked class ("g")."""
        if class_logits is None:
            return 0.0, {}
        loss = class_loss(labels, class_logits)
        logs = {f"{side}_class_loss": loss}
        if side == "d":
            hits = tf.equal(tf.argmax(class_logits, axis=-1, output_type=tf.int32), labels)
            logs["d_class_acc"] = tf.reduce_mean(tf.cast(hits, tf.float32))
        return self.class_weight * loss, logs

    # ------------------------------------------------------------------ sampling by class
    def _check_labels(self, labels: Any, n: int) -> np.ndarray:
        if labels is None:
            return np.arange(n, dtype=np.int32) % self.num_classes
        arr = np.asarray(labels)
        if arr.ndim == 0:
            arr = np.full(n, int(arr), dtype=np.int32)
        arr = arr.reshape(-1)
        if len(arr) != n or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"labels must be one class or {n} integer classes. Received: {labels!r}.")
        if len(arr) and (arr.min() < 0 or arr.max() >= self.num_classes):
            raise ValueError(f"labels must be in [0, {self.num_classes - 1}]. Received: {labels!r}.")
        return arr.astype(np.int32)

    def generate(self, z: Any, labels: Any, batch_size: int = 500) -> np.ndarray:
        """Images (numpy, in [-1, 1]) for noise ``z`` (n, latent_dim) and ``labels`` (n,) or one class."""
        z = np.asarray(z, np.float32).reshape(-1, self.latent_dim)
        labels = self._check_labels(labels, len(z))
        model = self.conditional_sampler
        parts = [keras.ops.convert_to_numpy(model([z[i : i + batch_size], labels[i : i + batch_size]],
                                                  training=False))
                 for i in range(0, len(z), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, *model.outputs[0].shape[1:]), np.float32)

    def sample(self, n: int, labels: Any = None, seed: int = 0) -> np.ndarray:
        """``n`` images of the requested classes from seeded noise.

        Args:
            n: number of images.
            labels: one class for all, ``n`` classes, or None for 0, 1, ..., K-1 in turn.
            seed: seeds the noise (the same seed and labels give the same images).

        Returns:
            float32 images (n, H, W, C) in [-1, 1].
        """
        z = np.random.default_rng(seed).standard_normal((int(n), self.latent_dim)).astype(np.float32)
        return self.generate(z, labels)

    def grid_images(self, noise: Any) -> np.ndarray:
        """One row per class, one column per noise vector: the class grid ``SampleGrid`` saves.

        With ``c = ceil(sqrt(len(noise)))`` columns (the grid width ``SampleGrid`` uses; ``grid_size``
        for the kit's fixed noise batch of ``grid_size**2`` vectors), column j uses ``noise[j]`` in
        every row and row i is class i, so a column shows one noise vector across all classes.

        Returns:
            float32 images (num_classes * c, H, W, C), row-major.
        """
        noise = np.asarray(noise, np.float32).reshape(-1, self.latent_dim)
        cols = int(math.ceil(math.sqrt(len(noise))))
        z = np.tile(noise[:cols], (self.num_classes, 1))
        labels = np.repeat(np.arange(self.num_classes, dtype=np.int32), cols)
        return self.generate(z, labels)

    def interpolate_classes(self, z: Any, class_a: int, class_b: int, steps: int = 8) -> np.ndarray:
        """Images along the straight line from class ``class_a``'s embedding to ``class_b``'s, at fixed noise.

        The generator's input is z joined with the one-hot label, and its first layer is
        linear in it, so mixing the one-hot codes ``(1 - t) e_a + t e_b`` mixes the two
        learned class embeddings.

        Args:
            z: one noise vector (latent_dim,) or several (m, latent_dim).
            class_a, class_b: the classes at t = 0 and t = 1.
            steps: points along the line (>= 2), t evenly spaced in [0, 1].

        Returns:
            float32 images (m * steps, H, W, C): row r holds z[r] from class_a to class_b.
        """
        if int(steps) < 2:
            raise ValueError(f"steps must be >= 2. Received: steps={steps}.")
        self._check_labels([class_a, class_b], 2)
        z = np.asarray(z, np.float32).reshape(-1, self.latent_dim)
        t = np.linspace(0.0, 1.0, int(steps), dtype=np.float32)[:, None]
        eye = np.eye(self.num_classes, dtype=np.float32)
        codes = (1.0 - t) * eye[int(class_a)] + t * eye[int(class_b)]
        joined = np.concatenate([np.repeat(z, int(steps), axis=0), np.tile(codes, (len(z), 1))], axis=1)
        body = self.conditional_sampler.get_layer("generator_body")
        return keras.ops.convert_to_numpy(body(joined, training=False))


# ====================================================================== building from a config


def dataset_classes(config: Config) -> list[str]:
    """The class names of the config's training data (sub-folder names for an image folder).

    Loads the training arrays (as ``train`` does), so set ``config.num_classes`` to skip this.
    Labels beyond the named classes get their number as name.
    """
    from . import data

    _, y, names = data.load_arrays(config.dataset, "train", path=config.data_path, image_size=config.image_size,
                                   channels=config.channels, max_examples=config.max_examples)
    names = [str(n) for n in names]
    top = int(y.max()) + 1 if len(y) else 0
    return names + [str(i) for i in range(len(names), top)]


CONDITIONAL_BASE = Config(
    name="cgan", dataset="fashion_mnist", image_size=28, channels=1, conditional=True, epochs=30,
    g_lr=2e-4, d_lr=2e-4, sample_every=5, checkpoint_every=5,
)


def conditional_config(profile: str | None = None, recipe: str | None = None, **overrides: Any) -> Config:
    """Notebook 08's settings: ``CONDITIONAL_BASE``, then the profile's budget, then ``overrides``.

    The base is the DCGAN of notebook 02 with Adam(2e-4, beta1 0.5) for both players (Radford
    et al.'s setting), ``conditional=True`` and Fashion-MNIST; ``full`` trains 30 epochs on the
    whole training set. The image shape follows ``dataset`` when it is overridden. ``quick``'s
    per-dataset recipe (``recipes.QUICK_RECIPES``, measured on unconditional GANs) is not applied:
    only a ``recipe`` named here is.
    """
    return for_profile(profile, base=CONDITIONAL_BASE, recipe=recipe or NO_RECIPE, **overrides)


def build_conditional_gan(config: Config, runtime: dict[str, Any] | None = None,
                          class_names: list[str] | None = None) -> ConditionalGAN:
    """A compiled ``ConditionalGAN`` as the config says (the run lifecycle builds this when ``config.conditional``).

    ``config.num_classes`` wins; when it is None the number of classes comes from the data's
    class names (``dataset_classes``).

    Args:
        config: the experiment (``conditioning``, ``num_classes`` and the usual fields).
        runtime: ``gan_kit.devices.choose_runtime``'s choice (made here when None).
        class_names: names of the classes (read from the data when None and not given by the config).

    Raises:
        ValueError: when the data has fewer than 2 classes.
    """
    from .devices import choose_runtime

    runtime = runtime or choose_runtime(config)
    if class_names is None and config.num_classes is None:
        class_names = dataset_classes(config)
    num_classes = int(config.num_classes or len(class_names or []))
    if num_classes < 2:
        raise ValueError(f"A conditional GAN needs at least 2 classes; {config.dataset!r} "
                         f"({config.data_path or 'default location'}) has {num_classes}. For an image folder, put "
                         "each class's images in its own sub-folder, or set num_classes.")
    with precision(runtime["mixed_precision"]):
        generator, discriminator = build_conditional_models(config, num_classes)
        gan = ConditionalGAN(generator, discriminator, config.latent_dim, num_classes,
                             conditioning=config.conditioning, class_names=class_names, seed=config.seed,
                             ema=config.ema, name="conditional_gan")
    compile_gan(gan, config, runtime)
    return gan


__all__ = [
    "CONDITIONAL_BASE",
    "ConditionalGAN",
    "CycleLabels",
    "balanced_sampler",
    "build_conditional_gan",
    "conditional_config",
    "dataset_classes",
]
