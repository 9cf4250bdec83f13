"""Which device TensorFlow will use (Apple Metal, CUDA or CPU), and why."""

from __future__ import annotations

import platform
import sys
from typing import Any


def _tf():
    import tensorflow as tf

    return tf


def gpu_available() -> bool:
    """True when TensorFlow sees at least one GPU (CUDA or the Metal plugin)."""
    try:
        return bool(_tf().config.list_physical_devices("GPU"))
    except Exception:  # a broken plugin must not stop the CPU path
        return False


def is_apple_silicon() -> bool:
    """True on macOS with an arm64 (M-series) processor."""
    return sys.platform == "darwin" and platform.machine() == "arm64"


def describe() -> dict[str, Any]:
    """Versions, visible devices, and the device the kit will train on with the reason."""
    tf = _tf()
    import keras

    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    cpus = [d.name for d in tf.config.list_physical_devices("CPU")]
    cuda = bool(tf.test.is_built_with_cuda())
    metal = is_apple_silicon() and bool(gpus)
    if metal:
        chosen, reason = "GPU (Apple Metal)", "tensorflow-metal is loaded and exposes the Apple GPU."
    elif gpus:
        chosen, reason = "GPU (CUDA)", f"TensorFlow was built with CUDA and sees {len(gpus)} GPU(s)."
    elif is_apple_silicon():
        chosen, reason = "CPU", (
            "No Metal GPU is visible: tensorflow-metal is not installed or failed to load "
            "(it supports only some TensorFlow releases). Training falls back to the CPU."
        )
    elif cuda:
        chosen, reason = "CPU", "TensorFlow has CUDA support but sees no GPU (no driver or no device)."
    else:
        chosen, reason = "CPU", "No GPU is visible; TensorFlow runs on the CPU."
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "platform": f"{sys.platform}-{platform.machine()}",
        "cpus": cpus,
        "gpus": gpus,
        "gpu": bool(gpus),
        "metal": metal,
        "built_with_cuda": cuda,
        "device": chosen,
        "reason": reason,
        "xla": not metal,
    }


__all__ = ["describe", "gpu_available", "is_apple_silicon"]
