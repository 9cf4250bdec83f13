"""Keras builders for every network the kit trains: DCGAN generators and discriminators (28x28 / 32x32,
1 or 3 channels), their class-conditional variants, the VAE's encoder and decoder, and the 2-D toy MLPs.

Builders only: nothing here trains. ``precision`` builds models under a mixed-precision policy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import keras
from keras import layers

from . import exercises
from .config import CHANNELS, CONDITIONINGS, D_NORMS, RECON_LOSSES, TO_IMAGE, UPSAMPLING, VAE_SIZES

if TYPE_CHECKING:
    from .config import Config

SUPPORTED_SIZES = {28: 7, 32: 4, 64: 4}  # image size -> side of the first feature map
UPSAMPLINGS = {28: 2, 32: 3, 64: 4}  # image size -> stride-2 steps from the first feature map
LOGITS_LAYER = "logits"  # the VAE decoder's pre-activation output

__all__ = [
    "ConditionalInput",
    "LOGITS_LAYER",
    "MinibatchStdDev",
    "ProjectionLogit",
    "build_conditional_discriminator",
    "build_conditional_generator",
    "build_conditional_models",
    "build_decoder",
    "build_discriminator",
    "build_encoder",
    "build_generator",
    "build_models",
    "build_toy_discriminator",
    "build_toy_generator",
    "conditional_input",
    "precision",
    "projection_logit",
]


@contextlib.contextmanager
def precision(policy: str) -> Iterator[None]:
    """Build the models inside this block under Keras' dtype ``policy`` (``float32``, ``mixed_float16``,
    ``mixed_bfloat16``); the previous global policy is restored afterwards."""
    previous = keras.config.dtype_policy()
    if policy != "float32":
        keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _check_shape(image_shape: tuple[int, int, int]) -> tuple[int, int, int]:
    if len(image_shape) != 3:
        raise ValueError(f"image_shape must be (height, width, channels). Received: image_shape={image_shape}.")
    h, w, c = (int(v) for v in image_shape)
    if h != w or h not in SUPPORTED_SIZES:
        raise ValueError(
            f"The DCGAN models build square images of size {sorted(SUPPORTED_SIZES)}. "
            f"Received: image_shape={image_shape}. Resize the data (config image_size) to 28, 32 or 64."
        )
    if c not in CHANNELS:
        raise ValueError(f"channels must be 1 or 3. Received: image_shape={image_shape}.")
    return h, w, c


def _sn(layer: layers.Layer, on: bool) -> layers.Layer:
    """``layer`` wrapped in Keras' ``SpectralNormalization`` (Miyato et al. 2018) when ``on``."""
    return layers.SpectralNormalization(layer, name=f"{layer.name}_sn") if on else layer


@keras.saving.register_keras_serializable(package="gan_kit")
class MinibatchStdDev(layers.Layer):
    """Appends one feature map holding the mean standard deviation across the batch (Karras et al. 2018).

    A discriminator with this layer can see when a batch lacks variety, which
    penalises a generator that collapses to a few outputs.
    """

    def call(self, inputs):
        x = keras.ops.cast(inputs, "float32")
        std = keras.ops.sqrt(keras.ops.var(x, axis=0) + 1e-8)  # (H, W, C)
        mean_std = keras.ops.mean(std)
        shape = keras.ops.shape(x)
        extra = keras.ops.ones((shape[0], shape[1], shape[2], 1), dtype="float32") * mean_std
        return keras.ops.cast(keras.ops.concatenate([x, extra], axis=-1), inputs.dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)


def build_generator(
    latent_dim: int = 100,
    image_shape: tuple[int, int, int] = (32, 32, 3),
    width: int = 64,
    refine: bool = True,
    upsample: str = "transpose",
    name: str = "generator",
    to_image: str = "conv",
) -> keras.Sequential:
    """DCGAN generator: Dense to a small feature map, stride-2 transposed convs, tanh output.

    For 32x32: Dense to 4x4x(8*width), then three upsamplings (8, 16, 32) with
    4w, 2w, w filters; for 28x28: 7x7x(4*width), then two (14, 28) with 2w, w; for
    64x64: 4x4x(16*width), then four (8, 16, 32, 64) with 8w, 4w, 2w, w.
    With ``refine`` a 3x3 conv follows each upsampling (the ``assignment`` recipe's generator).
    ``upsample="resize"`` replaces each 4x4 stride-2 transposed conv by nearest-neighbour
    resizing and a 3x3 conv, which avoids checkerboard artifacts (Odena et al. 2016).
    Every hidden layer has BatchNorm + LeakyReLU(0.2). ``to_image="conv"`` ends with a 3x3
    conv to the image channels; ``"transpose"`` makes the last upsampling itself produce the
    image (Radford et al.'s 64x64 generator: 4x4x1024 -> 8x8x512 -> 16x16x256 -> 32x32x128 -> 64x64x3
    for width 64).

    Args:
        latent_dim: size of the noise vector z.
        image_shape: (size, size, channels) with size 28, 32 or 64 and channels 1 or 3.
        width: base number of feature maps (64 in the assignment).
        refine: add a 3x3 stride-1 conv after each upsampling.
        upsample: ``"transpose"`` (stride-2 transposed conv) or ``"resize"`` (resize + conv).
        name: Keras model name.
        to_image: ``"conv"`` or ``"transpose"`` (see above).

    Returns:
        A ``keras.Sequential`` mapping (batch, latent_dim) to images in [-1, 1].
    """
    size, _, channels = _check_shape(image_shape)
    if upsample not in UPSAMPLING:
        raise ValueError(f"upsample must be one of {list(UPSAMPLING)}. Received: upsample={upsample!r}.")
    if to_image not in TO_IMAGE:
        raise ValueError(f"to_image must be one of {list(TO_IMAGE)}. Received: to_image={to_image!r}.")
    base = SUPPORTED_SIZES[size]
    n_up = UPSAMPLINGS[size]
    filters = [width * 2 ** (n_up - 1 - i) for i in range(n_up)]  # e.g. 4w, 2w, w
    start = width * 2**n_up
    if to_image == "transpose":  # the last upsampling makes the image itself: one hidden block fewer
        filters = filters[:-1]
    # BEGIN SOLUTION 02 generator
    model = keras.Sequential(name=name)
    model.add(keras.Input(shape=(latent_dim,), name="z"))
    model.add(layers.Dense(base * base * start, use_bias=False, name="project"))
    model.add(layers.BatchNormalization(name="project_bn"))
    model.add(layers.LeakyReLU(0.2, name="project_act"))
    model.add(layers.Reshape((base, base, start), name="to_map"))
    for i, f in enumerate(filters):
        if upsample == "transpose":
            model.add(layers.Conv2DTranspose(f, 4, strides=2, padding="same", use_bias=False, name=f"up{i + 1}"))
        else:
            model.add(layers.UpSampling2D(2, interpolation="nearest", name=f"up{i + 1}_resize"))
            model.add(layers.Conv2D(f, 3, padding="same", use_bias=False, name=f"up{i + 1}"))
        model.add(layers.BatchNormalization(name=f"up{i + 1}_bn"))
        model.add(layers.LeakyReLU(0.2, name=f"up{i + 1}_act"))
        if refine:
            model.add(layers.Conv2D(f, 3, padding="same", use_bias=False, name=f"refine{i + 1}"))
            model.add(layers.BatchNormalization(name=f"refine{i + 1}_bn"))
            model.add(layers.LeakyReLU(0.2, name=f"refine{i + 1}_act"))
    if to_image == "transpose":
        model.add(layers.Conv2DTranspose(channels, 4, strides=2, padding="same", name="to_image"))
    else:
        model.add(layers.Conv2D(channels, 3, padding="same", name="to_image"))
    model.add(layers.Activation("tanh", dtype="float32", name="tanh"))
    return model
    # END SOLUTION


