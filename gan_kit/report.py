"""Markdown and self-contained HTML reports built from run folders alone (story 3's lab report).

``build_report(source, out_dir)`` reads each run's ``config.json``, ``status.json``,
``history.csv``, ``metrics.json`` and images, never a model in memory, and writes
``report.md`` (images beside it in ``images/``) and ``report.html`` (the same content with
every image embedded as base64, so the one file opens anywhere).

Every number in the report comes from those files: final losses from the last row of
``history.csv``, the best epoch from its ``fid`` column (written when the run had
``metrics_every > 0``), FID and KID from ``metrics.json`` (``gan_kit.metrics``). A value a
run does not have is written "not computed", never estimated; "n/a" marks a column that
does not apply to the model (a VAE has no discriminator loss). The observations are
computed from the same numbers and quote the values they rest on.
"""

from __future__ import annotations

import base64
import html
import math
import os
import re
import shutil
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import diagnostics, runs
from .config import Config
from .lab import short_reason

REPORT_MD = "report.md"
REPORT_HTML = "report.html"
IMAGES_DIR = "images"
METRICS_FILE = "metrics.json"  # as gan_kit.metrics.METRICS_FILE (not imported: it would pull in TensorFlow)
NOT_COMPUTED = "not computed"
NOT_APPLICABLE = "n/a"
TABLE_COLUMNS = ["Run", "Model", "Loss", "Latent", "Status", "Epochs", "Train s", "Final D loss", "Final G loss",
                 "Best epoch by FID", "FID", "KID", "Recall", "Classes covered", "VAE total", "VAE recon", "VAE KL"]
_RUN_IMAGES = (  # (file in the run folder, caption), after the last sample grid
    ("reconstructions.png", "Reconstructions: test images (top row), their reconstructions (bottom row)"),
    ("interpolations.png", None),
    ("latent_scatter.png", "Test encodings in the 2-D latent space, coloured by class"),
)


def fmt(value: Any) -> str:
    """A number as the report writes it: 4 significant digits; None or NaN as "not computed"."""
    if value is None:
        return NOT_COMPUTED
    value = float(value)
    if not math.isfinite(value):
        return NOT_COMPUTED
    return f"{value:.4g}"


# =============================================================================== reading runs


@dataclass
class RunRecord:
    """What a report needs from one run folder (read by ``load_run``)."""

    path: Path
    config: Config
    status: dict[str, Any]
    history: dict[str, list[float]]
    metrics: dict[str, Any] | None = None
    metrics_note: str | None = None
    label: str = ""

    @property
    def family(self) -> str:
        """``GAN`` or ``VAE``."""
        return "VAE" if self.config.model == "vae" else "GAN"

    @property
    def dataset(self) -> str:
        return self.config.dataset

    @property
    def state(self) -> str:
        return str(self.status.get("state", "unknown"))

    @property
    def epochs(self) -> int:
        return len(self.history.get("epoch", []))

    def final(self, key: str) -> float | None:
        """The last row's value of a history column (None when absent or not finite)."""
        values = self.history.get(key) or []
        if not values or not math.isfinite(values[-1]):
            return None
        return float(values[-1])

    def best_fid(self) -> tuple[int, float] | None:
        """(epoch, FID) of the lowest FID in ``history.csv``; None without an ``fid`` column."""
        pairs = [(int(e), float(v)) for e, v in zip(self.history.get("epoch", []), self.history.get("fid", []))
                 if math.isfinite(v)]
        return min(pairs, key=lambda p: p[1]) if pairs else None

    def metric(self, key: str) -> float | None:
        """A number from ``metrics.json`` (None when there is none)."""
        if not self.metrics or self.metrics.get(key) is None:
            return None
        value = float(self.metrics[key])
        return value if math.isfinite(value) else None

    @property
    def train_seconds(self) -> float | None:
        times = [t for t in self.history.get("epoch_time", []) if math.isfinite(t)]
        return sum(times) if times else None


def default_label(config: Config) -> str:
    """``GAN hinge z64`` / ``VAE z16`` (the lab's labels)."""
    if config.model == "vae":
        return f"VAE z{config.latent_dim}"
    return f"GAN {config.loss} z{config.latent_dim}"


