"""Figures: history plots, image grids, per-class bars, comparison plots; headless (Agg) and inline alike.

Never trains and never imports TensorFlow: every function takes arrays, history dicts or run
folders. The image-grid, PNG and GIF writers live in ``gan_kit.images`` and are re-exported here.
"""

from __future__ import annotations

import io
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
from matplotlib.ticker import MaxNLocator  # noqa: E402

from . import runs  # noqa: E402
from .fileio import atomic_write_bytes  # noqa: E402
from .images import as_images, image_grid  # noqa: E402
from .ring import ring_centers  # noqa: E402

__all__ = [
    "plot_family_comparison",
    "plot_history",
    "plot_latent_scatter",
    "plot_metric_bars",
    "plot_overlay",
    "plot_per_class",
    "plot_ring",
    "plot_run_curves",
    "plot_side_by_side",
    "plot_steps",
    "save_figure",
    "show_class_grid",
    "show_image_file",
    "show_image_groups",
    "show_images",
    "show_samples",
]


def _epoch_axis(ax, label: str = "epoch") -> None:
    """Label the x axis and keep its ticks on whole numbers (epochs and steps are counts)."""
    ax.set_xlabel(label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _draw_grid(ax, grid: np.ndarray) -> None:
    """Draw an ``image_grid`` on ``ax``: grayscale with the gray colour map, RGB as it is."""
    ax.imshow(grid[..., 0] if grid.shape[-1] == 1 else grid, cmap="gray" if grid.shape[-1] == 1 else None)


def show_images(images: np.ndarray, title: str | None = None, ncols: int | None = None, size: float = 4.0):
    """A matplotlib figure of an image grid."""
    grid = image_grid(images, ncols)
    fig, ax = plt.subplots(figsize=(size, size * grid.shape[0] / grid.shape[1]))
    _draw_grid(ax, grid)
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
    axes[0].set(title="Losses", ylabel="loss")
    axes[0].legend()
    for key, label in (("d_real_prob", "D(real)"), ("d_fake_prob", "D(fake)")):
        if key in h:
            axes[1].plot(epochs, h[key], marker="o", ms=3, label=label)
    axes[1].axhline(0.5, ls="--", color="gray", lw=1, label="0.5 (D undecided)")
    axes[1].set(title="Discriminator confidence", ylabel="mean probability", ylim=(-0.02, 1.02))
    axes[1].legend()
    if "epoch_time" in h:
        axes[2].bar(epochs, h["epoch_time"], color="tab:green")
    axes[2].set(title="Seconds per epoch", ylabel="s")
    for ax in axes:
        _epoch_axis(ax)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if save_to is not None:
        save_figure(fig, save_to)
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




# ------------------------------------------------------------------ class-conditional GANs (notebook 08)
def show_class_grid(images: np.ndarray, class_names: Sequence[str], title: str | None = None, size: float = 0.6):
    """A grid with one row per class (``ConditionalGAN.grid_images``), each row labelled with its class name.

    Args:
        images: (rows * cols, H, W, C) images in [-1, 1] or uint8, row-major, ``rows = len(class_names)``.
        class_names: one name per row.
        title: optional figure title.
        size: inches per grid cell.

    Returns:
        The matplotlib Figure.
    """
    arr = as_images(images, "uint8")
    rows = len(class_names)
    if rows == 0 or len(arr) % rows:
        raise ValueError(f"{len(arr)} images do not make {rows} equal rows (one per class name).")
    cols = len(arr) // rows
    pad = 2
    grid = image_grid(arr, cols, pad)
    h = arr.shape[1]
    fig, ax = plt.subplots(figsize=(size * cols + 1.5, size * rows + (0.4 if title else 0.1)))
    _draw_grid(ax, grid)
    ax.set_yticks([pad + r * (h + pad) + h / 2 for r in range(rows)])
    ax.set_yticklabels([str(n) for n in class_names])
    ax.set_xticks([])
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def _per_class_rows(source) -> list[dict]:
    if isinstance(source, (str, os.PathLike)):
        return runs.read_per_class(source)  # a run folder's metrics_per_class.json
    return [dict(r) for r in source]


def plot_per_class(tables: Mapping[str, Sequence[Mapping] | str | os.PathLike], title: str | None = None):
    """Per-class accuracy, class share and intra-class FID of several models, as grouped bars.

    Args:
        tables: label -> a per-class table (``gan_kit.metrics.per_class_metrics``) or a run
            folder holding ``metrics_per_class.json``. Models without accuracies (unconditional)
            are left out of the accuracy panel.
        title: optional figure title.

    Returns:
        The matplotlib Figure with three panels: accuracy on the requested class (dashed: chance),
        share of the samples the classifier puts in each class (dashed: uniform), intra-class FID.
    """
    data = {label: _per_class_rows(rows) for label, rows in tables.items()}
    if not data:
        raise ValueError("plot_per_class needs at least one table.")
    first = next(iter(data.values()))
    names = [r["name"] for r in first]
    k = len(names)
    x = np.arange(k)
    width = 0.8 / len(data)
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    panels = (("accuracy", "Accuracy on the requested class", "fraction"),
              ("share", "Share of the samples per class", "fraction"),
              ("fid", "Intra-class FID (lower is better)", "FID"))
    for ax, (key, panel_title, ylabel) in zip(axes, panels):
        for i, (label, rows) in enumerate(data.items()):
            values = [r.get(key) for r in rows]
            if all(v is None for v in values):
                continue
            ax.bar(x + (i - (len(data) - 1) / 2) * width, [np.nan if v is None else v for v in values], width,
                   label=label)
        if key in ("accuracy", "share"):
            ax.axhline(1.0 / k, ls="--", color="gray", lw=1, label=f"1/{k}")
            ax.set_ylim(0, 1.02 if key == "accuracy" else None)
        ax.set(title=panel_title, ylabel=ylabel)
        ax.set_xticks(x)
        ax.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig



# ------------------------------------------------------------------ VAEs and the GAN vs VAE lab (notebook 05)
def save_figure(fig, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Write a matplotlib figure as PNG atomically."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return atomic_write_bytes(path, buffer.getvalue())


def plot_latent_scatter(codes: np.ndarray, labels: np.ndarray, class_names: Sequence[str] | None = None,
                        save_to: str | os.PathLike | None = None, title: str | None = None):
    """Scatter of 2-D latent codes coloured by class (a VAE with latent_dim=2).

    Args:
        codes: (n, 2) encodings (e.g. posterior means of test images).
        labels: (n,) integer classes.
        class_names: names for the legend (index = class).
        save_to: optional PNG path.
        title: optional title.

    Returns:
        The matplotlib Figure.
    """
    codes, labels = np.asarray(codes), np.asarray(labels).reshape(-1)
    if codes.ndim != 2 or codes.shape[1] != 2 or len(codes) != len(labels):
        raise ValueError(f"plot_latent_scatter needs (n, 2) codes and n labels. Received {codes.shape} and "
                         f"{labels.shape}.")
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    cmap = plt.get_cmap("tab10" if len(np.unique(labels)) <= 10 else "tab20")
    for i, c in enumerate(np.unique(labels)):
        mask = labels == c
        name = class_names[int(c)] if class_names is not None and int(c) < len(class_names) else str(c)
        ax.scatter(codes[mask, 0], codes[mask, 1], s=6, alpha=0.6, color=cmap(i % cmap.N), label=name)
    ax.set(xlabel="z[0]", ylabel="z[1]", title=title or "latent codes by class")
    ax.legend(fontsize=7, markerscale=2, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    if save_to is not None:
        save_figure(fig, save_to)
    return fig


def show_image_file(path: str | os.PathLike, title: str | None = None, size: float = 8.0):
    """A matplotlib figure of a saved PNG (a run's reconstructions, interpolations, grids)."""
    from PIL import Image

    img = np.asarray(Image.open(path))
    fig, ax = plt.subplots(figsize=(size, size * img.shape[0] / img.shape[1]))
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
    ax.axis("off")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_run_curves(histories: Mapping[str, Mapping[str, Sequence[float]] | str | os.PathLike],
                    keys: Sequence[str], titles: Sequence[str] | None = None,
                    styles: Mapping[str, Mapping] | None = None, save_to: str | os.PathLike | None = None,
                    title: str | None = None):
    """One panel per history column, one line per run: compare losses across configurations.

    Args:
        histories: label -> history dict or run folder.
        keys: history columns, one panel each (e.g. ``("g_loss", "d_loss")`` or
            ``("loss", "recon_loss", "kl_loss")``). A run without a column is left out of its panel.
        titles: panel titles (default: the keys).
        styles: label -> matplotlib line keywords (``color``, ``ls``, ...).
        save_to: optional PNG path.
        title: optional figure title.

    Returns:
        The matplotlib Figure.
    """
    if not histories or not keys:
        raise ValueError("plot_run_curves needs at least one history and one key.")
    data = {label: _history(h) for label, h in histories.items()}
    fig, axes = plt.subplots(1, len(keys), figsize=(5.2 * len(keys), 3.8), squeeze=False)
    for ax, key, panel in zip(axes[0], keys, titles or keys):
        for label, h in data.items():
            if key in h:
                epochs = h.get("epoch") or list(range(1, len(h[key]) + 1))
                ax.plot(epochs, h[key], marker="o", ms=3, label=label, **dict((styles or {}).get(label, {})))
        ax.set(title=panel)
        _epoch_axis(ax)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if save_to is not None:
        save_figure(fig, save_to)
    return fig


def plot_metric_bars(values: Mapping[str, float | None], metric: str = "FID",
                     colors: Mapping[str, str] | None = None, save_to: str | os.PathLike | None = None,
                     title: str | None = None):
    """A bar per configuration; a missing value (None or NaN) gets no bar and the words "not computed".

    Args:
        values: label -> metric value.
        metric: axis label.
        colors: label -> bar colour.
        save_to: optional PNG path.
        title: optional title.

    Returns:
        The matplotlib Figure.
    """
    labels = list(values)
    nums = [np.nan if values[k] is None else float(values[k]) for k in labels]
    fig, ax = plt.subplots(figsize=(max(5.0, 0.7 * len(labels) + 2), 3.8))
    x = np.arange(len(labels))
    ax.bar(x, nums, color=[(colors or {}).get(k, "tab:blue") for k in labels])
    finite = [v for v in nums if np.isfinite(v)]
    top = max(finite) if finite else 1.0
    for i, v in enumerate(nums):
        if np.isfinite(v):
            ax.text(i, v, f"{v:.4g}", ha="center", va="bottom", fontsize=7)
        else:
            ax.text(i, 0.02 * top, "not computed", ha="center", va="bottom", rotation=90, fontsize=7)
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=8)
    ax.set(ylabel=metric, title=title or f"{metric} by configuration")
    fig.tight_layout()
    if save_to is not None:
        save_figure(fig, save_to)
    return fig


def plot_family_comparison(rows: Sequence[Mapping], metric: str = "FID", save_to: str | os.PathLike | None = None,
                           title: str | None = None):
    """GAN runs against VAE runs: one panel per dataset, one dot per run, the best of each family marked.

    Args:
        rows: dicts with ``dataset``, ``family`` (``"GAN"`` or ``"VAE"``), ``label`` and ``value``
            (None or NaN: left out and counted as not computed in the panel title).
        metric: axis label (lower is better for FID and KID).
        save_to: optional PNG path.
        title: optional figure title.

    Returns:
        The matplotlib Figure.
    """
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    if not datasets:
        raise ValueError("plot_family_comparison needs at least one row.")
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.0 * len(datasets), 4.0), squeeze=False)
    families = ("GAN", "VAE")
    for ax, ds in zip(axes[0], datasets):
        missing = 0
        for j, family in enumerate(families):
            pts = [(r["label"], r["value"]) for r in rows if r["dataset"] == ds and r["family"] == family]
            ok = [(k, float(v)) for k, v in pts if v is not None and np.isfinite(float(v))]
            missing += len(pts) - len(ok)
            offsets = np.linspace(-0.15, 0.15, len(ok)) if len(ok) > 1 else [0.0]
            for (label, v), dx in zip(ok, offsets):
                ax.scatter(j + dx, v, color="tab:orange" if family == "GAN" else "tab:purple", s=25)
                ax.annotate(label, (j + dx, v), fontsize=6, xytext=(4, 0), textcoords="offset points")
            if ok:
                best = min(v for _, v in ok)
                ax.hlines(best, j - 0.3, j + 0.3, colors="gray", linestyles="--", lw=1)
        ax.set_xticks(range(len(families)))
        ax.set_xticklabels(families)
        ax.set_xlim(-0.6, len(families) - 0.4)
        note = f" ({missing} not computed)" if missing else ""
        ax.set(ylabel=metric, title=f"{ds}{note}")
    fig.suptitle(title or f"GAN vs VAE: {metric} per run (dashed: best of each family)")
    fig.tight_layout()
    if save_to is not None:
        save_figure(fig, save_to)
    return fig



