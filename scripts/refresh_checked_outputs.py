#!/usr/bin/env python3
"""Re-run notebooks under the smoke profile and store the outputs of their ``# NBVAL_CHECK_OUTPUT`` cells.

Committed notebooks hold only the deterministic outputs nbval compares; every other output is
cleared. Run this after changing what a checked cell prints:

    GAN_KIT_DATA_DIR=../shared/data .venv/bin/python scripts/refresh_checked_outputs.py notebooks/05_gan_vs_vae.ipynb
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
ROOT = Path(__file__).resolve().parents[1]


def _checked(cell) -> bool:
    lines = cell.source.lstrip().splitlines()
    return cell.cell_type == "code" and bool(lines) and lines[0].strip() == CHECK_MARK


def refresh(path: Path, timeout: int = 900, keep: Path | None = None) -> int:
    """Execute ``path`` under smoke and keep only its checked cells' outputs; returns how many were stored.
    ``keep``: a folder to write the whole executed notebook into, for reading."""
    committed = nbformat.read(path, as_version=4)
    executed = nbformat.read(path, as_version=4)
    os.environ["GAN_KIT_PROFILE"] = "smoke"
    os.environ.setdefault("MPLBACKEND", "Agg")
    client = NotebookClient(executed, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}})
    try:
        client.execute()
    finally:
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            nbformat.write(executed, keep / path.name)
    stored = 0
    for mine, ran in zip(committed.cells, executed.cells):
        if mine.cell_type != "code":
            continue
        if _checked(mine):
            mine.outputs = [o for o in ran.outputs if o.get("output_type") != "stream" or o.get("name") == "stdout"]
            mine.execution_count = ran.execution_count or 1
            stored += 1
        else:
            mine.outputs, mine.execution_count = [], None
    nbformat.write(committed, path)
    return stored


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--keep", type=Path, default=None, help="also write each executed notebook into this folder")
    args = parser.parse_args(argv)
    for path in args.notebooks:
        print(f"{path}: {refresh(path, keep=args.keep)} checked cell(s) stored")
    return 0


if __name__ == "__main__":
    sys.exit(main())