def load_run(run_dir: str | os.PathLike, metrics_note: str | None = None) -> RunRecord:
    """Read one run folder."""
    path = Path(run_dir)
    config = runs.read_config(path)
    metrics_path = path / METRICS_FILE
    metrics = runs.read_json(metrics_path) if metrics_path.is_file() else None
    if metrics is None and metrics_note is None:
        metrics_note = f"no {METRICS_FILE} in the run folder"
    return RunRecord(path=path, config=config, status=runs.read_status(path), history=runs.load_history(path),
                     metrics=metrics, metrics_note=metrics_note, label=default_label(config))


@dataclass
class ReportData:
    """The runs of a report, plus what a lab folder's ``lab.json`` adds (skipped datasets, failed points)."""

    records: list[RunRecord]
    lab: dict[str, Any] | None = None
    source: str = ""
    failed_without_folder: list[dict[str, Any]] = field(default_factory=list)

    @property
    def skipped(self) -> dict[str, str]:
        """Dataset -> reason, for datasets the lab could not read."""
        if not self.lab:
            return {}
        return {ds: info.get("reason") or "" for ds, info in self.lab.get("datasets", {}).items()
                if info.get("status") == "skipped"}

    @property
    def datasets(self) -> list[str]:
        return list(dict.fromkeys(r.dataset for r in self.records))


def collect(source: str | os.PathLike | Iterable[str | os.PathLike]) -> ReportData:
    """The runs behind a report.

    Args:
        source: a lab folder (with ``lab.json``: its points' run folders, in lab order), a
            folder of run folders, a single run folder, or an iterable of run folders.

    Raises:
        ValueError: when no run folder is found.
    """
    lab = None
    notes: dict[Path, str] = {}
    failed: list[dict[str, Any]] = []
    if isinstance(source, (str, os.PathLike)):
        folder = Path(source)
        if (folder / "lab.json").is_file():
            lab = runs.read_json(folder / "lab.json")
            paths = []
            for entry in lab.get("runs", []):
                if entry.get("path"):
                    paths.append(folder / entry["path"])
                    if entry.get("metrics_error"):
                        notes[folder / entry["path"]] = entry["metrics_error"]
                else:
                    failed.append(entry)
        elif (folder / runs.CONFIG_FILE).is_file():
            paths = [folder]
        else:
            paths = runs.list_runs(folder) or runs.list_runs(folder / "runs")
        text = str(folder)
    else:
        paths = [Path(p) for p in source]
        text = ", ".join(str(p) for p in paths)
    if not paths and not failed:
        raise ValueError(f"No run folders (folders holding {runs.CONFIG_FILE}) found in {text or source!r}.")
    records = [load_run(p, notes.get(p)) for p in paths]
    seen: dict[str, int] = {}
    for r in records:
        seen[r.label] = seen.get(r.label, 0) + 1
    for r in records:  # the same configuration twice (or on two datasets in one table): add the folder name
        if seen[r.label] > 1 and len({x.dataset for x in records if x.label == r.label}) < seen[r.label]:
            r.label = f"{r.label} ({r.path.name})"
    return ReportData(records=records, lab=lab, source=text, failed_without_folder=failed)


# =============================================================================== numbers


def summary_row(r: RunRecord) -> dict[str, str]:
    """The summary-table cells of one run (``TABLE_COLUMNS``)."""
    gan, vae = r.family == "GAN", r.family == "VAE"
    best = r.best_fid()
    covered = r.metrics.get("classes_covered") if r.metrics else None
    classes = r.metrics.get("num_classes") if r.metrics else None

    def col(key: str, applies: bool) -> str:
        return fmt(r.final(key)) if applies else NOT_APPLICABLE

    return {
        "Run": r.label,
        "Model": r.family,
        "Loss": r.config.loss if gan else f"{r.config.recon_loss} + {fmt(r.config.beta)} KL",
        "Latent": str(r.config.latent_dim),
        "Status": r.state,
        "Epochs": str(r.epochs),
        "Train s": fmt(r.train_seconds),
        "Final D loss": col("d_loss", gan),
        "Final G loss": col("g_loss", gan),
        "Best epoch by FID": f"{best[0]} (FID {fmt(best[1])})" if best else NOT_COMPUTED,
        "FID": fmt(r.metric("fid")),
        "KID": fmt(r.metric("kid")),
        "Recall": fmt(r.metric("recall")),
        "Classes covered": f"{covered}/{classes}" if covered is not None and classes else NOT_COMPUTED,
        "VAE total": col("loss", vae),
        "VAE recon": col("recon_loss", vae),
        "VAE KL": col("kl_loss", vae),
    }


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def trend(values: Sequence[float]) -> str:
    """``falls``, ``rises`` or ``does not change monotonically`` over a sequence (strictly, at every step).

    The observations use it so that a claim like "the reconstruction loss falls with the latent
    size" holds between every pair of neighbouring runs, not just between the two ends.
    """
    pairs = list(zip(values, values[1:]))
    if pairs and all(b < a for a, b in pairs):
        return "falls"
    if pairs and all(b > a for a, b in pairs):
        return "rises"
    return "does not change monotonically"


