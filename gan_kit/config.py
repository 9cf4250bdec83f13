"""Experiment configuration: one frozen dataclass, validated up front, JSON round-trip, profiles.

The lists of allowed values below are each setting's one home: the models, losses, data, metrics and
GAN modules and the command line import them from here, and ``tests/test_allowed_values.py`` keeps it so.

``Config`` is one flat dataclass whose fields sit in labelled groups (``CONFIG_GROUPS``: model, optimizer,
tricks, vae_conditional, data, runtime, logging), each checked by its own short validator. Flat with groups
reads better here than nested dataclasses because every setting keeps one name wherever it is written:
``--set d_lr=4e-4``, a sweep grid's ``"g_beta1+d_beta1"`` key, ``cfg.replace(label_smoothing=0.1)``, a
notebook's parameters and every ``config.json`` already in a run folder. No key has to say which group it
lives in, and a run's config stays one level of JSON that the analysis layer reads without TensorFlow.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import json
import os
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

from .fileio import atomic_write_text

# ----------------------------------------------------------------- allowed values: one home each
PROFILES = ("smoke", "quick", "full", "auto")  # the keys of PROFILE_SETTINGS, and "auto"
DATASET_NAMES = ("fashion_mnist", "mnist", "cifar10", "cifar100", "digits", "image_folder")  # = data.DATASETS
LOSS_NAMES = ("minimax", "bce", "hinge", "wasserstein", "least_squares")  # the keys of losses.LOSSES
LABEL_LOSSES = ("minimax", "bce", "least_squares")  # the losses whose LossPair.uses_labels: label tricks apply
OPTIMIZERS = ("adam", "sgd", "rmsprop")  # gan.make_optimizer
UPSAMPLING = ("transpose", "resize")  # models.build_generator(upsample=...)
TO_IMAGE = ("conv", "transpose")  # models.build_generator(to_image=...)
D_NORMS = ("batch", "layer", "none")  # models.build_discriminator(norm=...)
EXTRACTORS = ("classifier", "inception")  # metrics.get_extractor(name)
MODELS = ("gan", "vae")
PRECISIONS = ("auto", "off", "mixed_float16", "mixed_bfloat16")
DISTRIBUTE = ("auto", "off", "mirrored", "multi_worker")
CONDITIONINGS = ("projection", "acgan")  # models.build_conditional_discriminator, conditional.ConditionalGAN
RECON_LOSSES = ("bce", "mse")  # losses.reconstruction_loss(kind=...), models.build_decoder, vae.VAE
IMAGE_SIZES = (28, 32, 64)  # the keys of models.SUPPORTED_SIZES
VAE_SIZES = (28, 32)  # the VAE's encoder and decoder mirror the 28x28 and 32x32 GANs only
CHANNELS = (1, 3)
DIFFAUGMENT = ("color", "translation", "cutout")  # DiffAugment transforms: the keys of augment.TRANSFORMS
NO_RECIPE = "none"  # for_profile(recipe=NO_RECIPE): the kit's defaults, not even the quick recipe

# Native image shape per dataset, used to fill image_size / channels when not given.
NATIVE_SHAPES = {
    "fashion_mnist": (28, 1),
    "mnist": (28, 1),
    "cifar10": (32, 3),
    "cifar100": (32, 3),
    "digits": (32, 1),
    "image_folder": (32, 3),
}

# Keys a user meets under another name elsewhere in the kit (a function's argument, a property): the field to
# write instead. They are not read as those fields; the message for an unknown key names the right one.
KEY_HINTS: dict[str, str] = {
    "gp_weight": "the config calls it `gradient_penalty`",
    "lr": "the config has `g_lr` and `d_lr`",
    "learning_rate": "the config has `g_lr` and `d_lr`",
    "beta1": "the config has `g_beta1` and `d_beta1`",
    "beta2": "the config has `g_beta2` and `d_beta2`",
    "optimizer": "the config has `g_optimizer` and `d_optimizer`",
    "width": "the config has `g_width` and `d_width`",
    "dropout": "the config calls it `d_dropout`",
    "norm": "the config calls it `d_norm`",
    "to_image": "the config calls it `g_to_image`",
    "extractor": "the config calls it `metrics_extractor`",
    "recipe": "not a field: pass recipe=... to for_profile, or --recipe on the command line",
}


class ConfigError(ValueError):
    """A config value is out of range, of the wrong type, or unknown."""


@dataclass(frozen=True)
class Config:
    """Everything that defines one GAN (or VAE) experiment, in the groups of ``CONFIG_GROUPS``.

    Every field is checked when the object is built; a bad value raises ``ConfigError`` naming the field, the
    value received and what is allowed. ``profile`` records the profile ``for_profile`` applied: it is not
    set by hand (``Config(profile="smoke")`` raises and points to ``for_profile("smoke")``).
    """

    # ---- model: which networks, and their shapes
    model: str = "gan"
    latent_dim: int = 100
    g_width: int = 64
    d_width: int = 64
    refine: bool = True
    upsample: str = "transpose"
    g_to_image: str = "conv"
    d_dropout: float = 0.3
    d_norm: str = "batch"
    spectral_norm: bool = False
    minibatch_std: bool = False
    # ---- optimizer: the loss, the two optimizers, the updates per step and the training budget
    loss: str = "bce"
    epochs: int = 50
    batch_size: int = 256
    steps_per_epoch: int | None = None
    g_optimizer: str = "adam"
    d_optimizer: str = "adam"
    g_lr: float = 1e-4
    d_lr: float = 1e-4
    g_beta1: float = 0.5
    g_beta2: float = 0.999
    d_beta1: float = 0.5
    d_beta2: float = 0.999
    sgd_momentum: float = 0.0
    n_critic: int = 1
    g_steps: int = 1
    # ---- tricks: the stabilization switches of the training step
    gradient_penalty: float | None = None
    label_smoothing: float = 0.0
    label_noise: float = 0.0
    label_flip: float = 0.0
    instance_noise: float = 0.0
    instance_noise_epochs: int = 0
    feature_matching: float = 0.0
    ema: float = 0.0
    diffaugment: str = ""
    reuse_fakes: bool = True
    # ---- vae_conditional: the VAE's terms, and the class-conditional GAN
    beta: float = 1.0
    recon_loss: str = "bce"
    conditional: bool = False
    conditioning: str = "projection"
    num_classes: int | None = None
    # ---- data: what is trained on, at which shape
    dataset: str = "cifar10"
    data_path: str | None = None
    image_size: int = 32
    channels: int = 3
    max_examples: int | None = None
    # ---- runtime: seed, profile and how TensorFlow runs it
    seed: int = 0
    profile: str = "full"
    jit_compile: bool | None = None
    steps_per_execution: int | None = None
    mixed_precision: str = "auto"
    distribute: str = "auto"
    deterministic: bool = False
    # ---- logging: the run folder and what is written into it
    name: str = "dcgan"
    output_dir: str = "outputs/runs"
    notes: str = ""
    sample_every: int = 10
    checkpoint_every: int = 10
    grid_size: int = 8
    metrics_every: int = 0
    metrics_extractor: str = "classifier"
    metrics_samples: int = 1000
    tensorboard: bool = True
    log_steps: bool = False
    wandb: bool = False
    diagnostics: bool = True

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
    def from_dict(cls, values: dict[str, Any], source: str | os.PathLike | None = None) -> Config:
        """Build from a dict, such as a saved ``config.json`` (``source``, named in every error, says where
        it came from). Unknown keys raise ``ConfigError`` naming the closest field; a saved ``profile`` is
        read back as the record of what ``for_profile`` applied."""
        if not isinstance(values, dict):
            where = f"{source}: " if source is not None else ""
            raise ConfigError(f"{where}A config is built from a dict of field: value pairs, such as "
                              f"{{'epochs': 5}}. Received: {type(values).__name__}.")
        check_keys(values, source)
        try:
            with _recorded_profile():
                return cls(**values)
        except ConfigError as exc:
            if source is None:
                raise
            raise ConfigError(f"{source}: {exc} Fix that value in {source}.") from exc

    @classmethod
    def from_json(cls, text_or_path: str | os.PathLike) -> Config:
        """Build from JSON text or from a path to a JSON file; every error about a file names it."""
        text, source = str(text_or_path), None
        if not text.lstrip().startswith("{"):
            source = Path(text_or_path)
            try:
                text = source.read_text()
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"Cannot read config file {source}: {exc}. Check the path, or pass the JSON "
                                  "text itself.") from exc
        what = f"Config file {source}" if source is not None else "Config JSON text"
        try:
            values = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{what} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}. Fix it there: "
                "keys and strings in double quotes, no comma after the last item, true/false/null in lower case."
            ) from exc
        if not isinstance(values, dict):
            raise ConfigError(f"{what} must hold one JSON object of field: value pairs, such as "
                              f'{{"epochs": 5}}. Received a JSON {_JSON_TYPES.get(type(values), "value")}.')
        return cls.from_dict(values, source=source)

    def replace(self, **changes: Any) -> Config:
        """A copy with some fields changed (validated again); ``profile`` changes only through ``for_profile``."""
        check_keys(changes)
        if "profile" in changes and changes["profile"] != self.profile:
            new = changes["profile"]
            raise ConfigError(
                f"Config field `profile` is set by for_profile, not by replace. Received: profile={new!r} for a "
                f"{self.profile!r} config. Use for_profile({new!r}, base=config) to apply that profile's budget.")
        with _recorded_profile():
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


# Each group's fields, in the order the class lists them (a test keeps the two the same).
CONFIG_GROUPS: dict[str, tuple[str, ...]] = {
    "model": ("model", "latent_dim", "g_width", "d_width", "refine", "upsample", "g_to_image", "d_dropout",
              "d_norm", "spectral_norm", "minibatch_std"),
    "optimizer": ("loss", "epochs", "batch_size", "steps_per_epoch", "g_optimizer", "d_optimizer", "g_lr", "d_lr",
                  "g_beta1", "g_beta2", "d_beta1", "d_beta2", "sgd_momentum", "n_critic", "g_steps"),
    "tricks": ("gradient_penalty", "label_smoothing", "label_noise", "label_flip", "instance_noise",
               "instance_noise_epochs", "feature_matching", "ema", "diffaugment", "reuse_fakes"),
    "vae_conditional": ("beta", "recon_loss", "conditional", "conditioning", "num_classes"),
    "data": ("dataset", "data_path", "image_size", "channels", "max_examples"),
    "runtime": ("seed", "profile", "jit_compile", "steps_per_execution", "mixed_precision", "distribute",
                "deterministic"),
    "logging": ("name", "output_dir", "notes", "sample_every", "checkpoint_every", "grid_size", "metrics_every",
                "metrics_extractor", "metrics_samples", "tensorboard", "log_steps", "wandb", "diagnostics"),
}
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Config))
_JSON_TYPES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


# ------------------------------------------------------------------ validation
class _Range(NamedTuple):
    """The numbers a numeric field takes: ``[low, high]``, each end open or closed (``high`` None: no bound)."""

    low: float
    high: float | None = None
    integer: bool = False
    open_low: bool = False
    open_high: bool = False
    nullable: bool = False
    meaning: str = ""  # what a value means, said after the range in an error


_RANGES: dict[str, _Range] = {
    "latent_dim": _Range(1, 4096, integer=True),
    "g_width": _Range(4, 1024, integer=True),
    "d_width": _Range(4, 1024, integer=True),
    "d_dropout": _Range(0.0, 1.0, open_high=True, meaning="a dropout rate"),
    "epochs": _Range(1, integer=True),
    "batch_size": _Range(1, 65536, integer=True),
    "steps_per_epoch": _Range(1, integer=True, nullable=True),
    "g_lr": _Range(0.0, 1.0, open_low=True),
    "d_lr": _Range(0.0, 1.0, open_low=True),
    "g_beta1": _Range(0.0, 1.0, open_high=True, meaning="an Adam beta"),
    "g_beta2": _Range(0.0, 1.0, open_high=True, meaning="an Adam beta"),
    "d_beta1": _Range(0.0, 1.0, open_high=True, meaning="an Adam beta"),
    "d_beta2": _Range(0.0, 1.0, open_high=True, meaning="an Adam beta"),
    "sgd_momentum": _Range(0.0, 1.0, open_high=True, meaning="a momentum, such as 0.9"),
    "n_critic": _Range(1, 100, integer=True),
    "g_steps": _Range(1, 100, integer=True),
    "gradient_penalty": _Range(0.0, 1000.0, nullable=True,
                               meaning="a weight; null gives 10 with wasserstein and 0 otherwise"),
    "label_smoothing": _Range(0.0, 0.5, open_high=True, meaning="the real target is 1 - label_smoothing"),
    "label_noise": _Range(0.0, 1.0),
    "label_flip": _Range(0.0, 0.5),
    "instance_noise": _Range(0.0, 2.0),
    "instance_noise_epochs": _Range(0, integer=True),
    "feature_matching": _Range(0.0, 1000.0),
    "ema": _Range(0.0, 1.0, open_high=True, meaning="0 (off) or a decay such as 0.999"),
    "beta": _Range(0.0, 1000.0),
    "num_classes": _Range(2, 1000, integer=True, nullable=True),
    "max_examples": _Range(1, integer=True, nullable=True),
    "seed": _Range(0, 2**31 - 1, integer=True),
    "steps_per_execution": _Range(1, 10_000, integer=True, nullable=True),
    "sample_every": _Range(1, integer=True),
    "checkpoint_every": _Range(1, integer=True),
    "grid_size": _Range(1, 32, integer=True),
    "metrics_every": _Range(0, integer=True),
    "metrics_samples": _Range(10, 1_000_000, integer=True),
}
_CHOICES: dict[str, tuple[Any, ...]] = {
    "model": MODELS, "upsample": UPSAMPLING, "g_to_image": TO_IMAGE, "d_norm": D_NORMS,
    "loss": LOSS_NAMES, "g_optimizer": OPTIMIZERS, "d_optimizer": OPTIMIZERS,
    "recon_loss": RECON_LOSSES, "conditioning": CONDITIONINGS,
    "dataset": DATASET_NAMES, "image_size": IMAGE_SIZES, "channels": CHANNELS,
    "profile": PROFILES, "mixed_precision": PRECISIONS, "distribute": DISTRIBUTE,
    "metrics_extractor": EXTRACTORS,
}
_CHOICE_MEANINGS = {"image_size": "the sizes the DCGAN models build"}
_BOOLS = frozenset({"refine", "spectral_norm", "minibatch_std", "reuse_fakes", "conditional", "deterministic",
                    "tensorboard", "log_steps", "wandb", "diagnostics"})
_STRINGS = frozenset({"diffaugment", "name", "output_dir", "notes"})
_OWN_RULES = frozenset({"data_path", "jit_compile"})  # checked by their group's validator itself

# True while for_profile builds a config, or a saved one is read back or copied: then `profile` may differ
# from "full". Anywhere else a profile would be a label without its budget.
_PROFILE_RECORDED: ContextVar[bool] = ContextVar("gan_kit_profile_recorded", default=False)


@contextlib.contextmanager
def _recorded_profile() -> Iterator[None]:
    """Inside this block a ``profile`` other than ``full`` is accepted as the record of what for_profile applied."""
    token = _PROFILE_RECORDED.set(True)
    try:
        yield
    finally:
        _PROFILE_RECORDED.reset(token)


def _fail(name: str, value: Any, expected: str, where: str = "Config field", shown: str | None = None
          ) -> NoReturn:
    """Raise the ``ConfigError`` that names the field (as ``shown``), the value received and what is allowed."""
    shown = shown or name
    raise ConfigError(f"{where} `{shown}` is invalid. Received: {shown}={value!r}. Expected {expected}.")


def _interval(rule: _Range) -> str:
    high = "inf" if rule.high is None else rule.high
    return f"{'(' if rule.open_low else '['}{rule.low}, {high}{')' if rule.open_high else ']'}"


def check_keys(keys: Iterable[str], source: str | os.PathLike | None = None) -> None:
    """Raise ``ConfigError`` for keys that are not ``Config`` fields, naming the closest field (or the one
    ``KEY_HINTS`` gives) and ``source`` (a file, or e.g. ``"--set"``) when given."""
    unknown = sorted(set(keys) - set(FIELD_NAMES), key=str)
    if not unknown:
        return
    named = []
    for key in unknown:
        close = difflib.get_close_matches(str(key), FIELD_NAMES, n=1, cutoff=0.6)
        hint = KEY_HINTS.get(key) or (f"did you mean `{close[0]}`?" if close else None)
        named.append(f"`{key}` ({hint})" if hint else f"`{key}`")
    where = f" in {source}" if source is not None else ""
    groups = "; ".join(f"{group}: {', '.join(names)}" for group, names in CONFIG_GROUPS.items())
    raise ConfigError(f"Unknown config field(s){where}: {', '.join(named)}. Rename or remove them. "
                      f"Valid fields, by group: {groups}.")


def check_range(name: str, value: Any, where: str = "Config field", shown: str | None = None) -> None:
    """Raise ``ConfigError`` unless ``value`` is a number of the kind and range field ``name`` allows: the one
    rule for that number, which ``Config`` and the classes taking it as an argument (``where``, naming it
    ``shown``) all call."""
    rule = _RANGES[name]
    if value is None and rule.nullable:
        return
    kind = "an integer" if rule.integer else "a number"
    if isinstance(value, bool) or not isinstance(value, int if rule.integer else (int, float)):
        _fail(name, value, kind + (" or null" if rule.nullable else ""), where, shown)
    too_low = value <= rule.low if rule.open_low else value < rule.low
    too_high = rule.high is not None and (value >= rule.high if rule.open_high else value > rule.high)
    if value != value or too_low or too_high:
        _fail(name, value, f"{kind} in {_interval(rule)}" + (f": {rule.meaning}" if rule.meaning else ""), where,
              shown)


def check_label_tricks(loss: str, uses_labels: bool, label_smoothing: float = 0.0, label_noise: float = 0.0,
                       label_flip: float = 0.0, where: str = "Config field") -> None:
    """Raise ``ConfigError`` unless the three label tricks are in range and, when on, ``loss`` reads labels
    (``uses_labels``): the one check ``Config`` and ``GAN.compile`` both call."""
    for name, value in (("label_smoothing", label_smoothing), ("label_noise", label_noise),
                        ("label_flip", label_flip)):
        check_range(name, value, where)
        if value > 0 and not uses_labels:
            _fail(name, value, f"0 with loss={loss!r}: label tricks need a label-based loss {list(LABEL_LOSSES)}",
                  where)


def _check_fields(cfg: Config, group: str) -> None:
    """Type, range and allowed values of each field of ``group``, from the tables above."""
    for name in CONFIG_GROUPS[group]:
        value = getattr(cfg, name)
        if name in _BOOLS and not isinstance(value, bool):
            _fail(name, value, "true or false")
        elif name in _STRINGS and not isinstance(value, str):
            _fail(name, value, "a string")
        elif name in _RANGES:
            check_range(name, value)
        elif name in _CHOICES and (isinstance(value, bool) or value not in _CHOICES[name]):
            meaning = f" ({_CHOICE_MEANINGS[name]})" if name in _CHOICE_MEANINGS else ""
            _fail(name, value, f"one of {list(_CHOICES[name])}{meaning}")


def _check_model(cfg: Config) -> None:
    """The model's fields (types, ranges and allowed values from the tables)."""
    _check_fields(cfg, "model")