# ------------------------------------------------------------------ one change at a time (notebook 03)
def plot_side_by_side(histories: Mapping[str, Mapping[str, Sequence[float]] | str | os.PathLike],
                      samples: Mapping[str, np.ndarray], coverage: Mapping[str, dict] | None = None,
                      title: str | None = None, size: float = 3.4):
    """Runs side by side: their losses, D's confidence, then one panel of samples per run.

    Each run keeps one colour in both curve panels: G's loss solid and D's dashed in the
    first, mean D(real) solid and D(fake) dotted (with the 0.5 line) in the second.
    Samples are images (drawn as a grid) or 2-D points (drawn over the ring of
    ``gan_kit.toy`` with ``plot_ring``, titled with the covered modes when ``coverage``
    has the run).

    Args:
        histories: label -> history dict (``Run.history``, ``ToyResult.history``) or run folder.
        samples: label -> images (N, H, W[, C]) in [-1, 1] or uint8, or points (N, 2).
        coverage: label -> ``ring.mode_coverage_2d`` result, for point samples.
        title: optional figure title.
        size: inches per panel.

    Returns:
        The matplotlib Figure.
    """
    if not histories:
        raise ValueError("plot_side_by_side needs at least one history.")
    data = {label: _history(h) for label, h in histories.items()}
    colors = {label: f"C{i % 10}" for i, label in enumerate(data)}
    fig, axes = plt.subplots(1, 2 + len(samples), figsize=(size * (2 + len(samples)), size), squeeze=False)
    loss_ax, conf_ax = axes[0][0], axes[0][1]
    for label, h in data.items():
        steps = h.get("epoch") or list(range(1, len(next(iter(h.values()), [])) + 1))
        for key, ls, who in (("g_loss", "-", "G"), ("d_loss", "--", "D")):
            if key in h:
                loss_ax.plot(steps, h[key], ls=ls, marker="o", ms=2, color=colors[label], label=f"{who} {label}")
        for key, ls, who in (("d_real_prob", "-", "D(real)"), ("d_fake_prob", ":", "D(fake)")):
            if key in h:
                conf_ax.plot(steps, h[key], ls=ls, marker="o", ms=2, color=colors[label], label=f"{who} {label}")
    conf_ax.axhline(0.5, ls="--", color="gray", lw=1)
    loss_ax.set(title="Losses (G solid, D dashed)")
    conf_ax.set(title="D confidence (real solid, fake dotted)", ylim=(-0.02, 1.02))
    _epoch_axis(loss_ax)
    _epoch_axis(conf_ax)
    for ax in (loss_ax, conf_ax):
        ax.legend(fontsize=6)
    for ax, (label, values) in zip(axes[0][2:], samples.items()):
        arr = np.asarray(values)
        if arr.ndim == 2 and arr.shape[1] == 2:
            plot_ring(arr, (coverage or {}).get(label), title=label, ax=ax)
        else:
            grid = image_grid(arr)
            _draw_grid(ax, grid)
            ax.set_title(label)
            ax.axis("off")
        ax.title.set_color(colors.get(label, "black"))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig



def show_image_groups(groups: Mapping[str, np.ndarray], title: str | None = None, size: float = 3.5,
                      ncols: int | None = None):
    """Image grids side by side, one panel per group (e.g. real vs generated), each titled with its label.

    Args:
        groups: label -> images (N, H, W[, C]) in [-1, 1] or uint8.
        title: optional figure title.
        size: inches per panel.
        ncols: columns of each grid (default: about square).

    Returns:
        The matplotlib Figure.
    """
    if not groups:
        raise ValueError("show_image_groups needs at least one group of images.")
    fig, axes = plt.subplots(1, len(groups), figsize=(size * len(groups), size + (0.4 if title else 0.1)),
                             squeeze=False)
    for ax, (label, images) in zip(axes[0], groups.items()):
        grid = image_grid(images, ncols)
        _draw_grid(ax, grid)
        ax.set_title(label)
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_overlay(histories: Sequence[Mapping[str, Sequence[float]]], columns: Sequence[str],
                 labels: Sequence[str], save_to: str | os.PathLike | None = None):
    """One panel per history column, one line per run, one legend below (``gan_kit.compare``'s figure).

    Args:
        histories: one history dict per run.
        columns: the columns to draw, one panel each.
        labels: one legend label per run.
        save_to: optional PNG path.

    Returns:
        The matplotlib Figure.
    """
    columns = list(columns)
    n = max(len(columns), 1)
    ncols = min(n, 2 if n == 4 else 3)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.8 * ncols, 3.4 * nrows), squeeze=False)
    for ax, column in zip(axes.flat, columns):
        for history, label in zip(histories, labels):
            if column in history:
                epochs = history.get("epoch") or list(range(1, len(history[column]) + 1))
                ax.plot(epochs, history[column], marker="o", ms=2, label=label)
        if column in ("d_real_prob", "d_fake_prob"):
            ax.axhline(0.5, ls="--", color="gray", lw=1)
        ax.set(title=column)
        _epoch_axis(ax)
    for ax in list(axes.flat)[len(columns):]:
        ax.axis("off")
    handles, names = axes.flat[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, names, loc="lower center", ncol=min(len(names), 3), fontsize="small",
                   bbox_to_anchor=(0.5, 0.0))
        fig.tight_layout(rect=(0, 0.06 + 0.03 * math.ceil(len(names) / 3), 1, 1))
    else:
        fig.tight_layout()
    if save_to is not None:
        save_figure(fig, save_to)
    return fig


