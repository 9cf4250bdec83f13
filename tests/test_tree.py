"""The tests mirror the package: ``tests/test_<module>.py`` tests ``gan_kit/<module>.py`` and
``tests/<subpackage>/test_<module>.py`` tests ``gan_kit/<subpackage>/<module>.py`` (``__init__``, ``__main__`` and
``_base`` included: ``test___main__.py`` tests ``gan_kit/__main__.py``). The project-level tests below check the
whole tree rather than one module and stay at the top of ``tests/``."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent
PACKAGE = TESTS.parent / "gan_kit"

# Project-level tests (file -> what it checks across the tree): no module of their own, so no place in the mirror.
PROJECT = {
    "test_allowed_values.py": "every allowed-value list has one home, gan_kit/config.py",
    "test_function_length.py": "every function of the package is short",
    "test_handout_text.py": "the handouts' text",
    "test_layers.py": "the package's import layers",
    "test_notebook_times.py": "the notebooks' run times",
    "test_notebooks_meta.py": "the notebooks' metadata",
    "test_public_names.py": "one home per public name",
    "test_released_notebooks.py": "every notebook run from its own release",
    "test_site.py": "the course site of scripts/course_site.py, in a browser",
    "test_tree.py": "this mirror",
    "test_words.py": "the package's prose",
}
# Test files written while the tests were moved into the mirror, not yet in their place (file -> where they go).
PENDING: dict[str, str] = {}  # test files waiting to be merged into their module's file (none left)


def test_every_test_file_is_named_after_a_module_at_the_same_path():
    wrong = []
    for path in sorted(TESTS.rglob("test_*.py")):
        relative = path.relative_to(TESTS)
        if relative.parent == Path(".") and (relative.name in PROJECT or relative.name in PENDING):
            continue
        module = PACKAGE / relative.parent / (relative.name.removeprefix("test_"))
        if not module.is_file():
            wrong.append(f"tests/{relative.as_posix()}: no gan_kit/{module.relative_to(PACKAGE).as_posix()}; "
                         "name it test_<module>.py beside the tests of its package's other modules (each test "
                         "goes to the file of the module it tests), or, if it checks the whole tree, list it in "
                         "PROJECT in tests/test_tree.py")
    assert not wrong, "test files outside the mirror of gan_kit/:\n" + "\n".join(wrong)


def test_the_lists_name_files_that_are_there():
    listed = {**PROJECT, **PENDING}
    gone = [name for name in listed if not (TESTS / name).is_file()]
    assert not gone, f"tests/test_tree.py lists test files that are not in tests/ (remove them from the list): {gone}"
    placed = [name for name in listed if (PACKAGE / name.removeprefix("test_")).is_file()]
    assert not placed, f"these are named after a module, so they are in the mirror: remove them from PROJECT or " \
                       f"PENDING in tests/test_tree.py: {placed}"


def test_every_test_folder_is_a_package():
    """Two test modules of one name in different folders (tests/test_steps.py, tests/checks/test_steps.py) import
    apart only as tests.test_steps and tests.checks.test_steps."""
    folders = {path.parent for path in TESTS.rglob("test_*.py")}
    missing = sorted(f"{f.relative_to(TESTS.parent).as_posix()}/__init__.py" for f in folders
                     if not (f / "__init__.py").is_file())
    assert not missing, f"add these files (a one-line docstring is enough): {missing}"
