"""Quality per CPU-minute: ``python -m gan_kit bench --quality``.

Each recipe trains on each dataset under the ``quick`` profile for a fixed **wall-clock** budget;
the generator (its EMA copy when the recipe has one) is saved each time training passes a budget
(2, 5 and 10 minutes by default), and every saved generator is scored with the kit's offline
metrics (classifier FID, KID, precision/recall, classes covered) against the test split. The
reference is the ``quick`` profile without any recipe (the kit's defaults), trained and scored in
the same call, so each FID is also given as a ratio to the reference's at the same budget.
Results go to ``outputs/bench/quality.json``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras

from .. import runs
from ..config import Config, for_profile
from ..fileio import write_json
from ..recipes import QUICK_RECIPES, RECIPES

BUDGETS: tuple[int, ...] = (120, 300, 600)
DATASETS: tuple[str, ...] = ("fashion_mnist", "cifar10")
REFERENCE = "defaults"  # the quick profile with no recipe
SNAPSHOT_DIR = "budgets"  # <out>/quality_runs/budgets/<dataset>-<recipe>/generator_<s>s.keras
METRIC_KEYS = ("fid", "kid", "precision", "recall", "classes_covered", "num_classes")

__all__ = ["BUDGETS", "REFERENCE", "WallClockBudgets", "format_quality", "quality_config", "run_quality"]


class WallClockBudgets(keras.callbacks.Callback):
    """Saves the sampling generator each time training has run for one of ``budgets`` seconds (from the start of
    ``fit``, tracing included), and stops training after the last one.

    Snapshots go to ``<folder>/generator_<seconds>s.keras``; ``reached`` maps each budget to the
    train steps done by then. When the epochs run out first, the remaining budgets get the final
    generator and ``short`` lists them.
    """

    def __init__(self, folder: str | os.PathLike, budgets: Sequence[int] = BUDGETS):
        super().__init__()
        if not budgets or any(int(b) <= 0 for b in budgets):
            raise ValueError(f"budgets must be positive seconds; got {list(budgets)}")
        self.folder = Path(folder)
        self.budgets = sorted(int(b) for b in budgets)
        self.reached: dict[int, int] = {}
        self.short: list[int] = []
        self._start = 0.0
        self._steps = 0

    def on_train_begin(self, logs=None):
        self.folder.mkdir(parents=True, exist_ok=True)
        self._start = time.perf_counter()

    def _save(self, budget: int) -> None:
        sampler = self.model.sampler
        runs.save_keras(self.folder, {f"generator_{budget}s.keras": sampler})
        self.reached[budget] = self._steps

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1
        elapsed = time.perf_counter() - self._start
        for budget in self.budgets:
            if budget not in self.reached and elapsed >= budget:
                self._save(budget)
        if len(self.reached) == len(self.budgets):
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        for budget in self.budgets:
            if budget not in self.reached:
                self.short.append(budget)
                self._save(budget)


def quality_config(dataset: str, recipe: str, output_dir: str | os.PathLike, profile: str = "quick") -> Config:
    """The ``profile`` config of ``recipe`` (``REFERENCE``: none) on ``dataset``, with epochs enough to fill any
    budget (the budget stops it) and no FID during training."""
    base = for_profile(profile, dataset=dataset, recipe="none" if recipe == REFERENCE else recipe)
    return base.replace(name=f"quality-{dataset}-{recipe}", output_dir=str(output_dir), epochs=100_000,
                        metrics_every=0, sample_every=max(base.sample_every, 1000), checkpoint_every=100_000,
                        tensorboard=False, diagnostics=False)


def run_quality(recipes: Sequence[str] | None = None, datasets: Sequence[str] = DATASETS,
                budgets: Sequence[int] = BUDGETS, samples: int = 10_000, out: str | os.PathLike = "outputs/bench",
                verbose: bool = True, profile: str = "quick") -> dict[str, Any]:
    """Train and score each recipe (and the reference) on each dataset at each budget; writes
    ``<out>/quality.json`` and returns its content.

    Args:
        recipes: recipe names (default: every recipe but ``assignment``, whose 50-epoch batch-256 run is
            the full DCGAN assignment, plus the reference).
        datasets: datasets to train on.
        budgets: wall-clock budgets in seconds.
        samples: generated (and real) images per score.
        out: the output folder (runs go under ``<out>/quality_runs``).
        verbose: print a line per result.
        profile: the profile every run uses (``quick``: the CPU budget the kit's recipes are tuned for).
    """
    from ..metrics import evaluate
    from ..training import train

    names = [REFERENCE, *(recipes if recipes is not None else [r for r in RECIPES if r != "assignment"])]
    names = list(dict.fromkeys(names))
    out = Path(out)
    root = out / "quality_runs"
    result: dict[str, Any] = {"profile": profile, "budgets": sorted(int(b) for b in budgets), "samples": int(samples),
                              "cpu_count": os.cpu_count(), "quick_recipes": dict(QUICK_RECIPES), "results": []}
    for dataset in datasets:
        for name in names:
            config = quality_config(dataset, name, root, profile)
            clock = WallClockBudgets(root / SNAPSHOT_DIR / f"{dataset}-{name}", budgets)
            started = time.perf_counter()
            run = train(config, callbacks=[clock], verbose=0)
            for budget in clock.budgets:
                generator = runs.load_model(clock.folder / f"generator_{budget}s.keras")
                scores = evaluate(run.path, generator=generator, samples=samples)
                row = {"dataset": dataset, "recipe": name, "budget_s": budget, "steps": clock.reached.get(budget),
                       "epochs_short": budget in clock.short, "run": str(run.path),
                       **{k: scores.get(k) for k in METRIC_KEYS}, "extractor": scores.get("extractor")}
                result["results"].append(row)
                if verbose:
                    print(f"{dataset:<14} {name:<12} {budget:>4} s  {row['steps']:>6} steps  FID {row['fid']:.3g}  "
                          f"precision {row['precision']:.2f} recall {row['recall']:.2f}  classes "
                          f"{row['classes_covered']}/{row['num_classes']}", flush=True)
            result.setdefault("train_seconds", {})[f"{dataset}/{name}"] = round(time.perf_counter() - started, 1)
    for row in result["results"]:
        ref = next(r for r in result["results"] if r["dataset"] == row["dataset"] and r["recipe"] == REFERENCE
                   and r["budget_s"] == row["budget_s"])
        row["fid_vs_reference"] = row["fid"] / ref["fid"] if ref["fid"] else None
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "quality.json", result)
    if verbose:
        print(format_quality(result))
    return result


def format_quality(result: dict[str, Any]) -> str:
    """A Markdown table of ``run_quality``'s results (as in docs/development.md)."""
    lines = ["| dataset | recipe | budget | steps | FID | FID / defaults | KID | precision | recall | classes |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in result["results"]:
        ratio = f"{r['fid_vs_reference']:.2f}" if r.get("fid_vs_reference") is not None else "-"
        lines.append(f"| {r['dataset']} | {r['recipe']} | {r['budget_s'] // 60} min | {r['steps']} | {r['fid']:.3g} | "
                     f"{ratio} | {r['kid']:.3g} | {r['precision']:.2f} | {r['recall']:.2f} | "
                     f"{r['classes_covered']}/{r['num_classes']} |")
    return "\n".join(lines)