def findings(data: ReportData | Sequence[RunRecord]) -> dict[str, dict[str, Any]]:
    """The numbers the observations rest on, per dataset (finished runs only).

    Returns:
        dataset -> ``{"ranked": [(label, fid, kid)] by FID, "not_computed": [labels],
        "gan_by_loss": {loss: (mean FID, runs)}, "gan_by_z": {z: (mean FID, runs)},
        "coverage": [(label, classes covered, classes, recall)], "vae": [(latent, total, recon,
        KL, FID)] by latent, "best_gan": (label, FID) or None, "best_vae": (label, FID) or None,
        "d_probs": [(label, D(real), D(fake))], "seeds": sorted seeds}``.
    """
    records = data.records if isinstance(data, ReportData) else list(data)
    out: dict[str, dict[str, Any]] = {}
    for ds in dict.fromkeys(r.dataset for r in records):
        rs = [r for r in records if r.dataset == ds and r.state == "finished"]
        with_fid = [r for r in rs if r.metric("fid") is not None]
        ranked = sorted(((r.label, r.metric("fid"), r.metric("kid")) for r in with_fid), key=lambda t: t[1])
        gans = [r for r in with_fid if r.family == "GAN"]
        vaes = sorted((r for r in rs if r.family == "VAE"), key=lambda r: r.config.latent_dim)
        by_loss: dict[str, list[float]] = {}
        by_z: dict[int, list[float]] = {}
        for r in gans:
            by_loss.setdefault(r.config.loss, []).append(r.metric("fid"))
            by_z.setdefault(r.config.latent_dim, []).append(r.metric("fid"))
        best_gan = min(((r.label, r.metric("fid")) for r in gans), key=lambda t: t[1], default=None)
        best_vae = min(((r.label, r.metric("fid")) for r in vaes if r.metric("fid") is not None),
                       key=lambda t: t[1], default=None)
        out[ds] = {
            "ranked": ranked,
            "not_computed": [r.label for r in rs if r.metric("fid") is None],
            "gan_by_loss": {k: (_mean(v), len(v)) for k, v in by_loss.items()},
            "gan_by_z": {k: (_mean(v), len(v)) for k, v in sorted(by_z.items())},
            "coverage": [(r.label, r.metrics.get("classes_covered"), r.metrics.get("num_classes"), r.metric("recall"))
                         for r in rs if r.metrics and r.metrics.get("classes_covered") is not None],
            "vae": [(r.config.latent_dim, r.final("loss"), r.final("recon_loss"), r.final("kl_loss"),
                     r.metric("fid")) for r in vaes],
            "best_gan": best_gan,
            "best_vae": best_vae,
            "d_probs": [(r.label, r.final("d_real_prob"), r.final("d_fake_prob")) for r in rs
                        if r.family == "GAN" and r.final("d_real_prob") is not None],
            "seeds": sorted({r.config.seed for r in rs}),
            "gan_runs_per_config": max(Counter((r.config.loss, r.config.latent_dim) for r in gans).values(),
                                       default=0),
        }
    return out


