"""Benchmark: the kit's ``fit()`` training against plain ``tf.function`` + ``GradientTape`` loops.

Everything is measured in the same process, interleaved repetition by repetition, and reported as
ratios against references taken in the same repetition, so drifts in machine load hit every
number alike:

- **the tutorial loop** (``STORY1``), the main reference: ``gan_kit.steps.story1_train_step`` (the TF DCGAN
  tutorial's rule: G makes one batch under two tapes, both updates from one forward pass) called
  in a Python loop on the same models and batch, float32;
- **the keras.io loop**: the alternating D-then-G update with fresh noise for each (the keras.io
  DCGAN example), float32;
- **a dense matmul in each variant's own precision** (float32, bfloat16 for ``mixed_bfloat16``,
  float16 for ``mixed_float16``): the machine's reachable GFLOP/s, the denominator of utilisation.

Batches are real images (CIFAR-10 for the 32x32 model, Fashion-MNIST for the 28x28 one, found
offline like ``gan_kit.data.load``), synthetic only when the dataset is not on this machine.
Steps are timed in steady state: from the end of a first step to the end of the last, so one-off
costs (tracing, ``fit()``'s start-up and tear-down) are left out of the rates and reported on
their own. ``profile_step`` traces a few steps with ``tf.profiler`` and splits the op time into
convolutions, normalisation, activations, optimizer updates, dropout/random numbers and casts.
Run it with ``python -m gan_kit bench`` or ``make bench``; results go to the screen and
``outputs/bench/bench.json``.
"""

from __future__ import annotations

import collections
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from .. import fileio
from ..config import Config, for_profile
from ..devices import apply_runtime, choose_runtime, describe
from ..gan import build_gan
from ..losses import bce_discriminator_loss, bce_generator_loss
from ..models import build_discriminator, build_generator
from ..steps import story1_train_step

# The two benchmarked models: the kit's default CIFAR-10 DCGAN (32x32) and a 28x28 grayscale DCGAN.
MODELS: dict[str, dict[str, Any]] = {
    "story1_dcgan_32": {"dataset": "cifar10", "image_size": 32, "channels": 3, "g_width": 64, "d_width": 64},
    "dcgan_28": {"dataset": "fashion_mnist", "image_size": 28, "channels": 1, "g_width": 64, "d_width": 64},
}


