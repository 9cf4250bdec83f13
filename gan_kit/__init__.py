"""gan-kit: a thin helper package behind the GAN course notebooks.

The public API is small: ``Config``, ``ConfigError``, ``for_profile`` and ``resolve_profile``
(gan_kit.config), ``train`` (gan_kit.training), ``Run`` (gan_kit.runs), ``GAN`` (gan_kit.gan),
``build_report`` (gan_kit.report) and ``evaluate`` (gan_kit.metrics) are shortcuts; their home is
gan_kit.<module>, which is also the one documented path of every other public name (a module's
``__all__`` lists only the names whose home it is; ``tests/test_public_names.py`` checks it). The modules below
are each reachable as ``gan_kit.<module>`` after a bare ``import gan_kit``. Modules are imported when first used,
so ``import gan_kit`` does not import TensorFlow; the analysis modules (``records``,
``observations``, ``compare``, ``report``, ``plotting``, ``diagnostics``, ``runs``) never do.

Layers, lowest first (a module imports its own layer or lower ones only; ``tests/test_layers.py``
checks it): ``fileio``, ``images``, ``devices``, ``ring``, ``recipes`` / ``config`` / ``runs`` /
``diagnostics``, ``plotting`` / ``records``, ``observations``, ``compare``, ``report`` / ``data`` /
``models``, ``losses``, ``augment`` / ``metrics`` / ``gan``, ``steps``, ``conditional``, ``vae``, ``toy`` /
``tracking``, ``checkpoints``, ``callbacks`` / ``training`` / ``sweep``, ``lab`` / ``checks`` / ``instructor``,
``__main__``.

``gan_kit.instructor`` (handouts, releases, fixtures, grading, benchmarks) is the instructor's part: a student
release leaves it out, and nothing below it imports it.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

# TensorFlow's C++ log lines (oneDNN notices and CUDA stubs at start-up, a failed cuInit on CPU machines,
# grappler notes) are not for students: they are hidden unless TF_CPP_MIN_LOG_LEVEL is set before gan_kit is
# imported (TF_CPP_MIN_LOG_LEVEL=0 shows everything; `python -m gan_kit --tf-logs ...` does that).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from .config import Config, ConfigError, for_profile, resolve_profile  # noqa: E402
from .devices import quiet_tensorflow_startup  # noqa: E402

quiet_tensorflow_startup()

__version__ = "0.1.0"

_LAZY = {
    "train": ("training", "train"),
    "GAN": ("gan", "GAN"),
    "Run": ("runs", "Run"),
    "build_report": ("report", "build_report"),
    "evaluate": ("metrics", "evaluate"),
}
_MODULES = (
    "augment", "callbacks", "checkpoints", "checks", "compare", "conditional", "config", "exercises",
    "data", "devices", "diagnostics", "fileio", "gan", "images", "lab", "losses", "metrics", "models",
    "observations", "plotting", "recipes", "records", "report", "ring", "runs", "steps", "sweep", "toy",
    "tracking", "training", "vae",
)


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f".{module}", __name__), attr)
    raise AttributeError(f"module 'gan_kit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | set(_MODULES))


__all__ = ["GAN", "Config", "ConfigError", "Run", "for_profile", "resolve_profile", "train", *_MODULES]
