"""Mixed precision and XLA on CPU, tf.distribute on 2 logical CPUs, and the benchmark.

The runtime chosen per device (gan_kit.devices) is tested in test_devices.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_kit import devices
from gan_kit.config import for_profile
from gan_kit.gan import build_gan

REPO = Path(__file__).resolve().parents[1]
CPU = {"device": "CPU", "gpus": [], "metal": False, "gpu": False}


def _cfg(**kw):
    return for_profile("smoke", dataset="fashion_mnist", **kw)


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


def test_train_records_the_runtime_choice(tmp_path):
    import json

    import gan_kit

    cfg = _cfg(output_dir=str(tmp_path), batch_size=8, max_examples=16, epochs=1, grid_size=2)
    x = np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype("float32")
    run = gan_kit.train(cfg, dataset=tf.data.Dataset.from_tensor_slices(x).batch(8), verbose=0)
    runtime = json.loads((run.path / "runtime.json").read_text())
    assert set(runtime) >= {"jit_compile", "steps_per_execution", "mixed_precision", "distribute", "reasons"}


def test_flop_count_by_hand():
    from gan_kit.instructor.bench import layer_flops, step_flops

    model = keras.Sequential([keras.Input((4, 4, 2)), keras.layers.Conv2D(3, 3, padding="same"),
                              keras.layers.Flatten(), keras.layers.Dense(5)])
    assert layer_flops(model) == 2 * (4 * 4 * 3 * 3 * 3 * 2) + 2 * (48 * 5)
    up = keras.Sequential([keras.Input((2, 2, 4)), keras.layers.Conv2DTranspose(3, 4, strides=2, padding="same")])
    assert layer_flops(up) == 2 * 2 * 2 * 4 * 16 * 3
    assert step_flops(model, up, batch=2) == 2 * (4 * layer_flops(model) + 9 * layer_flops(up))
    assert step_flops(model, up, batch=2, reuse_fakes=True) == 2 * (3 * layer_flops(model) + 9 * layer_flops(up))
    assert step_flops(model, up, batch=2, rule="story1") == 2 * (3 * layer_flops(model) + 8 * layer_flops(up))


@pytest.mark.parametrize("scope,op,kind", [
    ("StatefulPartitionedCall/gradient_tape/discriminator_1/down2/convolution", "_MklNativeConv2DBackpropFilter",
     "convolution"),
    ("StatefulPartitionedCall/generator/project/MatMul", "_MklMatMul", "convolution"),
    ("StatefulPartitionedCall/generator/up1_bn/moments/mean", "Mean", "normalisation"),
    ("StatefulPartitionedCall/gradient_tape/discriminator/down3_ln/mul", "Mul", "normalisation"),
    ("StatefulPartitionedCall/discriminator/down1_act/LeakyRelu", "LeakyRelu", "activation"),
    ("StatefulPartitionedCall/generator/tanh/Tanh", "Tanh", "activation"),
    ("StatefulPartitionedCall/adam/Sub_34", "Sub", "optimizer"),
    ("StatefulPartitionedCall/sgd_1/mul", "Mul", "optimizer"),
    ("StatefulPartitionedCall/discriminator/down2_drop/GreaterEqual", "GreaterEqual", "dropout & random"),
    ("StatefulPartitionedCall/random_normal", "StatelessRandomNormalV2", "dropout & random"),
    ("StatefulPartitionedCall/discriminator/Cast", "Cast", "cast"),
    ("StatefulPartitionedCall/AddN", "AddN", "other"),
])
def test_profile_classes(scope, op, kind):
    from gan_kit.instructor.bench import OP_CLASSES, classify_op

    assert classify_op(scope, op) == kind and kind in OP_CLASSES


def test_bench_writes_ratios(tmp_path):
    from gan_kit.instructor.bench import format_table, run_bench

    result = run_bench(models=("dcgan_28",), batch=8, steps=1, repeats=1, out_dir=tmp_path, features=False,
                       compare_xla=False, matmul_size=256,
                       variants={"kit (default fast path)": {}, "kit, fresh G batch": {"reuse_fakes": False}})
    model = result["models"][0]
    row = model["rows"]
    assert set(row) == {"story 1 loop", "keras.io loop", "kit (default fast path)", "kit, fresh G batch"}
    assert row["story 1 loop"]["ratio_vs_story1"]["median"] == 1.0
    assert row["keras.io loop"]["ratio_vs_keras_io"]["median"] == 1.0
    assert all(r["fraction_of_matmul"]["median"] > 0 for r in row.values())
    # utilisation against a matmul in the variant's own precision (the loops are float32)
    assert row["story 1 loop"]["precision"] == "float32"
    default_precision = row["kit (default fast path)"]["runtime"]["mixed_precision"]
    assert row["kit (default fast path)"]["precision"] == {"mixed_bfloat16": "bfloat16"}.get(default_precision,
                                                                                              "float32")
    assert set(model["matmul_gflops"]) >= {"float32", row["kit (default fast path)"]["precision"]}
    # the default shares one generated batch between the D and G updates: one G forward pass less
    assert row["kit (default fast path)"]["step_gflop"] < row["kit, fresh G batch"]["step_gflop"]
    assert row["kit, fresh G batch"]["step_gflop"] == row["keras.io loop"]["step_gflop"]
    assert row["story 1 loop"]["rule"] == "story1"
    assert row["kit (default fast path)"]["fit_overhead_s"]["median"] >= 0
    assert model["data"].startswith(("fashion_mnist (real", "synthetic"))
    profiles = result["profile"]["profiles"]
    assert set(profiles) == {"kit (default fast path)", "story 1 loop"}
    for prof in profiles.values():
        assert sum(prof["shares"].values()) == pytest.approx(1.0) and prof["shares"]["convolution"] > 0
    table = format_table(result)
    assert (tmp_path / "bench.json").exists() and "x story 1 loop" in table and "profile" in table