def layer_flops(model: keras.Model) -> int:
    """Multiply-add FLOPs (2 per MAC) of one forward pass of one example through conv and dense layers."""
    total = 0
    for layer in model.layers:
        inner = getattr(layer, "layer", layer)  # unwrap SpectralNormalization
        if isinstance(inner, keras.layers.Dense):
            total += 2 * int(np.prod(layer.input.shape[1:])) * inner.units
        elif isinstance(inner, keras.layers.Conv2DTranspose):
            _, h, w, c_in = layer.input.shape
            kh, kw = inner.kernel_size
            total += 2 * h * w * c_in * kh * kw * inner.filters
        elif isinstance(inner, keras.layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            kh, kw = inner.kernel_size
            total += 2 * h * w * c_out * kh * kw * layer.input.shape[-1]
    return int(total)


def step_flops(generator: keras.Model, discriminator: keras.Model, batch: int, reuse_fakes: bool = False,
               rule: str | None = None) -> int:
    """Approximate FLOPs of one GAN step (backward taken as twice the forward).

    ``rule`` (default from ``reuse_fakes``): ``"alternating"``, the keras.io loop and ``reuse_fakes=False``:
    D step (G forward, D forward+backward on the real and the fake batch), then G step (G and D
    forward+backward on fresh noise): 4 G + 9 D forward passes' worth per example; ``"shared"``
    (``reuse_fakes``): the G step reuses the D step's batch, 3 G + 9 D; ``"story1"``: one G forward, D on
    real and fake once, D's loss differentiated through both and G's through the fake branch: 3 G + 8 D.
    """
    rule = rule or ("shared" if reuse_fakes else "alternating")
    g_passes, d_passes = {"alternating": (4, 9), "shared": (3, 9), "story1": (3, 8)}[rule]
    return batch * (g_passes * layer_flops(generator) + d_passes * layer_flops(discriminator))


PRECISION_DTYPES = {"float32": "float32", "mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}


def matmul_gflops(n: int = 2048, repeats: int = 10, dtype: str = "float32", tries: int = 3) -> float:
    """GFLOP/s of a dense n x n matmul in ``dtype`` on the default device (the reachable-throughput reference),
    best of ``tries``."""
    a = tf.cast(tf.random.normal([n, n]), dtype)
    b = tf.cast(tf.random.normal([n, n]), dtype)
    scale = tf.constant(1e-3, dtype)

    @tf.function
    def run():
        c = a
        for _ in range(repeats):
            c = tf.matmul(c, b) * scale
        return tf.reduce_sum(tf.cast(c, tf.float32))

    run().numpy()
    best = float("inf")
    for _ in range(tries):
        start = time.perf_counter()
        run().numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 * repeats / best / 1e9


def plain_step(generator: keras.Model, discriminator: keras.Model, latent_dim: int) -> Callable:
    """The keras.io loop's step: the alternating D-then-G update, fresh noise for each, as a bare tf.function."""
    g_opt = keras.optimizers.Adam(1e-4, beta_1=0.5)
    d_opt = keras.optimizers.Adam(1e-4, beta_1=0.5)

    @tf.function
    def step(real):
        batch = tf.shape(real)[0]
        fake = generator(tf.random.normal([batch, latent_dim]), training=True)
        with tf.GradientTape() as tape:
            d_loss = bce_discriminator_loss(discriminator(real, training=True), discriminator(fake, training=True))
        grads = tape.gradient(d_loss, discriminator.trainable_weights)
        d_opt.apply_gradients(zip(grads, discriminator.trainable_weights))
        with tf.GradientTape() as tape:
            g_loss = bce_generator_loss(
                discriminator(generator(tf.random.normal([batch, latent_dim]), training=True), training=True))
        grads = tape.gradient(g_loss, generator.trainable_weights)
        g_opt.apply_gradients(zip(grads, generator.trainable_weights))
        return d_loss, g_loss

    return step


def story1_step(generator: keras.Model, discriminator: keras.Model, latent_dim: int) -> Callable:
    """The tutorial's one-pass step (``gan_kit.steps.story1_train_step``, Adam 1e-4 / 0.5 as the kit's defaults), fed
    fresh standard normal noise each call: ``step(real) -> (d_loss, g_loss)``."""
    step = story1_train_step(generator, discriminator, keras.optimizers.Adam(1e-4, beta_1=0.5),
                             keras.optimizers.Adam(1e-4, beta_1=0.5))

    def run(real):
        logs = step(real, tf.random.normal([tf.shape(real)[0], latent_dim]))
        return logs["d_loss"], logs["g_loss"]

    return run


def real_batches(config: Config, batch: int, count: int = 4) -> tuple[np.ndarray, str]:
    """``count * batch`` training images of the config's dataset scaled to [-1, 1] (float32), and where they
    came from; uniform noise of the same shape when the dataset is not on this machine (said so)."""
    from .. import data

    try:
        x, _, _ = data.load_arrays(config.dataset, "train", image_size=config.image_size, channels=config.channels,
                                   max_examples=batch * count, allow_download=False)
    except Exception as exc:  # not on this machine: the timing still runs, on noise, and says so
        x = np.random.default_rng(0).uniform(-1, 1, (batch * count, *config.image_shape)).astype(np.float32)
        return x, f"synthetic (uniform noise; {config.dataset} not found: {type(exc).__name__})"
    x = x[: batch * count]
    if x.ndim == 3:
        x = x[..., None]
    return (x.astype(np.float32) / 127.5 - 1.0), f"{config.dataset} (real, {len(x)} training images)"


def _dataset(config: Config, batch: int, images: np.ndarray | None = None) -> tf.data.Dataset:
    if images is None:
        images = np.random.default_rng(0).uniform(-1, 1, (batch * 4, *config.image_shape)).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices(images).batch(batch, drop_remainder=True).cache().repeat()


class _StepClock(keras.callbacks.Callback):
    """Records when each train_function call (``steps_per_execution`` steps) has finished."""

    def __init__(self):
        super().__init__()
        self.ends: list[float] = []

    def on_train_batch_end(self, batch, logs=None):
        if logs:
            float(keras.ops.convert_to_numpy(logs["g_loss"]))  # wait for the device (GPUs run ahead)
        self.ends.append(time.perf_counter())


def _time_kit(gan, data: tf.data.Dataset, steps: int) -> tuple[float, float]:
    """Seconds for ``steps`` steady-state steps inside one ``fit()``, and the rest of that call's time.

    ``fit()`` runs one extra execution first; the steady time runs from its end to the end of
    the last one. The second number is what the call took beyond the steady steps (start-up,
    the first execution and tear-down).
    """
    spe = int(getattr(gan, "steps_per_execution", 1) or 1)
    clock = _StepClock()
    start = time.perf_counter()
    gan.fit(data, epochs=1, steps_per_epoch=steps + spe, verbose=0, callbacks=[clock])
    total = time.perf_counter() - start
    steady = clock.ends[-1] - clock.ends[0]
    return steady, total - steady


def _time_plain(step: Callable, data: tf.data.Dataset, steps: int) -> float:
    """Seconds for ``steps`` steady-state steps of the plain loop (after one untimed step)."""
    iterator = iter(data)
    step(next(iterator))[0].numpy()
    start = time.perf_counter()
    for _ in range(steps):
        out = step(next(iterator))
    out[0].numpy()
    return time.perf_counter() - start


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


STORY1, KERAS_IO = "story 1 loop", "keras.io loop"
DEFAULT_VARIANT = "kit (default fast path)"


def _bench_row(label: str, per_step: list[float], times: dict[str, list[float]], kits: dict[str, tuple],
               overheads: dict[str, list[float]], matmuls: dict[str, list[float]], generator: keras.Model,
               discriminator: keras.Model, batch: int) -> dict[str, Any]:
    """One timed loop's row: images/s, its ratios to the plain loops, GFLOP/s and share of the matmul."""
    rule = kits[label][3] if label in kits else ("story1" if label == STORY1 else "alternating")
    precision = kits[label][1]["mixed_precision"] if label in kits else "float32"
    dtype = PRECISION_DTYPES.get(precision, "float32")
    flops = step_flops(generator, discriminator, batch, rule=rule)
    gflops = [flops / t / 1e9 for t in per_step]
    return {
        "images_per_s": _summary([batch / t for t in per_step]),
        "ratio_vs_story1": _summary([p / t for p, t in zip(times[STORY1], per_step)]),
        "ratio_vs_keras_io": _summary([p / t for p, t in zip(times[KERAS_IO], per_step)]),
        "ratio_vs_plain": _summary([p / t for p, t in zip(times[STORY1], per_step)]),  # older name
        "step_gflop": flops / 1e9,
        "rule": rule,
        "gflops": statistics.median(gflops),
        "precision": dtype,
        "fraction_of_matmul": _summary([g / m for g, m in zip(gflops, matmuls[dtype])]),
        "fit_overhead_s": _summary(overheads[label]) if label in kits else None,
        "runtime": kits[label][1] if label in kits else None,
    }


def bench_model(name: str, batch: int = 128, steps: int = 5, repeats: int = 5, matmul: float | None = None,
                variants: dict[str, dict[str, Any]] | None = None, matmul_size: int = 2048,
                profile_steps: int = 0) -> dict[str, Any]:
    """Images/s of the kit's training (each variant) and of the two plain loops, repetition by repetition.

    Each repetition times the tutorial loop, the keras.io loop, every kit variant and a matmul in each precision
    used, one after the other; every ratio (x the tutorial loop, x keras.io, share of the same-precision matmul) is
    taken within one repetition, then summarised as median [min-max]. ``steps`` is rounded up to a multiple of each
    variant's ``steps_per_execution``. ``matmul`` is ignored (kept for callers of the older signature).
    With ``profile_steps``, the first variant and the tutorial loop are then traced for that many steps
    (``profile``: ``op_time_shares`` of each).
    """
    base = for_profile("full", batch_size=batch, max_examples=None, steps_per_epoch=steps, **MODELS[name])
    variants = variants or {DEFAULT_VARIANT: {}}  # config overrides, and "runtime": runtime choices to force
    images, source = real_batches(base, batch)
    data = _dataset(base, batch, images)
    keras.utils.set_random_seed(0)
    generator = build_generator(base.latent_dim, base.image_shape, base.g_width, base.refine)
    discriminator = build_discriminator(base.image_shape, base.d_width, base.d_dropout)
    loops = {STORY1: story1_step(generator, discriminator, base.latent_dim),
             KERAS_IO: plain_step(generator, discriminator, base.latent_dim)}
    for step in loops.values():
        _time_plain(step, data, 1)  # trace and warm up
    kits = {}
    for label, overrides in variants.items():
        overrides = dict(overrides)
        fixed = overrides.pop("runtime", {})  # runtime choices without a config field (fused_batch_norm)
        cfg = base.replace(**overrides)
        runtime = {**choose_runtime(cfg), **fixed}
        gan = build_gan(cfg, runtime)
        apply_runtime(gan, runtime)  # as train() does
        spe = runtime["steps_per_execution"]
        _time_kit(gan, data, spe)  # trace, compile and warm up
        kits[label] = (gan, runtime, spe * -(-steps // spe), "shared" if cfg.reuse_fakes else "alternating")
    dtypes = sorted({"float32"} | {PRECISION_DTYPES.get(k[1]["mixed_precision"], "float32") for k in kits.values()})
    matmul_gflops(matmul_size, dtype="bfloat16" if "bfloat16" in dtypes else "float32", tries=1)  # warm up
    times: dict[str, list[float]] = {label: [] for label in (*loops, *kits)}
    overheads: dict[str, list[float]] = {label: [] for label in kits}
    matmuls: dict[str, list[float]] = {dtype: [] for dtype in dtypes}
    for _ in range(repeats):  # interleaved, so drifts in machine load hit every variant alike
        for label, step in loops.items():
            times[label].append(_time_plain(step, data, steps) / steps)
        for label, (gan, _, kit_steps, _) in kits.items():
            steady, rest = _time_kit(gan, data, kit_steps)
            times[label].append(steady / kit_steps)
            overheads[label].append(rest)
        for dtype in dtypes:
            matmuls[dtype].append(matmul_gflops(matmul_size, dtype=dtype, tries=2))
    rows = {label: _bench_row(label, per_step, times, kits, overheads, matmuls, generator, discriminator, batch)
            for label, per_step in times.items()}
    result = {"model": name, "batch": batch, "steps": steps, "repeats": repeats, "data": source,
              "matmul_gflops": {dtype: _summary(values) for dtype, values in matmuls.items()}, "rows": rows}
    if profile_steps:
        first, (gan, *_) = next(iter(kits.items()))
        result["profile"] = {"model": name, "batch": batch, "steps": profile_steps, "profiles": _profiles({
            first: lambda: _time_kit(gan, data, profile_steps),
            STORY1: lambda: _time_plain(loops[STORY1], data, profile_steps)})}
    return result


# Op classes of the profile, tried in order on each op's scope and type (``classify_op``).
OP_CLASSES = ("convolution", "normalisation", "activation", "optimizer", "dropout & random", "cast", "other")


def classify_op(scope: str, op_type: str) -> str:
    """The profile class of one TensorFlow op from its name scope and type (see ``OP_CLASSES``)."""
    low, kind = scope.lower(), op_type.lower()
    if re.search(r"(^|/)(adam|sgd|rmsprop|loss_scale_optimizer)(_\d+)?/", low) or kind.startswith("resourceapply"):
        return "optimizer"
    if "conv" in kind or "matmul" in kind:
        return "convolution"  # the dense layers' matmuls are counted with the convolutions
    if re.search(r"_(bn|ln)(/|$)", low) or "batchnorm" in kind or "moments" in low or "normalization" in low:
        return "normalisation"
    if re.search(r"_act(/|$)|(^|/)tanh(/|$)", low) or "relu" in kind or "tanh" in kind:
        return "activation"
    if "_drop" in low or "dropout" in low or kind.startswith("statelessrandom") or "random" in kind:
        return "dropout & random"
    if kind == "cast":
        return "cast"
    return "other"


def op_time_shares(logdir: str | Path) -> dict[str, Any]:
    """Shares of the op time in a ``tf.profiler`` trace, per ``OP_CLASSES`` class, and the largest op types.

    Op time is summed over TensorFlow's op threads (ops that overlap both count), so the shares are of the work
    the ops did, not of the wall clock.
    """
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    totals: collections.Counter = collections.Counter()
    by_type: collections.Counter = collections.Counter()
    for path in Path(logdir).rglob("*.xplane.pb"):
        space = xplane_pb2.XSpace()
        space.ParseFromString(path.read_bytes())
        for plane in space.planes:
            for line in plane.lines:
                if not line.name.startswith("tf_Compute"):
                    continue
                for event in line.events:
                    name = plane.event_metadata[event.metadata_id].name
                    if ":" not in name or name.startswith(("ThreadpoolListener", "ExecutorState")):
                        continue
                    scope, op_type = name.rsplit(":", 1)
                    kind = classify_op(scope, op_type)
                    totals[kind] += event.duration_ps
                    by_type[f"{kind}: {op_type}"] += event.duration_ps
    total = sum(totals.values()) or 1
    return {"shares": {kind: totals[kind] / total for kind in OP_CLASSES},
            "top_ops": {name: ps / total for name, ps in by_type.most_common(8)}, "op_seconds": total / 1e12}


def profile_step(name: str = "story1_dcgan_32", batch: int = 128, steps: int = 3,
                 overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Trace ``steps`` steady-state steps of the kit's ``fit()`` (default fast path, or ``overrides``) and of
    the tutorial loop with ``tf.profiler``; the op-time shares of each (``op_time_shares``)."""
    base = for_profile("full", batch_size=batch, max_examples=None, steps_per_epoch=steps, **MODELS[name])
    cfg = base.replace(**(overrides or {}))
    images, _ = real_batches(base, batch)
    data = _dataset(base, batch, images)
    runtime = choose_runtime(cfg)
    gan = build_gan(cfg, runtime)
    apply_runtime(gan, runtime)
    keras.utils.set_random_seed(0)
    generator = build_generator(base.latent_dim, base.image_shape, base.g_width, base.refine)
    discriminator = build_discriminator(base.image_shape, base.d_width, base.d_dropout)
    loop = story1_step(generator, discriminator, base.latent_dim)
    _time_kit(gan, data, 1)
    _time_plain(loop, data, 1)
    return {"model": name, "batch": batch, "steps": steps, "profiles": _profiles({
        DEFAULT_VARIANT if not overrides else "kit": lambda: _time_kit(gan, data, steps),
        STORY1: lambda: _time_plain(loop, data, steps)})}


def _profiles(runs_: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """``op_time_shares`` of each call, traced with ``tf.profiler`` one after the other."""
    result = {}
    for label, run in runs_.items():
        with tempfile.TemporaryDirectory(prefix="gan_kit-profile-") as logdir:
            tf.profiler.experimental.start(logdir)
            try:
                run()
            finally:
                tf.profiler.experimental.stop()
            result[label] = op_time_shares(logdir)
    return result


def bench_sampling(name: str = "story1_dcgan_32", batch: int = 256, repeats: int = 5,
                   matmul: float | None = None) -> dict[str, Any]:
    """Images/s of sample generation with the generator in inference mode, as a fraction of matmul throughput."""
    matmul = matmul or matmul_gflops()
    cfg = for_profile("full", **MODELS[name])
    generator = build_generator(cfg.latent_dim, cfg.image_shape, cfg.g_width, cfg.refine)
    sample = tf.function(lambda z: generator(z, training=False))
    z = tf.random.normal([batch, cfg.latent_dim])
    sample(z).numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        sample(z).numpy()
        times.append(time.perf_counter() - start)
    gflops = layer_flops(generator) * batch / statistics.median(times) / 1e9
    return {"images_per_s": _summary([batch / t for t in times]), "gflops": gflops,
            "fraction_of_matmul": gflops / matmul}


def bench_features(dataset: str = "fashion_mnist", n: int = 2048, repeats: int = 3) -> dict[str, Any] | None:
    """Images/s of the metrics feature extractor (the kit's classifier), or None when it is unavailable."""
    try:
        from .. import metrics
    except ImportError:
        return None
    try:
        extractor = metrics.get_extractor("classifier", dataset=dataset)
    except Exception as exc:  # no cached classifier and no data to train one
        return {"skipped": f"{type(exc).__name__}: {exc}"}
    shape = (28, 28, 1) if dataset in ("fashion_mnist", "mnist") else (32, 32, 3)
    images = np.random.default_rng(0).uniform(-1, 1, (n, *shape)).astype(np.float32)
    extractor.features(images[:256])
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        extractor.features(images)
        times.append(time.perf_counter() - start)
    return {"dataset": dataset, "images_per_s": _summary([n / t for t in times])}


def run_bench(models: tuple[str, ...] = tuple(MODELS), batch: int = 128, steps: int = 5, repeats: int = 5,
              out_dir: str | Path = "outputs/bench", compare_xla: bool = True, features: bool = True,
              profile: bool = True, matmul_size: int = 2048, variants: dict[str, dict[str, Any]] | None = None,
              ) -> dict[str, Any]:
    """Run every benchmark, print a table, and write ``bench.json`` to ``out_dir``.

    ``variants`` replaces the kit's variants (label -> config overrides, see ``bench_model``); the first is
    the one profiled.
    """
    variants = variants or {
        DEFAULT_VARIANT: {},
        "kit, fresh G batch": {"reuse_fakes": False},  # the keras.io loop's update rule: the step's own overhead
        "kit, float32": {"mixed_precision": "off"},  # what the precision choice adds
        "kit, Keras BatchNorm": {"runtime": {"fused_batch_norm": False}},  # what the fused kernel adds
    }
    if compare_xla:
        variants["kit + XLA"] = {"jit_compile": True}
        variants["kit, no XLA"] = {"jit_compile": False}
    result: dict[str, Any] = {"device": describe(), "models": [
        bench_model(m, batch, steps, repeats, None, variants, matmul_size,
                    profile_steps=min(steps, 3) if profile and i == 0 else 0) for i, m in enumerate(models)]}
    result["matmul_gflops"] = result["models"][0]["matmul_gflops"]["float32"]["median"]
    result["matmul"] = result["models"][0]["matmul_gflops"]
    result["sampling"] = bench_sampling(models[0], batch=2 * batch, matmul=matmul_gflops(matmul_size))
    result["features"] = bench_features() if features else None
    result["profile"] = result["models"][0].pop("profile", None) if profile else None
    fileio.write_json(Path(out_dir) / "bench.json", result)
    print(format_table(result))
    return result


def _range(r: dict[str, float], fmt: str = "{:.2f}", scale: float = 1.0) -> str:
    return f"{fmt.format(scale * r['median'])} [{fmt.format(scale * r['min'])}-{fmt.format(scale * r['max'])}]"


def format_table(result: dict[str, Any]) -> str:
    """The benchmark as a plain-text table of ratios and fractions (median [min-max] over the repetitions)."""
    matmul = "   ".join(f"{dtype} {_range(r, '{:.0f}')}" for dtype, r in result.get("matmul", {}).items())
    lines = [f"device: {result['device']['device']}   matmul GFLOP/s: {matmul}",
             f"{'model':16s} {'variant':24s} {'img/s':>7s} {'x story 1 loop':>20s} {'x keras.io loop':>20s} "
             f"{'GFLOP/s':>8s} {'% same-precision matmul':>24s} {'fit() start+end s':>18s}"]
    for model in result["models"]:
        for label, row in model["rows"].items():
            utilisation = _range(row["fraction_of_matmul"], "{:.0f}", 100) + "% " + row["precision"]
            lines.append(
                f"{model['model']:16s} {label:24s} {row['images_per_s']['median']:7.1f} "
                f"{_range(row['ratio_vs_story1']):>20s} {_range(row['ratio_vs_keras_io']):>20s} "
                f"{row['gflops']:8.1f} {utilisation:>24s} "
                f"{row['fit_overhead_s']['median'] if row['fit_overhead_s'] else 0.0:18.2f}")
        lines.append(f"{'':16s} data: {model['data']}")
    s = result["sampling"]
    lines.append(f"sampling (G inference): {s['images_per_s']['median']:.0f} img/s, "
                 f"{100 * s['fraction_of_matmul']:.0f}% of the float32 matmul")
    f = result.get("features")
    if f and "images_per_s" in f:
        lines.append(f"feature extraction ({f['dataset']} classifier): {f['images_per_s']['median']:.0f} img/s")
    elif f:
        lines.append(f"feature extraction: skipped ({f['skipped']})")
    p = result.get("profile")
    if p:
        lines.append(f"profile ({p['model']}, batch {p['batch']}, {p['steps']} steps; share of op time):")
        for label, prof in p["profiles"].items():
            shares = ", ".join(f"{k} {100 * v:.0f}%" for k, v in prof["shares"].items())
            lines.append(f"  {label}: {shares}")
    return "\n".join(lines)


__all__ = ["MODELS", "OP_CLASSES", "bench_model", "classify_op", "format_table", "layer_flops", "matmul_gflops",
           "op_time_shares", "plain_step", "profile_step", "real_batches", "run_bench", "step_flops", "story1_step"]
