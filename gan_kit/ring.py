"""The 2-D ring of Gaussians: its centres, samples from it, and a count of the modes a sample set covers.

NumPy only, so plots and reports can use it without TensorFlow; ``gan_kit.toy`` trains GANs on it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["mode_coverage_2d", "ring_centers", "ring_data"]


def ring_centers(modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """The (modes, 2) centres of the Gaussians, evenly spaced on a circle."""
    angles = 2 * np.pi * np.arange(modes) / modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def ring_data(n: int, modes: int = 8, radius: float = 2.0, std: float = 0.05, seed: int = 0) -> np.ndarray:
    """``n`` float32 points from an equal mixture of ``modes`` Gaussians on a ring."""
    rng = np.random.default_rng(seed)
    centers = ring_centers(modes, radius)
    which = rng.integers(0, modes, n)
    return (centers[which] + std * rng.standard_normal((n, 2))).astype(np.float32)


def mode_coverage_2d(
    samples: np.ndarray,
    modes: int = 8,
    radius: float = 2.0,
    std: float = 0.05,
    n_std: float = 3.0,
    min_fraction: float = 0.02,
) -> dict[str, Any]:
    """How many ring modes the samples cover.

    A sample belongs to a mode when it lies within ``n_std`` standard deviations of
    its centre; a mode is covered when at least ``min_fraction`` of all samples
    belong to it.

    Returns:
        ``covered`` (int), ``counts`` (samples per mode), ``high_quality`` (fraction of
        samples near any mode), and the thresholds used.
    """
    samples = np.asarray(samples, np.float64)
    if samples.ndim != 2 or samples.shape[1] != 2 or len(samples) == 0:
        raise ValueError(f"Expected samples of shape (n, 2). Received shape {samples.shape}.")
    centers = ring_centers(modes, radius)
    dist = np.linalg.norm(samples[:, None, :] - centers[None], axis=-1)
    nearest = dist.argmin(axis=1)
    close = dist[np.arange(len(samples)), nearest] <= n_std * std
    counts = np.bincount(nearest[close], minlength=modes)
    covered = int((counts >= min_fraction * len(samples)).sum())
    return {
        "covered": covered,
        "modes": modes,
        "counts": counts.tolist(),
        "high_quality": float(close.mean()),
        "n_std": n_std,
        "min_fraction": min_fraction,
    }
