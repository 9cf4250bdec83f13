"""Observations computed from run folders: sentences that quote the numbers they rest on.

The report (``gan_kit.report``), the comparison tables and the notebooks all call these, so a
notebook's conclusions and the report's agree. TensorFlow-free: they read ``RunRecord``s
(``gan_kit.records``) only.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Sequence
from typing import Any

from . import diagnostics
from .records import ReportData, RunRecord, fmt, load_run, short_reason

__all__ = ["findings", "observations", "observe_run", "observe_runs", "reflection", "trend"]


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
    found = findings(data)
    for ds, f in found.items():
        records = [r for r in data.records if r.dataset == ds and r.state == "finished"]
        out[ds] = [line for topic in _TOPICS for line in topic(f, records)]
    return out


def reflection(data: ReportData) -> dict[str, list[tuple[str, list[str]]]]:
    """The lab's reflection questions answered from the numbers, per dataset: ``[(question, sentences)]``.

    The answers are the sentences of :func:`observations` (so the report and notebook 05 say the
    same), grouped under the question each one answers.
    """
    out: dict[str, list[tuple[str, list[str]]]] = {}
    for ds, f in findings(data).items():
        records = [r for r in data.records if r.dataset == ds and r.state == "finished"]
        out[ds] = [(question, [line for topic in topics for line in topic(f, records)])
                   for question, topics in _QUESTIONS]
    return out


# ----------------------------------------------------------------- the topics, one sentence group each
def _best(f: dict[str, Any], records: list[RunRecord]) -> list[str]:
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
    return lines


def _hyperparameters(f: dict[str, Any], records: list[RunRecord]) -> list[str]:
    by_loss, by_z = f["gan_by_loss"], f["gan_by_z"]
    if len(by_loss) < 2 and len(by_z) < 2:
        return ["**Which GAN hyperparameter mattered:** fewer than two GAN configurations have an FID, so nothing "
                "can be compared."]
    parts, spreads = [], {}
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
    return [text]


def _best_epoch(f: dict[str, Any], records: list[RunRecord]) -> list[str]:
    with_curve = [r for r in records if r.best_fid() is not None]
    if not with_curve:
        return []
    at_end = [r for r in with_curve if r.best_fid()[0] == r.epochs]
    text = (f"**Best epoch by FID:** the last epoch for {len(at_end)} of {len(with_curve)} run(s) with an FID "
            "curve")
    if at_end:
        text += ": FID was still at its lowest when training stopped, so a longer budget may lower it further."
    else:
        text += ": every run passed its best epoch before the end, so more epochs of the same recipe would not help."
    return [text]


def _mode_collapse(f: dict[str, Any], records: list[RunRecord]) -> list[str]:
    cov = f["coverage"]
    if not cov:
        return ["**Mode collapse evidence:** classes covered were not computed, so the numbers cannot say."]
    partial = [(lab, c, k, rec) for lab, c, k, rec in cov if k and c < k]
    gan_cov = [t for t in cov if t[0].startswith("GAN")]
    text = ("**Mode collapse evidence** (classes the metric's classifier finds in at least half their real "
            "share of the samples; recall = share of real images near a generated one): ")
    text += ", ".join(f"{lab} {c}/{k} classes, recall {fmt(rec)}" for lab, c, k, rec in cov) + ". "
    if partial:
        worst = min(partial, key=lambda t: (t[1], t[3] if t[3] is not None else math.inf))
        text += (f"{len(partial)} of {len(cov)} run(s) cover fewer than all classes; the fewest: {worst[0]} "
                 f"({worst[1]}/{worst[2]}).")
    else:
        text += "Every run covers all classes by this measure."
    if gan_cov and len(gan_cov) < len(cov):
        text += " (GAN and VAE runs are listed together.)"
    return [text]


def _d_balance(f: dict[str, Any], records: list[RunRecord]) -> list[str]:
    if not f["d_probs"]:
        return []
    gaps = [(lab, real - fake) for lab, real, fake in f["d_probs"]]
    big = max(gaps, key=lambda t: t[1])
    return ["**Discriminator balance** (final epoch mean D(real) - D(fake)): "
            + ", ".join(f"{lab} {fmt(g)}" for lab, g in gaps)
            + f". The largest gap is {big[0]}'s ({fmt(big[1])}); a gap near 1 means D wins easily."]


def _latent_tradeoff(f: dict[str, Any], records: list[RunRecord]) -> list[str]:
    vae = f["vae"]
    if len(vae) == 1:
        z, total, rec, kl, fid_v = vae[0]
        return [f"**VAE:** one latent size ({z}): total {fmt(total)}, recon {fmt(rec)}, KL {fmt(kl)}, "
                f"FID {fmt(fid_v)}; the latent-size trade-off needs at least two."]
    if not vae:
        return ["**Latent-size trade-off (VAE):** no finished VAE run, so the numbers cannot say."]
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
    return [text]


def _gan_vs_vae(f: dict[str, Any], records: list[RunRecord]) -> list[str]:
    bg, bv = f["best_gan"], f["best_vae"]
    if bg and bv:
        lower = "GAN" if bg[1] < bv[1] else "VAE" if bv[1] < bg[1] else "neither"
        return [f"**GAN vs VAE:** best GAN {bg[0]} FID {fmt(bg[1])}, best VAE {bv[0]} FID {fmt(bv[1])}; "
                + (f"the {lower} has the lower FID." if lower != "neither" else "the FIDs are equal.")]
    if bg or bv:
        return ["**GAN vs VAE:** FID is available for only one family here, so they cannot be compared."]
    return []


def _vae_gan(f: dict[str, Any], records: list[RunRecord]) -> list[str]:
    bg, bv = f["best_gan"], f["best_vae"]
    if not (bg and bv):
        return ["**A VAE-GAN:** the best GAN and the best VAE both need an FID to ground the idea in numbers."]
    covered = {r.label: (r.metrics or {}).get("classes_covered", "?") for r in records}
    text = (f"**A VAE-GAN** (Larsen et al. 2016) keeps the VAE's encoder and reconstruction term and adds a "
            f"discriminator on the decoder's outputs. Here the best VAE ({bv[0]}) has FID {fmt(bv[1])} and covers "
            f"{covered.get(bv[0], '?')} classes, the best GAN ({bg[0]}) FID {fmt(bg[1])} and "
            f"{covered.get(bg[0], '?')} classes. ")
    if bv[1] > bg[1]:
        text += ("The adversarial term would target the VAE's higher FID, while the reconstruction term keeps every "
                 "training image encoded.")
    else:
        text += ("The VAE already has the lower FID here, so these numbers give no reason to expect the adversarial "
                 "term to help; a longer budget (quick or full) is the fair test.")
    return [text]


_TOPICS = (_best, _hyperparameters, _best_epoch, _mode_collapse, _d_balance, _latent_tradeoff, _gan_vs_vae,
           _vae_gan)
_QUESTIONS = (
    ("Q1. Which GAN hyperparameters mattered?", (_hyperparameters, _best_epoch)),
    ("Q2. Is there evidence of mode collapse?", (_mode_collapse, _d_balance)),
    ("Q3. What does the VAE's latent size trade off?", (_latent_tradeoff,)),
    ("Q4. GAN or VAE: which made better samples here?", (_best, _gan_vs_vae)),
    ("Q5. How would a VAE-GAN combine the two?", (_vae_gan,)),
)


# ----------------------------------------------------------------- one run, and runs side by side
EQUILIBRIUM_G_LOSS = math.log(2.0)
"""G's BCE loss when D says 1/2 everywhere (the game's equilibrium): -log(1/2)."""
EQUILIBRIUM_D_LOSS = 2.0 * math.log(2.0)
"""D's BCE loss (real term + fake term) at the equilibrium."""