def plot_steps(tables: Mapping[str, Mapping[str, Sequence[float]] | str | os.PathLike],
               columns: Sequence[str] = ("d_loss", "g_loss"), window: int = 16,
               save_to: str | os.PathLike | None = None):
    """Per-step losses of several runs (``steps.csv``, see ``Config.log_steps``): each step faint, its moving
    mean over ``window`` steps solid, one panel per column and one colour per run.

    Args:
        tables: label -> a per-step table or a run folder.
        columns: the columns to draw.
        window: steps in the moving mean.
        save_to: optional PNG path.

    Returns:
        The matplotlib Figure.

    Raises:
        ValueError: for a run folder without ``steps.csv``.
    """
    loaded = {}
    for label, source in tables.items():
        table = runs.load_steps(source) if isinstance(source, (str, os.PathLike)) else dict(source)
        if not table:
            raise ValueError(f"{source} has no steps.csv: train the run with log_steps=True to record every step.")
        loaded[label] = table
    fig, axes = plt.subplots(1, len(columns), figsize=(5.2 * len(columns), 3.4), squeeze=False)
    for ax, column in zip(axes[0], columns):
        for i, (label, table) in enumerate(loaded.items()):
            values = np.asarray(table.get(column, []), np.float64)
            steps = np.asarray(table.get("step") or np.arange(1, len(values) + 1))
            color = f"C{i % 10}"
            ax.plot(steps, values, color=color, lw=0.6, alpha=0.35)
            if len(values) >= window:
                smooth = np.convolve(values, np.ones(window) / window, mode="valid")
                ax.plot(steps[window - 1:], smooth, color=color, lw=1.6, label=label)
            else:
                ax.lines[-1].set_label(label)
        ax.set(title=f"{column} per step (faint) and its {window}-step mean", xlabel="train step")
        ax.legend(fontsize="small")
    fig.tight_layout()
    if save_to is not None:
        save_figure(fig, save_to)
    return fig
