#!/usr/bin/env python
"""Run every course notebook headlessly with papermill (the engine behind ``make run-all``).

Each ``notebooks/NN_*.ipynb`` (two digits, sorted) is executed with the chosen profile
injected as the papermill parameter ``profile`` (and exported as ``GAN_KIT_PROFILE`` to
the kernel) and written, executed, to ``outputs/notebooks/<same name>``. A failing
notebook does not stop the others: its failing cell is recorded, the summary table and
``outputs/notebooks/summary.json`` list every notebook, and the exit status is 1 when any
notebook failed. Then the course site is written under ``outputs/site/``
(``scripts/course_site.py``): every executed notebook as HTML and an index page with each
notebook's status, time and first figure.

Examples::

    python scripts/run_notebooks.py                      # profile from $GAN_KIT_PROFILE or auto
    python scripts/run_notebooks.py --profile smoke      # the CI profile, seconds per notebook
    python scripts/run_notebooks.py --only 02 --only 03  # a subset (glob or substring)

The executed copy is first written under a temporary name in the output folder and then
renamed over ``<name>.ipynb`` in one step, so an interrupted run never leaves a
half-written notebook where the previous result was.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import fnmatch
import json
import os
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
EXIT_FAILED = 1
EXIT_NOTHING_TO_RUN = 2


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Execute the course notebooks with papermill and summarise the results.",
    )
    parser.add_argument(
        "--profile",
        default=None,
        help="smoke, quick, full or auto (default: $GAN_KIT_PROFILE, else auto = full on a GPU, quick otherwise).",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="PATTERN",
        help="run only notebooks whose file name matches this glob or contains this text; may be repeated.",
    )
    parser.add_argument(
        "--notebooks-dir",
        type=Path,
        default=REPO_ROOT / "notebooks",
        help="folder holding the NN_*.ipynb notebooks (default: notebooks/).",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=REPO_ROOT / "outputs" / "notebooks",
        help="where executed notebooks and summary.json go (default: outputs/notebooks/).",
    )
    parser.add_argument(
        "--site-dir",
        type=Path,
        default=REPO_ROOT / "outputs" / "site",
        help="where the HTML course site goes (default: outputs/site/).",
    )
    parser.add_argument(
        "--no-site",
        action="store_true",
        help="do not write the HTML course site.",
    )
    parser.add_argument(
        "--cell-timeout",
        type=int,
        default=None,
        metavar="SECONDS",
        help="fail a notebook when one cell runs longer than this (default: no limit).",
    )
    parser.add_argument(
        "--kernel",
        default="python3",
        help="Jupyter kernel name (default: python3).",
    )
    return parser.parse_args(argv)


def _resolve_profile(requested: str | None) -> str:
    """The concrete profile, resolved by the kit itself so notebooks and runner agree."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from gan_kit.config import resolve_profile

    return resolve_profile(requested)


def find_notebooks(folder: Path, patterns: list[str]) -> list[Path]:
    """Notebooks ``NN_*.ipynb`` in ``folder``, sorted by name, filtered by ``patterns``."""
    found = sorted(p for p in folder.glob(NOTEBOOK_GLOB) if p.is_file())
    if not patterns:
        return found
    return [
        p
        for p in found
        if any(fnmatch.fnmatch(p.name, pat) or pat in p.name for pat in patterns)
    ]


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def run_one(notebook: Path, output_dir: Path, profile: str, kernel: str, cell_timeout: int | None) -> dict:
    """Execute one notebook; never raises for a notebook error, returns its summary row."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    final = output_dir / notebook.name
    tmp = output_dir / f".{notebook.stem}.tmp-{os.getpid()}.ipynb"
    row: dict = {
        "notebook": notebook.name,
        "profile": profile,
        "status": "ok",
        "seconds": None,
        "minutes": None,
        "failed_cell": None,
        "failed_cell_index": None,
        "error": None,
        "output": str(final),
    }
    engine_kwargs = {}
    if cell_timeout is not None:
        engine_kwargs["execution_timeout"] = cell_timeout
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(notebook),
            str(tmp),
            parameters={"profile": profile},
            kernel_name=kernel,
            cwd=str(REPO_ROOT),
            progress_bar=False,
            log_output=False,
            **engine_kwargs,
        )
    except PapermillExecutionError as exc:
        row["status"] = "failed"
        row["failed_cell"] = exc.exec_count
        row["failed_cell_index"] = exc.cell_index
        row["error"] = f"{exc.ename}: {exc.evalue}"
    except Exception as exc:  # noqa: BLE001 - kernel death, cell timeout, bad notebook: record it, keep going
        row["status"] = "failed"
        row["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        seconds = time.perf_counter() - start
        row["seconds"] = round(seconds, 2)
        row["minutes"] = round(seconds / 60.0, 2)
        if tmp.exists():
            os.replace(tmp, final)  # one atomic step; the failed copy shows the traceback
        elif row["status"] == "failed":
            row["output"] = None
    return row


def _table(rows: list[dict]) -> str:
    headers = ("notebook", "profile", "status", "minutes", "failing cell")
    body = []
    for r in rows:
        if r["status"] == "ok":
            cell = ""
        else:
            where = f"cell {r['failed_cell']}" if r["failed_cell"] is not None else "?"
            cell = f"{where}: {r['error']}"
            if len(cell) > 70:
                cell = cell[:67] + "..."
        body.append((r["notebook"], r["profile"], r["status"], f"{r['minutes']:.2f}", cell))
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *body)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip() for line in [headers, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        profile = _resolve_profile(args.profile)
    except ValueError as exc:  # gan_kit.config.ConfigError: an unknown profile name
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NOTHING_TO_RUN
    notebooks_dir = args.notebooks_dir.resolve()
    output_dir = args.output_dir.resolve()
    notebooks = find_notebooks(notebooks_dir, args.only)
    if not notebooks:
        what = f" matching {args.only}" if args.only else ""
        print(f"No notebooks {NOTEBOOK_GLOB}{what} in {notebooks_dir}.", file=sys.stderr)
        return EXIT_NOTHING_TO_RUN

    output_dir.mkdir(parents=True, exist_ok=True)
    # The kernel inherits this, so code that reads the environment agrees with the parameter.
    os.environ["GAN_KIT_PROFILE"] = profile
    started = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    print(f"Running {len(notebooks)} notebook(s) with profile '{profile}' -> {output_dir}", flush=True)

    rows = []
    for nb in notebooks:
        print(f"  {nb.name} ...", end=" ", flush=True)
        row = run_one(nb, output_dir, profile, args.kernel, args.cell_timeout)
        rows.append(row)
        note = "" if row["status"] == "ok" else f" (cell {row['failed_cell']}: {row['error']})"
        print(f"{row['status']} in {row['seconds']:.1f} s{note}", flush=True)

    failed = [r for r in rows if r["status"] != "ok"]
    summary = {
        "profile": profile,
        "started": started,
        "notebooks_dir": str(notebooks_dir),
        "output_dir": str(output_dir),
        "total": len(rows),
        "failed": len(failed),
        "notebooks": rows,
    }
    _atomic_write_text(output_dir / "summary.json", json.dumps(summary, indent=2) + "\n")

    print()
    print(_table(rows))
    print()
    print(f"{len(rows) - len(failed)} ok, {len(failed)} failed; summary in {output_dir / 'summary.json'}")
    if not args.no_site:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from course_site import build_site

        print(f"course site: {build_site(summary, args.site_dir.resolve())}")
    return EXIT_FAILED if failed else 0


if __name__ == "__main__":
    sys.exit(main())
