"""Atomic writes (``gan_kit.fileio``): a kill during a write leaves the previous file."""

from __future__ import annotations

import signal
import textwrap

from gan_kit import fileio, runs
from tests.run_helpers import _run


def test_kill_during_a_write_leaves_the_previous_file(tmp_path):
    target = tmp_path / "history.csv"
    fileio.atomic_write_text(target, "epoch,g_loss\n1,0.5\n")
    script = textwrap.dedent(
        f"""
        import os, signal
        from gan_kit import fileio
        def die(fd):
            os.kill(os.getpid(), signal.SIGKILL)  # the new bytes are in the temp file, not yet renamed
        os.fsync = die
        fileio.atomic_write_text({str(target)!r}, "epoch,g_loss\\n" + "1,0.5\\n" * 100000)
        """
    )
    result = _run(["-c", script])
    assert result.returncode == -signal.SIGKILL
    assert target.read_text() == "epoch,g_loss\n1,0.5\n"
    assert runs.load_history(tmp_path) == {"epoch": [1.0], "g_loss": [0.5]}