def _check_optimizer(cfg: Config) -> None:
    """The loss's, the optimizers' and the budget's fields."""
    _check_fields(cfg, "optimizer")


def _check_tricks(cfg: Config) -> None:
    """The tricks' fields; DiffAugment's transforms; label tricks only with a label-based loss."""
    _check_fields(cfg, "tricks")
    unknown = [p.strip() for p in cfg.diffaugment.split(",") if p.strip() and p.strip() not in DIFFAUGMENT]
    if unknown:
        _fail("diffaugment", cfg.diffaugment, f"a comma-separated subset of {list(DIFFAUGMENT)} "
              "(e.g. 'color,translation,cutout'), or '' for none")
    check_label_tricks(cfg.loss, cfg.loss in LABEL_LOSSES, cfg.label_smoothing, cfg.label_noise, cfg.label_flip)


def _check_vae_conditional(cfg: Config) -> None:
    """The VAE's terms and the conditional GAN's fields."""
    _check_fields(cfg, "vae_conditional")


def _check_data(cfg: Config) -> None:
    """The data's fields; a path for image folders; the VAE's sizes; a batch no larger than the data."""
    _check_fields(cfg, "data")
    if cfg.data_path is not None and not isinstance(cfg.data_path, str):
        _fail("data_path", cfg.data_path, "a folder or file path string, or null")
    if cfg.dataset == "image_folder" and not cfg.data_path:
        _fail("data_path", cfg.data_path, "the image folder to train on when dataset='image_folder'")
    if cfg.model == "vae" and cfg.image_size not in VAE_SIZES:
        _fail("image_size", cfg.image_size,
              f"{' or '.join(map(str, VAE_SIZES))} for model='vae' (the VAE builds those sizes)")
    if cfg.max_examples is not None and cfg.max_examples < cfg.batch_size:
        _fail("batch_size", cfg.batch_size,
              f"at most max_examples={cfg.max_examples} (a batch cannot be larger than the data); "
              "lower batch_size or raise max_examples")


