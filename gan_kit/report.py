"""Markdown and self-contained HTML reports built from run folders alone (the GAN vs VAE lab's report, or any runs').

``build_report(source, out_dir)`` reads each run's ``config.json``, ``status.json``,
``history.csv``, ``metrics.json`` and images, never a model in memory, and writes
``report.md`` (images beside it in ``images/``) and ``report.html`` (the same content with
every image embedded as base64, so the one file opens anywhere).

Every number in the report comes from those files: final losses are the last finite value of
their ``history.csv`` column (``records.final_value``), the best epoch from its ``fid`` column (written when the run had
``metrics_every > 0``), FID and KID from ``metrics.json`` (``gan_kit.metrics``). A value a
run does not have is written "not computed", never estimated; "n/a" marks a column that
does not apply to the model (a VAE has no discriminator loss). The observations are
computed from the same numbers and quote the values they rest on.
"""

from __future__ import annotations

import base64
import html
import os
import re
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import diagnostics, fileio, plotting, runs
from .observations import observations
from .records import (
    NOT_APPLICABLE,
    NOT_COMPUTED,
    ReportData,
    RunRecord,
    collect,
    fmt,
    short_reason,
)
from .runs import METRICS_FILE

REPORT_MD = "report.md"
REPORT_HTML = "report.html"
IMAGES_DIR = "images"
TABLE_COLUMNS = ["Run", "Model", "Loss", "Latent", "Status", "Epochs", "Train s", "Final D loss", "Final G loss",
                 "Best epoch by FID", "FID", "KID", "Recall", "Classes covered", "VAE total", "VAE recon", "VAE KL"]
_RUN_IMAGES = (  # (file in the run folder, caption), after the last sample grid
    (runs.RECONSTRUCTIONS_FILE, "Reconstructions: test images (top row), their reconstructions (bottom row)"),
    (runs.INTERPOLATIONS_FILE, None),
    (runs.LATENT_SCATTER_FILE, "Test encodings in the 2-D latent space, coloured by class"),
)


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
    plt = plotting.plt

    def add(name: str, caption: str, draw, *args, **kwargs) -> None:
        fig = draw(*args, save_to=images_dir / name, **kwargs)
        plt.close(fig)
        doc.img(f"{IMAGES_DIR}/{name}", images_dir / name, caption)

    finished = [r for r in data.records if r.state in runs.DONE_STATES and r.history]
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
    plt = plotting.plt
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
    _report_head(doc, data, title)
    obs = observations(data)
    if data.lab:
        _lab_datasets(doc, data)
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
        _run_section(doc, r, images_dir)
    plt.close("all")

    md_path = fileio.atomic_write_text(out / REPORT_MD, to_markdown(doc))
    html_path = fileio.atomic_write_text(out / REPORT_HTML, to_html(doc, title))
    return md_path, html_path


def _report_head(doc: _Doc, data: ReportData, title: str) -> None:
    """The title, where the numbers come from, and the feature extractors behind FID and KID."""
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


def _lab_datasets(doc: _Doc, data: ReportData) -> None:
    """A lab's datasets: available with their run counts, or skipped with the reason."""
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


def _run_section(doc: _Doc, r: RunRecord, images_dir: Path) -> None:
    """One run: folder, status, metrics, the training-health checks that fired, its last grid and its figures."""
    doc.h(3, f"{r.label} - {r.dataset}")
    doc.p(f"Folder `{r.path}`; status {r.state}; {r.epochs} epoch(s).")
    doc.p(_metrics_line(r))
    if (r.path / runs.DIAGNOSTICS_FILE).is_file():  # training-health checks (gan_kit.diagnostics)
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


__all__ = [
    "REPORT_HTML",
    "REPORT_MD",
    "TABLE_COLUMNS",
    "build_report",
    "summary_row",
]
