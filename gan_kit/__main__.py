"""Command line: ``python -m gan_kit {info,train,config,sweep,compare,eval,report,lab,bench,handouts,release,grade}``.

The top layer of the kit: every command calls the same functions as the notebooks.

Example:
    python -m gan_kit sweep --profile smoke --set dataset=digits --grid d_lr=1e-4,1e-3 --grid batch_size=32,64
    python -m gan_kit eval outputs/runs/dcgan-20261201-120000
    python -m gan_kit report outputs/runs/dcgan-sweep-1a2b3c --out outputs/report
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import EXTRACTORS, NO_RECIPE, PROFILES, Config, ConfigError, for_profile
from .recipes import RECIPES


def _instructor(module: str) -> Any:
    """``gan_kit.instructor.<module>``; a ``ConfigError`` that says so in a student release, which leaves it out."""
    import importlib

    try:
        return importlib.import_module(f"gan_kit.instructor.{module}")
    except ModuleNotFoundError as exc:
        if exc.name not in ("gan_kit.instructor", f"gan_kit.instructor.{module}"):
            raise
        raise ConfigError("this command is the instructor's (handouts, release, grade, bench): it is not part of "
                          "the student release of the kit.") from None


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _overrides(pairs: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--set expects key=value. Received: {pair!r}.")
        key, value = pair.split("=", 1)
        values[key.strip()] = _parse_value(value.strip())
    return values


def _grid(pairs: list[str]) -> dict[str, list[Any]]:
    """``--grid key=v1,v2`` (or ``key=[v1, v2]``) -> ``{key: [v1, v2]}``; values parsed as JSON when they can be."""
    grid: dict[str, list[Any]] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--grid expects key=value1,value2,... Received: {pair!r}.")
        key, text = (part.strip() for part in pair.split("=", 1))
        if text.startswith("["):
            values = _parse_value(text)
            if not isinstance(values, list):
                raise ConfigError(f"--grid {key}: {text!r} is not a JSON list.")
        else:
            values = [_parse_value(v.strip()) for v in text.split(",") if v.strip()]
        if not key or not values:
            raise ConfigError(f"--grid expects key=value1,value2,... Received: {pair!r}.")
        if key in grid:
            raise ConfigError(f"--grid {key} is given twice; list all its values in one --grid.")
        grid[key] = values
    return grid


def _columns(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def build_config(args: argparse.Namespace) -> Config:
    """The config a CLI call describes: a JSON file or defaults, then a profile, then ``--set`` values."""
    base = Config.from_json(args.config) if args.config else None
    overrides = _overrides(args.set or [])
    if args.profile is None and base is not None and args.recipe is None:
        return base.replace(**overrides)
    return for_profile(args.profile, base=base, recipe=args.recipe, **overrides)


# ----------------------------------------------------------------- each subcommand: its arguments, its run
def _args_info(p: argparse.ArgumentParser) -> None:
    """``info`` takes no arguments."""


def _run_info(args: argparse.Namespace) -> int:
    from . import data, devices

    print(json.dumps(devices.describe(), indent=2))
    for name in data.DATASETS:
        if name == "image_folder":
            continue
        where, _ = data.locate(name, "train")
        print(f"{name:14s} {where or 'not found offline'}")
    return 0


def _args_handouts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--notebooks", default="notebooks", help="the folder of solution notebooks")
    p.add_argument("--only", help="comma-separated notebook names or prefixes (default: every notebook "
                   "with exercises)")
    p.add_argument("--out", default="outputs/handouts")


def _run_handouts(args: argparse.Namespace) -> int:
    written = _instructor("handouts").build_handouts(args.notebooks, args.out, only=_columns(args.only or ""))
    print(f"{len(written)} handout(s) in {args.out}")
    return 0


def _args_release(p: argparse.ArgumentParser) -> None:
    p.add_argument("--assignment", type=int, metavar="NN",
                   help="the assignment (notebook number) to release; without it, the whole course at once, "
                        "with the package's own answers to every exercise (a warning lists them)")
    p.add_argument("--out", help="release folder (default outputs/release-NN, or outputs/release without "
                                 "--assignment); the zip is FOLDER.zip")
    p.add_argument("--gradescope", action="store_true",
                   help="also the assignment's Gradescope autograder, autograder-NN.zip beside the release's "
                        "zip (instructor only: it holds the solution notebook)")
    p.add_argument("--past-solutions", action="store_true",
                   help="the notebooks before the assignment go as their solutions (code and model answers, "
                        "no hidden tests) instead of handouts")


def _run_release(args: argparse.Namespace) -> int:
    release_mod = _instructor("release")
    build = _instructor("gradescope").release_with_autograder if args.gradescope else release_mod.build_release
    folder, archive, *grader_zip = build(".", args.out, assignment=args.assignment,
                                         past_solutions=args.past_solutions)
    if args.assignment is None:
        print("warning: the whole course at once: the student package keeps the kit's own answers to "
              "these exercises:\n  " + "\n  ".join(release_mod.given_away(".")) +
              "\nRelease one assignment at a time (--assignment NN) to keep them out.", file=sys.stderr)
    print(f"student release: {folder} and {archive}")
    if grader_zip:
        print(f"Gradescope autograder (upload it yourself; it holds the solution): {grader_zip[0]}")
    return 0


def _args_grade(p: argparse.ArgumentParser) -> None:
    p.add_argument("submissions", nargs="?", help="a folder with one sub-folder of notebooks per student")
    p.add_argument("--merge-manual", metavar="MARKS_CSV",
                   help="instead of grading: merge a TA's filled-in OUT/manual/marks.csv into OUT/grades.csv and "
                        "OUT/summary.csv (no notebook is run)")
    p.add_argument("--out", default="outputs/grades", help="where grades.csv, summary.csv, feedback/ go")
    p.add_argument("--jobs", type=int, default=1, help="notebooks graded at once, one process each")
    p.add_argument("--timeout", type=float, default=900, help="seconds one notebook may run in all")
    p.add_argument("--notebooks", help="comma-separated notebook names or prefixes (default: all graded)")
    p.add_argument("--memory-limit", metavar="SIZE",
                   help="memory of one job, e.g. 4G (default: a share of the machine's, at most 16G)")
    p.add_argument("--process-limit", type=int, metavar="N",
                   help="processes and threads of one job (default: 512, more with many cores)")


def _run_grade(args: argparse.Namespace) -> int:
    if args.merge_manual and args.submissions:
        raise ValueError("grade takes SUBMISSIONS (grade the notebooks) or --merge-manual MARKS_CSV (merge a TA's "
                         "marks), not both: run them one after the other.")
    if args.merge_manual:
        merged = _instructor("manual").merge_marks(args.merge_manual, args.out)
        marked = sum(r.status == "marked" for r in merged)
        pending = sum(r.status == "pending" for r in merged)
        print(f"{args.merge_manual} merged: {marked} written answer(s) marked, {pending} still pending: "
              f"{Path(args.out) / 'grades.csv'}, {Path(args.out) / 'summary.csv'}")
        return 0
    if not args.submissions:
        raise ValueError("grade needs SUBMISSIONS, the folder of the students' folders (or --merge-manual "
                         "MARKS_CSV to merge a TA's marks).")
    rows = _instructor("grading").grade(args.submissions, args.out, jobs=args.jobs, timeout=args.timeout,
                                        only=_columns(args.notebooks or ""), memory_limit=args.memory_limit,
                                        process_limit=args.process_limit)
    out = Path(args.out)
    print(f"{len({r.student for r in rows})} student(s) graded: {out / 'grades.csv'}, {out / 'summary.csv'}, "
          f"{out / 'feedback'}; class report: {out / 'report.html'}")
    return 0


def _args_bench(p: argparse.ArgumentParser) -> None:
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--steps", type=int, default=5, help="train steps per timed repetition")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--model", action="append", metavar="NAME",
                   help="a benchmarked model, repeatable (default: all of gan_kit.instructor.bench.MODELS)")
    p.add_argument("--out", default="outputs/bench")
    p.add_argument("--quality", action="store_true",
                   help="instead: train each recipe for fixed wall-clock budgets and score its samples "
                        "(outputs/bench/quality.json; about 2 hours on a 2-core CPU)")
    p.add_argument("--recipes", help="with --quality: comma-separated recipes (default: all but assignment)")
    p.add_argument("--datasets", default="fashion_mnist,cifar10", help="with --quality: datasets")
    p.add_argument("--budgets", default="120,300,600", help="with --quality: budgets in seconds")
    p.add_argument("--samples", type=int, default=10_000, help="with --quality: images per score")


def _run_bench(args: argparse.Namespace) -> int:
    if args.quality:
        _instructor("quality").run_quality(_columns(args.recipes) if args.recipes else None,
                                           datasets=_columns(args.datasets),
                                           budgets=[int(b) for b in _columns(args.budgets)], samples=args.samples,
                                           out=args.out)
        return 0
    bench = _instructor("bench")
    unknown = sorted(set(args.model or ()) - set(bench.MODELS))
    if unknown:
        raise ValueError(f"bench --model {', '.join(unknown)}: no such model. Choose from {sorted(bench.MODELS)}.")
    bench.run_bench(tuple(args.model or bench.MODELS), args.batch, args.steps, args.repeats, args.out)
    return 0


def _args_config_source(p: argparse.ArgumentParser) -> None:
    """The arguments that say which config a ``train``, ``config`` or ``sweep`` call uses."""
    p.add_argument("--config", help="a config JSON file (e.g. a run's config.json)")
    p.add_argument("--profile", choices=PROFILES, help="apply a profile's settings")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field (repeatable)")
    p.add_argument("--recipe", choices=[*sorted(RECIPES), NO_RECIPE],
                   help="apply a named recipe (gan_kit.recipes) after the profile; 'none': the kit's defaults")


def _args_train(p: argparse.ArgumentParser) -> None:
    _args_config_source(p)
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run folder from its last complete epoch")


def _run_train(args: argparse.Namespace) -> int:
    from .training import train

    if args.resume:
        config = None
        if args.config or args.profile or args.set:
            from .runs import read_config

            config = read_config(args.resume).replace(**_overrides(args.set or []))
        run = train(config, resume=args.resume, verbose=2)
    else:
        run = train(build_config(args), verbose=2)
    print(f"run folder: {run.path} ({run.status})")
    return 0 if run.status == "finished" else 1


def _run_config(args: argparse.Namespace) -> int:
    print(build_config(args).to_json())
    return 0


def _args_sweep(p: argparse.ArgumentParser) -> None:
    _args_config_source(p)
    p.add_argument("--grid", action="append", required=True, metavar="KEY=V1,V2",
                   help="a swept config field and its values (repeatable; the grid is their product)")
    p.add_argument("--random-subset", type=int, metavar="N", help="train only N points drawn at random")
    p.add_argument("--subset-seed", type=int, default=0, help="seed of the random subset")
    p.add_argument("--parallel", type=int, default=1, help="points trained at once, one process each")
    p.add_argument("--retries", type=int, default=1, help="extra attempts for a point whose training fails")
    p.add_argument("--name", help="the sweep's name (default: derived from the base config and the grid)")
    p.add_argument("--output-dir", help="where the sweep folder goes (default: the config's output_dir)")
    p.add_argument("--reuse", action="append", default=[], metavar="FOLDER",
                   help="a sweep or run folder whose done runs stand in for identical points (repeatable)")
    p.add_argument("--columns", default="g_loss,d_loss,d_real_prob,d_fake_prob",
                   help="history columns to compare, comma-separated")


def _run_sweep(args: argparse.Namespace) -> int:
    from .compare import compare as compare_runs
    from .runs import DONE_STATES
    from .sweep import sweep

    result = sweep(build_config(args), _grid(args.grid), random_subset=args.random_subset, seed=args.subset_seed,
                   parallel=args.parallel, output_dir=args.output_dir, name=args.name, retries=args.retries,
                   reuse=args.reuse)
    done = [r for r, state in zip(result.runs, result.statuses) if r is not None and state in DONE_STATES]
    if done:
        print(compare_runs(done, _columns(args.columns), save_to=result.folder / "compare.png").to_markdown())
    print(f"sweep folder: {result.folder} ({len(result.points)} point(s), {len(result.skipped)} already done,"
          f" {len(result.failed)} failed)")
    for label, error in result.failed.items():
        print(f"failed: {{{label}}}: {error}", file=sys.stderr)
    return 0 if not result.failed else 1


def _args_eval(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="a run folder")
    p.add_argument("--samples", type=int, help="generated images (default: the run's metrics_samples)")
    p.add_argument("--extractor", choices=EXTRACTORS,
                   help="feature extractor (default: the run's metrics_extractor)")
    p.add_argument("--seed", type=int, default=0, help="noise seed")


def _run_eval(args: argparse.Namespace) -> int:
    from .metrics import evaluate as evaluate_run

    result = evaluate_run(args.run, extractor=args.extractor, samples=args.samples, seed=args.seed)
    shown = {k: result[k] for k in ("fid", "kid", "precision", "recall", "is", "classes_covered", "num_classes",
                                    "extractor", "samples") if k in result}
    print(json.dumps(shown, indent=2))
    print(f"metrics: {Path(args.run) / 'metrics.json'}")
    return 0


def _args_report(p: argparse.ArgumentParser) -> None:
    p.add_argument("sources", nargs="+", help="run folders, sweep folders, a lab folder or a folder of runs")
    p.add_argument("--out", help="report folder (default: <source>/report for one folder source)")
    p.add_argument("--title", default="gan-kit report")


def _run_report(args: argparse.Namespace) -> int:
    from .report import build_report
    from .runs import expand_runs, is_run

    first = Path(args.sources[0])
    if len(args.sources) == 1 and not is_run(first) and not (first / "sweep.json").is_file():
        source: Any = args.sources[0]  # a lab folder or a folder of run folders
    else:
        source = expand_runs(args.sources)
    out = args.out or (first / "report" if len(args.sources) == 1 else None)
    if out is None:
        raise ValueError("report with several sources needs --out FOLDER.")
    md, page = build_report(source, out, title=args.title)
    print(f"report: {md} and {page}")
    return 0


def _args_lab(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", choices=PROFILES)
    p.add_argument("--datasets", default="mnist,fashion_mnist", help="comma-separated dataset names")
    p.add_argument("--out", help="lab folder (default: outputs/lab/<profile>)")
    p.add_argument("--epochs", type=int, help="epochs per run (default: 10; smoke keeps its own)")
    p.add_argument("--losses", default="bce,hinge", help="GAN losses, comma-separated")
    p.add_argument("--z-dims", default="32,64,128", help="GAN noise sizes, comma-separated")
    p.add_argument("--vae-latents", default="8,16,32", help="VAE latent sizes, comma-separated")


def _run_lab(args: argparse.Namespace) -> int:
    from .lab import run_lab

    result = run_lab(datasets=_columns(args.datasets), gan_losses=_columns(args.losses),
                     z_dims=[int(z) for z in _columns(args.z_dims)],
                     vae_latents=[int(z) for z in _columns(args.vae_latents)], profile=args.profile,
                     output_dir=args.out, epochs=args.epochs)
    print(f"lab folder: {result.folder} ({len(result.runs)} run(s), {len(result.failed)} failed, "
          f"{len(result.skipped)} dataset(s) skipped)")
    if result.report:
        print(f"report: {result.report[0]} and {result.report[1]}")
    return 0 if not result.failed else 1


def _args_compare(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", help="run folders, or sweep folders (standing for their runs)")
    p.add_argument("--columns", default="g_loss,d_loss,d_real_prob,d_fake_prob",
                   help="history columns to compare, comma-separated")
    p.add_argument("--save", metavar="PNG", help="write the overlay plot to this PNG file")


def _run_compare(args: argparse.Namespace) -> int:
    from .compare import compare as compare_runs

    print(compare_runs(args.runs, _columns(args.columns), save_to=args.save).to_markdown())
    if args.save:
        print(f"overlay plot: {args.save}")
    return 0


Subcommand = tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]

COMMANDS: dict[str, Subcommand] = {
    "info": ("versions, devices and the datasets available offline", _args_info, _run_info),
    "handouts": ("student notebooks with the exercises stubbed", _args_handouts, _run_handouts),
    "release": ("the student release of one assignment: handouts up to it, the student package with its answers "
                "stubbed, README (folder and zip)", _args_release, _run_release),
    "grade": ("run students' notebooks with the hidden tests: grades.csv, feedback", _args_grade, _run_grade),
    "bench": ("kit fit() vs a plain tf.function loop, GFLOP/s vs matmul", _args_bench, _run_bench),
    "train": ("train a GAN and write a run folder", _args_train, _run_train),
    "config": ("print the resolved config", _args_config_source, _run_config),
    "sweep": ("train one run per point of a grid (resumable), then compare them", _args_sweep, _run_sweep),
    "eval": ("FID, KID, IS, precision/recall of a run's generator -> metrics.json", _args_eval, _run_eval),
    "report": ("report.md + self-contained report.html from run, sweep or lab folders", _args_report, _run_report),
    "lab": ("the GAN vs VAE lab (12 + 6 runs), its metrics and its report", _args_lab, _run_lab),
    "compare": ("compare run folders or sweep folders: table and overlay plot", _args_compare, _run_compare),
}


def make_parser() -> argparse.ArgumentParser:
    """The command line's parser: one subparser per entry of ``COMMANDS``."""
    parser = argparse.ArgumentParser(prog="python -m gan_kit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (text, add_arguments, _) in COMMANDS.items():
        add_arguments(sub.add_parser(name, help=text))
    parser.add_argument("--tf-logs", action="store_true",
                        help="show TensorFlow's C++ start-up and runtime log lines (hidden by default)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (2 for a usage, config or file error)."""
    args = make_parser().parse_args(argv)
    if args.tf_logs:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
        from .devices import quiet_tensorflow_startup

        quiet_tensorflow_startup(False)
    try:
        return COMMANDS[args.command][2](args)
    except (ConfigError, FileNotFoundError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