def build_discriminator(
    image_shape: tuple[int, int, int] = (32, 32, 3),
    width: int = 64,
    dropout: float = 0.3,
    spectral_norm: bool = False,
    minibatch_std: bool = False,
    name: str = "discriminator",
    norm: str = "batch",
) -> keras.Sequential:
    """DCGAN discriminator: stride-2 convs with LeakyReLU, Dropout and a normalisation, one logit out.

    With ``spectral_norm`` every conv and the output layer are wrapped in Keras'
    ``SpectralNormalization`` (Miyato et al. 2018), which bounds D's Lipschitz
    constant; BatchNorm is then left out, as in the paper. ``norm`` is the normalisation
    after every conv but the first: ``"batch"`` (DCGAN), ``"layer"`` (LayerNormalization,
    which WGAN-GP's critic uses because BatchNorm couples the examples the gradient penalty
    treats separately) or ``"none"``. ``minibatch_std`` adds a ``MinibatchStdDev`` feature map
    before the output layer.

    Args:
        image_shape: (size, size, channels) with size 28, 32 or 64 and channels 1 or 3.
        width: filters of the first conv; doubled at each following conv.
        dropout: dropout rate after each conv block (0 disables it).
        spectral_norm: spectrally normalise the weights of every conv and dense layer.
        minibatch_std: append a minibatch standard-deviation feature map.
        name: Keras model name.
        norm: ``"batch"``, ``"layer"`` or ``"none"`` (``"batch"`` means none with ``spectral_norm``).

    Returns:
        A ``keras.Sequential`` mapping images in [-1, 1] to raw logits of shape (batch, 1).
    """
    size, _, _ = _check_shape(image_shape)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1). Received: dropout={dropout}.")
    if norm not in D_NORMS:
        raise ValueError(f"norm must be one of {list(D_NORMS)}. Received: norm={norm!r}.")
    if spectral_norm and norm == "batch":
        norm = "none"
    n_down = UPSAMPLINGS[size]
    # BEGIN SOLUTION 02 discriminator
    model = keras.Sequential(name=name)
    model.add(keras.Input(shape=tuple(image_shape), name="image"))
    for i in range(n_down):
        model.add(_sn(layers.Conv2D(width * 2**i, 4, strides=2, padding="same", name=f"down{i + 1}"), spectral_norm))
        if i > 0 and norm == "batch":
            model.add(layers.BatchNormalization(name=f"down{i + 1}_bn"))
        elif i > 0 and norm == "layer":
            model.add(layers.LayerNormalization(name=f"down{i + 1}_ln"))
        model.add(layers.LeakyReLU(0.2, name=f"down{i + 1}_act"))
        if dropout > 0:
            model.add(layers.Dropout(dropout, name=f"down{i + 1}_drop"))
    if minibatch_std:
        model.add(MinibatchStdDev(name="minibatch_std"))
    model.add(layers.Flatten(name="features"))
    model.add(_sn(layers.Dense(1, dtype="float32", name="logit"), spectral_norm))
    return model
    # END SOLUTION


def build_models(config: Config) -> tuple[keras.Sequential, keras.Sequential]:
    """Generator and discriminator as the config describes them."""
    generator = build_generator(config.latent_dim, config.image_shape, config.g_width, config.refine, config.upsample,
                                to_image=config.g_to_image)
    discriminator = build_discriminator(
        config.image_shape, config.d_width, config.d_dropout, config.spectral_norm, config.minibatch_std,
        norm=config.d_norm,
    )
    return generator, discriminator


# ------------------------------------------------------------------ conditional variants (notebook 08)
def conditional_input(z, labels, num_classes: int):
    """The conditional generator's input: the noise ``z`` (batch, latent_dim) joined with the one-hot vector of each
    integer label, float32 of shape (batch, latent_dim + num_classes)."""
    # BEGIN SOLUTION 08 conditional_input
    one_hot = keras.ops.one_hot(keras.ops.cast(labels, "int32"), int(num_classes), dtype="float32")
    return keras.ops.concatenate([keras.ops.cast(z, "float32"), one_hot], axis=-1)
    # END SOLUTION


