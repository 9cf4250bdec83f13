"""Tests for gan_kit.report: a report built from two small finished runs (a GAN and a VAE on digits, with real
FID/KID from a small classifier cached in a temp folder), checked against the runs' own files."""

from __future__ import annotations

import base64
import csv
import json
import math
import re
import shutil
from pathlib import Path

import pytest

import gan_kit
from gan_kit import diagnostics, fileio, lab, metrics, observations, report, runs
from gan_kit.config import Config
from gan_kit.records import NOT_APPLICABLE, NOT_COMPUTED, ReportData, RunRecord, default_label, fmt

MD_IMAGE = re.compile(r"!\[[^\]]*\]\(([^)]+)\)")
HTML_IMG = re.compile(r"<img\s+src=\"([^\"]*)\"")


# =============================================================================== two finished runs


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A temp metrics cache, also set as $GAN_KIT_CACHE_DIR so training-time FID uses it."""
    folder = tmp_path_factory.mktemp("metrics_cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(metrics.CACHE_ENV, str(folder))
        yield folder


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, cache):
    """A GAN and a 2-D-latent VAE on digits, 2 epochs each, FID/KID in history.csv and metrics.json."""
    root = tmp_path_factory.mktemp("report_runs")
    base = {"dataset": "digits", "output_dir": str(root / "runs"), "epochs": 2, "steps_per_epoch": 2,
            "batch_size": 16, "max_examples": 64, "grid_size": 2, "metrics_every": 1, "metrics_samples": 64}
    gan = gan_kit.for_profile("smoke", name="gan", loss="hinge", latent_dim=16, **base)
    vae_cfg = gan_kit.for_profile("smoke", name="vae", model="vae", latent_dim=2, g_lr=1e-3, **base)
    extractor = metrics.get_extractor("classifier", dataset="digits", profile="smoke", cache_dir=cache)
    paths = []
    for cfg in (gan, vae_cfg):
        run = gan_kit.train(cfg, verbose=0)
        assert run.status == "finished"
        if cfg.model == "gan":
            lab.save_gan_interpolations(run.path, pairs=2, steps=5)
        metrics.evaluate(run.path, extractor=extractor, samples=64, cache_dir=cache)
        paths.append(run.path)
    return paths


@pytest.fixture(scope="module")
def built(two_runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    md, html = report.build_report(two_runs, out, title="Test report")
    return md, html, md.read_text(), html.read_text()


def _history(path: Path) -> dict[str, list[float]]:
    """history.csv read with the csv module alone (not through gan_kit)."""
    with (path / "history.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {k: [float(r[k]) if r[k] not in ("", None) else math.nan for r in rows] for k in rows[0]}


def _table(text: str, header_start: str = "| Run |") -> list[dict[str, str]]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    headers = [h.strip() for h in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(headers, (c.strip() for c in line.strip("|").split("|")))))
    return rows


def _close(cell: str, value: float) -> bool:
    return math.isclose(float(cell), value, rel_tol=5e-4, abs_tol=1e-12)


# =============================================================================== both files, every image


def test_both_files_are_written(built):
    md, html, md_text, html_text = built
    assert md.name == "report.md" and html.name == "report.html" and md.parent == html.parent
    assert md_text.startswith("# Test report") and "<title>Test report</title>" in html_text
    assert not list(md.parent.glob(".*"))  # no temp files left


def test_every_markdown_image_is_present_and_copied_from_the_run(built, two_runs):
    md, _, text, _ = built
    refs = MD_IMAGE.findall(text)
    assert len(refs) == len(set(refs))
    for ref in refs:
        assert not ref.startswith(("/", "http")), ref  # relative to the report, so the folder can move
        assert (md.parent / ref).is_file(), ref
        assert (md.parent / ref).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", ref
    names = " ".join(refs)
    for kind in ("compare-gan-losses", "compare-fid-", "compare-fid-epochs", "compare-vae-losses",
                 "compare-gan-vs-vae"):
        assert kind in names, kind
    gan, vae_path = two_runs
    expected = {  # run file -> copies in the report
        gan / "interpolations.png": "gan-hinge-z16", runs.sample_paths(gan)[-1]: "gan-hinge-z16",
        vae_path / "reconstructions.png": "vae-z2", vae_path / "interpolations.png": "vae-z2",
        vae_path / "latent_scatter.png": "vae-z2", runs.sample_paths(vae_path)[-1]: "vae-z2",
    }
    for src, label in expected.items():
        copies = [r for r in refs if label in r and (md.parent / r).read_bytes() == src.read_bytes()]
        assert len(copies) == 1, (src, label)


def test_html_embeds_every_image_and_references_nothing_outside(built):
    md, _, md_text, html_text = built
    srcs = HTML_IMG.findall(html_text)
    refs = MD_IMAGE.findall(md_text)
    assert len(srcs) == len(refs) == html_text.count("<img")
    for src, ref in zip(srcs, refs):  # same order as the Markdown
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]) == (md.parent / ref).read_bytes()
    lowered = html_text.lower()
    for external in ("href=", "<link", "<script", "url(", "src=\"http", "@import"):
        assert external not in lowered, external


# =============================================================================== numbers


def test_every_summary_number_matches_history_and_metrics(built, two_runs):
    _, _, md_text, html_text = built
    rows = {r["Model"]: r for r in _table(md_text)}
    assert set(rows) == {"GAN", "VAE"}
    for path in two_runs:
        history = _history(path)
        measured = json.loads((path / "metrics.json").read_text())
        config = json.loads((path / "config.json").read_text())
        row = rows[config["model"].upper()]
        assert row["Status"] == "finished" and row["Epochs"] == str(len(history["epoch"])) == "2"
        assert row["Latent"] == str(config["latent_dim"])
        assert _close(row["Train s"], sum(history["epoch_time"]))
        for column, key in (("FID", "fid"), ("KID", "kid"), ("Recall", "recall")):
            assert _close(row[column], measured[key]), column
        assert row["Classes covered"] == f"{measured['classes_covered']}/{measured['num_classes']}"
        fids = history["fid"]
        best = min(range(len(fids)), key=fids.__getitem__)
        epoch, value = re.fullmatch(r"(\d+) \(FID (\S+)\)", row["Best epoch by FID"]).groups()
        assert int(epoch) == int(history["epoch"][best]) and _close(value, fids[best])
        gan_cols = {"Final D loss": "d_loss", "Final G loss": "g_loss"}
        vae_cols = {"VAE total": "loss", "VAE recon": "recon_loss", "VAE KL": "kl_loss"}
        own, other = (gan_cols, vae_cols) if config["model"] == "gan" else (vae_cols, gan_cols)
        for column, key in own.items():
            assert _close(row[column], history[key][-1]), column
        for column in other:
            assert row[column] == NOT_APPLICABLE, column
        assert row["Loss"] == ("hinge" if config["model"] == "gan" else "bce + 1 KL")
        # The HTML table holds the same cells.
        assert "<td>" + "</td><td>".join(row.values()) + "</td>" in html_text


def test_metrics_lines_match_metrics_json(built, two_runs):
    _, _, md_text, _ = built
    for path in two_runs:
        measured = json.loads((path / "metrics.json").read_text())
        fid_text = f"FID {fmt(measured['fid'])}"
        line = next(x for x in md_text.splitlines() if x.startswith("Metrics (") and fid_text in x)
        assert f"{measured['samples']} samples" in line and measured["extractor"] in line
        for key in ("precision", "recall", "density", "coverage"):
            value = re.search(rf"{key} (\S+?)[,.]? ", line + " ").group(1).rstrip(",")
            assert _close(value, measured[key]), key


def test_observations_state_what_the_numbers_show(built, two_runs):
    _, _, md_text, _ = built
    section = md_text.split("## Observations", 1)[1].split("## Comparison plots", 1)[0]
    fid = {json.loads((p / "config.json").read_text())["model"]: json.loads((p / "metrics.json").read_text())["fid"]
           for p in two_runs}
    lowest = min(fid, key=fid.get)
    best_label = "GAN hinge z16" if lowest == "gan" else "VAE z2"
    match = re.search(r"\*\*Best configuration by FID:\*\* (.+?) \(FID (\S+), KID", section)
    assert match.group(1) == best_label and _close(match.group(2), fid[lowest])
    family = re.search(r"the (GAN|VAE) has the lower FID", section).group(1)
    assert family == lowest.upper()
    # The D balance quotes D(real) - D(fake) of the last epoch.
    gan_history = _history(two_runs[0])
    gap = re.search(r"GAN hinge z16 (\S+?)\. The largest gap", section).group(1)
    assert _close(gap, gan_history["d_real_prob"][-1] - gan_history["d_fake_prob"][-1])
    # Smoke runs are flagged as a code check, not a result.
    assert "not how the models compare" in md_text


# =============================================================================== observations on chosen numbers


def _record(model: str, latent: int, fid: float | None, loss: str = "bce", recon: float | None = None,
            kl: float = 5.0, dataset: str = "fashion_mnist") -> RunRecord:
    config = Config(name="x", model=model, loss=loss, latent_dim=latent, dataset=dataset, image_size=28, channels=1)
    if model == "gan":
        history = {"epoch": [1.0, 2.0], "g_loss": [1.0, 1.2], "d_loss": [1.3, 1.1], "d_real_prob": [0.6, 0.7],
                   "d_fake_prob": [0.4, 0.3], "epoch_time": [1.0, 1.0]}
    else:
        history = {"epoch": [1.0, 2.0], "loss": [recon + kl + 10, recon + kl], "recon_loss": [recon + 10, recon],
                   "kl_loss": [kl, kl], "epoch_time": [1.0, 1.0]}
    measured = None if fid is None else {"fid": fid, "kid": fid / 100, "classes_covered": 10, "num_classes": 10,
                                         "recall": 0.5}
    r = RunRecord(path=Path(f"/runs/{model}{latent}{loss}"), config=config, status={"state": "finished"},
                         history=history, metrics=measured)
    r.label = default_label(config)
    return r


def test_observations_name_the_lowest_fid_and_the_trade_off():
    records = [_record("gan", 32, 10.0), _record("gan", 64, 12.0), _record("gan", 32, 20.0, "hinge"),
               _record("gan", 64, 22.0, "hinge"), _record("vae", 8, 40.0, recon=300.0, kl=10.0),
               _record("vae", 16, 45.0, recon=250.0, kl=15.0), _record("vae", 32, 50.0, recon=200.0, kl=20.0)]
    f = observations.findings(records)["fashion_mnist"]
    assert f["ranked"][0][:2] == ("GAN bce z32", 10.0) and f["best_vae"] == ("VAE z8", 40.0)
    assert f["gan_by_loss"] == {"bce": (11.0, 2), "hinge": (21.0, 2)}
    assert f["gan_by_z"] == {32: (15.0, 2), 64: (17.0, 2)}
    lines = observations.observations(ReportData(records))["fashion_mnist"]
    text = "\n".join(lines)
    assert "**Best configuration by FID:** GAN bce z32 (FID 10, KID 0.1)" in text
    assert "highest FID: VAE z32 (50)" in text
    assert "the loss choice goes with the larger difference in mean FID (10 against 2)" in text
    assert "Each configuration ran once" in text  # one seed: no claim beyond the numbers
    assert ("From latent 8 to 32 the reconstruction loss falls, the KL term rises and the FID of prior samples "
            "rises: better reconstructions came with worse samples") in text
    assert "best GAN GAN bce z32 FID 10, best VAE VAE z8 FID 40; the GAN has the lower FID." in text


def test_observations_make_no_claim_without_numbers():
    records = [_record("gan", 32, None), _record("vae", 8, None, recon=300.0), _record("vae", 16, None, recon=320.0)]
    text = "\n".join(observations.observations(ReportData(records))["fashion_mnist"])
    assert "no run has an FID (not computed), so none can be named" in text
    assert "FID not computed for: GAN bce z32, VAE z8, VAE z16." in text
    assert "the reconstruction loss rises" in text and "the sample side of the trade-off is unknown" in text
    assert "lower FID" not in text and "Best configuration by FID" not in text
    row = report.summary_row(records[0])
    assert row["FID"] == row["KID"] == row["Best epoch by FID"] == NOT_COMPUTED


# =============================================================================== a lab folder with a skipped dataset


def test_report_of_a_lab_shows_the_skipped_dataset_and_its_reason(two_runs, tmp_path):
    folder = tmp_path / "lab"
    entries = []
    for path in two_runs:
        shutil.copytree(path, folder / "runs" / path.name)
        entries.append({"name": path.name, "path": f"runs/{path.name}", "state": "trained"})
    entries.append({"name": "digits-gan-bce-z64", "state": "failed", "error": "ValueError: boom"})
    reason = ("DatasetNotFoundError: Dataset 'mnist' (split 'train') was not found. Places tried, in order:\n"
              "  1. /nowhere ($GAN_KIT_DATA_DIR)")
    fileio.write_json(folder / runs.LAB_FILE, {
        "profile": "smoke", "runs": entries,
        "datasets": {"mnist": {"status": "skipped", "reason": reason}, "digits": {"status": "available"}}})
    md, html = report.build_report(folder)
    assert md == folder / "report" / "report.md"
    text, page = md.read_text(), html.read_text()
    assert ("`mnist`: **skipped** - DatasetNotFoundError: Dataset 'mnist' (split 'train') was not found. "
            "(full reason below)") in text
    assert "`digits`: available, 2 run(s)" in text
    assert "1. /nowhere ($GAN_KIT_DATA_DIR)" in text and "1. /nowhere ($GAN_KIT_DATA_DIR)" in page
    assert "was skipped, so it has no runs" in text
    assert "Failed before a run folder was made: digits-gan-bce-z64 (ValueError: boom)." in text
    assert "<strong>skipped</strong>" in page
    assert len(_table(text)) == 2


def test_missing_metrics_are_not_computed_never_made_up(two_runs, tmp_path):
    copy = tmp_path / two_runs[1].name
    shutil.copytree(two_runs[1], copy)
    (copy / "metrics.json").unlink()
    md, _ = report.build_report(copy, tmp_path / "out")
    row = _table(md.read_text())[0]
    assert row["FID"] == row["KID"] == row["Recall"] == row["Classes covered"] == NOT_COMPUTED
    assert "Metrics: not computed (no metrics.json in the run folder)." in md.read_text()
    with pytest.raises(ValueError, match="No run folders"):
        report.build_report(tmp_path / "empty-does-not-exist", tmp_path / "out2")


def test_runs_show_their_training_health_findings(two_runs, tmp_path):
    copy = tmp_path / two_runs[0].name
    shutil.copytree(two_runs[0], copy)
    finding = diagnostics.Finding(code="d_overpowering", epoch=2, title="D is overpowering G",
                                  explanation="D(real) stayed near 1 and D(fake) near 0.",
                                  fix="Lower d_lr or set label_smoothing=0.1.")
    diagnostics.write(copy, [finding])
    md, html = report.build_report(copy, tmp_path / "out")
    text, page = md.read_text(), html.read_text()
    line = ("D is overpowering G (epoch 2). D(real) stayed near 1 and D(fake) near 0. "
            "Try: Lower d_lr or set label_smoothing=0.1.")
    assert "Training-health checks that fired:" in text and line in text
    assert "Training-health checks that fired:" in page
    diagnostics.write(copy, [])
    md, _ = report.build_report(copy, tmp_path / "out2")
    assert "Training-health checks: none fired." in md.read_text()