def observations(data: ReportData) -> dict[str, list[str]]:
    """Sentences computed from the numbers, per dataset (and ``"all"`` for lab-wide ones), each quoting its values."""
    out: dict[str, list[str]] = {}
    general = []
    profiles = sorted({r.config.profile for r in data.records})
    if "smoke" in profiles:
        smoke = [r for r in data.records if r.config.profile == "smoke"]
        c = smoke[0].config
        general.append(
            f"{len(smoke)} run(s) used the `smoke` profile (epochs={c.epochs}, steps_per_epoch={c.steps_per_epoch}, "
            f"batch {c.batch_size}, widths {c.g_width}/{c.d_width}): their numbers show that the code runs, "
            "not how the models compare.")
    for ds, reason in data.skipped.items():
        general.append(f"`{ds}` was skipped, so it has no runs: {short_reason(reason)}")
    unfinished = [r for r in data.records if r.state != "finished"]
    if unfinished:
        general.append("Not finished (left out of the observations): "
                       + ", ".join(f"{r.label} on {r.dataset} ({r.state})" for r in unfinished) + ".")
    if data.failed_without_folder:
        general.append("Failed before a run folder was made: "
                       + ", ".join(f"{e.get('name')} ({e.get('error', 'unknown error')})"
                                   for e in data.failed_without_folder) + ".")
    out["all"] = general
    for ds, f in findings(data).items():
        lines: list[str] = []
        ranked = f["ranked"]
        if ranked:
            best, worst = ranked[0], ranked[-1]
            lines.append(f"**Best configuration by FID:** {best[0]} (FID {fmt(best[1])}, KID {fmt(best[2])}); "
                         f"highest FID: {worst[0]} ({fmt(worst[1])}). All, lowest first: "
                         + ", ".join(f"{lab} {fmt(v)}" for lab, v, _ in ranked) + ".")
            by_kid = sorted((t for t in ranked if t[2] is not None), key=lambda t: t[2])
            if by_kid and len(ranked) > 1:
                if by_kid[0][0] == best[0]:
                    lines.append(f"KID ranks the same run lowest ({fmt(by_kid[0][2])}).")
                else:
                    lines.append(f"KID ranks a different run lowest: {by_kid[0][0]} (KID {fmt(by_kid[0][2])}), "
                                 "so the two metrics disagree on the best configuration here.")
        else:
            lines.append("**Best configuration:** no run has an FID (not computed), so none can be named.")
        if f["not_computed"]:
            lines.append("FID not computed for: " + ", ".join(f["not_computed"]) + ".")
        by_loss, by_z = f["gan_by_loss"], f["gan_by_z"]
        if len(by_loss) > 1 or len(by_z) > 1:
            parts = []
            spreads = {}
            for name, groups in (("loss", by_loss), ("z_dim", by_z)):
                if len(groups) > 1:
                    means = {k: m for k, (m, _) in groups.items()}
                    spreads[name] = max(means.values()) - min(means.values())
                    parts.append(f"mean FID by {name}: " + ", ".join(
                        f"{k} {fmt(m)} ({n} run{'s' if n > 1 else ''})" for k, (m, n) in groups.items())
                        + f" (range {fmt(spreads[name])})")
            text = "**Which GAN hyperparameter mattered:** " + "; ".join(parts) + "."
            if len(spreads) == 2:
                if spreads["loss"] == spreads["z_dim"]:
                    text += " Both factors span the same FID range."
                else:
                    big = max(spreads, key=spreads.get)
                    text += (f" In this lab the {big} choice goes with the larger difference in mean FID "
                             f"({fmt(spreads[big])} against {fmt(min(spreads.values()))}).")
            if f["gan_runs_per_config"] == 1:
                text += (f" Each configuration ran once (seed {', '.join(map(str, f['seeds']))}), so differences of "
                         "the size of run-to-run noise, which one run cannot measure, are not established.")
            lines.append(text)
        cov = f["coverage"]
        if cov:
            partial = [(lab, c, k, rec) for lab, c, k, rec in cov if k and c < k]
            gan_cov = [t for t in cov if t[0].startswith("GAN")]
            text = "**Mode collapse evidence** (classes the metric's classifier finds in at least half their real " \
                   "share of the samples; recall = share of real images near a generated one): "
            text += ", ".join(f"{lab} {c}/{k} classes, recall {fmt(rec)}" for lab, c, k, rec in cov) + ". "
            if partial:
                worst = min(partial, key=lambda t: (t[1], t[3] if t[3] is not None else math.inf))
                text += (f"{len(partial)} of {len(cov)} run(s) cover fewer than all classes; the fewest: {worst[0]} "
                         f"({worst[1]}/{worst[2]}).")
            else:
                text += "Every run covers all classes by this measure."
            if gan_cov and len(gan_cov) < len(cov):
                text += " (GAN and VAE runs are listed together.)"
            lines.append(text)
        probs = f["d_probs"]
        if probs:
            gaps = [(lab, real - fake) for lab, real, fake in probs]
            big = max(gaps, key=lambda t: t[1])
            lines.append("**Discriminator balance** (final epoch mean D(real) - D(fake)): "
                         + ", ".join(f"{lab} {fmt(g)}" for lab, g in gaps)
                         + f". The largest gap is {big[0]}'s ({fmt(big[1])}).")
        vae = f["vae"]
        if len(vae) > 1:
            latents = [v[0] for v in vae]
            recon, kl, fid = [v[2] for v in vae], [v[3] for v in vae], [v[4] for v in vae]
            rows = "; ".join(f"latent {z}: recon {fmt(r)}, KL {fmt(k)}, FID {fmt(x)}" for z, _, r, k, x in vae)
            text = f"**Latent-size trade-off (VAE):** {rows}. From latent {latents[0]} to {latents[-1]}"
            if None not in recon:
                text += f" the reconstruction loss {trend(recon)}"
            if None not in kl:
                text += f", the KL term {trend(kl)}"
            if None not in fid:
                text += f" and the FID of prior samples {trend(fid)}"
                rd, fd = trend(recon) if None not in recon else "", trend(fid)
                if rd == "falls" and fd == "rises":
                    text += ": better reconstructions came with worse samples, the trade-off in these numbers."
                elif rd == "falls" and fd == "falls":
                    text += ": reconstructions and samples both improved, so no trade-off shows in these numbers."
                else:
                    text += ": no consistent trade-off shows in these numbers."
            else:
                text += "; FID not computed for every VAE, so the sample side of the trade-off is unknown."
            lines.append(text)
        elif len(vae) == 1:
            z, total, rec, kl, fid_v = vae[0]
            lines.append(f"**VAE:** one latent size ({z}): total {fmt(total)}, recon {fmt(rec)}, KL {fmt(kl)}, "
                         f"FID {fmt(fid_v)}; the latent-size trade-off needs at least two.")
        bg, bv = f["best_gan"], f["best_vae"]
        if bg and bv:
            lower = "GAN" if bg[1] < bv[1] else "VAE" if bv[1] < bg[1] else "neither"
            lines.append(f"**GAN vs VAE:** best GAN {bg[0]} FID {fmt(bg[1])}, best VAE {bv[0]} FID {fmt(bv[1])}; "
                         + (f"the {lower} has the lower FID." if lower != "neither" else "the FIDs are equal."))
        elif bg or bv:
            lines.append("**GAN vs VAE:** FID is available for only one family here, so they cannot be compared.")
        out[ds] = lines
    return out


