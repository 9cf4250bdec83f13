"""Memory and process limits of one grading job (:mod:`.grading`), with what the machine offers.

Each job (its runner and kernel, and whatever they start) gets a memory limit and a process limit:

- **cgroups** (``cgroup2``, or the ``memory`` and ``pids`` hierarchies of cgroups v1) where the grader's own cgroup
  is writable (as root in a container that has its own cgroups, as this project's CI has): the job gets a cgroup
  of its own; memory counts every process of the job together (swap included where v1 accounts it), and the
  kernel's OOM killer stops the job's largest process when it goes over; the process limit counts processes and
  threads. Both are enforced, and counted (``oom_kill``, ``pids.events``), so a job over either is recognised
  for certain; ending the job kills everything in its cgroup.
- **rlimits** otherwise: ``RLIMIT_DATA`` caps each process's data (its heap and private writable mappings; the
  address space TensorFlow or CUDA reserves without writing is not counted, so ``RLIMIT_AS`` would stop a
  normal run), so a job can use the limit once per process it has; an allocation over it raises
  ``MemoryError``, which the job reports. ``RLIMIT_NPROC`` counts the processes and threads of a uid, so it
  is set only when the job has a uid of its own (the grader runs as root); a grader that is not root enforces
  no process limit, and says so.

The grader moves the job's runner into its cgroup after it starts and before it gets its job on its standard
input; the runner sets the rlimits on itself (a process may always lower its own) before it starts the kernel.
So nothing of the submission runs outside them.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .sandbox import kill_until_gone

MiB, GiB = 2**20, 2**30
MEMORY_CAP = 16 * GiB  # the default never gives one job more than this
MIN_MEMORY = 512 * MiB  # a kernel with TensorFlow needs more than this
MIN_PROCESSES = 32  # a runner and a kernel with TensorFlow start about 20 threads on 2 cores
LIMITS = ("memory", "processes")  # the statuses of a job over a limit
_UNITS = {"": 1, "K": 2**10, "M": MiB, "G": GiB, "T": 2**40}


def parse_size(value: str | int) -> int:
    """Bytes from ``4G``, ``1.5GiB``, ``512M``, ``2048`` (bytes); ``ValueError`` naming the value otherwise."""
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", str(value), re.IGNORECASE)
    if not match:
        raise ValueError(f"memory limit {value!r}: write a size such as 4G, 1.5G or 512M.")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def format_size(size: int) -> str:
    """``4 GiB``, ``1.5 GiB``, ``512 MiB``."""
    unit, name = (GiB, "GiB") if size >= GiB else (MiB, "MiB")
    return f"{size / unit:.4g} {name}"


def total_memory() -> int:
    """The machine's memory in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def default_memory(jobs: int) -> int:
    """Each of ``jobs`` concurrent jobs' share of three quarters of the machine's memory, at most 16 GiB."""
    return min(MEMORY_CAP, max(MIN_MEMORY, total_memory() * 3 // 4 // max(1, jobs)))


def default_processes() -> int:
    """512 processes and threads, more on machines with many cores (TensorFlow starts threads per core)."""
    return max(512, 16 * (os.cpu_count() or 1))


@dataclass(frozen=True)
class Limits:
    """A job's memory limit in bytes and its limit on processes and threads."""

    memory: int
    processes: int

    def __post_init__(self) -> None:
        if self.memory < MIN_MEMORY:
            raise ValueError(f"memory limit {format_size(self.memory)}: a kernel with TensorFlow needs at least "
                             f"{format_size(MIN_MEMORY)}; give a larger --memory-limit.")
        if self.processes < MIN_PROCESSES:
            raise ValueError(f"process limit {self.processes}: a runner and a kernel with TensorFlow need at "
                             f"least {MIN_PROCESSES} processes and threads; give a larger --process-limit.")

    @classmethod
    def chosen(cls, jobs: int, memory: str | int | None = None, processes: int | None = None) -> Limits:
        """The limits asked for (``memory`` as bytes or ``4G``), the defaults for ``jobs`` concurrent jobs else."""
        return cls(default_memory(jobs) if memory is None else parse_size(memory),
                   default_processes() if processes is None else int(processes))

    def message(self, which: str, per_process: bool = False) -> str:
        """The grades.csv message of a job over limit ``which`` (``memory`` or ``processes``)."""
        if which == "memory":
            per = " per process" if per_process else ""
            return f"the notebook went over its memory limit ({format_size(self.memory)}{per}) and was stopped"
        return f"the notebook went over its process limit ({self.processes} processes and threads) and was stopped"


def _mountinfo() -> list[tuple[str, str, str]]:
    """(mount point, file system type, super options) of every mount."""
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fstype, _, options = (right.split(" ") + ["", "", ""])[:3]
        mounts.append((left.split(" ")[4], fstype, options))
    return mounts


def _own_cgroups() -> dict[str, Path]:
    """The folders of the grader's own cgroups: ``{"unified": ...}`` for cgroup2, ``{"memory": ..., "pids": ...}``
    for the v1 hierarchies that are mounted."""
    paths = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else ["unified"]:
            paths[controller] = path.lstrip("/")
    found = {}
    for point, fstype, options in _mountinfo():
        if fstype == "cgroup2" and "unified" in paths and "memory" not in found:
            found["unified"] = Path(point) / paths["unified"]
        elif fstype == "cgroup":
            for controller in ("memory", "pids"):
                if controller in options.split(",") and controller in paths:
                    found[controller] = Path(point) / paths[controller]
    return found


def _writable_v2(folder: Path) -> bool:
    """Whether jobs can get cgroup2 children of ``folder`` with the memory and pids controllers."""
    try:
        if not {"memory", "pids"} <= set((folder / "cgroup.controllers").read_text().split()):
            return False
        enabled = set((folder / "cgroup.subtree_control").read_text().split())
        if not {"memory", "pids"} <= enabled:
            (folder / "cgroup.subtree_control").write_text("+memory +pids")
        return os.access(folder, os.W_OK)
    except OSError:
        return False


def cgroup_parents() -> dict[str, Path] | None:
    """Where job cgroups are made: ``{"unified": folder}`` (cgroup2), ``{"memory": ..., "pids": ...}`` (v1), or
    None when the grader cannot make them (not root, or its cgroups not delegated)."""
    try:
        own = _own_cgroups()
    except OSError:
        return None
    if "unified" in own and _writable_v2(own["unified"]):
        return {"unified": own["unified"]}
    if {"memory", "pids"} <= set(own) and all(os.access(own[c], os.W_OK) for c in ("memory", "pids")):
        return {c: own[c] for c in ("memory", "pids")}
    return None


def _counter(path: Path, key: str) -> int:
    """The value of ``key`` in a flat-keyed cgroup file (``memory.events``, ``pids.events``), 0 if absent."""
    with contextlib.suppress(OSError, ValueError):
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    return 0


def _cgroup_pids(folders: list[Path]) -> set[int]:
    """The processes listed in these cgroups."""
    pids: set[int] = set()
    for folder in folders:
        with contextlib.suppress(OSError, ValueError):
            pids |= {int(p) for p in (folder / "cgroup.procs").read_text().split()}
    return pids


def _kill_pids(folders: list[Path]) -> None:
    """SIGKILL every process listed in these cgroups until none is left."""
    kill_until_gone(lambda: _cgroup_pids(folders), rounds=50)


class CgroupJob:
    """A job's own cgroup (v2, or the v1 memory and pids hierarchies) with its limits."""

    kind = "cgroup"
    per_process = False

    def __init__(self, limits: Limits, parents: dict[str, Path], name: str) -> None:
        self.limits = limits
        self.v2 = "unified" in parents
        self.folders = {c: parent / name for c, parent in parents.items()}
        try:
            for folder in self.folders.values():
                folder.mkdir()
            self._set(limits)
        except OSError:
            self.close()
            raise

    def _set(self, limits: Limits) -> None:
        if self.v2:
            folder = self.folders["unified"]
            self._write(folder, "memory.max", limits.memory)
            self._write(folder, "memory.swap.max", 0, optional=True)
            self._write(folder, "pids.max", limits.processes)
        else:
            memory = self.folders["memory"]
            self._write(memory, "memory.limit_in_bytes", limits.memory)
            self._write(memory, "memory.memsw.limit_in_bytes", limits.memory, optional=True)
            self._write(self.folders["pids"], "pids.max", limits.processes)

    @staticmethod
    def _write(folder: Path, name: str, value: int, optional: bool = False) -> None:
        try:
            (folder / name).write_text(str(value))
        except OSError:
            if not optional:
                raise

    def rlimits(self) -> dict[str, int]:
        """None: the cgroup does it all."""
        return {}

    def attach(self, pid: int) -> None:
        """Move process ``pid`` (the job's runner, before it starts anything) into the job's cgroup."""
        for folder in self.folders.values():
            (folder / "cgroup.procs").write_text(str(pid))

    def exceeded(self) -> str | None:
        """``memory`` once the OOM killer has killed a process of the job, ``processes`` once a fork or a thread
        was refused for the process limit, else None."""
        if self.v2:
            memory, pids = self.folders["unified"] / "memory.events", self.folders["unified"] / "pids.events"
        else:
            memory, pids = self.folders["memory"] / "memory.oom_control", self.folders["pids"] / "pids.events"
        if _counter(memory, "oom_kill"):
            return "memory"
        return "processes" if _counter(pids, "max") else None

    def close(self) -> None:
        """Kill every process left in the job's cgroup and remove it."""
        folders = list(self.folders.values())
        if self.v2:
            with contextlib.suppress(OSError):
                (folders[0] / "cgroup.kill").write_text("1")
        _kill_pids(folders)
        for folder in folders:
            for _ in range(50):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # the last processes are still exiting
                    time.sleep(0.1)


def _tasks_of(uid: int) -> int:
    """The processes and threads whose real uid is ``uid`` (what RLIMIT_NPROC counts)."""
    count = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        with contextlib.suppress(OSError, ValueError, StopIteration):
            lines = status.read_text().splitlines()
            if int(next(x for x in lines if x.startswith("Uid:")).split()[1]) == uid:
                count += int(next(x for x in lines if x.startswith("Threads:")).split()[1])
    return count


class RlimitJob:
    """A job limited by rlimits: RLIMIT_DATA per process, RLIMIT_NPROC when the job has a uid of its own."""

    kind = "rlimit"
    per_process = True

    def __init__(self, limits: Limits, uid: int | None) -> None:
        self.limits, self.uid = limits, uid

    def rlimits(self) -> dict[str, int]:
        """The rlimits the runner sets on itself before it starts the kernel (``runner.set_rlimits``): a process
        can always lower its own, while setting another uid's needs ``CAP_SYS_RESOURCE``, which containers
        often drop."""
        if self.uid is None:
            return {"RLIMIT_DATA": self.limits.memory}
        return {"RLIMIT_DATA": self.limits.memory, "RLIMIT_NPROC": self.limits.processes}

    def attach(self, pid: int) -> None:
        """Nothing: the runner sets its :meth:`rlimits` itself."""

    def exceeded(self) -> str | None:
        """``processes`` while the job's uid has as many processes and threads as its limit; memory over the
        limit shows as the ``MemoryError`` the job reports instead."""
        if self.uid is not None and _tasks_of(self.uid) >= self.limits.processes:
            return "processes"
        return None

    def close(self) -> None:
        """Nothing to remove (the job's processes are killed with its uid)."""


JobLimits = CgroupJob | RlimitJob


def describe(limits: Limits, parents: dict[str, Path] | None, own_uid: bool) -> str:
    """One line saying which limits are enforced, and how."""
    memory, processes = format_size(limits.memory), f"{limits.processes} processes and threads"
    if parents is not None:
        how = "cgroup v2" if "unified" in parents else "cgroups v1"
        return f"limits per job ({how}): memory {memory}, {processes}"
    if own_uid:
        return f"limits per job (rlimits): memory {memory} per process (RLIMIT_DATA), {processes} (RLIMIT_NPROC)"
    return (f"limits per job (rlimits): memory {memory} per process (RLIMIT_DATA); no process limit: the grader "
            "is not root, so jobs share its uid and RLIMIT_NPROC would count all of its processes")


@contextlib.contextmanager
def job_limits(limits: Limits, parents: dict[str, Path] | None, name: str,
               uid: int | None) -> Iterator[JobLimits]:
    """The limits of one job: its cgroup under ``parents`` (:func:`cgroup_parents`), or rlimits when None;
    every process left in its cgroup is killed on the way out."""
    job: CgroupJob | RlimitJob = CgroupJob(limits, parents, name) if parents is not None else RlimitJob(limits, uid)
    try:
        yield job
    finally:
        job.close()


__all__ = ["LIMITS", "CgroupJob", "JobLimits", "Limits", "RlimitJob", "cgroup_parents", "default_memory",
           "default_processes", "format_size", "job_limits", "parse_size"]