def _record(run: str | os.PathLike | RunRecord) -> RunRecord:
    return run if isinstance(run, RunRecord) else load_run(run)


def _change(first: float, last: float) -> str:
    change = (last - first) / max(abs(first), 1e-8)
    return "stayed about flat" if abs(change) < 0.1 else ("rose" if change > 0 else "fell")


def diversity_ratio(run: str | os.PathLike | RunRecord) -> float | None:
    """The samples' diversity over the real images' at the last measurement (``diagnostics.json``), or None."""
    series = diagnostics.read(_record(run).path).get("series") or {}
    values = [v for v in series.get("diversity") or [] if v is not None]
    real = series.get("real_diversity")
    return float(values[-1]) / float(real) if values and real else None


def health(run: str | os.PathLike | RunRecord) -> str:
    """The training-health checks that fired, or "none fired" with the checks the run was too short for."""
    r = _record(run)
    fired = list(dict.fromkeys(f.title for f in diagnostics.summarize(r.path)))
    short = diagnostics.cannot_fire(r.epochs)
    text = "Training-health checks that fired: " + "; ".join(fired) + "." if fired else "No training-health check fired"
    if short:
        text += (f"{';' if fired else ','} and {r.epochs} epoch(s) are too few for " + ", ".join(short)
                 + " to fire at all (" + ", ".join(f"{c} needs {diagnostics.MIN_EPOCHS[c]}" for c in short) + ").")
    elif not fired:
        text += "."
    return text


