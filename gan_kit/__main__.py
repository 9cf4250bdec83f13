"""Command line: ``python -m gan_kit {info,train,config}``; calls the same functions as the notebooks."""

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
    for name, text in (("train", "train a GAN and write a run folder"), ("config", "print the resolved config")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--config", help="a config JSON file (e.g. a run's config.json)")
        p.add_argument("--profile", choices=["smoke", "quick", "full", "auto"], help="apply a profile's settings")
        p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field (repeatable)")
        if name == "train":
            p.add_argument("--resume", metavar="RUN_DIR", help="continue a run folder from its last complete epoch")
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
