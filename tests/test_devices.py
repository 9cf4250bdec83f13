"""Tests for gan_kit.devices: the device description, the runtime chosen per device from synthetic device
descriptions, the CPU's bfloat16 support read from a fake /proc/cpuinfo, and the tf.distribute strategy.

The measured paths (mixed precision and XLA steps on the CPU, MirroredStrategy on two logical CPUs) are at the end
of this file; the benchmark is in tests/instructor/test_bench.py.
"""

from __future__ import annotations

import builtins
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_kit import devices
from gan_kit.config import for_profile
from gan_kit.gan import build_gan

CPU = {"device": "CPU", "gpus": [], "metal": False, "gpu": False}
CUDA = {"device": "GPU (CUDA)", "gpus": ["/physical_device:GPU:0"], "metal": False, "gpu": True}
TWO_CUDA = {**CUDA, "gpus": ["/physical_device:GPU:0", "/physical_device:GPU:1"]}
METAL = {"device": "GPU (Apple Metal)", "gpus": ["/physical_device:GPU:0"], "metal": True, "gpu": True}
CPU_BF16 = {**CPU, "cpu_bf16": True}


def _cfg(**kw):
    return for_profile("smoke", dataset="fashion_mnist", **kw)


# =============================================================================== choose_runtime


def test_runtime_choice_per_device():  # moved from test_performance.py
    cpu = devices.choose_runtime(_cfg(), CPU)
    assert cpu["jit_compile"] is devices.CPU_XLA_DEFAULT
    assert (cpu["mixed_precision"], cpu["distribute"], cpu["steps_per_execution"]) == ("float32", "default", 1)
    assert all(cpu["reasons"][k] for k in ("jit_compile", "mixed_precision", "distribute", "steps_per_execution"))
    cuda = devices.choose_runtime(_cfg(steps_per_epoch=None), CUDA)
    assert cuda["jit_compile"] is True and cuda["mixed_precision"] == "mixed_float16"
    assert cuda["steps_per_execution"] == 8
    assert devices.choose_runtime(_cfg(steps_per_epoch=2), CUDA)["steps_per_execution"] == 2
    assert devices.choose_runtime(_cfg(), TWO_CUDA)["distribute"] == "mirrored"
    metal = devices.choose_runtime(_cfg(jit_compile=True), METAL)
    assert metal["jit_compile"] is False and "metal" in metal["reasons"]["jit_compile"]
    assert metal["mixed_precision"] == "float32"
    forced = devices.choose_runtime(_cfg(mixed_precision="off", jit_compile=False, distribute="off"), TWO_CUDA)
    assert (forced["mixed_precision"], forced["jit_compile"], forced["distribute"]) == ("float32", False, "default")


def test_cpu_with_native_bfloat16_computes_in_bfloat16():  # moved from test_performance.py
    bf16 = devices.choose_runtime(_cfg(), CPU_BF16)
    assert bf16["mixed_precision"] == "mixed_bfloat16" and "AVX512_BF16" in bf16["reasons"]["mixed_precision"]
    assert devices.choose_runtime(_cfg(mixed_precision="off"), CPU_BF16)["mixed_precision"] == "float32"
    assert "no native bfloat16" in devices.choose_runtime(_cfg(), CPU)["reasons"]["mixed_precision"]
    assert devices.describe()["cpu_bf16"] == devices.cpu_has_native_bf16()


def test_config_values_win_over_the_device_choice():
    cfg = _cfg(jit_compile=False, steps_per_execution=3, steps_per_epoch=None, mixed_precision="mixed_bfloat16",
               distribute="off")
    runtime = devices.choose_runtime(cfg, TWO_CUDA)
    assert (runtime["jit_compile"], runtime["steps_per_execution"], runtime["mixed_precision"],
            runtime["distribute"]) == (False, 3, "mixed_bfloat16", "default")
    assert {v for k, v in runtime["reasons"].items() if k != "fused_batch_norm"} == {"set in the config"}
    assert runtime["device"] == "GPU (CUDA)"
    on_cpu = devices.choose_runtime(_cfg(jit_compile=True, steps_per_execution=4, steps_per_epoch=None), CPU)
    assert on_cpu["jit_compile"] is True and on_cpu["steps_per_execution"] == 4


