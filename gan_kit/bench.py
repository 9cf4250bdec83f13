"""Benchmark: the kit's ``fit()`` training against a plain ``tf.function`` + ``GradientTape`` loop.

Everything is measured in the same process and reported as ratios against references
taken in the same run: the plain loop (same models and batch; the alternating D-then-G
update with fresh noise for each, as in the keras.io DCGAN example) and a dense float32
matmul (the machine's reachable GFLOP/s). Both are timed in steady state: from the end of a
first step to the end of the last, so one-off costs (tracing, ``fit()``'s start-up and
tear-down) are left out of the rates and reported on their own. Run it with
``python -m gan_kit bench`` or ``make bench``; results go to the screen and
``outputs/bench/bench.json``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from . import runs
from .config import Config, for_profile
from .devices import choose_runtime, describe
from .gan import build_gan
from .losses import bce_discriminator_loss, bce_generator_loss
from .models import build_discriminator, build_generator

# The two models of the issue: story 1's CIFAR-10 DCGAN and a 28x28 grayscale DCGAN.
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


def step_flops(generator: keras.Model, discriminator: keras.Model, batch: int, reuse_fakes: bool = False) -> int:
    """Approximate FLOPs of one alternating GAN step (backward taken as twice the forward).

    D step: G forward, D forward+backward on the real and the fake batch; G step: G and D
    forward+backward. Per example: 4 G + 9 D forward passes' worth, or 3 G + 9 D when the G
    step reuses the D step's generated batch (``reuse_fakes``).
    """
    return batch * ((3 if reuse_fakes else 4) * layer_flops(generator) + 9 * layer_flops(discriminator))


def matmul_gflops(n: int = 2048, repeats: int = 10) -> float:
    """GFLOP/s of a dense float32 n x n matmul on the default device (the reachable-throughput reference)."""
    a = tf.random.normal([n, n])
    b = tf.random.normal([n, n])

    @tf.function
    def run():
        c = a
        for _ in range(repeats):
            c = tf.matmul(c, b) * 1e-3
        return tf.reduce_sum(c)

    run().numpy()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        run().numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 * repeats / best / 1e9


def plain_step(generator: keras.Model, discriminator: keras.Model, latent_dim: int) -> Callable:
    """The reference: the alternating D-then-G update, fresh noise for each, written as a bare tf.function."""
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


def _dataset(config: Config, batch: int) -> tf.data.Dataset:
    x = np.random.default_rng(0).uniform(-1, 1, (batch * 4, *config.image_shape)).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices(x).batch(batch, drop_remainder=True).cache().repeat()


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


def bench_model(name: str, batch: int = 128, steps: int = 5, repeats: int = 5, matmul: float | None = None,
                variants: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Images/s of the kit's training (each variant) and the plain loop, repetition by repetition.

    ``steps`` is rounded up to a multiple of each variant's ``steps_per_execution``.
    """
    matmul = matmul or matmul_gflops()
    base = for_profile("full", batch_size=batch, max_examples=None, steps_per_epoch=steps, **MODELS[name])
    variants = variants or {"kit (default fast path)": {}}
    data = _dataset(base, batch)
    keras.utils.set_random_seed(0)
    generator = build_generator(base.latent_dim, base.image_shape, base.g_width, base.refine)
    discriminator = build_discriminator(base.image_shape, base.d_width, base.d_dropout)
    plain = plain_step(generator, discriminator, base.latent_dim)
    _time_plain(plain, data, 1)  # trace and warm up
    kits = {}
    for label, overrides in variants.items():
        cfg = base.replace(**overrides)
        runtime = choose_runtime(cfg)
        gan = build_gan(cfg, runtime)
        spe = runtime["steps_per_execution"]
        kit_steps = spe * -(-steps // spe)
        _time_kit(gan, data, spe)  # trace, compile and warm up
        kits[label] = (gan, runtime, kit_steps, cfg.reuse_fakes)
    times: dict[str, list[float]] = {"plain loop": [], **{label: [] for label in kits}}
    overheads: dict[str, list[float]] = {label: [] for label in kits}
    for _ in range(repeats):  # interleaved, so drifts in machine load hit every variant alike
        times["plain loop"].append(_time_plain(plain, data, steps) / steps)
        for label, (gan, _, kit_steps, _) in kits.items():
            steady, rest = _time_kit(gan, data, kit_steps)
            times[label].append(steady / kit_steps)
            overheads[label].append(rest)
    rows = {}
    for label, per_step in times.items():
        reuse = kits[label][3] if label in kits else False
        flops = step_flops(generator, discriminator, batch, reuse_fakes=reuse)
        rows[label] = {
            "images_per_s": _summary([batch / t for t in per_step]),
            "ratio_vs_plain": _summary([p / t for p, t in zip(times["plain loop"], per_step)]),
            "step_gflop": flops / 1e9,
            "gflops": flops / statistics.median(per_step) / 1e9,
            "fraction_of_matmul": flops / statistics.median(per_step) / 1e9 / matmul,
            "fit_overhead_s": _summary(overheads[label]) if label in kits else None,
            "runtime": kits[label][1] if label in kits else None,
        }
    return {"model": name, "batch": batch, "steps": steps, "repeats": repeats, "rows": rows}


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
        from . import metrics
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
              ) -> dict[str, Any]:
    """Run every benchmark, print a table, and write ``bench.json`` to ``out_dir``."""
    matmul = matmul_gflops()
    variants: dict[str, dict[str, Any]] = {
        "kit (default fast path)": {},
        "kit, fresh G batch": {"reuse_fakes": False},  # the plain loop's update rule: the step's own overhead
        "kit, float32": {"mixed_precision": "off"},  # what the precision choice adds
    }
    if compare_xla:
        variants["kit + XLA"] = {"jit_compile": True}
        variants["kit, no XLA"] = {"jit_compile": False}
    result: dict[str, Any] = {
        "device": describe(),
        "matmul_gflops": matmul,
        "models": [bench_model(m, batch, steps, repeats, matmul, variants) for m in models],
        "sampling": bench_sampling(models[0], batch=2 * batch, matmul=matmul),
        "features": bench_features() if features else None,
    }
    runs.write_json(Path(out_dir) / "bench.json", result)
    print(format_table(result))
    return result


