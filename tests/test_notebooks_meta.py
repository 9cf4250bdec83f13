"""Fast checks on the course notebooks' structure, and on the headless notebook runner.

The structural checks read the notebooks with nbformat only (no kernel), so they run in
well under a second. The runner test executes two tiny notebooks through
``scripts/run_notebooks.py`` in a subprocess to prove that one failing notebook does not
stop the others and that the failure is recorded with its cell.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
RUNNER = REPO_ROOT / "scripts" / "run_notebooks.py"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
CHECK_MARK = "# NBVAL_CHECK_OUTPUT"


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=nbformat.NO_CONVERT)


def _is_checked(cell) -> bool:
    lines = cell.source.lstrip().splitlines()
    return bool(lines) and lines[0].strip() == CHECK_MARK


def test_course_notebooks_exist():
    names = {p.name for p in NOTEBOOKS}
    assert {"00_setup_and_data.ipynb", "02_dcgan_cifar10.ipynb"} <= names, names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
class TestNotebookStructure:
    def test_valid_nbformat_v4(self, path):
        nb = _read(path)
        assert nb.nbformat == 4
        nbformat.validate(nb)

    def test_kernelspec_is_python3(self, path):
        nb = _read(path)
        assert nb.metadata.get("kernelspec", {}).get("name") == "python3"

    def test_one_parameters_cell_reading_the_profile(self, path):
        nb = _read(path)
        tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged 'parameters', expected exactly 1"
        cell = tagged[0]
        assert cell.cell_type == "code"
        assert "GAN_KIT_PROFILE" in cell.source
        assert "profile =" in cell.source or "profile=" in cell.source

    def test_opens_with_learning_goals(self, path):
        nb = _read(path)
        first = nb.cells[0]
        assert first.cell_type == "markdown"
        assert "Learning goals" in first.source

    def test_closes_with_recap_and_exercises(self, path):
        text = "\n".join(c.source for c in _read(path).cells)
        assert "What you saw" in text
        assert "Exercises" in text

    def test_outputs_only_in_checked_cells(self, path):
        nb = _read(path)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            if _is_checked(cell):
                assert cell.outputs, f"{path.name} cell {i}: NBVAL_CHECK_OUTPUT cell has no stored output to compare"
                # nbval treats a cell with execution_count None as unrun and refuses its outputs.
                assert cell.execution_count is not None, f"{path.name} cell {i}: checked cell needs an execution_count"
            else:
                assert not cell.outputs, f"{path.name} cell {i}: stored output in an unchecked cell"
                assert cell.execution_count is None, f"{path.name} cell {i}: stale execution_count"

    def test_no_stored_images(self, path):
        nb = _read(path)
        for i, cell in enumerate(nb.cells):
            for out in cell.get("outputs", []):
                assert "image/png" not in out.get("data", {}), f"{path.name} cell {i} stores a PNG"

    def test_checked_outputs_are_plain_stdout(self, path):
        """Checked cells compare text only; stderr (TF warnings) would make them flaky."""
        nb = _read(path)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and _is_checked(cell):
                for out in cell.outputs:
                    assert out.output_type in ("stream", "execute_result"), (path.name, i, out.output_type)
                    if out.output_type == "stream":
                        assert out.name == "stdout", (path.name, i, out.name)


# --------------------------------------------------------------------------- runner


def _tiny_notebook(body: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell('import os\nprofile = os.environ.get("GAN_KIT_PROFILE", "auto")')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("## Learning goals\nnone"),
        params,
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell(body),
        nbformat.v4.new_code_cell("print('end', profile)"),
    ]
    return nb


def test_runner_keeps_going_and_records_the_failing_cell(tmp_path):
    nb_dir = tmp_path / "notebooks"
    out_dir = tmp_path / "out"
    nb_dir.mkdir()
    nbformat.write(_tiny_notebook("raise ValueError('boom from the test')"), str(nb_dir / "01_fails.ipynb"))
    nbformat.write(_tiny_notebook("y = x + 1"), str(nb_dir / "02_ok.ipynb"))
    nbformat.write(_tiny_notebook("y = 2"), str(nb_dir / "helper.ipynb"))  # not NN_*: never run

    env = {**os.environ, "GAN_KIT_PROFILE": "smoke"}
    proc = subprocess.run(
        [sys.executable, str(RUNNER), "--notebooks-dir", str(nb_dir), "--output-dir", str(out_dir),
         "--site-dir", str(tmp_path / "site"), "--profile", "smoke", "--cell-timeout", "120"],
        check=False, capture_output=True, text=True, env=env, timeout=300, cwd=str(REPO_ROOT),
    )
    assert proc.returncode != 0, proc.stdout + proc.stderr

    summary = json.loads((out_dir / "summary.json").read_text())
    rows = {r["notebook"]: r for r in summary["notebooks"]}
    assert set(rows) == {"01_fails.ipynb", "02_ok.ipynb"}
    assert summary["failed"] == 1 and summary["profile"] == "smoke"

    ok = rows["02_ok.ipynb"]
    assert ok["status"] == "ok" and ok["failed_cell"] is None and ok["profile"] == "smoke"

    bad = rows["01_fails.ipynb"]
    assert bad["status"] == "failed"
    assert "ValueError" in bad["error"] and "boom from the test" in bad["error"]
    # Execution counts: parameters cell 1, papermill's injected parameters 2, "x = 1" 3, the raise 4.
    assert bad["failed_cell"] == 4

    # Both executed copies are in place under their own names, no temporary files left.
    assert sorted(p.name for p in out_dir.iterdir()) == ["01_fails.ipynb", "02_ok.ipynb", "summary.json"]
    executed = nbformat.read(str(out_dir / "02_ok.ipynb"), as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    assert "01_fails.ipynb" in proc.stdout and "failed" in proc.stdout


def test_runner_only_filter_and_nothing_to_run(tmp_path):
    nb_dir = tmp_path / "notebooks"
    nb_dir.mkdir()
    nbformat.write(_tiny_notebook("y = 1"), str(nb_dir / "01_a.ipynb"))
    proc = subprocess.run(
        [sys.executable, str(RUNNER), "--notebooks-dir", str(nb_dir), "--output-dir", str(tmp_path / "out"),
         "--site-dir", str(tmp_path / "site"), "--profile", "smoke", "--only", "99_*"],
        check=False, capture_output=True, text=True, timeout=120, cwd=str(REPO_ROOT),
    )
    assert proc.returncode == 2
    assert "No notebooks" in proc.stderr