@keras.saving.register_keras_serializable(package="gan_kit")
class ConditionalInput(layers.Layer):
    """The conditional generator's first layer: ``[z, label]`` to ``conditional_input(z, label, num_classes)``,
    computed by the student's function when notebook 08 registered one (``gan_kit.exercises``), else by the kit's."""

    def __init__(self, num_classes: int, **kwargs):
        super().__init__(**{**kwargs, "autocast": False})  # the answer sees float32 noise under mixed precision too
        self.num_classes = int(num_classes)

    def call(self, inputs):
        z, labels = inputs
        join = exercises.answer("conditional_input") or conditional_input
        joined = join(keras.ops.cast(z, "float32"), keras.ops.cast(labels, "int32"), self.num_classes)
        return keras.ops.cast(joined, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        z_shape = tuple(input_shape[0])
        return (*z_shape[:-1], None if z_shape[-1] is None else z_shape[-1] + self.num_classes)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


def build_conditional_generator(
    num_classes: int,
    latent_dim: int = 100,
    image_shape: tuple[int, int, int] = (32, 32, 3),
    width: int = 64,
    refine: bool = True,
    upsample: str = "transpose",
    name: str = "generator",
    to_image: str = "conv",
) -> keras.Model:
    """Class-conditional DCGAN generator (Mirza & Osindero 2014): z joined with the one-hot label.

    Inputs ``z`` (batch, latent_dim) and ``label`` (batch,) integers. The layer ``joined``
    (``ConditionalInput``: notebook 08's exercise) concatenates z and the label's one-hot vector, and
    ``build_generator``'s Sequential blocks (layer ``generator_body``, latent size
    ``latent_dim + num_classes``) map the joined vector to an image. The body's first Dense
    layer multiplies the one-hot part by its own weights, so each class gets a learned
    embedding added to the projection of z: one-hot concatenation and an ``Embedding``
    layer are the same model here. Mixing two one-hot codes mixes the two class embeddings
    (``ConditionalGAN.interpolate_classes``).

    Args:
        num_classes: number of classes (labels 0 .. num_classes - 1).
        latent_dim, image_shape, width, refine, upsample, to_image: as in ``build_generator``.
        name: Keras model name.

    Returns:
        A functional ``keras.Model`` mapping ``[z, label]`` to images in [-1, 1].
    """
    _check_shape(image_shape)
    if int(num_classes) < 2:
        raise ValueError(f"A conditional generator needs num_classes >= 2. Received: num_classes={num_classes}.")
    num_classes = int(num_classes)
    z = keras.Input(shape=(latent_dim,), name="z")
    label = keras.Input(shape=(), dtype="int32", name="label")
    joined = ConditionalInput(num_classes, name="joined")([z, label])
    body = build_generator(latent_dim + num_classes, image_shape, width, refine, upsample, name="generator_body",
                           to_image=to_image)
    return keras.Model([z, label], body(joined), name=name)


def projection_logit(logit, features, class_embeddings, labels):
    """The projection discriminator's output (Miyato & Koyama 2018), float32 of shape (batch, 1): ``logit``
    (batch, 1), the unconditional term psi(phi(x)), plus for each example the inner product of its features
    phi(x) (a row of ``features``, (batch, feature_dim)) with the row of ``class_embeddings`` ((num_classes,
    feature_dim): row y is class y's vector e_y) that its integer label (``labels``, (batch,)) picks."""
    # BEGIN SOLUTION 08 projection_logit
    embedded = keras.ops.take(class_embeddings, keras.ops.cast(labels, "int32"), axis=0)  # e_y of each example
    inner = keras.ops.sum(embedded * features, axis=-1, keepdims=True)  # <e_y, phi(x)>, (batch, 1)
    return logit + inner
    # END SOLUTION


@keras.saving.register_keras_serializable(package="gan_kit")
class ProjectionLogit(layers.Layer):
    """The projection discriminator's head: ``[logit, features, label]`` to ``projection_logit(logit, features,
    E, label)``, computed by the student's function when notebook 08 registered one (``gan_kit.exercises``), else
    by the kit's.

    It holds the class embeddings E (num_classes, feature_dim) as the kernel of a bias-free Dense layer
    ``class_embedding`` on one-hot labels, wrapped in ``SpectralNormalization`` with ``spectral_norm``; E is that
    layer applied to the identity matrix (:meth:`class_embeddings`), so it is spectrally normalised in training like
    every other weight of D, and the answer receives the whole matrix and picks each label's row itself.
    """

    def __init__(self, num_classes: int, feature_dim: int, spectral_norm: bool = False, **kwargs):
        super().__init__(**{**kwargs, "autocast": False})  # the answer sees float32 under mixed precision too
        self.num_classes, self.feature_dim = int(num_classes), int(feature_dim)
        self.spectral_norm = bool(spectral_norm)
        embed = layers.Dense(self.feature_dim, use_bias=False, dtype="float32", name="class_embedding")
        self.class_embedding = _sn(embed, self.spectral_norm)

    def build(self, input_shape):
        self.class_embedding.build((None, self.num_classes))

    def class_embeddings(self, training=None):
        """E, float32 (num_classes, feature_dim): row y is class y's embedding e_y (spectrally normalised)."""
        eye = keras.ops.eye(self.num_classes, dtype="float32")  # one-hot rows of every class
        # SpectralNormalization updates its estimate and the kernel in training; a plain Dense has no training flag.
        return self.class_embedding(eye, training=training) if self.spectral_norm else self.class_embedding(eye)

    def call(self, inputs, training=None):
        logit, features, labels = inputs
        project = exercises.answer("projection_logit") or projection_logit
        out = project(keras.ops.cast(logit, "float32"), keras.ops.cast(features, "float32"),
                      self.class_embeddings(training), keras.ops.cast(labels, "int32"))
        return keras.ops.cast(out, "float32")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "feature_dim": self.feature_dim,
                "spectral_norm": self.spectral_norm}


