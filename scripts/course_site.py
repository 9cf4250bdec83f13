#!/usr/bin/env python
"""The browsable course site: every executed notebook as an HTML page, and an index page.

``make run-all`` builds it after running the notebooks (``scripts/run_notebooks.py``); it can
also be rebuilt from an earlier run's executed notebooks and their ``summary.json``::

    python scripts/course_site.py                          # outputs/notebooks -> outputs/site
    python scripts/course_site.py --from outputs/notebooks --to outputs/site

The index lists each notebook's title, status (with the failing cell and error when it
failed), run time and first figure. Pages are nbconvert's HTML export with the images
embedded, so the folder can be zipped, served or opened from disk as it is.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import os
import shutil
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
FIGURES = "figures"


def notebook_title(notebook) -> str:
    """The first Markdown heading of a notebook (its title), or an empty string."""
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip()
    return ""


def first_figure(notebook) -> bytes | None:
    """The PNG bytes of the notebook's first image output, or None when it has none."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" in data:
                payload = data["image/png"]
                return base64.b64decode("".join(payload) if isinstance(payload, list) else payload)
    return None


def _page(notebook, title: str) -> str:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    body, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": title}})
    return body


def _atomic_write(path: Path, data: bytes | str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    if isinstance(data, str):
        tmp.write_text(data, encoding="utf-8")
    else:
        tmp.write_bytes(data)
    os.replace(tmp, path)


def _status_cell(row: dict) -> str:
    if row.get("status") == "ok":
        return '<td class="ok">ok</td>'
    where = f"cell {row['failed_cell']}: " if row.get("failed_cell") is not None else ""
    return f'<td class="failed">failed<br><small>{html.escape(where + str(row.get("error") or ""))}</small></td>'


INDEX_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: 0.5rem; text-align: left; vertical-align: middle; }
td.ok { color: #17692b; font-weight: bold; }
td.failed { color: #a4161a; font-weight: bold; }
td.failed small { font-weight: normal; }
img.thumb { max-height: 9rem; max-width: 18rem; }
"""


def build_site(summary: dict, site_dir: Path) -> Path:
    """Write one HTML page per executed notebook of ``summary`` (``run_notebooks.py``'s summary.json) and
    ``index.html`` into ``site_dir``; returns the index's path.

    A notebook whose executed copy is missing is listed with its status and no page.
    """
    import nbformat

    site_dir.mkdir(parents=True, exist_ok=True)
    (site_dir / FIGURES).mkdir(exist_ok=True)
    rows_html = []
    for row in summary.get("notebooks", []):
        name = Path(row["notebook"]).stem
        executed = Path(row["output"]) if row.get("output") else None
        title, link, figure = name, "", ""
        if executed is not None and executed.is_file():
            notebook = nbformat.read(executed, as_version=4)
            title = notebook_title(notebook) or name
            _atomic_write(site_dir / f"{name}.html", _page(notebook, title))
            link = f"{name}.html"
            png = first_figure(notebook)
            if png is not None:
                _atomic_write(site_dir / FIGURES / f"{name}.png", png)
                figure = f'<img class="thumb" src="{FIGURES}/{name}.png" alt="first figure of {html.escape(name)}">'
            else:
                figure = "<small>no figure</small>"
        heading = f'<a href="{link}">{html.escape(title)}</a>' if link else html.escape(title)
        minutes = f"{row['minutes']:.1f}" if isinstance(row.get("minutes"), (int, float)) else ""
        rows_html.append(f"<tr><td>{heading}<br><small>{html.escape(row['notebook'])}</small></td>"
                         f"{_status_cell(row)}<td>{minutes}</td><td>{figure}</td></tr>")
    failed = sum(1 for r in summary.get("notebooks", []) if r.get("status") != "ok")
    total = len(summary.get("notebooks", []))
    profile = html.escape(str(summary.get("profile", "?")))
    started = html.escape(str(summary.get("started", "?")))
    outcome = f"{total - failed} of {total} notebooks ran to the end" + (f", {failed} failed" if failed else "")
    rows = "\n".join(rows_html)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>gan-kit course notebooks</title>
<style>{INDEX_STYLE}</style></head>
<body>
<h1>gan-kit course notebooks</h1>
<p>Profile <b>{profile}</b>, run started {started}: {outcome}.</p>
<table>
<thead><tr><th>notebook</th><th>status</th><th>minutes</th><th>first figure</th></tr></thead>
<tbody>
{rows}
</tbody></table>
</body></html>
"""
    index = site_dir / "index.html"
    _atomic_write(index, page)
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, default=REPO_ROOT / "outputs" / "notebooks",
                        help="folder of executed notebooks with summary.json (default: outputs/notebooks)")
    parser.add_argument("--to", dest="site", type=Path, default=REPO_ROOT / "outputs" / "site",
                        help="where the site goes (default: outputs/site)")
    args = parser.parse_args(argv)
    summary_path = args.source / "summary.json"
    if not summary_path.is_file():
        print(f"error: {summary_path} not found: run the notebooks first (make run-all).", file=sys.stderr)
        return 2
    if args.site.exists() and not (args.site / "index.html").exists() and any(args.site.iterdir()):
        print(f"error: {args.site} exists and is not a course site (no index.html); choose another --to.",
              file=sys.stderr)
        return 2
    if (args.site / FIGURES).is_dir():  # figures of notebooks no longer in the summary go
        shutil.rmtree(args.site / FIGURES)
    index = build_site(json.loads(summary_path.read_text()), args.site)
    print(f"course site: {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
