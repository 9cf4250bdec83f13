"""The audit hook that keeps a graded notebook's Python code inside its scratch folder (sandbox layer 1).

``gan_kit.instructor.sandbox`` copies this file, followed by a call of :func:`install`, into a
``sitecustomize.py`` on the kernel's ``PYTHONPATH``, so the hook is in place before the kernel runs a line of
the student's code; an audit hook cannot be removed once added. The file is self-contained (standard library
only) for that reason. Refused, with ``PermissionError``:

- writing, creating, deleting, renaming, linking, truncating, chmod-ing or chown-ing a path outside the
  writable roots (``open`` with a write mode or write flags, ``os.remove``, ``os.rmdir``, ``os.rename``,
  ``os.mkdir``, ``os.chmod``, ``os.chown``, ``os.utime``, ``os.truncate``, ``os.symlink``, ``os.link``,
  ``shutil.rmtree``, ``shutil.move``, ``shutil.copy*`` ...). Paths are resolved (``os.path.realpath``, and
  ``dir_fd`` through ``/proc/self/fd``), so a symlink inside the scratch folder does not lead out of it;
- reading or listing anything under the unreadable roots (the solution notebooks, the submissions folder,
  the grades folder, other students' scratch folders);
- starting a process (``subprocess.Popen``, ``os.system``, ``os.exec*``, ``os.posix_spawn``, ``os.fork``,
  ``os.forkpty``, ``pty.spawn``) and signalling other processes (``os.kill``, ``os.killpg``);
- looking up, through ``ctypes``, the C library's functions that write files or start processes.

What it cannot stop: C code that makes system calls itself (a compiled extension, ``ctypes`` through a function
pointer found another way) and code that corrupts the interpreter's memory. Sandbox layer 2 (another uid, when
the grader runs as root) is there for those.
"""

from __future__ import annotations

import os
import sys
import threading

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_ANYWHERE = ("/dev/null", "/dev/zero", "/dev/full")
_PROCESS = {"subprocess.Popen": "start a process", "os.system": "start a process", "os.exec": "start a process",
            "os.posix_spawn": "start a process", "os.spawn": "start a process", "os.fork": "fork the kernel",
            "os.forkpty": "fork the kernel", "pty.spawn": "start a process", "os.startfile": "start a process"}
# event -> (indexes of the path arguments it changes, index of its dir_fd argument or None, follows links)
_CHANGES = {
    "os.remove": ((0,), 1, False), "os.rmdir": ((0,), 1, False), "os.mkdir": ((0,), 2, False),
    "os.chmod": ((0,), 2, True), "os.chown": ((0,), 3, True), "os.utime": ((0,), 3, True),
    "os.truncate": ((0,), None, True), "os.setxattr": ((0,), None, True), "os.removexattr": ((0,), None, True),
    "os.chflags": ((0,), None, True), "os.lchflags": ((0,), None, False), "os.rename": ((0, 1), 2, False),
    "os.link": ((0, 1), 2, True), "os.symlink": ((0, 1), 2, False), "shutil.rmtree": ((0,), 1, False),
    "shutil.chown": ((0,), None, True), "shutil.move": ((0, 1), None, False), "shutil.copyfile": ((1,), None, True),
    "shutil.copymode": ((1,), None, True), "shutil.copystat": ((1,), None, True),
    "shutil.copytree": ((1,), None, True), "shutil.unpack_archive": ((1,), None, True),
    "shutil.make_archive": ((0,), None, True), "tempfile.mkstemp": ((0,), None, True),
    "tempfile.mkdtemp": ((0,), None, True),
}
_LISTS = {"os.listdir", "os.scandir", "glob.glob", "os.walk", "os.fwalk"}
_C_FUNCTIONS = {
    "unlink", "unlinkat", "remove", "rmdir", "rename", "renameat", "renameat2", "open", "open64", "openat",
    "openat64", "creat", "creat64", "fopen", "fopen64", "freopen", "truncate", "truncate64", "chmod", "fchmod",
    "fchmodat", "chown", "lchown", "fchown", "fchownat", "link", "linkat", "symlink", "symlinkat", "mkdir",
    "mkdirat", "mknod", "system", "popen", "fork", "vfork", "clone", "clone3", "execve", "execv", "execvp",
    "execvpe", "execl", "execlp", "execle", "fexecve", "posix_spawn", "posix_spawnp", "syscall", "kill", "killpg",
}