def test_steps_per_execution_never_exceeds_the_epoch():
    assert devices.choose_runtime(_cfg(steps_per_execution=50, steps_per_epoch=6), CPU)["steps_per_execution"] == 6
    assert devices.choose_runtime(_cfg(steps_per_epoch=3), CUDA)["steps_per_execution"] == 3
    assert devices.choose_runtime(_cfg(steps_per_epoch=None), CPU)["steps_per_execution"] == 1


def test_cuda_float16_follows_the_compute_capability(monkeypatch):
    monkeypatch.setattr(devices, "_compute_capability", lambda name: (6, 1))
    old = devices.choose_runtime(_cfg(), CUDA)
    assert old["mixed_precision"] == "float32" and "(6, 1)" in old["reasons"]["mixed_precision"]
    monkeypatch.setattr(devices, "_compute_capability", lambda name: devices.CUDA_MIN_COMPUTE_FOR_FP16)
    assert devices.choose_runtime(_cfg(), CUDA)["mixed_precision"] == "mixed_float16"
    monkeypatch.setattr(devices, "_compute_capability", lambda name: None)  # unknown: assume tensor cores
    assert devices.choose_runtime(_cfg(), CUDA)["mixed_precision"] == "mixed_float16"


def test_mirrored_needs_two_gpus_unless_the_config_asks_for_it():
    assert devices.choose_runtime(_cfg(), CUDA)["distribute"] == "default"
    two = devices.choose_runtime(_cfg(), TWO_CUDA)
    assert two["distribute"] == "mirrored" and "2 GPU" in two["reasons"]["distribute"]
    assert devices.choose_runtime(_cfg(distribute="mirrored"), CPU)["distribute"] == "mirrored"


def test_choose_runtime_describes_this_machine_when_given_nothing():
    runtime = devices.choose_runtime(_cfg())
    assert runtime["device"] == devices.describe()["device"]
    assert set(runtime) == {"device", "jit_compile", "steps_per_execution", "mixed_precision", "distribute",
                            "fused_batch_norm", "reasons"}


# =============================================================================== cpu_has_native_bf16

CPUINFO = (
    "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: {model}\nflags\t\t: {flags}\nbogomips\t: 4000.00\n\n"
    "processor\t: 1\nvendor_id\t: GenuineIntel\nmodel name\t: {model}\nflags\t\t: {flags}\n\n"
)
BASE_FLAGS = "fpu vme de pse tsc msr sse sse2 avx avx2 avx512f avx512_vnni"


