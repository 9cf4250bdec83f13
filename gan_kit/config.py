"""Experiment configuration: one frozen dataclass, validated up front, JSON round-trip, profiles."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .fileio import atomic_write_text

PROFILES = ("smoke", "quick", "full", "auto")
DATASET_NAMES = ("fashion_mnist", "mnist", "cifar10", "cifar100", "digits", "image_folder")
LOSS_NAMES = ("minimax", "bce", "hinge", "wasserstein", "least_squares")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
UPSAMPLING = ("transpose", "resize")
EXTRACTORS = ("classifier", "inception")
MODELS = ("gan", "vae")
PRECISIONS = ("auto", "off", "mixed_float16", "mixed_bfloat16")
DISTRIBUTE = ("auto", "off", "mirrored", "multi_worker")
CONDITIONING = ("projection", "acgan")
RECON_LOSSES = ("bce", "mse")
LABEL_LOSSES = ("minimax", "bce", "least_squares")
IMAGE_SIZES = (28, 32, 64)
VAE_SIZES = (28, 32)  # the VAE's encoder and decoder mirror the 28x28 and 32x32 GANs only
NO_RECIPE = "none"  # for_profile(recipe=NO_RECIPE): the kit's defaults, not even the quick recipe
DIFFAUGMENT = ("color", "translation", "cutout")  # DiffAugment transforms (gan_kit.augment)
D_NORMS = ("batch", "layer", "none")
TO_IMAGE = ("conv", "transpose")
CHANNELS = (1, 3)

# Native image shape per dataset, used to fill image_size / channels when not given.
NATIVE_SHAPES = {
    "fashion_mnist": (28, 1),
    "mnist": (28, 1),
    "cifar10": (32, 3),
    "cifar100": (32, 3),
    "digits": (32, 1),
    "image_folder": (32, 3),
}


class ConfigError(ValueError):
    """A config value is out of range, of the wrong type, or unknown."""


@dataclass(frozen=True)
class Config:
    """Everything that defines one GAN experiment.

    Every field is checked when the object is built; a bad value raises
    ``ConfigError`` naming the field, the value received and what is allowed.
    """

    name: str = "dcgan"
    model: str = "gan"
    dataset: str = "cifar10"
    data_path: str | None = None
    image_size: int = 32
    channels: int = 3
    max_examples: int | None = None
    latent_dim: int = 100
    g_width: int = 64
    d_width: int = 64
    refine: bool = True
    d_dropout: float = 0.3
    d_norm: str = "batch"
    g_to_image: str = "conv"
    epochs: int = 50
    batch_size: int = 256
    steps_per_epoch: int | None = None
    g_lr: float = 1e-4
    d_lr: float = 1e-4
    g_beta1: float = 0.5
    g_beta2: float = 0.999
    d_beta1: float = 0.5
    d_beta2: float = 0.999
    loss: str = "bce"
    gradient_penalty: float | None = None
    label_smoothing: float = 0.0
    label_noise: float = 0.0
    label_flip: float = 0.0
    instance_noise: float = 0.0
    instance_noise_epochs: int = 0
    n_critic: int = 1
    g_steps: int = 1
    reuse_fakes: bool = True
    g_optimizer: str = "adam"
    d_optimizer: str = "adam"
    sgd_momentum: float = 0.0
    spectral_norm: bool = False
    minibatch_std: bool = False
    upsample: str = "transpose"
    ema: float = 0.0
    diffaugment: str = ""
    feature_matching: float = 0.0
    beta: float = 1.0
    recon_loss: str = "bce"
    conditional: bool = False
    conditioning: str = "projection"
    num_classes: int | None = None
    seed: int = 0
    profile: str = "full"
    output_dir: str = "outputs/runs"
    sample_every: int = 10
    checkpoint_every: int = 10
    grid_size: int = 8
    metrics_every: int = 0
    metrics_extractor: str = "classifier"
    metrics_samples: int = 1000
    jit_compile: bool | None = None
    steps_per_execution: int | None = None
    mixed_precision: str = "auto"
    distribute: str = "auto"
    deterministic: bool = False
    tensorboard: bool = True
    log_steps: bool = False
    wandb: bool = False
    diagnostics: bool = True
    notes: str = ""

    def __post_init__(self) -> None:
        _validate(self)

    # ----------------------------------------------------------------- I/O
    def to_dict(self) -> dict[str, Any]:
        """Plain dict of all fields."""
        return dataclasses.asdict(self)

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        """JSON text of the config; also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True)
        if path is not None:
            atomic_write_text(Path(path), text + "\n")
        return text

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Config:
        """Build from a dict; unknown keys raise ``ConfigError`` listing the valid ones."""
        if not isinstance(values, dict):
            raise ConfigError(f"Config must be built from a dict. Received: {type(values).__name__}.")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"Unknown config field(s) {unknown}. Valid fields: {sorted(known)}."
            )
        return cls(**values)

    @classmethod
    def from_json(cls, text_or_path: str | os.PathLike) -> Config:
        """Build from JSON text or from a path to a JSON file."""
        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            path = Path(text_or_path)
            try:
                text = path.read_text()
            except OSError as exc:
                raise ConfigError(f"Cannot read config file {path}: {exc}.") from exc
        try:
            values = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"Config JSON is not valid: {exc}.") from exc
        return cls.from_dict(values)

    def replace(self, **changes: Any) -> Config:
        """A copy with some fields changed (validated again)."""
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise ConfigError(
                f"Unknown config field(s) {unknown}. Valid fields: {sorted(f.name for f in fields(self))}."
            )
        return dataclasses.replace(self, **changes)

    def diff(self, other: Config) -> dict[str, tuple[Any, Any]]:
        """Fields whose values differ: name -> (self's value, other's value)."""
        a, b = self.to_dict(), other.to_dict()
        return {k: (a[k], b[k]) for k in a if a[k] != b[k]}

    @property
    def gp_weight(self) -> float:
        """Weight of the gradient penalty: ``gradient_penalty``, or 10 for ``wasserstein`` and 0 otherwise."""
        if self.gradient_penalty is not None:
            return float(self.gradient_penalty)
        return 10.0 if self.loss == "wasserstein" else 0.0

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of the images the models see."""
        return (self.image_size, self.image_size, self.channels)


# ------------------------------------------------------------------ validation
_INT_RANGES: dict[str, tuple[int, int | None]] = {
    "latent_dim": (1, 4096),
    "g_width": (4, 1024),
    "d_width": (4, 1024),
    "epochs": (1, None),
    "batch_size": (1, 65536),
    "seed": (0, 2**31 - 1),
    "sample_every": (1, None),
    "checkpoint_every": (1, None),
    "grid_size": (1, 32),
    "instance_noise_epochs": (0, None),
    "n_critic": (1, 100),
    "metrics_every": (0, None),
    "metrics_samples": (10, 1_000_000),
    "g_steps": (1, 100),
}
_OPTIONAL_INT_RANGES: dict[str, tuple[int, int | None]] = {
    "steps_per_execution": (1, 10_000),
    "num_classes": (2, 1000),
    "max_examples": (1, None),
    "steps_per_epoch": (1, None),
}
_FLOAT_RANGES: dict[str, tuple[float, float, bool]] = {
    # name: (low, high, low_inclusive)
    "g_lr": (0.0, 1.0, False),
    "d_lr": (0.0, 1.0, False),
    "g_beta1": (0.0, 1.0, True),
    "d_beta1": (0.0, 1.0, True),
    "g_beta2": (0.0, 1.0, True),
    "d_beta2": (0.0, 1.0, True),
    "d_dropout": (0.0, 1.0, True),
    "label_smoothing": (0.0, 0.5, True),
    "label_noise": (0.0, 1.0, True),
    "label_flip": (0.0, 0.5, True),
    "instance_noise": (0.0, 2.0, True),
    "ema": (0.0, 1.0, True),
    "feature_matching": (0.0, 1000.0, True),
    "beta": (0.0, 1000.0, True),
    "sgd_momentum": (0.0, 1.0, True),
}
_BOOLS = ("refine", "spectral_norm", "minibatch_std", "deterministic", "conditional", "tensorboard", "log_steps",
          "wandb", "diagnostics", "reuse_fakes")
_STRINGS = ("name", "output_dir", "notes", "diffaugment")


def _fail(name: str, value: Any, expected: str) -> None:
    raise ConfigError(f"Config field `{name}` is invalid. Received: {name}={value!r}. Expected {expected}.")


def _validate(cfg: Config) -> None:
    for name in _BOOLS:
        value = getattr(cfg, name)
        if not isinstance(value, bool):
            _fail(name, value, "true or false")
    for name in _STRINGS:
        value = getattr(cfg, name)
        if not isinstance(value, str):
            _fail(name, value, "a string")
    if not cfg.name or any(c in cfg.name for c in "/\\") or cfg.name.startswith("."):
        _fail("name", cfg.name, "a non-empty run name without slashes, not starting with '.'")
    if not cfg.output_dir:
        _fail("output_dir", cfg.output_dir, "a folder path such as 'outputs/runs'")
    for name, (low, high) in {**_INT_RANGES, **_OPTIONAL_INT_RANGES}.items():
        value = getattr(cfg, name)
        if value is None and name in _OPTIONAL_INT_RANGES:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(name, value, "an integer" + (" or null" if name in _OPTIONAL_INT_RANGES else ""))
        if value < low or (high is not None and value > high):
            _fail(name, value, f"an integer in [{low}, {high if high is not None else 'inf'}]")
    for name, (low, high, inclusive) in _FLOAT_RANGES.items():
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _fail(name, value, "a number")
        if value != value or (value < low if inclusive else value <= low) or value > high:
            bracket = "[" if inclusive else "("
            _fail(name, value, f"a number in {bracket}{low}, {high}]")
    if cfg.d_dropout >= 1.0:
        _fail("d_dropout", cfg.d_dropout, "a dropout rate in [0, 1)")
    if cfg.label_smoothing >= 0.5:  # GAN.compile refuses it too: the real target would meet the fake one
        _fail("label_smoothing", cfg.label_smoothing, "a number in [0, 0.5): the real target is 1 - label_smoothing")
    for name in ("g_beta1", "d_beta1", "g_beta2", "d_beta2"):
        if getattr(cfg, name) >= 1.0:
            _fail(name, getattr(cfg, name), "an Adam beta in [0, 1)")
    if cfg.dataset not in DATASET_NAMES:
        _fail("dataset", cfg.dataset, f"one of {list(DATASET_NAMES)}")
    if cfg.data_path is not None and not isinstance(cfg.data_path, str):
        _fail("data_path", cfg.data_path, "a folder or file path string, or null")
    if cfg.dataset == "image_folder" and not cfg.data_path:
        _fail("data_path", cfg.data_path, "the image folder to train on when dataset='image_folder'")
    if cfg.loss not in LOSS_NAMES:
        _fail("loss", cfg.loss, f"one of {list(LOSS_NAMES)}")
    for name, allowed in (("g_optimizer", OPTIMIZERS), ("d_optimizer", OPTIMIZERS), ("upsample", UPSAMPLING),
                          ("metrics_extractor", EXTRACTORS), ("model", MODELS), ("recon_loss", RECON_LOSSES),
                          ("mixed_precision", PRECISIONS), ("distribute", DISTRIBUTE),
                          ("conditioning", CONDITIONING), ("d_norm", D_NORMS), ("g_to_image", TO_IMAGE)):
        if getattr(cfg, name) not in allowed:
            _fail(name, getattr(cfg, name), f"one of {list(allowed)}")
    if cfg.jit_compile is not None and not isinstance(cfg.jit_compile, bool):
        _fail("jit_compile", cfg.jit_compile, "true, false, or null to let the kit choose per device")
    if cfg.gradient_penalty is not None:
        gp = cfg.gradient_penalty
        if isinstance(gp, bool) or not isinstance(gp, (int, float)) or gp != gp or gp < 0 or gp > 1000:
            _fail("gradient_penalty", gp, "a weight in [0, 1000], or null for 10 with wasserstein and 0 otherwise")
    if cfg.ema >= 1.0:
        _fail("ema", cfg.ema, "0 (off) or a decay in (0, 1) such as 0.999")
    unknown = [p.strip() for p in cfg.diffaugment.split(",") if p.strip() and p.strip() not in DIFFAUGMENT]
    if unknown:
        _fail("diffaugment", cfg.diffaugment, f"a comma-separated subset of {list(DIFFAUGMENT)} "
              "(e.g. 'color,translation,cutout'), or '' for none")
    if cfg.loss not in LABEL_LOSSES:
        for name in ("label_smoothing", "label_noise", "label_flip"):
            if getattr(cfg, name) > 0:
                _fail(name, getattr(cfg, name),
                      f"0 with loss={cfg.loss!r}: label tricks need a label-based loss {list(LABEL_LOSSES)}")
    if cfg.image_size not in IMAGE_SIZES or isinstance(cfg.image_size, bool):
        _fail("image_size", cfg.image_size, f"one of {list(IMAGE_SIZES)} (the sizes the DCGAN models build)")
    if cfg.model == "vae" and cfg.image_size not in VAE_SIZES:
        _fail("image_size", cfg.image_size,
              f"{' or '.join(map(str, VAE_SIZES))} for model='vae' (the VAE builds those sizes)")
    if cfg.sgd_momentum >= 1.0:
        _fail("sgd_momentum", cfg.sgd_momentum, "a momentum in [0, 1), such as 0.9")

    if cfg.channels not in CHANNELS or isinstance(cfg.channels, bool):
        _fail("channels", cfg.channels, f"one of {list(CHANNELS)}")
    if cfg.profile not in PROFILES:
        _fail("profile", cfg.profile, f"one of {list(PROFILES)}")
    if cfg.max_examples is not None and cfg.max_examples < cfg.batch_size:
        _fail(
            "batch_size",
            cfg.batch_size,
            f"at most max_examples={cfg.max_examples} (a batch cannot be larger than the data); "
            "lower batch_size or raise max_examples",
        )


# -------------------------------------------------------------------- profiles
# Settings each profile applies on top of a base config (the notebook's own choices).
PROFILE_SETTINGS: dict[str, dict[str, Any]] = {
    "smoke": {"epochs": 2, "max_examples": 256, "batch_size": 64, "steps_per_epoch": 2,
              "g_width": 8, "d_width": 8, "sample_every": 1, "checkpoint_every": 1},
    # quick: twice the steps of batch 128 and the DCGAN paper's learning rate (2e-4), so that a
    # CPU run of a few minutes gets past the noise stage.
    "quick": {"epochs": 10, "max_examples": 10000, "batch_size": 64, "steps_per_epoch": None,
              "g_width": 32, "d_width": 32, "g_lr": 2e-4, "d_lr": 2e-4, "sample_every": 2, "checkpoint_every": 5},
    "full": {},
}


def resolve_profile(profile: str | None = None) -> str:
    """The concrete profile: ``profile`` or ``$GAN_KIT_PROFILE``; ``auto`` is ``full`` on a GPU, else ``quick``."""
    chosen = profile if profile is not None else os.environ.get("GAN_KIT_PROFILE", "auto")
    chosen = chosen.strip().lower()
    if chosen not in PROFILES:
        raise ConfigError(
            f"Unknown profile {chosen!r} (from GAN_KIT_PROFILE or the profile argument). "
            f"Expected one of {list(PROFILES)}."
        )
    if chosen == "auto":
        from .devices import gpu_available

        return "full" if gpu_available() else "quick"
    return chosen


def for_profile(profile: str | None = None, base: Config | None = None, recipe: str | None = None,
                **overrides: Any) -> Config:
    """A config for a profile: ``base`` (or defaults), the profile's settings, a named recipe
    (``gan_kit.recipes``), then ``overrides``.

    Without ``recipe``, ``quick`` applies the one ``recipes.QUICK_RECIPES`` names for the dataset (if
    any), with what ``recipes.QUICK_SETTINGS`` adds to that recipe on that dataset; ``recipe="none"``
    applies none (the kit's defaults). A recipe sets the algorithm and may set
    the batch and image size; under ``smoke`` the profile's tiny budget is applied again after it, so a
    smoke run stays a code check. Fields that
    fix the image shape follow the dataset when not overridden.

    Raises:
        ConfigError: for an unknown profile or recipe, or a resulting value out of range.
    """
    from .recipes import QUICK_RECIPES, QUICK_SETTINGS, RECIPES

    concrete = resolve_profile(profile)
    values = (base or Config()).to_dict()
    dataset = overrides.get("dataset", values["dataset"])
    if "dataset" in overrides and overrides["dataset"] in NATIVE_SHAPES:
        size, ch = NATIVE_SHAPES[overrides["dataset"]]
        values["image_size"], values["channels"] = size, ch
    values.update(PROFILE_SETTINGS[concrete])
    if recipe == NO_RECIPE:
        chosen = None
    else:
        chosen = recipe if recipe is not None else (QUICK_RECIPES.get(dataset) if concrete == "quick" else None)
    if chosen is not None:
        if chosen not in RECIPES:
            raise ConfigError(f"Unknown recipe {chosen!r}. Valid recipes: {sorted(RECIPES)}.")
        values.update(RECIPES[chosen])
        if concrete == "quick" and chosen == QUICK_RECIPES.get(dataset):
            values.update(QUICK_SETTINGS.get(dataset, {}))
        if concrete == "smoke":
            values.update(PROFILE_SETTINGS["smoke"])
    values.update(overrides)
    values["profile"] = concrete
    return Config.from_dict(values)


def default_profile_settings() -> dict[str, dict[str, Any]]:
    """A copy of the per-profile settings, for display in notebooks."""
    return {k: dict(v) for k, v in PROFILE_SETTINGS.items()}


__all__ = [
    "CHANNELS",
    "DATASET_NAMES",
    "DIFFAUGMENT",
    "NO_RECIPE",
    "D_NORMS",
    "IMAGE_SIZES",
    "LOSS_NAMES",
    "OPTIMIZERS",
    "PROFILES",
    "UPSAMPLING",
    "VAE_SIZES",
    "Config",
    "ConfigError",
    "for_profile",
    "resolve_profile",
]
