"""The package's layers point one way: an import graph of gan_kit/ (imports inside functions included) has no
cycle, no import points up the list of layers, the analysis layer runs without TensorFlow, and the public API
works after a bare ``import gan_kit``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gan_kit"

# Lowest first. A module may import modules of its own layer or of a lower one; within a layer the cycle check
# keeps the imports one-way. Sub-packages (data/, metrics/) are one entry each.
LAYERS: list[tuple[str, ...]] = [
    ("fileio", "images", "devices", "ring", "recipes", "exercises"),
    ("config",),
    ("runs",),
    ("diagnostics", "plotting"),
    ("records", "observations", "compare", "report"),  # analysis: run folders in, text and figures out
    ("data",),
    ("models", "losses", "augment"),
    ("metrics",),
    ("gan", "steps", "conditional", "vae", "toy"),
    ("tracking", "checkpoints", "callbacks"),
    ("multiworker", "training"),
    ("sweep", "lab"),
    ("checks",),
    ("instructor", "__main__"),
]
ANALYSIS = ("runs", "config", "diagnostics", "plotting", "records", "observations", "compare", "report")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_package(name: str, modules: dict[str, Path]) -> bool:
    return modules[name].name == "__init__.py"


def _imports(name: str, source: str, modules: dict[str, Path]) -> set[str]:
    """gan_kit modules that module ``name`` (its ``source``) imports anywhere (functions included)."""
    package = name if _is_package(name, modules) else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "gan_kit"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "gan_kit":
                continue
            found.add(target)
            found |= {f"{target}.{alias.name}" for alias in node.names if f"{target}.{alias.name}" in modules}
    resolved = set()
    for target in found:
        while target not in modules and "." in target:
            target = target.rsplit(".", 1)[0]
        ancestor = name.startswith(target + ".") or target == name
        if target in modules and not ancestor:  # a parent package is always imported before its children
            resolved.add(target)
    return resolved


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path.read_text(), modules) for name, path in modules.items()}


def _unit(module: str) -> str:
    """The layer entry a module belongs to: ``gan_kit.metrics.maths`` -> ``metrics``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer_of() -> dict[str, int]:
    return {unit: i for i, layer in enumerate(LAYERS) for unit in layer}


def test_every_module_has_a_layer():
    units = {_unit(m) for m in _modules()} - {"__init__"}
    missing = sorted(units - set(_layer_of()))
    assert not missing, f"add these modules to LAYERS in tests/test_layers.py: {missing}"


def test_the_import_graph_has_no_cycle():
    graph = _graph()
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_no_import_points_up_the_layers():
    layer = _layer_of()
    upward = []
    for module, targets in _graph().items():
        if module == "gan_kit":
            continue  # the package's lazy __getattr__ names every module without importing any
        for target in targets:
            a, b = _unit(module), _unit(target)
            if a != b and b != "__init__" and layer[b] > layer[a]:
                upward.append(f"{module} -> {target}")
    assert not upward, "imports pointing up the layers:\n" + "\n".join(sorted(upward))


def test_the_graph_sees_imports_inside_functions():
    """The checks above can fail: an import of the training layer inside a function of fileio is found, and a
    sub-module import names the sub-module and its package."""
    modules = _modules()
    source = (PACKAGE / "fileio.py").read_text() + "\n\ndef _up():\n    from .training import train\n"
    assert "gan_kit.training" in _imports("gan_kit.fileio", source, modules)
    assert _imports("gan_kit.callbacks", "from .metrics import maths\n", modules) == {"gan_kit.metrics",
                                                                                   "gan_kit.metrics.maths"}


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent,
                          timeout=300)


def test_analysis_layer_imports_without_tensorflow():
    imports = "; ".join(f"import gan_kit.{m}" for m in ANALYSIS)
    out = _run(f"import sys, gan_kit; {imports}; print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", f"the analysis layer imported {out.stdout.strip()}"


@pytest.mark.parametrize("expression", [
    "gan_kit.metrics.evaluate", "gan_kit.sweep.sweep", "gan_kit.vae.VAE", "gan_kit.conditional.ConditionalGAN",
    "gan_kit.report.build_report", "gan_kit.lab.run_lab", "gan_kit.diagnostics.check_all", "gan_kit.toy.train_toy",
    "gan_kit.checks.CheckFailed", "gan_kit.compare.compare", "gan_kit.data.load_arrays", "gan_kit.train",
    "gan_kit.Run", "gan_kit.GAN",
])
def test_public_api_after_a_bare_import(expression):
    out = _run(f"import gan_kit; print({expression}.__name__)")
    assert out.returncode == 0, out.stderr[-2000:]


def test_bare_import_does_not_import_tensorflow():
    out = _run("import sys, gan_kit; print('tensorflow' in sys.modules)")
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr
