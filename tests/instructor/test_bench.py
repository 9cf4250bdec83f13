"""Mixed precision and XLA on CPU, tf.distribute on 2 logical CPUs, and the benchmark.

The runtime chosen per device (gan_kit.devices) is tested in test_devices.py.
"""

from __future__ import annotations

import keras
import pytest


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
