"""What every check shares (``gan_kit.checks._base``): switching the kit's own code off."""

from __future__ import annotations

import re

import numpy as np
import pytest
import tensorflow as tf

from gan_kit import checks

# Imported under other names before any check runs: the checks must refuse these too.
from gan_kit.losses import bce_generator_loss as kit_g_loss
from tests.checks.conftest import KIT


# ================================================================= kit_disabled itself
def test_kit_disabled_restores_the_code_when_the_block_raises():
    before = kit_g_loss.__code__
    with pytest.raises(checks.KitCallError, match=re.escape(f"{KIT} gan_kit.losses.bce_generator_loss()")):
        with checks.kit_disabled(["losses:bce_generator_loss"]):
            kit_g_loss(tf.zeros((1, 1)))
    assert kit_g_loss.__code__ is before
    assert np.isclose(float(kit_g_loss(tf.zeros((1, 1)))), np.log(2.0))
