"""Tests of ``gan_kit.data``, one file per module: ``test_<module>.py`` tests ``gan_kit/data/<module>.py``."""
