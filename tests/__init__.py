"""The tests, laid out as the package: ``tests/test_<module>.py`` for each top-level module of ``gan_kit/`` and
``tests/<subpackage>/test_<module>.py`` for each module of a subpackage (``tests/test_tree.py`` checks it), beside
the project-level tests that check the whole tree. A package, so that two test modules of one name in different
folders (``tests/test_steps.py``, ``tests/checks/test_steps.py``) import apart and test modules import each other
as ``tests.<...>``."""