def _check_runtime(cfg: Config) -> None:
    """The runtime's fields; ``jit_compile`` may be null; ``profile`` only as for_profile recorded it."""
    _check_fields(cfg, "runtime")
    if cfg.jit_compile is not None and not isinstance(cfg.jit_compile, bool):
        _fail("jit_compile", cfg.jit_compile, "true, false, or null to let the kit choose per device")
    if cfg.profile != "full" and not _PROFILE_RECORDED.get():
        p = cfg.profile
        raise ConfigError(
            f"Config field `profile` is set by for_profile, not by hand. Received: profile={p!r}. Config(profile="
            f"{p!r}) would only label a full-size experiment {p!r}: use for_profile({p!r}, ...) (gan_kit.for_profile;"
            f" on the command line --profile {p}), which applies the profile's budget and records it here.")


def _check_logging(cfg: Config) -> None:
    """The logging fields; a run name that makes one folder; a non-empty output folder."""
    _check_fields(cfg, "logging")
    if not cfg.name or any(c in cfg.name for c in "/\\") or cfg.name.startswith("."):
        _fail("name", cfg.name, "a non-empty run name without slashes, not starting with '.'")
    if not cfg.output_dir:
        _fail("output_dir", cfg.output_dir, "a folder path such as 'outputs/runs'")


