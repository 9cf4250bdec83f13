"""Tests of ``gan_kit.instructor``, one file per module: ``test_<module>.py`` tests
``gan_kit/instructor/<module>.py``."""
