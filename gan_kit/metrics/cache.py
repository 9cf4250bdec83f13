"""The metrics cache: where it lives and how its keys are made.

The cache root is ``$GAN_KIT_CACHE_DIR``, else ``<repo>/outputs/cache``. Cached classifiers
and reference statistics are keyed on short hashes of their settings (``_short_hash``),
of weights files (``_file_sha256``) and on the image shape the kit uses for a dataset
(``_image_shape``).

The public names live in ``gan_kit.metrics`` (import them from there); this module's own ``__all__`` is empty.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

__all__: list[str] = []

CACHE_ENV = "GAN_KIT_CACHE_DIR"
_REPO = Path(__file__).resolve().parents[2]


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """The metrics cache folder: ``cache_dir``, else ``$GAN_KIT_CACHE_DIR``, else ``<repo>/outputs/cache``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else _REPO / "outputs" / "cache"


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _short_hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:10]


def _image_shape(dataset: str) -> tuple[int, int, int]:
    """The shape the kit's models use for a dataset (digits: 32 x 32, upscaled from 8 x 8)."""
    from ..config import NATIVE_SHAPES

    size, channels = NATIVE_SHAPES[dataset]
    return (size, size, channels)

