"""Which device TensorFlow will use (Apple Metal, CUDA or CPU), and why."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import platform
import sys
import tempfile
from typing import Any

# TensorFlow's C++ start-up lines: printed while its shared libraries load, before TF_CPP_MIN_LOG_LEVEL applies.
STARTUP_NOISE = (
    "All log messages before absl::InitializeLog() is called",
    "oneDNN custom operations are on",
    "Could not find cuda drivers on your machine",
    "cudart_stub.cc",
    "Unable to register cu",
    "computation_placer.cc",
    "TF-TRT Warning",
    "This TensorFlow binary is optimized to use available CPU instructions",
    "To enable the following instructions",
    "rebuild TensorFlow with the appropriate compiler flags",
)


class _QuietLoader(importlib.abc.Loader):
    """Runs the real loader with file descriptor 2 sent to a temp file, then passes on every line that is not
    TensorFlow start-up noise."""

    def __init__(self, loader: importlib.abc.Loader):
        self.loader = loader

    def __getattr__(self, name: str) -> Any:  # resource readers and the like: the real loader's
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        try:
            sys.stderr.flush()
        except (AttributeError, ValueError):
            pass
        saved = os.dup(2)
        with tempfile.TemporaryFile() as captured:
            os.dup2(captured.fileno(), 2)
            try:
                self.loader.exec_module(module)
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                captured.seek(0)
                kept = [line for line in captured.read().decode("utf-8", "replace").splitlines(keepends=True)
                        if not any(noise in line for noise in STARTUP_NOISE)]
                if kept:
                    sys.stderr.write("".join(kept))


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` once, wrapping its loader in ``_QuietLoader``; then removes itself."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def quiet_tensorflow_startup(quiet: bool = True) -> None:
    """Keep TensorFlow's C++ start-up lines (oneDNN, CUDA stubs, absl) off the terminal and notebook outputs.

    ``import gan_kit`` calls it. It does nothing when TensorFlow is already imported or
    ``TF_CPP_MIN_LOG_LEVEL`` is ``0`` (the user asked for TensorFlow's logs); ``quiet=False`` undoes it
    before TensorFlow is imported (``python -m gan_kit --tf-logs``).
    """
    hooks = [f for f in sys.meta_path if isinstance(f, _QuietTensorFlowImport)]
    if not quiet:
        for hook in hooks:
            sys.meta_path.remove(hook)
        return
    if "tensorflow" in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3") == "0" or hooks:
        return
    sys.meta_path.insert(0, _QuietTensorFlowImport())


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


def cpu_has_native_bf16() -> bool:
    """True when the CPU does bfloat16 dot products in hardware (x86 AVX512_BF16 or AMX-BF16, read on Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:  # not Linux: macOS and Windows CPUs are taken to have none
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


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
        "cpu_bf16": cpu_has_native_bf16(),
    }


# XLA on this kit's reference CPU (2 cores, TF 2.21) is measured by `python -m gan_kit bench`;
# see README "Performance". The default below follows that measurement.
CPU_XLA_DEFAULT = False
CUDA_MIN_COMPUTE_FOR_FP16 = (7, 0)


def _compute_capability(gpu_name: str) -> tuple[int, int] | None:
    tf = _tf()
    try:
        for device in tf.config.list_physical_devices("GPU"):
            if device.name == gpu_name:
                details = tf.config.experimental.get_device_details(device)
                cc = details.get("compute_capability")
                return tuple(cc) if cc else None
    except Exception:
        return None
    return None


def choose_runtime(config, info: dict[str, Any] | None = None) -> dict[str, Any]:
    """The fast path for a config on this machine: XLA, steps per execution, precision, distribution, with reasons.

    Values set in the config win; ``None`` / ``"auto"`` fields are chosen per device.
    """
    info = info or describe()
    reasons: dict[str, str] = {}
    gpus, metal = info["gpus"], info["metal"]

    if config.jit_compile is not None:
        jit, reasons["jit_compile"] = bool(config.jit_compile), "set in the config"
        if jit and metal:
            jit, reasons["jit_compile"] = False, "XLA is not available through tensorflow-metal; turned off"
    elif metal:
        jit, reasons["jit_compile"] = False, "XLA is not available through tensorflow-metal"
    elif gpus:
        jit, reasons["jit_compile"] = True, "XLA fuses the conv/BN/activation kernels on CUDA"
    else:
        jit = CPU_XLA_DEFAULT
        reasons["jit_compile"] = (
            "XLA was measured faster on the reference CPU" if jit else
            "XLA was measured slower than TensorFlow's oneDNN kernels on the reference CPU (python -m gan_kit bench)"
        )

    if config.steps_per_execution is not None:
        spe, reasons["steps_per_execution"] = int(config.steps_per_execution), "set in the config"
    elif gpus:
        spe, reasons["steps_per_execution"] = 8, "several steps per call hide Python overhead behind fast GPU steps"
    else:
        spe, reasons["steps_per_execution"] = 1, "a CPU step takes long enough that per-step overhead is negligible"
    if config.steps_per_epoch is not None:
        spe = max(1, min(spe, config.steps_per_epoch))

    if config.mixed_precision != "auto":
        precision, reasons["mixed_precision"] = (
            "float32" if config.mixed_precision == "off" else config.mixed_precision), "set in the config"
    elif gpus and not metal:
        cc = _compute_capability(gpus[0])
        if cc is None or cc >= CUDA_MIN_COMPUTE_FOR_FP16:
            precision = "mixed_float16"
            reasons["mixed_precision"] = "CUDA GPU with tensor cores: float16 compute, float32 weights and losses"
        else:
            precision, reasons["mixed_precision"] = "float32", f"GPU compute capability {cc} has no fast float16"
    elif metal:
        precision = "float32"
        reasons["mixed_precision"] = "not measured to help with tensorflow-metal; set mixed_float16 to try"
    elif info.get("cpu_bf16"):
        precision = "mixed_bfloat16"
        reasons["mixed_precision"] = (
            "the CPU has native bfloat16 dot products (AVX512_BF16/AMX): bfloat16 compute, float32 weights, "
            "logits and losses (measured about 1.3x the float32 step on the reference CPU; python -m gan_kit bench)")
    else:
        precision = "float32"
        reasons["mixed_precision"] = "this CPU has no native bfloat16 or float16 arithmetic; emulating them is slower"

    if config.distribute == "off" or (config.distribute == "auto" and len(gpus) < 2):
        strategy = "default"
        reasons["distribute"] = "one device" if config.distribute == "auto" else "set in the config"
    else:
        strategy = "mirrored"
        where = f"{len(gpus)} GPUs" if gpus else "this machine's CPU"
        reasons["distribute"] = f"MirroredStrategy over {where}" + (
            " (set in the config)" if config.distribute == "mirrored" else "")
    return {
        "device": info["device"],
        "jit_compile": jit,
        "steps_per_execution": spe,
        "mixed_precision": precision,
        "distribute": strategy,
        "reasons": reasons,
    }


def make_strategy(runtime: dict[str, Any], devices: list[str] | None = None):
    """The ``tf.distribute`` strategy a runtime choice names (the default strategy for one device)."""
    tf = _tf()
    if runtime["distribute"] == "mirrored":
        return tf.distribute.MirroredStrategy(devices)
    return tf.distribute.get_strategy()


__all__ = ["choose_runtime", "cpu_has_native_bf16", "describe", "gpu_available", "is_apple_silicon", "make_strategy",
           "quiet_tensorflow_startup"]