def build_conditional_discriminator(
    num_classes: int,
    image_shape: tuple[int, int, int] = (32, 32, 3),
    width: int = 64,
    dropout: float = 0.3,
    spectral_norm: bool = False,
    minibatch_std: bool = False,
    conditioning: str = "projection",
    name: str = "discriminator",
    norm: str = "batch",
) -> keras.Model:
    """Class-conditional discriminator from ``build_discriminator``'s conv blocks.

    The blocks up to the flattened features phi(x) form the nested Sequential
    ``discriminator_body``. On top of it:

    - ``conditioning="projection"`` (Miyato & Koyama 2018): inputs ``[image, label]``,
      ``logit = psi(phi(x)) + <embed(y), phi(x)>`` with psi a Dense layer (``logit``) and
      embed(y) a learned vector per class (``class_embedding``, a bias-free Dense on the
      one-hot label, spectrally normalised with the rest when ``spectral_norm``), both joined
      by the layer ``projected_logit`` (``ProjectionLogit``: notebook 08's ``projection_logit``);
    - ``conditioning="acgan"`` (Odena et al. 2017): input ``image`` only, outputs
      ``[logit, class_logits]``: the real/fake logit and an auxiliary classifier's
      ``num_classes`` logits (layer ``class_logits``).

    Args:
        num_classes: number of classes.
        image_shape, width, dropout, spectral_norm, minibatch_std, norm: as in ``build_discriminator``.
        conditioning: ``"projection"`` or ``"acgan"``.
        name: Keras model name.

    Returns:
        A functional ``keras.Model``; logits are float32 of shape (batch, 1) (and (batch, num_classes)).
    """
    if conditioning not in CONDITIONINGS:
        raise ValueError(f"conditioning must be one of {list(CONDITIONINGS)}. Received: conditioning={conditioning!r}.")
    if int(num_classes) < 2:
        raise ValueError(f"A conditional discriminator needs num_classes >= 2. Received: num_classes={num_classes}.")
    num_classes = int(num_classes)
    body = build_discriminator(image_shape, width, dropout, spectral_norm, minibatch_std, name="discriminator_body",
                               norm=norm)
    body.pop()  # drop the logit layer: the body ends at the flattened features phi(x)
    feature_dim = int(body.outputs[0].shape[-1])

    image = keras.Input(shape=tuple(image_shape), name="image")
    features = body(image)
    logit = _sn(layers.Dense(1, dtype="float32", name="logit"), spectral_norm)(features)
    if conditioning == "acgan":
        class_logits = _sn(layers.Dense(num_classes, dtype="float32", name="class_logits"), spectral_norm)(features)
        return keras.Model(image, [logit, class_logits], name=name)
    label = keras.Input(shape=(), dtype="int32", name="label")
    head = ProjectionLogit(num_classes, feature_dim, spectral_norm, dtype="float32", name="projected_logit")
    return keras.Model([image, label], head([logit, features, label]), name=name)


