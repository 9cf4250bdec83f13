"""Observations computed from run folders: sentences that quote the numbers they rest on.

The report (``gan_kit.report``), the comparison tables and the notebooks all call these, so a
notebook's conclusions and the report's agree. TensorFlow-free: they read ``RunRecord``s
(``gan_kit.records``) only.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from .records import ReportData, RunRecord, fmt, short_reason

__all__ = ["findings", "observations", "trend"]


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
