"""The course site of ``make run-all`` (scripts/course_site.py), opened in headless Chromium.

The run executes notebook 00 for real (smoke) next to two tiny notebooks, one drawing a figure
and one failing; every page of the site must load in the browser with every image decoded at a
non-zero size, the index must say which notebook failed, and a screenshot is saved.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
RUNNER = REPO_ROOT / "scripts" / "run_notebooks.py"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable",
            "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome")


def _browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name) or (name if os.path.isfile(name) else None)
        if found:
            return found
    message = "no Chromium/Chrome found: install Debian's chromium package (apt-get install chromium)"
    if os.environ.get("CI") or os.environ.get("GAN_KIT_REQUIRE_BROWSER") == "1":
        pytest.fail(message + "; .ci/run installs it")
    pytest.skip(message)


def _chromium(*args: str) -> subprocess.CompletedProcess:
    command = [_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
               "--hide-scrollbars", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


PROBE = """<!DOCTYPE html><html><body><pre id="result">not loaded</pre>
<iframe id="page" src="{src}" width="1280" height="900"></iframe>
<script>
document.getElementById("page").addEventListener("load", function () {{
  var doc = this.contentDocument;
  document.getElementById("result").textContent = JSON.stringify({{
    title: doc.title,
    text: doc.body ? doc.body.innerText.slice(0, 20000) : "",
    images: Array.from(doc.images).map(function (i) {{
      return {{src: i.getAttribute("src").slice(0, 80), width: i.naturalWidth, height: i.naturalHeight,
               complete: i.complete}};
    }}),
    links: Array.from(doc.links).map(function (a) {{ return a.getAttribute("href"); }})
  }});
}});
</script></body></html>
"""


def _open(page: Path, work: Path) -> dict:
    """What the browser saw of ``page`` once it and its images loaded: title, text, images, links."""
    probe = work / f"probe-{page.stem}.html"
    probe.write_text(PROBE.format(src=page.resolve().as_uri()))
    done = _chromium("--virtual-time-budget=10000", "--dump-dom", probe.resolve().as_uri())
    start = done.stdout.find('<pre id="result">')
    assert start >= 0, f"Chromium did not render {page.name}: {done.stderr[-2000:]}"
    raw = done.stdout[start + len('<pre id="result">'):done.stdout.index("</pre>", start)]
    import html

    text = html.unescape(raw)
    assert text != "not loaded", f"{page.name} did not finish loading in the browser"
    return json.loads(text)


def _tiny(body: str, title: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell('import os\nprofile = os.environ.get("GAN_KIT_PROFILE", "auto")')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\nWhat it teaches."), params,
                nbformat.v4.new_code_cell(body)]
    return nb


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    work = tmp_path_factory.mktemp("site")
    notebooks = work / "notebooks"
    notebooks.mkdir()
    shutil.copy(REPO_ROOT / "notebooks" / "00_setup_and_data.ipynb", notebooks)
    nbformat.write(_tiny("%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()",
                         "A figure"), notebooks / "01_figure.ipynb")
    nbformat.write(_tiny("raise ValueError('boom <b>not bold</b>')", "A failure"), notebooks / "02_fails.ipynb")
    env = {**os.environ, "GAN_KIT_PROFILE": "smoke", "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, str(RUNNER), "--notebooks-dir", str(notebooks), "--output-dir",
                           str(work / "executed"), "--site-dir", str(work / "site"), "--profile", "smoke"],
                          capture_output=True, text=True, env=env, timeout=900, cwd=str(REPO_ROOT), check=False)
    assert done.returncode == 1, done.stdout + done.stderr  # one notebook fails on purpose
    assert "course site:" in done.stdout
    return work


def test_index_lists_every_notebook_with_status_time_and_first_figure(site):
    seen = _open(site / "site" / "index.html", site)
    assert seen["title"] == "gan-kit course notebooks"
    assert seen["links"] == ["00_setup_and_data.html", "01_figure.html", "02_fails.html"]
    assert "00 · Setup and data" in seen["text"] or "Setup" in seen["text"]
    assert "2 of 3 notebooks ran to the end, 1 failed" in seen["text"]
    assert "boom <b>not bold</b>" in seen["text"]  # the error is shown as text, not as markup
    thumbs = {image["src"] for image in seen["images"]}
    assert thumbs == {"figures/00_setup_and_data.png", "figures/01_figure.png"}  # the failing one drew none
    for image in seen["images"]:
        assert image["complete"] and image["width"] > 0 and image["height"] > 0, image


def test_every_page_loads_with_every_image_decoded(site):
    for page in sorted((site / "site").glob("*.html")):
        seen = _open(page, site)
        assert seen["text"].strip(), f"{page.name} is empty in the browser"
        for image in seen["images"]:
            assert image["complete"] and image["width"] > 0 and image["height"] > 0, (page.name, image)
        if page.name == "00_setup_and_data.html":
            assert len(seen["images"]) >= 2 and "Setup" in seen["text"]
        if page.name == "02_fails.html":
            assert "ValueError" in seen["text"]  # the failing copy shows its traceback


def test_screenshot_of_the_index(site):
    shot = site / "site-index.png"
    done = _chromium("--window-size=1280,900", f"--screenshot={shot}", (site / "site" / "index.html").as_uri())
    assert shot.is_file(), done.stderr[-2000:]
    image = np.asarray(Image.open(shot).convert("L"))
    assert image.shape == (900, 1280) and image.std() > 5  # a page was drawn, not a blank frame
    keep = os.environ.get("GAN_KIT_TEST_ARTIFACTS")
    if keep:  # CI can keep the screenshot: GAN_KIT_TEST_ARTIFACTS=<folder>
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / "site-index.png")