def build_conditional_models(config: Config, num_classes: int) -> tuple[keras.Model, keras.Model]:
    """Conditional generator and discriminator as the config describes them (``config.conditioning``)."""
    generator = build_conditional_generator(num_classes, config.latent_dim, config.image_shape, config.g_width,
                                            config.refine, config.upsample, to_image=config.g_to_image)
    discriminator = build_conditional_discriminator(
        num_classes, config.image_shape, config.d_width, config.d_dropout, config.spectral_norm,
        config.minibatch_std, config.conditioning, norm=config.d_norm,
    )
    return generator, discriminator


# ------------------------------------------------------------------ the VAE's encoder and decoder (notebook 05)
def _vae_shape(image_shape: tuple[int, int, int]) -> tuple[int, int]:
    if len(image_shape) != 3:
        raise ValueError(f"image_shape must be (height, width, channels). Received: image_shape={image_shape}.")
    h, w, c = (int(v) for v in image_shape)
    if h != w or h not in VAE_SIZES or c not in CHANNELS:
        raise ValueError(f"The VAE builds square 28x28 or 32x32 images with 1 or 3 channels (64x64 is for the "
                         f"GANs' dcgan_paper models). Received: image_shape={image_shape}; set image_size=28 or 32.")
    return h, c


def build_encoder(latent_dim: int = 16, image_shape: tuple[int, int, int] = (28, 28, 1), width: int = 32,
                  name: str = "encoder") -> keras.Sequential:
    """Conv encoder: stride-2 convs with LeakyReLU, then one Dense layer giving mean and log-variance.

    For 28x28 two stride-2 convs (28 -> 14 -> 7) with ``width`` and ``2 * width`` filters;
    for 32x32 three (32 -> 16 -> 8 -> 4). The output ``mean_logvar`` has ``2 * latent_dim``
    units: the first half is the mean, the second the log-variance (``vae.split_moments``).

    Args:
        latent_dim: size of the latent vector z.
        image_shape: (size, size, channels) with size 28 or 32 and channels 1 or 3.
        width: filters of the first conv; doubled at each following conv.
        name: Keras model name.

    Returns:
        A ``keras.Sequential`` mapping images in [-1, 1] to (batch, 2 * latent_dim).
    """
    size, _ = _vae_shape(image_shape)
    if int(latent_dim) < 1:
        raise ValueError(f"latent_dim must be >= 1. Received: latent_dim={latent_dim}.")
    model = keras.Sequential(name=name)
    model.add(keras.Input(shape=tuple(image_shape), name="image"))
    for i in range(3 if size == 32 else 2):
        model.add(layers.Conv2D(width * 2**i, 4, strides=2, padding="same", name=f"down{i + 1}"))
        model.add(layers.LeakyReLU(0.2, name=f"down{i + 1}_act"))
    model.add(layers.Flatten(name="features"))
    model.add(layers.Dense(2 * int(latent_dim), name="mean_logvar"))
    return model


