"""Which device TensorFlow will use (Apple Metal, CUDA or CPU), and why."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import os
import platform
import sys
import tempfile
from collections.abc import Callable, Mapping
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
# see docs/development.md, "Performance". The default below follows that measurement.
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


REFERENCE_CPU_CORES = 2  # the CPU the notebooks' times are measured on (x86-64, no GPU)


def time_estimate(minutes: Mapping[str, float], profile: str, info: dict[str, Any] | None = None) -> str:
    """A notebook's expected running time under ``profile`` on this machine, as one sentence.

    Args:
        minutes: the notebook's measured wall time in minutes per profile on the reference
            ``REFERENCE_CPU_CORES``-core CPU (a profile left out was not measured there).
        profile: the concrete profile (``smoke``, ``quick`` or ``full``).
        info: ``describe()`` of this machine (default: measured now).
    """
    info = info or describe()
    measured = minutes.get(profile)
    if measured is None and profile != "full":
        return f"Profile '{profile}' was not timed for this notebook on the {REFERENCE_CPU_CORES}-core reference CPU."
    if measured is None:
        return (f"Profile 'full' was not timed on the {REFERENCE_CPU_CORES}-core reference CPU: it is sized for a GPU"
                + (" (this machine has one)." if info.get("gpu") else "; on a CPU expect hours. Use 'quick' on a "
                   "laptop."))
    amount = "under a minute" if measured < 1 else f"about {round(measured)} minute{'s' * (round(measured) != 1)}"
    sentence = (f"Expected time under '{profile}': {amount} on the {REFERENCE_CPU_CORES}-core reference CPU "
                "(measured)")
    if info.get("gpu"):
        return sentence + f"; on this machine's {info.get('device', 'GPU')} expect less (not measured)."
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return sentence + (f"; this CPU has {cores} cores, so expect about that or less." if cores and
                       cores >= REFERENCE_CPU_CORES else f"; this CPU has {cores} core(s): expect longer.")


def choose_runtime(config, info: dict[str, Any] | None = None) -> dict[str, Any]:
    """The fast path for a config on this machine: XLA, steps per execution, precision, distribution, with reasons.

    Values set in the config win; ``None`` / ``"auto"`` fields are chosen per device.
    """
    info = info or describe()
    reasons: dict[str, str] = {}
    jit, reasons["jit_compile"] = _choose_jit(config, info)
    spe, reasons["steps_per_execution"] = _choose_steps_per_execution(config, info)
    precision, reasons["mixed_precision"] = _choose_precision(config, info)
    strategy, reasons["distribute"] = _choose_distribute(config, info)
    fused, reasons["fused_batch_norm"] = _choose_fused_batch_norm(info)
    return {
        "device": info["device"],
        "jit_compile": jit,
        "steps_per_execution": spe,
        "mixed_precision": precision,
        "distribute": strategy,
        "fused_batch_norm": fused,
        "reasons": reasons,
    }


def _choose_jit(config, info: dict[str, Any]) -> tuple[bool, str]:
    """XLA on or off, and why."""
    gpus, metal = info["gpus"], info["metal"]
    if config.jit_compile is not None:
        if bool(config.jit_compile) and metal:
            return False, "XLA is not available through tensorflow-metal; turned off"
        return bool(config.jit_compile), "set in the config"
    if metal:
        return False, "XLA is not available through tensorflow-metal"
    if gpus:
        return True, "XLA fuses the conv/BN/activation kernels on CUDA"
    if CPU_XLA_DEFAULT:
        return True, "XLA was measured faster on the reference CPU"
    return False, ("XLA was measured slower than TensorFlow's oneDNN kernels on the reference CPU "
                   "(python -m gan_kit bench)")


def _choose_steps_per_execution(config, info: dict[str, Any]) -> tuple[int, str]:
    """Train steps per call (at most the epoch's steps), and why."""
    if config.steps_per_execution is not None:
        spe, reason = int(config.steps_per_execution), "set in the config"
    elif info["gpus"]:
        spe, reason = 8, "several steps per call hide Python overhead behind fast GPU steps"
    else:
        spe, reason = 1, "a CPU step takes long enough that per-step overhead is negligible"
    if config.steps_per_epoch is not None:
        spe = max(1, min(spe, config.steps_per_epoch))
    return spe, reason


def _choose_precision(config, info: dict[str, Any]) -> tuple[str, str]:
    """The mixed-precision policy, and why."""
    gpus, metal = info["gpus"], info["metal"]
    if config.mixed_precision != "auto":
        return ("float32" if config.mixed_precision == "off" else config.mixed_precision), "set in the config"
    if gpus and not metal:
        cc = _compute_capability(gpus[0])
        if cc is None or cc >= CUDA_MIN_COMPUTE_FOR_FP16:
            return "mixed_float16", "CUDA GPU with tensor cores: float16 compute, float32 weights and losses"
        return "float32", f"GPU compute capability {cc} has no fast float16"
    if metal:
        return "float32", "not measured to help with tensorflow-metal; set mixed_float16 to try"
    if info.get("cpu_bf16"):
        return "mixed_bfloat16", (
            "the CPU has native bfloat16 dot products (AVX512_BF16/AMX): bfloat16 compute, float32 weights, "
            "logits and losses (measured about 1.3x the float32 step on the reference CPU; python -m gan_kit bench)")
    return "float32", "this CPU has no native bfloat16 or float16 arithmetic; emulating them is slower"


def _choose_distribute(config, info: dict[str, Any]) -> tuple[str, str]:
    """The distribution strategy's kind, and why."""
    gpus = info["gpus"]
    if config.distribute == "multi_worker":
        role = worker_role()
        return "multi_worker", (
            f"MultiWorkerMirroredStrategy over the {role['workers']} worker(s) of TF_CONFIG (set in the config); "
            f"this process is {role['type']} {role['index']}" + (", the chief" if role["chief"] else ""))
    if config.distribute == "off" or (config.distribute == "auto" and len(gpus) < 2):
        return "default", "one device" if config.distribute == "auto" else "set in the config"
    where = f"{len(gpus)} GPUs" if gpus else "this machine's CPU"
    return "mirrored", f"MirroredStrategy over {where}" + (
        " (set in the config)" if config.distribute == "mirrored" else "")


def _choose_fused_batch_norm(info: dict[str, Any]) -> tuple[bool, str]:
    """BatchNorm through TensorFlow's fused kernel or Keras' own, and why."""
    if info["gpus"] or info["metal"]:
        return False, "Keras' own BatchNorm (XLA fuses it on CUDA; not measured through Metal)"
    return True, ("BatchNorm through TensorFlow's fused kernel (oneDNN): about a third fewer ops per step than Keras' "
                  "moments-based BatchNorm, measured faster on the reference CPU (python -m gan_kit bench)")


def apply_runtime(model, runtime: dict[str, Any]) -> None:
    """What the runtime choice changes in a built model, before its first step: BatchNorm through the fused
    kernel (``fused_batch_norm``), and one device's results on several replicas (``share_across_replicas``).
    ``train`` calls it inside the strategy's scope; so does the benchmark for the kit's rows."""
    strategy = getattr(model, "distribute_strategy", None)
    if strategy is not None and strategy.num_replicas_in_sync > 1:
        share_across_replicas(model)
    if runtime.get("fused_batch_norm"):
        for name in ("generator", "discriminator", "ema_generator", "encoder", "decoder"):
            net = getattr(model, name, None)
            if net is not None:
                fuse_batch_norm(net)


def fuse_batch_norm(model) -> int:
    """Train the BatchNormalization layers of ``model`` through TensorFlow's fused kernel; how many.

    Keras 3's BatchNorm computes the moments and the normalisation as separate float32 ops (and their
    gradients); ``FusedBatchNormV3`` does each in one kernel, on bfloat16 inputs too. Same maths: batch
    statistics in float32, the biased variance for the moving average (the kernel's is Bessel-corrected and is
    corrected back), the same momentum and epsilon. Only training calls change: inference (sample grids,
    metrics) keeps Keras' own computation, so it matches the saved model, which is unchanged (same layers,
    same weights). Layers with a mask, renormalisation, synchronized statistics (several replicas) or another
    layout keep Keras' own computation.
    """
    import keras

    tf = _tf()
    count = 0
    for layer in _layers(model):
        if not isinstance(layer, keras.layers.BatchNormalization) or getattr(layer.call, "_fused", False):
            continue

        def call(inputs, training=None, mask=None, _layer=layer, _keras=layer.call):
            bn, rank = _layer, len(inputs.shape)
            if not (training and bn.trainable) or mask is not None or bn.renorm or bn.synchronized \
                    or rank not in (2, 4) or bn.axis not in (-1, rank - 1):
                return _keras(inputs, training=training, mask=mask)
            x = inputs if rank == 4 else inputs[:, None, None, :]
            channels = x.shape[-1]
            gamma = tf.cast(bn.gamma, tf.float32) if bn.scale else tf.ones([channels], tf.float32)
            beta = tf.cast(bn.beta, tf.float32) if bn.center else tf.zeros([channels], tf.float32)
            y, mean, variance = tf.compat.v1.nn.fused_batch_norm(x, gamma, beta, epsilon=bn.epsilon, is_training=True)
            n = tf.cast(tf.size(x) // channels, tf.float32)
            variance = variance * (n - 1.0) / tf.maximum(n, 1.0)  # back to the biased variance Keras keeps
            bn.moving_mean.assign(bn.moving_mean * bn.momentum + mean * (1.0 - bn.momentum))
            bn.moving_variance.assign(bn.moving_variance * bn.momentum + variance * (1.0 - bn.momentum))
            y = tf.cast(y, bn.compute_dtype)
            return y if rank == 4 else y[:, 0, 0, :]

        call._fused = True
        layer.call = call
        count += 1
    return count


def make_strategy(runtime: dict[str, Any], devices: list[str] | None = None):
    """The ``tf.distribute`` strategy a runtime choice names (the default strategy for one device).

    ``"multi_worker"`` gives this process's one ``MultiWorkerMirroredStrategy`` (``multi_worker_strategy``).
    """
    tf = _tf()
    if runtime["distribute"] == "mirrored":
        return tf.distribute.MirroredStrategy(devices)
    if runtime["distribute"] == "multi_worker":
        return multi_worker_strategy()
    return tf.distribute.get_strategy()


# ----------------------------------------------------------------- several processes (TF_CONFIG)
class ClusterError(ValueError):
    """``distribute="multi_worker"`` without a usable ``TF_CONFIG``."""


RECIPE = ("Set TF_CONFIG in every process, e.g. '{\"cluster\": {\"worker\": [\"host1:12345\", \"host2:12345\"]}, "
          "\"task\": {\"type\": \"worker\", \"index\": 0}}' (index 1 on the second; docs/library.md, "
          "\"Several processes or machines\").")


def worker_role(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """This process's place in the ``TF_CONFIG`` cluster.

    Returns ``{"workers": n, "type": "worker" or "chief", "index": i, "chief": bool}``: the chief is the
    ``chief`` task when the cluster names one, else worker 0 (``MultiWorkerMirroredStrategy``'s rule). Only
    the chief writes the run folder.

    Raises:
        ClusterError: when ``TF_CONFIG`` is unset, not JSON, or does not name this task within its cluster.
    """
    text = (os.environ if environ is None else environ).get("TF_CONFIG", "")
    if not text.strip():
        raise ClusterError("distribute='multi_worker' trains across the processes TF_CONFIG lists, and TF_CONFIG is "
                           "not set. " + RECIPE)
    try:
        spec = json.loads(text)
        cluster, task = spec["cluster"], spec["task"]
        kind, index = str(task["type"]), int(task["index"])
        jobs = {name: list(cluster.get(name) or []) for name in ("chief", "worker")}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ClusterError(f"TF_CONFIG is not a cluster description ({type(exc).__name__}: {exc}). {RECIPE}") from None
    if kind not in jobs or not 0 <= index < len(jobs[kind]):
        raise ClusterError(f"TF_CONFIG's task {kind} {index} is not in its cluster "
                           f"({', '.join(f'{k}: {len(v)}' for k, v in jobs.items())}). {RECIPE}")
    chief = kind == "chief" or (not jobs["chief"] and index == 0)
    return {"workers": len(jobs["chief"]) + len(jobs["worker"]), "type": kind, "index": index, "chief": chief}


_MULTI_WORKER: list[Any] = []  # this process's MultiWorkerMirroredStrategy, once made


def multi_worker_strategy():
    """This process's ``MultiWorkerMirroredStrategy`` from ``TF_CONFIG``, made on the first call.

    TensorFlow sets up the collective ops when the strategy is made, and only before it has run anything
    (tensors, datasets); ``train`` therefore makes it first thing. Code that runs TensorFlow before
    ``train`` calls this first.

    Raises:
        ClusterError: without a usable ``TF_CONFIG``.
        RuntimeError: when TensorFlow has already run something in this process.
    """
    if _MULTI_WORKER:
        return _MULTI_WORKER[0]
    worker_role()
    tf = _tf()
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as exc:
        if "startup" not in str(exc):
            raise
        raise RuntimeError("distribute='multi_worker' must make its MultiWorkerMirroredStrategy before TensorFlow runs "
                           "anything in the process: train in a fresh process (python -m gan_kit train --set "
                           "distribute=multi_worker), or call gan_kit.devices.multi_worker_strategy() first.") from exc
    _MULTI_WORKER.append(strategy)
    return strategy


def replica_rows(draw: Callable[[Any], Any], batch: Any) -> Any:
    """``draw(batch)``, such that the replicas of a strategy together see one draw over the global batch.

    Every replica's random generators hold the same state (a ``keras.random.SeedGenerator`` is mirrored),
    so ``draw(batch)`` would hand every replica the same numbers. Here each replica draws for the global
    batch (``batch`` times the replicas in sync) and keeps its own rows, which are the rows one device
    drawing for the global batch gives the replica's examples. ``draw`` returns a tensor or a tuple of
    tensors with ``batch`` rows. Replicas are assumed to hold equal shares of the global batch.
    """
    tf = _tf()
    context = tf.distribute.get_replica_context()
    replicas = context.num_replicas_in_sync if context is not None else 1
    if replicas == 1:
        return draw(batch)
    drawn = draw(batch * replicas)
    start = tf.cast(context.replica_id_in_sync_group, tf.int32) * tf.cast(batch, tf.int32)
    return tf.nest.map_structure(lambda t: t[start:start + batch], drawn)


def _layers(model) -> list:
    found, todo = [], [model]
    while todo:
        layer = todo.pop()
        found.append(layer)
        todo.extend(getattr(layer, "layers", []))
        if getattr(layer, "layer", None) is not None:  # wrappers (SpectralNormalization)
            todo.append(layer.layer)
    return found


def share_across_replicas(model) -> None:
    """Make a GAN trained on several replicas compute what one device computes on the global batch.

    BatchNorm layers of its networks normalise with the statistics of the global batch
    (``synchronized``: all-reduced across replicas) instead of each replica's share, and the GAN's noise
    and label noise are drawn with ``replica_rows``, so replica ``r`` gets the rows one device would give
    its examples. Still drawn per replica from the same state (so shared by the replicas): dropout masks,
    instance noise and the gradient penalty's interpolation weights.

    Under several workers each step also returns its logs as 1-element tensors: Keras 3's ``fit()``
    averages them across workers over axis 0, which fails on scalars (tensorflow/tensorflow#72388).
    """
    import keras

    tf = _tf()
    strategy = model.distribute_strategy
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and strategy.extended._in_multi_worker_mode():
        step = model.train_step
        if not getattr(step, "_per_replica", False):
            def train_step(data, _step=step):
                return {key: tf.reshape(value, [1]) for key, value in _step(data).items()}

            train_step._per_replica = True
            model.train_step = train_step

    for name in ("generator", "discriminator", "ema_generator"):
        net = getattr(model, name, None)
        for layer in _layers(net) if net is not None else []:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.synchronized = True
    for name in ("sample_noise", "_labels"):
        original = getattr(model, name, None)
        if original is not None and not getattr(original, "_per_replica", False):
            def per_replica(batch, _draw=original):
                return replica_rows(_draw, batch)

            per_replica._per_replica = True
            setattr(model, name, per_replica)


__all__ = [
    "ClusterError",
    "REFERENCE_CPU_CORES",
    "apply_runtime",
    "choose_runtime",
    "cpu_has_native_bf16",
    "describe",
    "fuse_batch_norm",
    "gpu_available",
    "is_apple_silicon",
    "make_strategy",
    "multi_worker_strategy",
    "quiet_tensorflow_startup",
    "replica_rows",
    "share_across_replicas",
    "time_estimate",
    "worker_role",
]