def format_table(result: dict[str, Any]) -> str:
    """The benchmark as a plain-text table of ratios and fractions."""
    lines = [f"device: {result['device']['device']}   matmul reference: {result['matmul_gflops']:.0f} GFLOP/s",
             f"{'model':18s} {'variant':26s} {'img/s':>8s} {'x plain (median [min-max])':>28s} "
             f"{'GFLOP/s':>8s} {'% f32 matmul':>13s} {'fit() start+end s':>18s}"]
    for model in result["models"]:
        for label, row in model["rows"].items():
            r = row["ratio_vs_plain"]
            lines.append(
                f"{model['model']:18s} {label:26s} {row['images_per_s']['median']:8.1f} "
                f"{r['median']:10.2f} [{r['min']:.2f}-{r['max']:.2f}]{'':7s} {row['gflops']:8.1f} "
                f"{100 * row['fraction_of_matmul']:12.0f}% "
                f"{row['fit_overhead_s']['median'] if row['fit_overhead_s'] else 0.0:18.2f}"
            )
    s = result["sampling"]
    lines.append(f"sampling (G inference): {s['images_per_s']['median']:.0f} img/s, "
                 f"{100 * s['fraction_of_matmul']:.0f}% of matmul")
    f = result.get("features")
    if f and "images_per_s" in f:
        lines.append(f"feature extraction ({f['dataset']} classifier): {f['images_per_s']['median']:.0f} img/s")
    elif f:
        lines.append(f"feature extraction: skipped ({f['skipped']})")
    return "\n".join(lines)


__all__ = ["MODELS", "bench_model", "format_table", "layer_flops", "matmul_gflops", "run_bench", "step_flops"]
