"""The GAN vs VAE lab: GANs (loss x z_dim) and VAEs (latent size) on each dataset, then a report from the run folders.

The default grid is 12 + 6 runs: GAN loss {bce, hinge} x z_dim {32, 64, 128}
and VAE latent {8, 16, 32}, on MNIST and Fashion-MNIST. A dataset that cannot be read
(offline, no copy) is **skipped**, with the reason from
``gan_kit.data.DatasetNotFoundError``, never replaced by another one.

A lab folder holds::

    lab.json          the grid, the profile, each dataset's status, each point's run folder
    runs/<name>-<time>/  one run folder per point (``gan_kit.train``'s layout)
    report/           report.md, report.html, images/ (``gan_kit.report``)

Every point has a stable run name (``fashion_mnist-gan-hinge-z64``, ``fashion_mnist-vae-z16``).
A point whose run folder under ``runs/`` holds the same config and the status ``finished``
is not trained again, so an interrupted lab continues where it stopped. After training
each run gets ``metrics.json`` (FID, KID and more, ``gan_kit.metrics.evaluate``, GAN and VAE alike) and, for a GAN,
``interpolations.png`` (spherical paths between noise vectors).
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import fileio, runs
from .config import Config, for_profile, resolve_profile
from .records import short_reason
from .runs import LAB_FILE
from .runs import LAB_REPORT_DIR as REPORT_DIR
from .runs import LAB_RUNS_DIR as RUNS_DIR

LAB_EPOCHS = 10  # epochs per run (the smoke profile keeps its own)
# The lab's settings on top of the kit's defaults and the profile.
GAN_SETTINGS: dict[str, Any] = {"g_lr": 2e-4, "d_lr": 2e-4, "g_beta1": 0.5, "d_beta1": 0.5}
VAE_SETTINGS: dict[str, Any] = {"g_lr": 1e-3, "g_beta1": 0.9, "recon_loss": "bce", "beta": 1.0}
# Each run's budget per profile, on top of the profile's settings. FID and KID go into
# history.csv every ``metrics_every`` epochs (and after the last), so the report can name the
# best epoch, and into metrics.json after training, always with ``metrics_samples`` images.
# ``quick`` is sized for the 9 runs of one dataset (6 GAN + 3 VAE) in about 15-20 minutes on a
# 2-core CPU: 10 epochs of 80 batches of 32 (2,560 images), widths 32, the generator without
# its refinement convolutions. Measured on a 2-core CPU shared with other jobs (load about 6):
# about 110 s per GAN run and 30 s per VAE run, metrics included.
LAB_PROFILE_SETTINGS: dict[str, dict[str, Any]] = {
    "smoke": {"metrics_every": 1, "metrics_samples": 200},
    "quick": {"epochs": LAB_EPOCHS, "max_examples": 2560, "batch_size": 32, "g_width": 32, "d_width": 32,
              "refine": False, "metrics_every": 2, "metrics_samples": 500, "sample_every": 2,
              "checkpoint_every": LAB_EPOCHS},
    "full": {"epochs": LAB_EPOCHS, "metrics_every": 1, "metrics_samples": 5000},
}
INTERPOLATION_PAIRS = 4
INTERPOLATION_STEPS = 12


@dataclass(frozen=True)
class LabPoint:
    """One configuration of the lab: a dataset, a model family, a latent size and (GAN) a loss."""

    dataset: str
    model: str
    latent_dim: int
    loss: str | None = None

    @property
    def name(self) -> str:
        """The stable run name of the point."""
        if self.model == "gan":
            return f"{self.dataset}-gan-{self.loss}-z{self.latent_dim}"
        return f"{self.dataset}-vae-z{self.latent_dim}"

    @property
    def label(self) -> str:
        """A short label for tables and plots (``GAN hinge z64``, ``VAE z16``)."""
        return f"GAN {self.loss} z{self.latent_dim}" if self.model == "gan" else f"VAE z{self.latent_dim}"


@dataclass
class LabResult:
    """What ``run_lab`` did: the lab folder, one entry per point, the skipped datasets, the report files."""

    folder: Path
    profile: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    report: tuple[Path, Path] | None = None

    @property
    def run_dirs(self) -> list[Path]:
        """Run folders of the points that have one (finished, reused or failed)."""
        return [self.folder / r["path"] for r in self.runs if r.get("path")]

    @property
    def failed(self) -> list[dict[str, Any]]:
        """Entries of points whose training failed."""
        return [r for r in self.runs if r["state"] == "failed"]


def lab_points(
    datasets: Sequence[str] = ("mnist", "fashion_mnist"),
    gan_losses: Sequence[str] = ("bce", "hinge"),
    z_dims: Sequence[int] = (32, 64, 128),
    vae_latents: Sequence[int] = (8, 16, 32),
) -> list[LabPoint]:
    """The lab's points in run order: per dataset, GAN loss x z_dim, then the VAE latents."""
    points = []
    for ds in datasets:
        points += [LabPoint(ds, "gan", int(z), loss) for loss in gan_losses for z in z_dims]
        points += [LabPoint(ds, "vae", int(z)) for z in vae_latents]
    return points


def point_config(point: LabPoint, profile: str | None = None, runs_dir: str | os.PathLike = "outputs/lab/runs",
                 *, epochs: int | None = None, base: Config | None = None, **overrides: Any) -> Config:
    """The config of one lab point: ``base`` (or defaults), the profile, the lab's model settings, the
    profile's lab budget (``LAB_PROFILE_SETTINGS``), ``epochs``, then ``overrides``.

    Epochs: ``epochs``, else ``LAB_EPOCHS`` (10), except under ``smoke`` which keeps its own.
    """
    concrete = resolve_profile(profile)
    values: dict[str, Any] = dict(GAN_SETTINGS if point.model == "gan" else VAE_SETTINGS)
    values.update(LAB_PROFILE_SETTINGS[concrete])
    values.update(name=point.name, model=point.model, dataset=point.dataset, latent_dim=int(point.latent_dim),
                  output_dir=str(runs_dir))
    if point.model == "gan":
        values["loss"] = point.loss
    if epochs is not None:
        values["epochs"] = int(epochs)
    values.update(overrides)
    return for_profile(concrete, base=base, **values)


def dataset_unavailable(name: str) -> str | None:
    """Why a dataset cannot be used here (the ``DatasetNotFoundError`` / ``DatasetError`` message), or None."""
    from . import data

    try:
        data.load_arrays(name, "train", max_examples=1)
    except (data.DatasetNotFoundError, data.DatasetError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def find_finished(runs_dir: str | os.PathLike, config: Config) -> Path | None:
    """The newest run folder under ``runs_dir`` made with ``config`` (``output_dir`` aside) and finished."""
    found = runs.find_runs(runs_dir, config=config, ignore=("output_dir",), states=("finished",))
    return found[-1] if found else None


def save_gan_interpolations(run_dir: str | os.PathLike | runs.RunFolder, pairs: int = INTERPOLATION_PAIRS,
                            steps: int = INTERPOLATION_STEPS, seed: int = 0) -> Path:
    """``interpolations.png`` for a GAN run: one row per pair of seeded noise vectors, spherical paths (slerp),
    written through the run's ``RunFolder`` (``run_dir`` itself when it is one)."""
    import keras

    from .images import save_interpolations
    from .vae import slerp

    config = runs.read_config(run_dir)
    generator = runs.load_generator(run_dir)
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(pairs):
        a, b = rng.standard_normal((2, config.latent_dim))
        rows.append(keras.ops.convert_to_numpy(generator(slerp(a, b, steps), training=False)))
    return save_interpolations(rows, runs.RunFolder.of(run_dir).file(runs.INTERPOLATIONS_FILE))


def _finish_artifacts(run_dir: Path, config: Config, entry: dict[str, Any], evaluate: bool) -> None:
    from . import metrics

    if config.model == "gan" and not (run_dir / runs.INTERPOLATIONS_FILE).exists():
        save_gan_interpolations(run_dir)
    if evaluate and not (run_dir / runs.METRICS_FILE).exists():
        try:
            metrics.evaluate(run_dir)
        except Exception as exc:  # a missing extractor must not lose the run: the report says "not computed"
            entry["metrics_error"] = f"{type(exc).__name__}: {exc}"


def run_lab(
    datasets: Sequence[str] = ("mnist", "fashion_mnist"),
    gan_losses: Sequence[str] = ("bce", "hinge"),
    z_dims: Sequence[int] = (32, 64, 128),
    vae_latents: Sequence[int] = (8, 16, 32),
    profile: str | None = None,
    output_dir: str | os.PathLike | None = None,
    *,
    epochs: int | None = None,
    overrides: dict[str, Any] | None = None,
    evaluate: bool = True,
    report: bool = True,
    verbose: int = 1,
    log: Callable[[str], None] = print,
) -> LabResult:
    """Run the GAN vs VAE lab: every point on every available dataset, skipping finished runs; then the report.

    Example:
        >>> result = run_lab(datasets=("fashion_mnist",), profile="quick")
        >>> result.report  # (report.md, report.html)

    Args:
        datasets: dataset names; those that cannot be read are skipped with the reason.
        gan_losses: GAN loss names (``gan_kit.losses``).
        z_dims: GAN noise sizes.
        vae_latents: VAE latent sizes.
        profile: ``smoke``, ``quick``, ``full`` or ``auto`` (None: ``$GAN_KIT_PROFILE``).
        output_dir: the lab folder (default ``outputs/lab/<profile>``).
        epochs: epochs per run (default: 10; the smoke profile keeps its own).
        overrides: extra config fields for every run (e.g. ``{"max_examples": 2000}``).
        evaluate: compute ``metrics.json`` for each finished run that lacks it.
        report: build ``report/report.md`` and ``report/report.html`` at the end.
        verbose: 0 silent, 1 one line per point, 2 also Keras' per-epoch lines.
        log: where the progress lines go.

    Returns:
        A ``LabResult``. Failed points are recorded (``state="failed"`` with the error) and
        the lab goes on with the others.
    """
    concrete = resolve_profile(profile)
    folder = Path(output_dir) if output_dir is not None else Path("outputs") / "lab" / concrete
    runs_dir = folder / RUNS_DIR
    runs_dir.mkdir(parents=True, exist_ok=True)
    result = LabResult(folder=folder, profile=concrete)
    status = _dataset_status(datasets, result, log if verbose else None)
    points = lab_points([ds for ds in status if ds not in result.skipped], gan_losses, z_dims, vae_latents)
    record = {
        "profile": concrete,
        "grid": {"datasets": list(status), "gan_losses": list(gan_losses), "z_dims": [int(z) for z in z_dims],
                 "vae_latents": [int(z) for z in vae_latents]},
        "datasets": status,
        "runs": result.runs,
    }

    def save() -> None:
        fileio.write_json(folder / LAB_FILE, {**record, "updated": time.strftime("%Y-%m-%d %H:%M:%S")})

    save()
    for i, point in enumerate(points, 1):
        config = point_config(point, concrete, runs_dir, epochs=epochs, **(overrides or {}))
        entry = _lab_point(point, config, folder, evaluate, verbose)
        result.runs.append(entry)
        save()
        if verbose:
            extra = f" ({entry['error']})" if "error" in entry else ""
            extra += f" [metrics not computed: {entry['metrics_error']}]" if "metrics_error" in entry else ""
            log(f"lab [{i}/{len(points)}] {point.name}: {entry['state']} in {entry['seconds']:.0f} s{extra}")
    if report:
        from .report import build_report

        result.report = build_report(folder, folder / REPORT_DIR)
        if verbose:
            log(f"lab: report at {result.report[0]} and {result.report[1]}")
    return result


def _dataset_status(datasets: Sequence[str], result: LabResult, log: Callable[[str], None] | None
                    ) -> dict[str, dict[str, Any]]:
    """Each dataset's status (``available``, or ``skipped`` with the reason, also put in ``result.skipped``)."""
    status: dict[str, dict[str, Any]] = {}
    for ds in dict.fromkeys(datasets):
        reason = dataset_unavailable(ds)
        status[ds] = {"status": "skipped", "reason": reason} if reason else {"status": "available"}
        if reason:
            result.skipped[ds] = reason
            if log is not None:
                log(f"lab: {ds} skipped - {short_reason(reason)}")
    return status


def _lab_point(point: LabPoint, config: Config, folder: Path, evaluate: bool, verbose: int) -> dict[str, Any]:
    """Train (or reuse) one lab point's run and its artifacts; its ``lab.json`` entry, ``failed`` with the error
    when anything raised."""
    from .training import train

    runs_dir = folder / RUNS_DIR
    entry: dict[str, Any] = {"name": point.name, "label": point.label, "dataset": point.dataset,
                             "model": point.model, "loss": point.loss, "latent_dim": point.latent_dim}
    start = time.perf_counter()
    existing = find_finished(runs_dir, config)
    try:
        if existing is not None:
            run_dir, entry["state"] = existing, "reused"
        else:
            run_dir = train(config, verbose=2 if verbose >= 2 else 0).path
            entry["state"] = runs.read_status(run_dir)["state"]
            if entry["state"] == "finished":
                entry["state"] = "trained"
        entry["path"] = str(run_dir.relative_to(folder))
        if entry["state"] in ("trained", "reused"):
            _finish_artifacts(run_dir, config, entry, evaluate)
    except Exception as exc:
        entry["state"] = "failed"
        entry["error"] = f"{type(exc).__name__}: {exc}"
        entry["traceback"] = traceback.format_exc(limit=5)
        made = runs.find_runs(runs_dir, name=point.name, states=("failed",))
        if made and "path" not in entry:
            entry["path"] = str(made[-1].relative_to(folder))
    entry["seconds"] = round(time.perf_counter() - start, 1)
    return entry


def read_lab(folder: str | os.PathLike) -> dict[str, Any]:
    """The ``lab.json`` of a lab folder."""
    return fileio.read_json(Path(folder) / LAB_FILE)


__all__ = [
    "LAB_EPOCHS",
    "LAB_PROFILE_SETTINGS",
    "LabPoint",
    "LabResult",
    "dataset_unavailable",
    "find_finished",
    "lab_points",
    "point_config",
    "read_lab",
    "run_lab",
    "save_gan_interpolations",
]