# =============================================================================== document


@dataclass
class _Doc:
    """Blocks shared by the Markdown and the HTML renderers."""

    blocks: list[tuple] = field(default_factory=list)
    images: dict[str, Path] = field(default_factory=dict)  # relative path in the report -> file

    def h(self, level: int, text: str) -> None:
        self.blocks.append(("h", level, text))

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def ul(self, items: Sequence[str]) -> None:
        if items:
            self.blocks.append(("ul", list(items)))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        self.blocks.append(("table", list(headers), [list(r) for r in rows]))

    def pre(self, text: str) -> None:
        self.blocks.append(("pre", text))

    def img(self, rel: str, file: Path, caption: str) -> None:
        self.images[rel] = file
        self.blocks.append(("img", rel, caption))


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(doc: _Doc) -> str:
    """The document as Markdown (images linked relative to the report)."""
    out = []
    for block in doc.blocks:
        kind = block[0]
        if kind == "h":
            out.append("#" * block[1] + " " + block[2])
        elif kind == "p":
            out.append(block[1])
        elif kind == "ul":
            out.append("\n".join(f"- {item}" for item in block[1]))
        elif kind == "table":
            headers, rows = block[1], block[2]
            lines = ["| " + " | ".join(_md_cell(h) for h in headers) + " |",
                     "| " + " | ".join("---" for _ in headers) + " |"]
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
            out.append("\n".join(lines))
        elif kind == "pre":
            out.append("```text\n" + block[1] + "\n```")
        elif kind == "img":
            out.append(f"![{block[2]}]({block[1]})\n\n*{block[2]}*")
    return "\n\n".join(out) + "\n"


