"""Tests for gan_kit.ring (the 2-D ring of Gaussians, by hand) and gan_kit.toy (the toy GAN trained on it)."""

from __future__ import annotations

import math
import time

import keras
import numpy as np
import pytest

from gan_kit import ring, toy

# =============================================================================== gan_kit.ring


def test_ring_centers_lie_evenly_on_the_circle():
    centers = ring.ring_centers(8, 2.0)
    assert centers.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(centers, axis=1), 2.0, rtol=1e-12)
    np.testing.assert_allclose(centers[0], [2.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(centers[1], [math.sqrt(2), math.sqrt(2)], rtol=1e-12)
    np.testing.assert_allclose(centers[2], [0.0, 2.0], atol=1e-12)
    angles = np.mod(np.arctan2(centers[:, 1], centers[:, 0]), 2 * np.pi)
    np.testing.assert_allclose(angles, 2 * np.pi * np.arange(8) / 8, atol=1e-12)
    neighbours = np.linalg.norm(centers - np.roll(centers, -1, axis=0), axis=1)
    np.testing.assert_allclose(neighbours, 2 * 2.0 * math.sin(math.pi / 8), rtol=1e-12)  # chord of 45 degrees
    np.testing.assert_allclose(ring.ring_centers(4, 1.0), [[1, 0], [0, 1], [-1, 0], [0, -1]], atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(ring.ring_centers(5, 3.5), axis=1), 3.5, rtol=1e-12)


def test_ring_data_is_an_equal_mixture_around_the_centres():
    n, modes, std = 16_000, 8, 0.05
    points = ring.ring_data(n, modes=modes, std=std, seed=0)
    assert points.shape == (n, 2) and points.dtype == np.float32
    centers = ring.ring_centers(modes)
    dist = np.linalg.norm(points[:, None, :] - centers[None], axis=-1)
    nearest = dist.argmin(axis=1)
    shares = np.bincount(nearest, minlength=modes) / n
    # Each share is 1/8; its binomial std is sqrt(1/8 * 7/8 / 16000) = 0.0026, so 0.012 is over 4 sigma.
    np.testing.assert_allclose(shares, 1 / modes, atol=0.012)
    offsets = points - centers[nearest]
    np.testing.assert_allclose(offsets.mean(axis=0), 0.0, atol=0.003)
    np.testing.assert_allclose(offsets.std(axis=0), std, rtol=0.05)
    assert dist.min(axis=1).max() < 6 * std  # no point strays between modes


def test_ring_data_follows_its_seed_and_shape_arguments():
    np.testing.assert_array_equal(ring.ring_data(100, seed=3), ring.ring_data(100, seed=3))
    assert not np.array_equal(ring.ring_data(100, seed=3), ring.ring_data(100, seed=4))
    points = ring.ring_data(3000, modes=3, radius=5.0, std=0.01, seed=1)
    np.testing.assert_allclose(np.linalg.norm(points, axis=1), 5.0, atol=0.06)
    dist = np.linalg.norm(points[:, None, :] - ring.ring_centers(3, 5.0)[None], axis=-1)
    assert np.bincount(dist.argmin(axis=1), minlength=3).min() > 900  # all three modes drawn
    assert toy.ring_data is ring.ring_data and toy.mode_coverage_2d is ring.mode_coverage_2d


def test_mode_coverage_counts():  # moved from test_gan.py
    from gan_kit.ring import mode_coverage_2d, ring_centers, ring_data

    assert mode_coverage_2d(ring_data(4000, seed=1))["covered"] == 8
    one = np.repeat(ring_centers()[:1], 500, axis=0)
    cov = mode_coverage_2d(one)
    assert cov["covered"] == 1 and cov["counts"][0] == 500
    assert mode_coverage_2d(np.zeros((100, 2)))["covered"] == 0
    with pytest.raises(ValueError, match="shape"):
        mode_coverage_2d(np.zeros((3, 3)))


def test_mode_coverage_thresholds_by_hand():
    centers = ring.ring_centers()
    std = 0.05
    inside = centers[0] + [3 * std - 1e-9, 0.0]  # just within n_std = 3 standard deviations
    outside = centers[0] + [0.0, 3 * std + 1e-6]
    points = np.concatenate([np.repeat(centers[:1], 96, axis=0), np.repeat(centers[1:2], 2, axis=0),
                             [centers[2]], [outside]])
    points[0] = inside
    cov = ring.mode_coverage_2d(points, std=std)
    assert cov["counts"] == [96, 2, 1, 0, 0, 0, 0, 0]  # the outside point belongs to no mode
    assert cov["covered"] == 2  # 2 of 100 samples reach min_fraction 0.02, 1 of 100 does not
    assert cov["high_quality"] == pytest.approx(0.99)
    assert (cov["modes"], cov["n_std"], cov["min_fraction"]) == (8, 3.0, 0.02)
    assert ring.mode_coverage_2d(points, std=std, min_fraction=0.01)["covered"] == 3
    assert ring.mode_coverage_2d(points, std=std, n_std=4.0)["counts"][0] == 97
    with pytest.raises(ValueError, match="shape"):
        ring.mode_coverage_2d(np.zeros((0, 2)))


# =============================================================================== gan_kit.toy


def test_ring_collapses_with_a_strong_d_and_is_covered_when_stabilized():  # moved from test_gan.py
    from gan_kit.toy import TOY_PRESETS, train_toy

    start, cpu_start = time.perf_counter(), time.process_time()
    collapsed = train_toy(seed=0, **TOY_PRESETS["collapsing"])
    stable = train_toy(seed=0, **TOY_PRESETS["stabilized"])
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    assert collapsed.coverage["covered"] <= 4, collapsed.coverage
    assert stable.coverage["covered"] >= 7, stable.coverage
    # Wall time alone fails on a machine shared with other jobs; CPU time alone overstates a run that
    # used several cores. Either one under a minute means the two runs fit in a minute on their own.
    assert min(elapsed, cpu) < 60, f"the two toy runs took {elapsed:.0f} s wall, {cpu:.0f} s CPU"


def test_toy_switches_reach_the_toy_gan():  # moved from test_gan.py
    from gan_kit.models import build_toy_discriminator
    from gan_kit.toy import train_toy

    d = build_toy_discriminator(16, 2, dropout=0.2)
    assert [layer.rate for layer in d.layers if isinstance(layer, keras.layers.Dropout)] == [0.2, 0.2]
    result = train_toy(steps=10, batch_size=32, g_hidden=8, d_hidden=8, d_dropout=0.2, feature_matching=1.0,
                       g_steps=2, n_critic=3, n_samples=50)
    gan = result.gan
    assert (gan.feature_matching, gan.g_steps, gan.n_critic) == (1.0, 2, 3)
    assert (int(gan.d_optimizer.iterations), int(gan.g_optimizer.iterations)) == (3 * 10, 2 * 10)
    assert "fm" in result.history


@pytest.mark.parametrize("steps,done", [(7, 7), (130, 130), (1234, 1230)])
def test_toy_trains_the_number_of_steps_asked_for(steps, done):  # moved from test_gan.py
    from gan_kit.toy import train_toy

    result = train_toy(steps=steps, batch_size=16, g_hidden=4, d_hidden=4, n_samples=20)
    assert int(result.gan.g_optimizer.iterations) == done == result.settings["steps"]
    assert len(result.history["g_loss"]) == min(10, steps)
