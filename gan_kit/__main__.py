"""Command line: ``python -m gan_kit {info,train,config,sweep,compare,...}``; calls the same functions as the notebooks.

Example:
    python -m gan_kit sweep --profile smoke --set dataset=digits --grid d_lr=1e-4,1e-3 --grid batch_size=32,64
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .config import Config, ConfigError, for_profile


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
    if args.profile is None and base is not None:
        return base.replace(**overrides)
    return for_profile(args.profile, base=base, **overrides)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m gan_kit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="versions, devices and the datasets available offline")
    handouts = sub.add_parser("handouts", help="student notebooks with the exercises stubbed")
    handouts.add_argument("--notebooks", default="notebooks")
    handouts.add_argument("--out", default="outputs/handouts")
    bench = sub.add_parser("bench", help="kit fit() vs a plain tf.function loop, GFLOP/s vs matmul")
    bench.add_argument("--repeats", type=int, default=5)
    bench.add_argument("--steps", type=int, default=5, help="train steps per timed repetition")
    bench.add_argument("--batch", type=int, default=128)
    bench.add_argument("--model", action="append", choices=["story1_dcgan_32", "dcgan_28"])
    bench.add_argument("--out", default="outputs/bench")
    for name, text in (("train", "train a GAN and write a run folder"), ("config", "print the resolved config"),
                       ("sweep", "train one run per point of a grid (resumable), then compare them")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--config", help="a config JSON file (e.g. a run's config.json)")
        p.add_argument("--profile", choices=["smoke", "quick", "full", "auto"], help="apply a profile's settings")
        p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field (repeatable)")
        if name == "train":
            p.add_argument("--resume", metavar="RUN_DIR", help="continue a run folder from its last complete epoch")
        if name == "sweep":
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
    compare = sub.add_parser("compare", help="compare run folders or sweep folders: table and overlay plot")
    compare.add_argument("runs", nargs="+", help="run folders, or sweep folders (standing for their runs)")
    compare.add_argument("--columns", default="g_loss,d_loss,d_real_prob,d_fake_prob",
                         help="history columns to compare, comma-separated")
    compare.add_argument("--save", metavar="PNG", help="write the overlay plot to this PNG file")
    args = parser.parse_args(argv)

    try:
        if args.command == "info":
            from . import data, devices

            print(json.dumps(devices.describe(), indent=2))
            for name in data.DATASETS:
                if name == "image_folder":
                    continue
                where, _ = data.locate(name, "train")
                print(f"{name:14s} {where or 'not found offline'}")
            return 0
        if args.command == "handouts":
            from .handouts import build_handouts

            written = build_handouts(args.notebooks, args.out)
            print(f"{len(written)} handout(s) in {args.out}")
            return 0
        if args.command == "bench":
            from .bench import MODELS, run_bench

            run_bench(tuple(args.model or MODELS), args.batch, args.steps, args.repeats, args.out)
            return 0
        if args.command == "sweep":
            from .sweep import DONE_STATES, sweep
            from .sweep import compare as compare_runs

            result = sweep(build_config(args), _grid(args.grid), random_subset=args.random_subset,
                           seed=args.subset_seed, parallel=args.parallel, output_dir=args.output_dir,
                           name=args.name, retries=args.retries, reuse=args.reuse)
            done = [r for r, state in zip(result.runs, result.statuses) if r is not None and state in DONE_STATES]
            if done:
                table = compare_runs(done, _columns(args.columns), save_to=result.folder / "compare.png")
                print(table.to_markdown())
            print(f"sweep folder: {result.folder} ({len(result.points)} point(s), {len(result.skipped)} already done,"
                  f" {len(result.failed)} failed)")
            for label, error in result.failed.items():
                print(f"failed: {{{label}}}: {error}", file=sys.stderr)
            return 0 if not result.failed else 1
        if args.command == "compare":
            from .sweep import compare as compare_runs

            table = compare_runs(args.runs, _columns(args.columns), save_to=args.save)
            print(table.to_markdown())
            if args.save:
                print(f"overlay plot: {args.save}")
            return 0
        from .training import train

        if args.command == "train" and args.resume:
            config = None
            if args.config or args.profile or args.set:
                from .runs import read_config

                base = read_config(args.resume)
                config = base.replace(**_overrides(args.set or []))
            run = train(config, resume=args.resume, verbose=2)
        else:
            config = build_config(args)
            if args.command == "config":
                print(config.to_json())
                return 0
            run = train(config, verbose=2)
        print(f"run folder: {run.path} ({run.status})")
        return 0 if run.status == "finished" else 1
    except (ConfigError, FileNotFoundError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