def _d_balance(r: RunRecord) -> list[str]:
    """The final epoch's D(real), D(fake) and what their gap says about the balance of the game."""
    real_p, fake_p = r.final("d_real_prob"), r.final("d_fake_prob")
    if real_p is None or fake_p is None:
        return []
    gap = real_p - fake_p
    lines = [f"Final epoch: D(real) = {real_p:.3f}, D(fake) = {fake_p:.3f}, gap {gap:+.3f}."]
    if gap > 0.3:
        lines.append("D is winning clearly: it separates real from generated images with confidence.")
    elif gap > 0.1:
        lines.append("D has the upper hand, but it is not certain.")
    elif gap >= -0.1:
        where = ("both above 0.5: D calls most images real" if min(real_p, fake_p) > 0.6 else
                 "both below 0.5: D calls most images fake" if max(real_p, fake_p) < 0.4 else
                 "both near 0.5: D is unsure")
        lines.append(f"Neither side dominates: D gives real and generated images similar probabilities "
                     f"({where}).")
    else:
        lines.append("D rates generated images as more real than real ones: D is confused, not G perfect.")
    return lines


def _gan_losses(r: RunRecord, k: int) -> list[str]:
    """G's and D's losses over the first and last ``k`` epochs, against the equilibrium, and their trend."""
    c, h, n = r.config, r.history, r.epochs
    g = [v for v in h.get("g_loss", []) if math.isfinite(v)]
    d = [v for v in h.get("d_loss", []) if math.isfinite(v)]
    if not g or not d:
        return []
    g0, g1, d0, d1 = _mean(g[:k]), _mean(g[-k:]), _mean(d[:k]), _mean(d[-k:])
    head = f"Losses (mean of the first {k} -> last {k} epoch(s)): G {g0:.3f} -> {g1:.3f}, D {d0:.3f} -> {d1:.3f}"
    lines = [f"{head}; at the equilibrium (D says 1/2 everywhere) G = {EQUILIBRIUM_G_LOSS:.3f} and "
             f"D = {EQUILIBRIUM_D_LOSS:.3f}." if c.loss in ("bce", "minimax") else f"{head} ({c.loss} loss)."]
    if n < 3:
        return lines + [f"Only {n} epoch(s): too few points to call a trend."]
    lines.append(f"G's loss {_change(g0, g1)} and D's loss {_change(d0, d1)} over the run.")
    if c.loss == "bce" and d1 < 0.1 and g1 > 3.0:
        lines.append("D's loss is near 0 and G's is high: D rejects generated images with confidence. "
                     "With the non-saturating loss G still gets a gradient (notebook 01), but it is "
                     "losing; label smoothing or a lower d_lr rebalances the game (notebook 03).")
    elif d1 < d0 and g1 > g0:
        lines.append("D improved while G got worse: D is pulling ahead.")
    return lines


