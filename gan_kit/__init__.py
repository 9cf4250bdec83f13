"""gan-kit: a thin helper package behind the GAN course notebooks.

The public API is small: ``Config`` and ``for_profile`` (gan_kit.config),
``train`` (gan_kit.training), and the modules ``data``, ``models``, ``losses``,
``callbacks``, ``plotting``, ``runs`` and ``devices``. TensorFlow is imported
only when a module that needs it is first used.
"""

from __future__ import annotations

import importlib
from typing import Any

from .config import Config, ConfigError, for_profile, resolve_profile

__version__ = "0.1.0"

_LAZY = {
    "train": ("training", "train"),
    "GAN": ("training", "GAN"),
    "Run": ("training", "Run"),
}
_MODULES = ("callbacks", "data", "devices", "losses", "models", "plotting", "runs", "training")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f".{module}", __name__), attr)
    if name in _MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'gan_kit' has no attribute {name!r}")


__all__ = ["GAN", "Config", "ConfigError", "Run", "for_profile", "resolve_profile", "train", *_MODULES]