def _inside(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def _resolve(path, dir_fd=None, follow=True) -> str | None:
    """The absolute, link-free path an event acts on; None for an open file descriptor."""
    if path is None:
        path = "."
    if isinstance(path, int):
        return None
    path = os.fsdecode(os.fspath(path))
    if not os.path.isabs(path):
        # CPython reports "no directory descriptor" as -1 (and AT_FDCWD is negative too): both mean the cwd.
        has_fd = isinstance(dir_fd, int) and not isinstance(dir_fd, bool) and dir_fd >= 0
        base = os.readlink(f"/proc/self/fd/{dir_fd}") if has_fd else os.getcwd()
        path = os.path.join(base, path)
    if follow:
        return os.path.realpath(path)
    head, tail = os.path.split(os.path.normpath(path))
    return os.path.join(os.path.realpath(head), tail)


def install(writable: list[str], unreadable: list[str], readable: list[str]) -> None:
    """Install the hook: Python code may change files only under ``writable``, may not read under ``unreadable``
    except under ``readable`` (its own scratch folder), and may not start processes."""
    writable_roots = tuple(os.path.realpath(p) for p in writable) + _ANYWHERE
    unreadable_roots = tuple(os.path.realpath(p) for p in unreadable)
    readable_roots = tuple(os.path.realpath(p) for p in readable)
    own_pid, busy = os.getpid(), threading.local()
    handled = set(_PROCESS) | set(_CHANGES) | _LISTS | {"open", "os.kill", "os.killpg", "ctypes.dlsym"}

    def refuse(what: str, path: str | None = None) -> None:
        message = f"gan-kit grading sandbox: a graded notebook may not {what}" + (f": {path}" if path else "")
        try:  # to the process's own stderr (the grader's log), not to the notebook's output
            os.write(2, f"{message} ({getattr(busy, 'event', '')})\n".encode(errors="replace"))
        except OSError:
            pass
        raise PermissionError(message)

    def check_read(path: str | None) -> None:
        if path and _inside(path, unreadable_roots) and not _inside(path, readable_roots):
            refuse("read outside its scratch folder", path)

    def check_write(path: str | None) -> None:
        if path is not None and not _inside(path, writable_roots):
            refuse("change files outside its scratch folder", path)

    def hook(event: str, args: tuple) -> None:
        if event not in handled or getattr(busy, "on", False):
            return
        busy.on, busy.event = True, event
        try:
            if event == "open":
                path, mode, flags = (tuple(args) + (None, None))[:3]
                resolved = _resolve(path)
                writes = bool(isinstance(flags, int) and flags & _WRITE_FLAGS) or bool(
                    isinstance(mode, str) and set(mode) & set("wax+"))
                (check_write if writes else check_read)(resolved)
            elif event in _CHANGES:
                positions, dir_fd_at, follow = _CHANGES[event]
                dir_fd = args[dir_fd_at] if dir_fd_at is not None and dir_fd_at < len(args) else None
                for i in positions:
                    if i < len(args) and args[i] is not None:
                        check_write(_resolve(args[i], dir_fd, follow))
            elif event in _LISTS:
                check_read(_resolve(args[0] if args else None))
            elif event in _PROCESS:
                refuse(_PROCESS[event])
            elif event == "os.kill":
                if args[0] not in (own_pid, 0):
                    refuse("signal another process")
            elif event == "os.killpg":
                if args[0] != os.getpgid(0):
                    refuse("signal another process group")
            elif event == "ctypes.dlsym" and len(args) > 1 and isinstance(args[1], str) and args[1] in _C_FUNCTIONS:
                refuse(f"call the C library's {args[1]}() through ctypes")
        finally:
            busy.on = False

    sys.addaudithook(hook)
