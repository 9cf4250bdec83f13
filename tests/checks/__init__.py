"""Tests of ``gan_kit.checks``, one file per module: ``test_<module>.py`` tests ``gan_kit/checks/<module>.py``."""
