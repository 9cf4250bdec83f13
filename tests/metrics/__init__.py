"""Tests of ``gan_kit.metrics``, one file per module: ``test_<module>.py`` tests ``gan_kit/metrics/<module>.py``."""