# One validator per group, run in this order: a rule that reads another group's field runs after that group.
_VALIDATORS = {
    "model": _check_model,
    "optimizer": _check_optimizer,
    "tricks": _check_tricks,
    "vae_conditional": _check_vae_conditional,
    "data": _check_data,
    "runtime": _check_runtime,
    "logging": _check_logging,
}


def _validate(cfg: Config) -> None:
    """Every field, group by group (``_VALIDATORS``)."""
    for check in _VALIDATORS.values():
        check(cfg)


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
    "CONDITIONINGS",
    "CONFIG_GROUPS",
    "DATASET_NAMES",
    "DIFFAUGMENT",
    "DISTRIBUTE",
    "D_NORMS",
    "EXTRACTORS",
    "FIELD_NAMES",
    "IMAGE_SIZES",
    "KEY_HINTS",
    "LABEL_LOSSES",
    "LOSS_NAMES",
    "MODELS",
    "NATIVE_SHAPES",
    "NO_RECIPE",
    "OPTIMIZERS",
    "PRECISIONS",
    "PROFILES",
    "PROFILE_SETTINGS",
    "RECON_LOSSES",
    "TO_IMAGE",
    "UPSAMPLING",
    "VAE_SIZES",
    "Config",
    "ConfigError",
    "check_keys",
    "check_label_tricks",
    "check_range",
    "default_profile_settings",
    "for_profile",
    "resolve_profile",
]