def build_decoder(latent_dim: int = 16, image_shape: tuple[int, int, int] = (28, 28, 1), width: int = 32,
                  recon_loss: str = "bce", name: str = "decoder") -> keras.Sequential:
    """Conv decoder: Dense to a small feature map, stride-2 transposed convs, a ``logits`` conv, images in [-1, 1].

    Mirrors ``build_encoder``: for 28x28 Dense to 7x7x(2*width) and two transposed convs
    (14, 28) with ``2 * width`` and ``width`` filters; for 32x32 Dense to 4x4x(4*width) and
    three (8, 16, 32). A 3x3 conv named ``logits`` gives one value per pixel and channel;
    the output layer maps it to [-1, 1]: ``tanh(logits / 2)`` (= ``2 * sigmoid - 1``) for
    ``bce``, ``tanh(logits)`` for ``mse`` (see ``gan_kit.vae``).

    Args:
        latent_dim: size of the latent vector z.
        image_shape: (size, size, channels) with size 28 or 32 and channels 1 or 3.
        width: filters of the last transposed conv; doubled towards the input.
        recon_loss: ``bce`` or ``mse``; picks the output mapping.
        name: Keras model name.

    Returns:
        A ``keras.Sequential`` mapping (batch, latent_dim) to images in [-1, 1].
    """
    size, channels = _vae_shape(image_shape)
    if recon_loss not in RECON_LOSSES:
        raise ValueError(f"recon_loss must be one of {list(RECON_LOSSES)}. Received: recon_loss={recon_loss!r}.")
    n_up = 3 if size == 32 else 2
    filters = [width * 2 ** (n_up - 1 - i) for i in range(n_up)]
    base = SUPPORTED_SIZES[size]
    model = keras.Sequential(name=name)
    model.add(keras.Input(shape=(int(latent_dim),), name="z"))
    model.add(layers.Dense(base * base * filters[0], name="project"))
    model.add(layers.LeakyReLU(0.2, name="project_act"))
    model.add(layers.Reshape((base, base, filters[0]), name="to_map"))
    for i, f in enumerate(filters):
        model.add(layers.Conv2DTranspose(f, 4, strides=2, padding="same", name=f"up{i + 1}"))
        model.add(layers.LeakyReLU(0.2, name=f"up{i + 1}_act"))
    model.add(layers.Conv2D(channels, 3, padding="same", name=LOGITS_LAYER))
    if recon_loss == "bce":
        model.add(layers.Rescaling(0.5, name="half_logits"))
    model.add(layers.Activation("tanh", dtype="float32", name="to_image"))
    return model


# ------------------------------------------------------------------ the 2-D toy (notebooks 01 and 03)
def build_toy_generator(latent_dim: int = 2, hidden: int = 64, depth: int = 2) -> keras.Sequential:
    """MLP generator: ``depth`` ReLU layers of ``hidden`` units, 2-D linear output."""
    model = keras.Sequential(name="toy_generator")
    model.add(keras.Input(shape=(latent_dim,)))
    for i in range(depth):
        model.add(layers.Dense(hidden, activation="relu", name=f"hidden{i + 1}"))
    model.add(layers.Dense(2, name="point"))
    return model


def build_toy_discriminator(hidden: int = 64, depth: int = 2, spectral_norm: bool = False,
                            dropout: float = 0.0) -> keras.Sequential:
    """MLP discriminator: ``depth`` LeakyReLU layers of ``hidden`` units, one logit out.

    The last hidden activation is named ``features`` (what feature matching compares).
    ``dropout`` > 0 adds a Dropout layer after each hidden activation; ``spectral_norm``
    wraps every Dense layer in Keras' ``SpectralNormalization``.
    """
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1). Received: dropout={dropout}.")

    model = keras.Sequential(name="toy_discriminator")
    model.add(keras.Input(shape=(2,)))
    for i in range(depth):
        model.add(_sn(layers.Dense(hidden, name=f"hidden{i + 1}"), spectral_norm))
        model.add(layers.LeakyReLU(0.2, name=f"act{i + 1}" if i < depth - 1 else "features"))
        if dropout > 0:
            model.add(layers.Dropout(dropout, name=f"drop{i + 1}"))
    model.add(_sn(layers.Dense(1, name="logit"), spectral_norm))
    return model
