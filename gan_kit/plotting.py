"""History plots, image grids and GIFs; headless (Agg) and inline alike. Never trains."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

if not os.environ.get("DISPLAY") and "inline" not in matplotlib.get_backend().lower():
    # Headless machine outside Jupyter: draw to files only.
    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from . import runs  # noqa: E402


def _to_uint8(images: np.ndarray) -> np.ndarray:
    """Images in [-1, 1] (float) or [0, 255] (uint8) as uint8 N x H x W x C."""
    arr = np.asarray(images)
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4:
        raise ValueError(f"Expected images of shape (N, H, W[, C]). Received shape {arr.shape}.")
    if arr.dtype == np.uint8:
        return arr
    arr = np.nan_to_num(arr.astype(np.float32), nan=0.0)
    return np.clip(np.rint((arr + 1.0) * 127.5), 0, 255).astype(np.uint8)


def image_grid(images: np.ndarray, ncols: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile N images into one uint8 image (H x W x C) with ``pad`` pixels of padding."""
    arr = _to_uint8(images)
    n, h, w, c = arr.shape
    ncols = ncols or int(math.ceil(math.sqrt(n)))
    nrows = int(math.ceil(n / ncols))
    grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), 255, np.uint8)
    for i in range(n):
        r, col = divmod(i, ncols)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[y : y + h, x : x + w] = arr[i]
    return grid


def save_image_grid(images: np.ndarray, path: str | os.PathLike, ncols: int | None = None, scale: int = 2) -> Path:
    """Save images as one PNG grid (atomically), enlarged ``scale`` times for readability."""
    from PIL import Image

    grid = image_grid(images, ncols)
    if scale > 1:
        grid = np.repeat(np.repeat(grid, scale, axis=0), scale, axis=1)
    img = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
    import io

    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return runs.atomic_write_bytes(path, buffer.getvalue())


def show_images(images: np.ndarray, title: str | None = None, ncols: int | None = None, size: float = 4.0):
    """A matplotlib figure of an image grid."""
    grid = image_grid(images, ncols)
    fig, ax = plt.subplots(figsize=(size, size * grid.shape[0] / grid.shape[1]))
    ax.imshow(grid[..., 0] if grid.shape[-1] == 1 else grid, cmap="gray" if grid.shape[-1] == 1 else None)
    ax.axis("off")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def _history(source: Mapping[str, Sequence[float]] | str | os.PathLike) -> dict[str, list[float]]:
    if isinstance(source, Mapping):
        return {k: list(v) for k, v in source.items()}
    history = runs.load_history(source)
    if not history:
        raise ValueError(f"No history.csv with rows in {source}.")
    return history


def plot_history(
    history: Mapping[str, Sequence[float]] | str | os.PathLike,
    save_to: str | os.PathLike | None = None,
    title: str | None = None,
):
    """Three panels: G and D losses, mean D(real)/D(fake) with a dashed 0.5 line, seconds per epoch.

    Args:
        history: a dict of columns (``Run.history``) or a run folder.
        save_to: optional PNG path.
        title: optional figure title.

    Returns:
        The matplotlib Figure.
    """
    h = _history(history)
    n = len(next(iter(h.values()), []))
    epochs = h.get("epoch") or list(range(1, n + 1))
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    for key, label in (("g_loss", "generator"), ("d_loss", "discriminator")):
        if key in h:
            axes[0].plot(epochs, h[key], marker="o", ms=3, label=label)
    axes[0].set(title="Losses", xlabel="epoch", ylabel="loss")
    axes[0].legend()
    for key, label in (("d_real_prob", "D(real)"), ("d_fake_prob", "D(fake)")):
        if key in h:
            axes[1].plot(epochs, h[key], marker="o", ms=3, label=label)
    axes[1].axhline(0.5, ls="--", color="gray", lw=1, label="0.5 (D undecided)")
    axes[1].set(title="Discriminator confidence", xlabel="epoch", ylabel="mean probability", ylim=(-0.02, 1.02))
    axes[1].legend()
    if "epoch_time" in h:
        axes[2].bar(epochs, h["epoch_time"], color="tab:green")
    axes[2].set(title="Seconds per epoch", xlabel="epoch", ylabel="s")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if save_to is not None:
        import io

        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
        runs.atomic_write_bytes(save_to, buffer.getvalue())
    return fig


def show_samples(run_dir: str | os.PathLike, max_grids: int = 6, size: float = 3.0):
    """The run's saved fixed-noise grids side by side, first to last epoch."""
    from PIL import Image

    paths = runs.sample_paths(run_dir)
    if not paths:
        raise ValueError(f"No sample grids in {Path(run_dir) / runs.SAMPLES_DIR}.")
    if len(paths) > max_grids:
        idx = np.linspace(0, len(paths) - 1, max_grids).round().astype(int)
        paths = [paths[i] for i in sorted(set(idx))]
    fig, axes = plt.subplots(1, len(paths), figsize=(size * len(paths), size), squeeze=False)
    for ax, path in zip(axes[0], paths):
        img = np.asarray(Image.open(path))
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
        ax.set_title(path.stem.replace("_", " "))
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_ring(samples: np.ndarray, coverage: dict | None = None, title: str | None = None, ax=None,
              modes: int = 8, radius: float = 2.0, std: float = 0.05):
    """Generated 2-D points over the ring's mode centres (circles of 3 std), with the covered count."""
    from .toy import ring_centers

    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    samples = np.asarray(samples)
    ax.scatter(samples[:, 0], samples[:, 1], s=3, alpha=0.4, color="tab:blue", label="generated")
    for cx, cy in ring_centers(modes, radius):
        ax.add_patch(plt.Circle((cx, cy), 3 * std, fill=False, color="tab:red", lw=1))
    lim = radius * 1.6
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal")
    label = title or ""
    if coverage is not None:
        label = f"{label}\n{coverage['covered']}/{coverage['modes']} modes covered".strip()
    ax.set_title(label)
    return ax.figure


def save_gif(frames: Sequence[str | os.PathLike], path: str | os.PathLike, duration_ms: int = 500) -> Path:
    """Write PNG frames as an animated GIF (atomically)."""
    import io

    from PIL import Image

    if not frames:
        raise ValueError("save_gif needs at least one frame.")
    images = [Image.open(f).convert("RGB") for f in frames]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=duration_ms, loop=0)
    return runs.atomic_write_bytes(path, buffer.getvalue())


__all__ = [
    "image_grid",
    "plot_history",
    "plot_ring",
    "save_gif",
    "save_image_grid",
    "show_images",
    "show_samples",
]
