"""A graded notebook's scratch copy, and the two layers that keep its code there.

Each (student, notebook) job gets its own scratch folder::

    <job>/              mode 0700; owned by the job's uid when the grader runs as root
      gan_kit/          a copy of the kit's package (what the notebook's set-up cell imports)
      notebooks/NAME    the submission, copied (the kernel starts here)
      outputs/          what the notebook writes (run folders, figures)
      home/  tmp/       HOME (IPython, Jupyter, Keras, Matplotlib and the metrics cache live under it), TMPDIR
      .sandbox/         sitecustomize.py: the audit hook (layer 1), on the kernel's PYTHONPATH
      record/           what the hidden tests record for the grader to judge (:mod:`.verdicts`)
      .runner/          runner.py: a copy of :mod:`.runner`, so a job runs whatever package it was given (a student
                        release has no ``gan_kit.instructor``)

Layer 1, in every case: the audit hook of :mod:`.guard` refuses, with ``PermissionError``, Python-level
writes, deletes, renames, chmods and links outside the job folder, reads of the solutions, the submissions, the
grades and the other jobs' folders, and starting processes. Layer 2, when the grader runs as root (CI does): the
runner and its kernel run under an unprivileged uid and gid of their own (60000 + a slot number claimed for the
job, no supplementary group, ``no_new_privs``), so even C code cannot write, delete or chmod a root-owned file;
every process left with that uid is killed when the job ends. Where the interpreter lies in a folder other users
cannot read (``/root/.pyenv``, as on this project's machines), the job keeps one capability,
``CAP_DAC_READ_SEARCH`` (read and traverse any file, change none), through ``setpriv``; then C code could read
files the audit hook keeps Python from reading, but still change nothing it does not own.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

UID_BASE, UID_SLOTS = 60000, 5000
_LOCKS = Path(tempfile.gettempdir()) / "gan-kit-grade-uids"
_READ_CAP = "dac_read_search"
RUNNER = "runner.py"  # the runner's copy in the job's .runner folder
_JOB_DIRS = ("notebooks", "outputs", "home", "tmp", ".sandbox", ".runner", "record")


@dataclass(frozen=True)
class Identity:
    """Who a job's processes run as when the grader is root: their uid/gid, and whether they keep the read
    capability (see the module's docstring)."""

    uid: int
    gid: int
    read_cap: bool = False

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` run under this identity: through ``setpriv`` when it keeps the read capability (with
        ``no_new_privs`` and a bounding set of that one capability), else ``argv`` itself (:meth:`popen_kwargs`
        switches the uid, dropping every capability before ``exec``)."""
        if not self.read_cap:
            return argv
        cap = [f"--{which}=-all,+{_READ_CAP}" for which in ("bounding-set", "inh-caps", "ambient-caps")]
        return [shutil.which("setpriv") or "setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups",
                "--no-new-privs", *cap, "--", *argv]

    def popen_kwargs(self) -> dict:
        """What Popen needs besides :meth:`command`."""
        return {} if self.read_cap else {"user": self.uid, "group": self.gid, "extra_groups": []}


@dataclass
class Scratch:
    """One job's scratch folder (see the module's docstring)."""

    root: Path
    notebook: Path
    identity: Identity | None = None
    unreadable: list[Path] = field(default_factory=list)

    @property
    def record(self) -> Path:
        """Where the hidden tests' recorders write the student's outputs (``gan_kit.checks.recording``)."""
        return self.root / "record"

    @property
    def runner(self) -> Path:
        """The job's copy of the notebook runner (:mod:`.runner`)."""
        return self.root / ".runner" / RUNNER

    @property
    def home(self) -> Path:
        return self.root / "home"

    def kernel_env(self, kernel_pythonpath: bool = True) -> dict[str, str]:
        """The environment of the job's processes: nothing of the grader's own but what the kit needs (no tokens,
        no credentials), the smoke profile, HOME and every cache inside the job folder."""
        home, tmp = self.home, self.root / "tmp"
        keep = ("PATH", "LANG", "LC_ALL", "TZ", "GAN_KIT_DATA_DIR", "TF_CPP_MIN_LOG_LEVEL", "CUDA_VISIBLE_DEVICES",
                "OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
        env = {k: os.environ[k] for k in keep if k in os.environ}
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        if "GAN_KIT_DATA_DIR" in env:  # the kernel starts in another folder
            env["GAN_KIT_DATA_DIR"] = os.path.abspath(env["GAN_KIT_DATA_DIR"])
        env.update({
            "HOME": str(home), "TMPDIR": str(tmp), "MPLCONFIGDIR": str(home / ".matplotlib"),
            "KERAS_HOME": str(home / ".keras"), "GAN_KIT_CACHE_DIR": str(home / "gan-kit-cache"),
            "JUPYTER_RUNTIME_DIR": str(home / ".jupyter-runtime"), "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
            "IPYTHONDIR": str(home / ".ipython"), "XDG_CACHE_HOME": str(home / ".cache"),
            "GAN_KIT_PROFILE": "smoke", "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPATH": str(self.root), "GAN_KIT_GRADING": "1", "GAN_KIT_RECORD_DIR": str(self.record),
        })
        if kernel_pythonpath:
            env["PYTHONPATH"] = f"{self.root / '.sandbox'}{os.pathsep}{self.root}"
        return env


def make_scratch(parent: Path, name: str, package: Path, notebook_name: str, notebook: bytes,
                 unreadable: list[Path], identity: Identity | None = None) -> Scratch:
    """Create a job folder under ``parent``: the package copy, the submission, the audit hook, the folders; owned
    by ``identity`` (when given) and mode 0700."""
    root = parent / name
    root.mkdir(mode=0o700)
    for sub in _JOB_DIRS:
        (root / sub).mkdir(mode=0o700)
    shutil.copytree(package, root / "gan_kit", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    target = root / "notebooks" / notebook_name
    target.write_bytes(notebook)
    shutil.copy2(Path(__file__).with_name("runner.py"), root / ".runner" / RUNNER)
    hook = (Path(__file__).with_name("guard.py")).read_text(encoding="utf-8")
    config = {"writable": [str(root)], "unreadable": [str(p) for p in unreadable], "readable": [str(root)]}
    (root / ".sandbox" / "sitecustomize.py").write_text(
        f"{hook}\n\ninstall(**{json.dumps(config)})\ndel install\n", encoding="utf-8")
    if identity is not None:
        for path in (root, *root.rglob("*")):
            os.lchown(path, identity.uid, identity.gid)
    return Scratch(root, target, identity, list(unreadable))


def _uid_in_use(uid: int) -> bool:
    for status in Path("/proc").glob("[0-9]*/status"):
        with contextlib.suppress(OSError):
            for line in status.read_text().splitlines():
                if line.startswith("Uid:"):
                    if uid in {int(x) for x in line.split()[1:]}:
                        return True
                    break
    return False


@contextlib.contextmanager
def claimed_uid(read_cap: bool) -> Iterator[Identity]:
    """An unused uid/gid from 60000 on, held (a lock file) for one job, so concurrent jobs and batches never share
    one; every process still running with it is killed on the way out."""
    _LOCKS.mkdir(mode=0o700, exist_ok=True)
    for slot in range(1, UID_SLOTS):
        uid = UID_BASE + slot
        handle = open(_LOCKS / f"{uid}.lock", "w")  # noqa: SIM115 - held until the job ends
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        if _uid_in_use(uid):
            handle.close()
            continue
        try:
            yield Identity(uid, uid, read_cap)
        finally:
            kill_uid(uid)
            handle.close()
        return
    raise RuntimeError(f"no free uid between {UID_BASE + 1} and {UID_BASE + UID_SLOTS - 1} for a grading job.")


def kill_until_gone(find: Callable[[], set[int]], rounds: int = 5) -> None:
    """SIGKILL the processes ``find()`` names, again and again, until it names none (a fork on the way is caught the
    next round) or ``rounds`` are done."""
    for _ in range(rounds):
        victims = find()
        if not victims:
            return
        for pid in victims:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)


def uid_processes(uid: int) -> set[int]:
    """The processes whose real, effective, saved or filesystem uid is ``uid``."""
    found = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        with contextlib.suppress(OSError, ValueError):
            uids = next(line for line in status.read_text().splitlines() if line.startswith("Uid:"))
            if uid in {int(x) for x in uids.split()[1:]}:
                found.add(int(status.parent.name))
    return found


def kill_uid(uid: int) -> None:
    """SIGKILL every process whose uid is ``uid`` (the job's own uid: nothing else has it)."""
    kill_until_gone(lambda: uid_processes(uid))


def _probe(identity: Identity, folder: Path) -> str | None:
    """None when a process with ``identity`` runs this very interpreter, imports what the runner needs and starts
    a child of it (as the runner starts the kernel), else why not. The version is compared because a loader that
    cannot read the interpreter's own library may quietly load the system's."""
    child = f"import sys, nbclient, ipykernel; sys.exit(sys.version != {sys.version!r})"
    code = f"import subprocess, sys; sys.exit(sys.version != {sys.version!r} or " \
           f"subprocess.run([sys.executable, '-c', {child!r}]).returncode)"
    try:
        out = subprocess.run(identity.command([sys.executable, "-c", code]), cwd=folder, capture_output=True,
                             text=True, timeout=120, env={"PATH": os.environ.get("PATH", ""), "HOME": str(folder)},
                             **identity.popen_kwargs())
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{type(exc).__name__}: {exc}"
    if out.returncode == 0:
        return None
    return (out.stderr.strip().splitlines() or [f"exit {out.returncode}: another Python ran"])[-1]


def privileges(folder: Path) -> bool | None:
    """How jobs drop root: None when the grader is not root (layer 2 is off), False for a plain uid/gid, True for
    a uid/gid that keeps the read capability because the interpreter is not readable by other users.
    ``RuntimeError`` when neither works: grading as root without dropping privileges is refused."""
    if os.geteuid() != 0:
        return None
    os.chmod(folder, 0o711)
    with claimed_uid(False) as identity:
        why = _probe(identity, folder)
        if why is None:
            return False
        if shutil.which("setpriv"):
            why_cap = _probe(Identity(identity.uid, identity.gid, True), folder)
            if why_cap is None:
                return True
            why = f"{why}; with {_READ_CAP}: {why_cap}"
    raise RuntimeError(
        f"grading as root, but an unprivileged uid cannot run {sys.executable} ({why}). Grade as a normal user, "
        "or install the kit's Python where other users can read it (or install setpriv).")


__all__ = ["Identity", "Scratch", "claimed_uid", "kill_uid", "make_scratch", "privileges"]
