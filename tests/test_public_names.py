"""One home per public name: no name is exported from two gan_kit modules.

A module's ``__all__`` lists the names whose home it is: the functions, classes and constants it defines, or,
for the sub-packages ``gan_kit.metrics``, ``gan_kit.checks`` and ``gan_kit.data``, those their submodules define
for them (a submodule then leaves them out of its own ``__all__``). ``gan_kit.<module>.<name>`` is the one
documented path of a name; a module may import another's names for its own use without listing them. The
top-level ``gan_kit`` is the front door: it keeps a few documented shortcuts (``FRONT_DOOR``) and its modules.
"""

from __future__ import annotations

import collections
import importlib
import inspect
import pkgutil
import types
from typing import Any

import pytest

import gan_kit

# The top-level shortcuts; their home is gan_kit.<module> (config, training, runs, gan, report, metrics).
FRONT_DOOR = {"Config", "ConfigError", "for_profile", "resolve_profile", "train", "Run", "GAN", "build_report",
              "evaluate"}

# Names two modules both export, as different objects, each with its own meaning in its own module.
ALLOWED_TWICE: dict[str, tuple[set[str], str]] = {
    "read_state": ({"gan_kit.checkpoints", "gan_kit.runs"},
                   "checkpoints.read_state: the last checkpoint's state; runs.read_state: a run's status"),
    "scan": ({"gan_kit.diagnostics", "gan_kit.instructor.leaks"},
             "diagnostics.scan replays a run's history; instructor.leaks.scan searches a release for secrets"),
    "HISTORY_COLUMNS": ({"gan_kit.gan", "gan_kit.vae"}, "each model family's own history.csv columns"),
    "MODELS": ({"gan_kit.config", "gan_kit.instructor.bench"},
               "config.MODELS: the allowed `model` values; instructor.bench.MODELS: the benchmarked networks"),
}


def _modules() -> dict[str, types.ModuleType]:
    """Every gan_kit module, imported (``__main__`` left out: importing it runs nothing, but it is the CLI)."""
    found = {"gan_kit": gan_kit}
    for info in pkgutil.walk_packages(gan_kit.__path__, "gan_kit."):
        if info.name.rsplit(".", 1)[-1] != "__main__":
            found[info.name] = importlib.import_module(info.name)
    return found


MODULES = _modules()


def _exports() -> dict[str, list[tuple[str, Any]]]:
    """Name -> [(module, object)] for every name in every module's ``__all__`` (the top level's modules and
    shortcuts left out: the shortcuts are checked on their own, and a module is not a name it exports)."""
    exports: dict[str, list[tuple[str, Any]]] = collections.defaultdict(list)
    for module_name, module in MODULES.items():
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name)
            if module is gan_kit and (isinstance(value, types.ModuleType) or name in FRONT_DOOR):
                continue
            exports[name].append((module_name, value))
    return exports


def test_every_module_is_imported_and_lists_its_names():
    assert len(MODULES) > 50 and "gan_kit.metrics.maths" in MODULES and "gan_kit.checks.recording" in MODULES
    for module_name, module in MODULES.items():
        listed = getattr(module, "__all__", [])
        assert isinstance(listed, list) and len(set(listed)) == len(listed), module_name
        missing = [name for name in listed if not hasattr(module, name)]
        assert not missing, f"{module_name}.__all__ names {missing}, which the module does not have"


def test_the_front_door_keeps_only_its_shortcuts_and_modules():
    extra = {n for n in gan_kit.__all__ if not isinstance(getattr(gan_kit, n), types.ModuleType)} - FRONT_DOOR
    assert not extra, f"gan_kit.__all__ lists {sorted(extra)}: import them from their modules instead"
    for name in FRONT_DOOR:
        assert getattr(gan_kit, name).__module__.startswith("gan_kit."), name


def test_no_name_is_exported_from_two_modules():
    twice = {name: sorted(m for m, _ in homes) for name, homes in _exports().items() if len(homes) > 1}
    unexpected = {name: homes for name, homes in twice.items()
                  if name not in ALLOWED_TWICE or set(homes) != ALLOWED_TWICE[name][0]}
    assert not unexpected, (f"names in two modules' __all__: {unexpected}; keep each in its home's __all__ only "
                            "(or, for two different objects that are both public, add the pair to ALLOWED_TWICE)")
    stale = sorted(set(ALLOWED_TWICE) - set(twice))
    assert not stale, f"ALLOWED_TWICE lists {stale}, which no longer have two homes: remove them"


def test_no_function_or_class_is_exported_from_two_modules():
    homes: dict[int, list[str]] = collections.defaultdict(list)
    for name, exported in _exports().items():
        for module_name, value in exported:
            if inspect.isfunction(value) or inspect.isclass(value):
                homes[id(value)].append(f"{module_name}.{name}")
    twice = sorted(paths for paths in homes.values() if len({p.rsplit(".", 1)[0] for p in paths}) > 1)
    assert not twice, f"one object, exported from several modules: {twice}"


@pytest.mark.parametrize("module_name", sorted(m for m in MODULES if m != "gan_kit"))
def test_a_module_lists_only_what_it_or_its_submodules_define(module_name):
    """A re-export (a function or class defined elsewhere in ``__all__``) gives a name two homes."""
    module = MODULES[module_name]
    prefix = module_name + "." if hasattr(module, "__path__") else None
    foreign = []
    for name in getattr(module, "__all__", ()):
        value = getattr(module, name)
        if inspect.isfunction(value) or inspect.isclass(value):
            home = value.__module__
            if home != module_name and not (prefix and home.startswith(prefix)):
                foreign.append(f"{name} (from {home})")
    assert not foreign, f"{module_name}.__all__ re-exports {foreign}: import them from their home instead"