def _fake_cpuinfo(monkeypatch, tmp_path, text: str | None) -> list:
    """Make ``open("/proc/cpuinfo")`` read ``text`` (or fail with OSError for None); other paths are untouched."""
    fake = tmp_path / "cpuinfo"
    if text is not None:
        fake.write_text(text)
    real_open = builtins.open
    opened = []

    def fake_open(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and os.fspath(file) == "/proc/cpuinfo":
            opened.append(file)
            if text is None:
                raise FileNotFoundError(2, "No such file or directory", "/proc/cpuinfo")
            return real_open(fake, *args, **kwargs)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    return opened


@pytest.mark.parametrize("flags,model,expected", [
    (BASE_FLAGS + " avx512_bf16 avx512_fp16", "Intel Xeon", True),
    (BASE_FLAGS + " amx_bf16 amx_tile amx_int8", "Intel Xeon", True),
    ("avx512_bf16", "Intel Xeon", True),  # the only flag
    (BASE_FLAGS, "Intel Xeon", False),
    (BASE_FLAGS + " avx512_bf16_xyz xamx_bf16 amx_bf16x", "Intel Xeon", False),  # only as part of other words
    (BASE_FLAGS, "Xeon with avx512_bf16 amx_bf16", False),  # named on another line, not among the flags
    ("", "Intel Xeon", False),
], ids=["avx512_bf16", "amx_bf16", "alone", "neither", "part-of-a-word", "other-line", "empty-flags"])
def test_cpu_bf16_is_read_from_the_flags_line(monkeypatch, tmp_path, flags, model, expected):
    opened = _fake_cpuinfo(monkeypatch, tmp_path, CPUINFO.format(flags=flags, model=model))
    assert devices.cpu_has_native_bf16() is expected
    assert opened == ["/proc/cpuinfo"]  # the function read the fake, not this machine's CPU


def test_cpu_bf16_without_a_flags_line_is_false(monkeypatch, tmp_path):
    # e.g. an ARM /proc/cpuinfo, which lists "Features" (and here the bf16 word) instead of "flags"
    _fake_cpuinfo(monkeypatch, tmp_path, "processor\t: 0\nFeatures\t: fp asimd bf16 avx512_bf16\n")
    assert devices.cpu_has_native_bf16() is False


def test_cpu_bf16_reads_the_first_flags_line(monkeypatch, tmp_path):
    _fake_cpuinfo(monkeypatch, tmp_path, f"flags\t: {BASE_FLAGS}\nflags\t: avx512_bf16\n")
    assert devices.cpu_has_native_bf16() is False
    _fake_cpuinfo(monkeypatch, tmp_path, f"flags\t: {BASE_FLAGS} amx_bf16\nflags\t: {BASE_FLAGS}\n")
    assert devices.cpu_has_native_bf16() is True


def test_cpu_bf16_is_false_without_proc_cpuinfo(monkeypatch, tmp_path):
    opened = _fake_cpuinfo(monkeypatch, tmp_path, None)  # macOS, Windows: open raises OSError
    assert devices.cpu_has_native_bf16() is False
    assert opened == ["/proc/cpuinfo"]


# =============================================================================== describe, gpu_available, Apple


def _fake_tf(gpus: list[str], cuda: bool, fail: bool = False):
    def list_physical_devices(kind):
        if fail:
            raise RuntimeError("a broken plugin")
        names = gpus if kind == "GPU" else ["/physical_device:CPU:0"]
        return [types.SimpleNamespace(name=n) for n in names]

    return types.SimpleNamespace(__version__="9.9.9", config=types.SimpleNamespace(
        list_physical_devices=list_physical_devices), test=types.SimpleNamespace(is_built_with_cuda=lambda: cuda))


@pytest.mark.parametrize("gpus,cuda,apple,device,reason,xla", [
    ([], False, False, "CPU", "No GPU is visible", True),
    (["/physical_device:GPU:0"], True, False, "GPU (CUDA)", "sees 1 GPU(s)", True),
    (["/physical_device:GPU:0", "/physical_device:GPU:1"], True, False, "GPU (CUDA)", "sees 2 GPU(s)", True),
    (["/physical_device:GPU:0"], False, True, "GPU (Apple Metal)", "tensorflow-metal is loaded", False),
    ([], False, True, "CPU", "No Metal GPU is visible", True),
    ([], True, False, "CPU", "CUDA support but sees no GPU", True),
], ids=["cpu", "cuda", "two-cuda", "metal", "apple-no-metal", "cuda-build-no-gpu"])
def test_describe_names_the_device_and_why(monkeypatch, gpus, cuda, apple, device, reason, xla):
    monkeypatch.setattr(devices, "_tf", lambda: _fake_tf(gpus, cuda))
    monkeypatch.setattr(devices, "is_apple_silicon", lambda: apple)
    monkeypatch.setattr(devices, "cpu_has_native_bf16", lambda: True)
    info = devices.describe()
    assert info["device"] == device and reason in info["reason"]
    assert info["gpus"] == gpus and info["gpu"] == bool(gpus) and info["cpus"] == ["/physical_device:CPU:0"]
    assert info["metal"] == (device == "GPU (Apple Metal)") and info["xla"] is xla
    assert info["built_with_cuda"] is cuda and info["tensorflow"] == "9.9.9" and info["cpu_bf16"] is True


def test_describe_this_machine():
    import keras
    import tensorflow as tf

    info = devices.describe()
    assert info["tensorflow"] == tf.__version__ and info["keras"] == keras.__version__
    assert info["gpu"] == bool(info["gpus"]) == devices.gpu_available()
    assert info["device"].startswith("GPU") == info["gpu"]
    assert info["cpus"] and isinstance(info["reason"], str) and info["reason"]


def test_gpu_available_survives_a_broken_plugin(monkeypatch):
    monkeypatch.setattr(devices, "_tf", lambda: _fake_tf(["/physical_device:GPU:0"], True))
    assert devices.gpu_available() is True
    monkeypatch.setattr(devices, "_tf", lambda: _fake_tf([], True))
    assert devices.gpu_available() is False
    monkeypatch.setattr(devices, "_tf", lambda: _fake_tf([], True, fail=True))
    assert devices.gpu_available() is False


@pytest.mark.parametrize("system,machine,expected", [("darwin", "arm64", True), ("darwin", "x86_64", False),
                                                     ("linux", "arm64", False), ("linux", "x86_64", False)])
def test_is_apple_silicon(monkeypatch, system, machine, expected):
    monkeypatch.setattr(devices.sys, "platform", system)
    monkeypatch.setattr(devices.platform, "machine", lambda: machine)
    assert devices.is_apple_silicon() is expected


# =============================================================================== make_strategy


def test_make_strategy_default_for_one_device():
    import tensorflow as tf

    strategy = devices.make_strategy({"distribute": "default"})
    assert strategy is tf.distribute.get_strategy()
    assert not isinstance(strategy, tf.distribute.MirroredStrategy) and strategy.num_replicas_in_sync == 1


def test_make_strategy_mirrored_over_the_given_devices():
    import tensorflow as tf

    strategy = devices.make_strategy({"distribute": "mirrored"}, ["/cpu:0"])
    assert isinstance(strategy, tf.distribute.MirroredStrategy)
    assert strategy.num_replicas_in_sync == 1
    assert [d.lower() for d in strategy.extended.worker_devices] == ["/job:localhost/replica:0/task:0/device:cpu:0"]


def test_mirrored_on_a_cpu_says_so_and_that_the_config_asked():
    info = {"device": "CPU", "gpus": [], "metal": False, "cpu_bf16": False}
    runtime = devices.choose_runtime(for_profile("smoke", distribute="mirrored"), info)
    assert runtime["distribute"] == "mirrored"
    assert runtime["reasons"]["distribute"] == "MirroredStrategy over this machine's CPU (set in the config)"


# =============================================================================== fused BatchNorm


@pytest.mark.parametrize("policy,tol", [("float32", 1e-5), ("mixed_bfloat16", 3e-2)])
def test_fused_batch_norm_computes_what_keras_batch_norm_does(policy, tol):
    """Outputs, gradients and moving statistics of the fused kernel against Keras' own BatchNorm (2-D and 4-D
    inputs), in training and inference mode; bfloat16 to about one bfloat16 rounding (2^-7 relative)."""
    import keras
    import numpy as np
    import tensorflow as tf

    from gan_kit.models import precision

    def build():
        keras.utils.set_random_seed(0)
        with precision(policy):
            return keras.Sequential([
                keras.Input((6,)), keras.layers.Dense(48), keras.layers.BatchNormalization(),
                keras.layers.Reshape((4, 4, 3)), keras.layers.Conv2D(5, 3, padding="same"),
                keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3), keras.layers.Flatten(),
                keras.layers.Dense(1, dtype="float32")])

    ref, fused = build(), build()
    assert devices.fuse_batch_norm(fused) == 2 and devices.fuse_batch_norm(fused) == 0  # once per layer
    x = tf.constant(np.random.default_rng(0).normal(2.0, 3.0, (16, 6)).astype("float32"))
    results = []
    for model in (ref, fused):
        with tf.GradientTape() as tape:
            y = model(x, training=True)
            loss = tf.reduce_mean(tf.square(y))
        grads = tape.gradient(loss, model.trainable_weights)
        stats = [w for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)
                 for w in (layer.moving_mean, layer.moving_variance)]
        results.append((y, grads, [s.numpy() for s in stats], model(x, training=False)))
    (y0, g0, s0, i0), (y1, g1, s1, i1) = results
    np.testing.assert_allclose(y1, y0, rtol=tol, atol=tol)
    scale = max(float(np.abs(b).max()) for b in g0)  # a bias before BatchNorm has a gradient of round-off only
    for a, b in zip(g1, g0):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * scale)
    for a, b in zip(s1, s0):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)  # biased variance, same momentum
    np.testing.assert_allclose(i1, i0, rtol=tol, atol=tol)
    assert devices.choose_runtime(_cfg(), CPU)["fused_batch_norm"] is True
    assert devices.choose_runtime(_cfg(), CUDA)["fused_batch_norm"] is False


# ----------------------------------------------------------------- a notebook's expected time, said for this machine
def test_time_estimate_says_the_measured_minutes_for_the_device_found(monkeypatch):
    from gan_kit.devices import REFERENCE_CPU_CORES, time_estimate

    minutes = {"smoke": 0.6, "quick": 11.6}
    cpu = {"gpu": False, "device": "CPU"}
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    text = time_estimate(minutes, "quick", cpu)
    assert "about 12 minutes" in text and f"{REFERENCE_CPU_CORES}-core reference CPU" in text
    assert "8 cores, so expect about that or less" in text
    assert "under a minute" in time_estimate(minutes, "smoke", cpu)
    assert "about 1 minute " in time_estimate({"quick": 1.2}, "quick", cpu)  # singular
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert "1 core(s): expect longer" in time_estimate(minutes, "quick", cpu)
    gpu = time_estimate(minutes, "quick", {"gpu": True, "device": "GPU (CUDA)"})
    assert "GPU (CUDA) expect less (not measured)" in gpu
    assert "not timed" in time_estimate(minutes, "full", cpu) and "hours" in time_estimate(minutes, "full", cpu)
    assert "this machine has one" in time_estimate(minutes, "full", {"gpu": True})
    assert "'smoke' was not timed for this notebook" in time_estimate({"quick": 3.0}, "smoke", cpu)


REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_on_cpu(precision):
    cfg = _cfg(mixed_precision=precision, batch_size=8, max_examples=16)
    gan = build_gan(cfg, devices.choose_runtime(cfg, CPU))
    compute = "float16" if precision == "mixed_float16" else "bfloat16"
    assert gan.generator.get_layer("up1").compute_dtype == compute
    assert gan.generator.get_layer("up1").variable_dtype == "float32"  # weights stay float32
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    scaled = isinstance(gan.g_optimizer, keras.optimizers.LossScaleOptimizer)
    assert scaled == (precision == "mixed_float16") and scaled == isinstance(gan.d_optimizer,
                                                                              keras.optimizers.LossScaleOptimizer)
    x = np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype("float32")
    z = np.zeros((2, cfg.latent_dim), "float32")
    assert gan.generator(z).dtype == "float32" and gan.discriminator(x[:2]).dtype == "float32"
    hist = gan.fit(tf.data.Dataset.from_tensor_slices(x).batch(8), epochs=1, verbose=0).history
    assert np.isfinite(hist["g_loss"][0]) and np.isfinite(hist["d_loss"][0])


def test_xla_step_runs_on_cpu():
    cfg = _cfg(jit_compile=True, steps_per_execution=2, batch_size=8, max_examples=16)
    gan = build_gan(cfg, devices.choose_runtime(cfg, CPU))
    assert gan.jit_compile is True and gan.steps_per_execution == 2
    x = np.random.default_rng(0).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    gan.fit(tf.data.Dataset.from_tensor_slices(x).batch(8), epochs=1, verbose=0)
    assert int(gan.d_optimizer.iterations) == 4


DISTRIBUTED = textwrap.dedent(
    """
    import json
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras, numpy as np
    from gan_kit.gan import GAN
    from gan_kit.models import build_toy_discriminator, build_toy_generator
    from gan_kit.ring import ring_data

    def make(strategy, weights=None):
        with strategy.scope():
            keras.utils.set_random_seed(0)
            g, d = build_toy_generator(2, 16), build_toy_discriminator(16)
            if weights is None:
                gw = g.get_weights()
                gw[0][:] = 0  # G ignores z, so every replica's fakes equal the single device's
                weights = (gw, d.get_weights())
            g.set_weights(weights[0]); d.set_weights(weights[1])
            gan = GAN(g, d, 2, seed=0)
            gan.compile(keras.optimizers.SGD(0.5), keras.optimizers.SGD(0.5))
        return gan, weights

    x = ring_data(64, seed=3)
    data = tf.data.Dataset.from_tensor_slices(x).batch(64)
    single, weights = make(tf.distribute.get_strategy())
    h1 = single.fit(data, epochs=1, verbose=0).history
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    dist, _ = make(mirrored, weights)
    h2 = dist.fit(data, epochs=1, verbose=0).history
    diff = max(float(np.abs(a - b).max()) for a, b in zip(single.discriminator.get_weights(),
                                                         dist.discriminator.get_weights()))
    moved = max(float(np.abs(a - b).max()) for a, b in zip(weights[1], dist.discriminator.get_weights()))
    print(json.dumps({"replicas": mirrored.num_replicas_in_sync, "d_loss": [h1["d_loss"][0], h2["d_loss"][0]],
                      "g_loss": [h1["g_loss"][0], h2["g_loss"][0]], "weight_diff": diff, "moved": moved}))
    """
)


def test_mirrored_strategy_on_two_logical_cpus_matches_one_device():
    import json

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", DISTRIBUTED], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["moved"] > 1e-3  # the step really trained
    assert result["d_loss"][0] == pytest.approx(result["d_loss"][1], rel=1e-5)
    assert result["g_loss"][0] == pytest.approx(result["g_loss"][1], rel=1e-5)
    assert result["weight_diff"] < 1e-5  # gradients scaled by the global batch, not doubled