def _inline_html(text: str) -> str:
    """Escape, then render the Markdown subset the report uses: **bold** and `code`."""
    s = html.escape(text, quote=False)
    s = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", s)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", s)


_CSS = """
body { font-family: system-ui, -apple-system, Segoe UI, sans-serif; margin: 2em auto; max-width: 1200px;
       padding: 0 1em; color: #222; line-height: 1.45; }
table { border-collapse: collapse; font-size: 0.85em; margin: 1em 0; display: block; overflow-x: auto; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; white-space: nowrap; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; } pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; }
code { background: #f2f2f2; padding: 0 0.2em; }
"""


def to_html(doc: _Doc, title: str) -> str:
    """The document as one HTML page with every image embedded (base64 data URIs)."""
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"]
    for block in doc.blocks:
        kind = block[0]
        if kind == "h":
            out.append(f"<h{block[1]}>{_inline_html(block[2])}</h{block[1]}>")
        elif kind == "p":
            out.append(f"<p>{_inline_html(block[1])}</p>")
        elif kind == "ul":
            out.append("<ul>" + "".join(f"<li>{_inline_html(i)}</li>" for i in block[1]) + "</ul>")
        elif kind == "table":
            head = "".join(f"<th>{html.escape(h)}</th>" for h in block[1])
            body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in block[2])
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif kind == "pre":
            out.append(f"<pre>{html.escape(block[1])}</pre>")
        elif kind == "img":
            data = base64.b64encode(doc.images[block[1]].read_bytes()).decode("ascii")
            alt = html.escape(block[2], quote=True)
            out.append(f'<figure><img src="data:image/png;base64,{data}" alt="{alt}">'
                       f"<figcaption>{_inline_html(block[2])}</figcaption></figure>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def _copy_image(doc: _Doc, src: Path, images_dir: Path, name: str, caption: str) -> None:
    dst = images_dir / name
    shutil.copyfile(src, dst)
    doc.img(f"{IMAGES_DIR}/{name}", dst, caption)


def _comparison_plots(doc: _Doc, data: ReportData, images_dir: Path) -> None:
    import matplotlib.pyplot as plt

    from . import plotting

    def add(name: str, caption: str, draw, *args, **kwargs) -> None:
        fig = draw(*args, save_to=images_dir / name, **kwargs)
        plt.close(fig)
        doc.img(f"{IMAGES_DIR}/{name}", images_dir / name, caption)

    finished = [r for r in data.records if r.state in ("finished", "diverged") and r.history]
    dashes = ["-", "--", ":", "-."]
    colors = plt.get_cmap("tab10")
    for ds in data.datasets:
        slug = _slug(ds)
        gans = [r for r in finished if r.dataset == ds and r.family == "GAN"]
        vaes = [r for r in finished if r.dataset == ds and r.family == "VAE"]
        if gans:
            losses = list(dict.fromkeys(r.config.loss for r in gans))
            zs = sorted({r.config.latent_dim for r in gans})
            styles = {r.label: {"color": colors(zs.index(r.config.latent_dim) % 10),
                                "ls": dashes[losses.index(r.config.loss) % len(dashes)]} for r in gans}
            add(f"compare-gan-losses-{slug}.png",
                f"{ds}: GAN generator and discriminator losses per epoch, by loss type (line style) and z_dim (colour)",
                plotting.plot_run_curves, {r.label: r.history for r in gans}, ("g_loss", "d_loss"),
                ("Generator loss", "Discriminator loss"), styles=styles, title=f"{ds}: GAN losses")
        rs = gans + vaes
        if rs:
            add(f"compare-fid-{slug}.png", f"{ds}: FID by configuration, from metrics.json (GAN orange, VAE purple)",
                plotting.plot_metric_bars, {r.label: r.metric("fid") for r in rs}, "FID",
                colors={r.label: "tab:orange" if r.family == "GAN" else "tab:purple" for r in rs},
                title=f"{ds}: FID of the final model by configuration (lower is better)")
            with_curve = {r.label: r.history for r in rs if r.best_fid() is not None}
            if with_curve:
                add(f"compare-fid-epochs-{slug}.png",
                    f"{ds}: FID after each epoch (history.csv), the source of the best epoch",
                    plotting.plot_run_curves, with_curve, ("fid",), ("FID per epoch (lower is better)",),
                    title=f"{ds}: FID during training")
        if vaes:
            add(f"compare-vae-losses-{slug}.png", f"{ds}: VAE total, reconstruction and KL loss per epoch",
                plotting.plot_run_curves, {r.label: r.history for r in vaes}, ("loss", "recon_loss", "kl_loss"),
                ("Total loss", "Reconstruction loss", "KL term"), title=f"{ds}: VAE loss components by latent size")
    rows = [{"dataset": r.dataset, "family": r.family, "label": r.label, "value": r.metric("fid")}
            for r in finished]
    if {r["family"] for r in rows} == {"GAN", "VAE"}:
        add("compare-gan-vs-vae.png", "GAN vs VAE: FID of every run, per dataset (dashed: the best of each family)",
            plotting.plot_family_comparison, rows, "FID")
    else:
        doc.p("GAN vs VAE plot: left out, the report does not hold finished runs of both families.")


def _metrics_line(r: RunRecord) -> str:
    if not r.metrics:
        return f"Metrics: {NOT_COMPUTED} ({r.metrics_note})."
    m = r.metrics
    parts = [f"FID {fmt(r.metric('fid'))}", f"KID {fmt(r.metric('kid'))} (std {fmt(r.metric('kid_std'))})",
             f"precision {fmt(r.metric('precision'))}", f"recall {fmt(r.metric('recall'))}",
             f"density {fmt(r.metric('density'))}", f"coverage {fmt(r.metric('coverage'))}"]
    if m.get("is") is not None:
        parts.append(f"classifier score {fmt(r.metric('is'))}")
    if m.get("classes_covered") is not None:
        parts.append(f"classes covered {m['classes_covered']}/{m.get('num_classes')}")
    return (f"Metrics ({m.get('samples', '?')} samples vs the {m.get('split', '?')} split, "
            f"extractor `{m.get('extractor', '?')}`): " + ", ".join(parts) + ".")


def build_report(
    source: str | os.PathLike | Iterable[str | os.PathLike],
    out_dir: str | os.PathLike | None = None,
    *,
    title: str = "GAN vs VAE lab report",
) -> tuple[Path, Path]:
    """Write ``report.md`` (with ``images/``) and a self-contained ``report.html`` from run folders.

    Args:
        source: a lab folder (``gan_kit.lab``), a folder of run folders, one run folder, or
            an iterable of run folders.
        out_dir: where the report goes (default: ``<source>/report`` for a folder source;
            required for an iterable). Its ``images/`` folder is rewritten.
        title: the report's title.

    Returns:
        ``(md_path, html_path)``.

    Raises:
        ValueError: when no run folder is found, or ``out_dir`` is missing for an iterable source.
    """
    import matplotlib.pyplot as plt

    data = collect(source)
    if out_dir is None:
        if not isinstance(source, (str, os.PathLike)):
            raise ValueError("build_report needs out_dir when given a list of run folders.")
        out_dir = Path(source) / "report"
    out = Path(out_dir)
    images_dir = out / IMAGES_DIR
    if images_dir.exists():
        shutil.rmtree(images_dir)
    images_dir.mkdir(parents=True)

    doc = _Doc()
    doc.h(1, title)
    profiles = sorted({r.config.profile for r in data.records})
    doc.p(f"Generated {time.strftime('%Y-%m-%d %H:%M:%S')} from {len(data.records)} run folder(s) in "
          f"`{data.source}`; profile(s): {', '.join(profiles) or 'none'}. Every number below is read from the runs' "
          f"`history.csv` and `{METRICS_FILE}`; \"{NOT_COMPUTED}\" marks a value a run does not have, "
          f"\"{NOT_APPLICABLE}\" a column that does not apply to the model.")
    extractors = sorted({(r.metrics.get("extractor"), r.metrics.get("classifier_test_accuracy"),
                          r.metrics.get("samples")) for r in data.records if r.metrics}, key=str)
    if extractors:
        doc.p("FID and KID compare each final model's samples with real test images through a feature extractor; "
              "lower is better, and values are comparable only between runs that share the extractor and the "
              "sample count: " + "; ".join(
                  f"`{e}`" + (f" (classifier test accuracy {fmt(a)})" if a is not None else "") + f", {n} samples"
                  for e, a, n in extractors) + ".")

    obs = observations(data)
    if data.lab:
        doc.h(2, "Datasets")
        items = []
        for ds, info in data.lab.get("datasets", {}).items():
            if info.get("status") == "skipped":
                items.append(f"`{ds}`: **skipped** - {short_reason(info.get('reason') or '')} "
                             "(full reason below)")
            else:
                n = sum(1 for r in data.records if r.dataset == ds)
                items.append(f"`{ds}`: available, {n} run(s)")
        doc.ul(items)
        for ds, reason in data.skipped.items():
            doc.p(f"Full reason `{ds}` was skipped:")
            doc.pre(reason)
    if obs.get("all"):
        doc.h(2, "Notes")
        doc.ul(obs["all"])

    doc.h(2, "Summary")
    for ds in data.datasets:
        doc.h(3, ds)
        doc.table(TABLE_COLUMNS, [[summary_row(r)[c] for c in TABLE_COLUMNS] for r in data.records
                                  if r.dataset == ds])

    doc.h(2, "Observations")
    doc.p("Computed from the numbers above; each sentence quotes the values it rests on.")
    for ds in data.datasets:
        doc.h(3, ds)
        doc.ul(obs.get(ds, []))

    doc.h(2, "Comparison plots")
    _comparison_plots(doc, data, images_dir)

    doc.h(2, "Runs")
    for r in data.records:
        doc.h(3, f"{r.label} - {r.dataset}")
        doc.p(f"Folder `{r.path}`; status {r.state}; {r.epochs} epoch(s).")
        doc.p(_metrics_line(r))
        if (r.path / diagnostics.DIAGNOSTICS_FILE).is_file():  # training-health checks (gan_kit.diagnostics)
            found = diagnostics.summarize(r.path)
            if found:
                doc.p("Training-health checks that fired:")
                doc.ul([f"{f.title} (epoch {f.epoch}). {f.explanation} Try: {f.fix}" for f in found])
            else:
                doc.p("Training-health checks: none fired.")
        prefix = _slug(f"{r.dataset}-{r.label}-{r.path.name}")
        grids = runs.sample_paths(r.path)
        if grids:
            what = ("Random samples: the decoder on fixed prior noise" if r.family == "VAE"
                    else "Samples from the fixed noise batch")
            _copy_image(doc, grids[-1], images_dir, f"{prefix}-samples.png", f"{r.label} ({r.dataset}): {what}, "
                        f"{grids[-1].stem.replace('_', ' ')}")
        for file, caption in _RUN_IMAGES:
            src = r.path / file
            if src.is_file():
                if caption is None:
                    caption = ("Linear interpolations between the encodings of two test images (real images at "
                               "both ends)" if r.family == "VAE"
                               else "Spherical (slerp) interpolations between pairs of noise vectors")
                _copy_image(doc, src, images_dir, f"{prefix}-{file}", f"{r.label} ({r.dataset}): {caption}")
    plt.close("all")

    md_path = runs.atomic_write_text(out / REPORT_MD, to_markdown(doc))
    html_path = runs.atomic_write_text(out / REPORT_HTML, to_html(doc, title))
    return md_path, html_path


__all__ = [
    "NOT_APPLICABLE",
    "NOT_COMPUTED",
    "REPORT_HTML",
    "REPORT_MD",
    "TABLE_COLUMNS",
    "ReportData",
    "RunRecord",
    "build_report",
    "collect",
    "findings",
    "fmt",
    "load_run",
    "observations",
    "summary_row",
    "trend",
]