def observe_run(run: str | os.PathLike | RunRecord) -> list[str]:
    """What one run folder's numbers say: D's balance, the losses against the equilibrium, time per epoch,
    sample diversity, the health checks and ``metrics.json``; each sentence quotes its values."""
    r = _record(run)
    c, h = r.config, r.history
    n = r.epochs
    lines: list[str] = []
    if c.profile == "smoke":
        lines.append("Smoke profile: a code-path check on a tiny model and a few batches - the numbers below are "
                     "not a result to interpret.")
    lines.append(f"{n} epoch(s) of {c.dataset} under the '{c.profile}' profile ({c.max_examples or 'all'} images, "
                 f"batch {c.batch_size}, widths {c.g_width}/{c.d_width}); status {r.state}.")
    losses = ("g_loss", "d_loss") if r.family == "GAN" else ("loss", "recon_loss", "kl_loss")
    if r.state == "diverged" or any(not math.isfinite(v) for k in losses for v in h.get(k, [])):
        lines.append("A loss became NaN or infinite: training diverged. Lower the learning rates and run again.")
    if n == 0:
        return lines
    k = max(1, n // 5)  # the first and the last fifth of the epochs
    if r.family == "GAN":
        lines += _d_balance(r) + _gan_losses(r, k)
    else:
        for key in ("recon_loss", "kl_loss"):
            first, last = (h.get(key) or [math.nan])[0], r.final(key)
            if math.isfinite(first) and last is not None:
                lines.append(f"{key}: {first:.4g} after epoch 1 -> {last:.4g} at the end ({_change(first, last)}).")
    times = [t for t in h.get("epoch_time", []) if math.isfinite(t)]
    if len(times) > 1:
        lines.append(f"Seconds per epoch: {times[0]:.1f} for the first (includes building the graph), "
                     f"{_mean(times[1:]):.1f} on average after it; {sum(times):.0f} s in all.")
    elif times:
        lines.append(f"Seconds per epoch: {times[0]:.1f} (one epoch, includes building the graph).")
    ratio = diversity_ratio(r)
    if ratio is not None:
        lines.append(f"Sample diversity (mean distance between samples of the fixed noise) is {ratio:.2f} times the "
                     "real images'" + (": far less varied than the data, consistent with (partial) mode collapse "
                                       "or an undertrained G." if ratio < 0.5 else
                                       "; diversity alone says nothing about realism: FID does (notebook 06)."))
    if r.family == "GAN":
        lines.append(health(r))
    if r.metrics:
        lines.append(f"metrics.json: FID {fmt(r.metric('fid'))}, KID {fmt(r.metric('kid'))}, precision "
                     f"{fmt(r.metric('precision'))}, recall {fmt(r.metric('recall'))}, classes covered "
                     f"{r.metrics.get('classes_covered', '?')}/{r.metrics.get('num_classes', '?')}.")
    return lines


def observe_runs(runs_: Sequence[str | os.PathLike | RunRecord], labels: Sequence[str] | None = None,
                 tolerance: float = 0.1) -> list[str]:
    """What a set of runs compared side by side says (a sweep, a study): unfinished runs, the FID winner (or
    no clear one within ``tolerance``), D's final margins, the least varied samples and the checks that fired."""
    records = [_record(r) for r in runs_]
    labels = list(labels) if labels is not None else [r.path.name for r in records]
    lines: list[str] = []
    bad = [lab for lab, r in zip(labels, records) if r.state != "finished"]
    if bad:
        lines.append(f"Did not finish: {', '.join(bad)} (see their training-health checks).")
    fids = [(r.metric("fid") if r.metric("fid") is not None else r.final("fid"), lab)
            for lab, r in zip(labels, records)]
    fids = [(v, lab) for v, lab in fids if v is not None]
    if len(fids) >= 2:
        (best, best_label), (worst, worst_label) = min(fids), max(fids)
        if worst > (1 + tolerance) * best:
            lines.append(f"Lowest FID {best:.3g} with {best_label}; highest {worst:.3g} with {worst_label}.")
        else:
            lines.append(f"FID between {best:.3g} and {worst:.3g}: within {tolerance:.0%}, no clear winner here.")
    else:
        lines.append("No FID to compare (fewer than two runs measured one).")
    gaps = [(r.final("d_real_prob") - r.final("d_fake_prob"), lab) for lab, r in zip(labels, records)
            if r.final("d_real_prob") is not None and r.final("d_fake_prob") is not None]
    if gaps:
        (low, low_label), (high, high_label) = min(gaps), max(gaps)
        lines.append(f"D's final margin D(real) - D(fake): from {low:+.2f} ({low_label}) to {high:+.2f} "
                     f"({high_label}).")
        if high - low > 0.2:
            lines.append(f"D told real from generated images far better with {high_label}.")
        if low < -0.1:
            lines.append(f"With {low_label} D rated generated images as more real than real ones: D lost its footing.")
    ratios = [(v, lab) for lab, r in zip(labels, records) if (v := diversity_ratio(r)) is not None]
    if ratios and min(ratios)[0] < 0.5:
        ratio, label = min(ratios)
        others = ", ".join(f"{v:.2f}" for v, lab in ratios if lab != label)
        lines.append(f"The samples of {label} were far less varied than real images (diversity ratio {ratio:.2f}"
                     + (f"; the others {others})." if others else ")."))
    fired = sorted({f.code for r in records for f in diagnostics.summarize(r.path)})
    short = sorted({c for r in records for c in diagnostics.cannot_fire(r.epochs)}, key=diagnostics.CODES.index)
    text = f"Diagnostics fired: {', '.join(fired) if fired else 'none'}"
    if short:
        epochs = min(r.epochs for r in records)
        text += f" (runs of {epochs} epoch(s) are too short for {', '.join(short)} to fire)"
    lines.append(text + ".")
    return lines
