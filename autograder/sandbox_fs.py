"""A grading kernel's file system, deny by default: an empty root with only what it needs.

Called by :mod:`autograder.sandbox_kernel` in the kernel's own mount namespace (and PID
namespace, for ``/proc``), as root or as the root of an unprivileged user namespace,
before any student code runs. :func:`build_root` makes a tmpfs, binds into it read-only
the paths the grader listed (Python, the course packages, system libraries, datasets),
read-write only the kernel's own working folder, adds a private size-capped ``/tmp``,
``/var/tmp`` and ``/dev/shm``, a minimal ``/dev``, a ``/proc`` of the kernel's own PID
namespace and an ``/etc`` with just what the C library and fontconfig read, then makes it
the root (``pivot_root``) and detaches the host's. What is not bound does not exist for
the kernel: other courses, home folders, ``/srv``, the host's ``/tmp`` ...
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import asdict, dataclass, field

CLONE_NEWNS = 0x00020000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MNT_DETACH = 2
#: statvfs flags a bind remount in a user namespace must keep (the kernel locks them)
_LOCKED = {
    os.ST_NOSUID: MS_NOSUID,
    os.ST_NODEV: MS_NODEV,
    os.ST_NOEXEC: MS_NOEXEC,
    os.ST_NOATIME: MS_NOATIME,
    os.ST_NODIRATIME: MS_NODIRATIME,
    os.ST_RELATIME: MS_RELATIME,
}
#: system folders bound read-only when present (symlinks such as /bin -> usr/bin are copied)
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/sys/devices/system/cpu")
#: files of /etc the C library, Python, TensorFlow and fontconfig read
ETC_PATHS = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/fonts", "/etc/localtime", "/etc/timezone", "/etc/mime.types")
#: device nodes bound from the host's /dev
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "ppc64le": 203, "s390x": 217}


@dataclass
class FileSystem:
    """What the kernel can see, as written to its isolation status."""

    read_only: list[str] = field(default_factory=list)
    writable: list[str] = field(default_factory=list)
    private: list[str] = field(default_factory=list)  # fresh, per kernel (tmpfs, /dev, /proc)

    def as_dict(self) -> dict:
        return asdict(self)


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    rc = _libc().mount(
        None if source is None else source.encode(),
        target.encode(),
        None if fstype is None else fstype.encode(),
        ctypes.c_ulong(flags),
        None if data is None else data.encode(),
    )
    _check(rc, f"mount {source} -> {target}")


def umount(target: str) -> None:
    _check(_libc().umount2(target.encode(), MNT_DETACH), f"umount {target}")


def _locked_flags(path: str) -> int:
    flags = os.statvfs(path).f_flag
    return sum(ms for st, ms in _LOCKED.items() if flags & st)


def _mirror(path: str, root: str) -> str:
    """Copy into ``root`` every symlink met while resolving ``path``; return its real path."""
    pending = [p for p in path.split("/") if p]
    current = "/"
    hops = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            current = os.path.dirname(current)
            continue
        step = os.path.join(current, part)
        if os.path.islink(step):
            hops += 1
            if hops > 40:
                raise OSError(f"too many symbolic links in {path}")
            target = os.readlink(step)
            copy = root + step
            os.makedirs(os.path.dirname(copy), mode=0o755, exist_ok=True)
            if not os.path.lexists(copy):
                os.symlink(target, copy)
            pending = [p for p in target.split("/") if p] + pending
            if target.startswith("/"):
                current = "/"
        else:
            current = step
    return current


def _bind(source: str, root: str, writable: bool) -> str:
    """Bind ``source`` at the same path below ``root``; return the real path bound."""
    real = _mirror(source, root)
    target = root + real
    if os.path.isdir(real):
        os.makedirs(target, mode=0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        if not os.path.lexists(target):
            open(target, "w").close()
    mount(real, target, None, MS_BIND)
    flags = MS_BIND | MS_REMOUNT | MS_NOSUID | _locked_flags(real)
    if not writable:
        flags |= MS_RDONLY
    mount(None, target, None, flags)
    return real


def _covered(path: str, bound: list[str]) -> bool:
    """True when ``path`` is already visible through a bound folder on the same file system."""
    real = os.path.realpath(path)
    for outer in bound:
        if real.startswith(outer.rstrip("/") + "/") and os.stat(real).st_dev == os.stat(outer).st_dev:
            return True
    return False


def _tmpfs(target: str, size_mb: int, mode: str = "1777") -> None:
    os.makedirs(target, mode=0o755, exist_ok=True)
    mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"mode={mode},size={size_mb}m")


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    with open(path, "w", encoding="ascii") as f:
        f.write(text)


def _etc(root: str, uid: int, gid: int, home: str) -> None:
    """The accounts and name lookup a process may ask for: the kernel's own, nothing of the host's."""
    _write(root + "/etc/passwd", f"root:x:0:0:root:/nonexistent:/usr/sbin/nologin\nstudent:x:{uid}:{gid}:student:{home}:/usr/sbin/nologin\n")
    _write(root + "/etc/group", f"root:x:0:\nstudent:x:{gid}:\n")
    _write(root + "/etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files\n")
    _write(root + "/etc/hosts", "127.0.0.1 localhost\n::1 localhost\n")


def _dev(root: str, shm_mb: int) -> list[str]:
    dev = root + "/dev"
    _tmpfs(dev, 1, mode="0755")
    made = []
    for name in DEVICES:
        host = f"/dev/{name}"
        if not os.path.exists(host):
            continue
        open(f"{dev}/{name}", "w").close()
        mount(host, f"{dev}/{name}", None, MS_BIND)
        made.append(host)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{dev}/{name}")
    _tmpfs(f"{dev}/shm", shm_mb)
    mount(None, dev, None, MS_REMOUNT | MS_NOSUID | MS_RDONLY, "mode=0755,size=1m")
    return made


def _pivot(root: str) -> None:
    """Make ``root`` this mount namespace's root and detach the old one."""
    import platform

    number = SYS_PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(f"pivot_root: unknown system call number on {platform.machine()}")
    os.chdir(root)
    _check(_libc().syscall(number, b".", b"."), "pivot_root")
    umount(".")  # the old root, stacked below the new one
    os.chdir("/")


def build_root(
    stage: str, read_only: list[str], writable: list[str], tmp_mb: int, uid: int, gid: int, home: str
) -> FileSystem:
    """Build the kernel's root in the empty folder ``stage`` and switch to it.

    Raises OSError when something cannot be set up; before the switch, the caller's
    file system is then as it was (the half-built tmpfs is detached).
    """
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m")
    seen = FileSystem()
    try:
        for tmp in ("/tmp", "/var/tmp"):
            _tmpfs(stage + tmp, tmp_mb)
            seen.private.append(f"{tmp} (tmpfs, {tmp_mb} MiB)")
        for path in writable:  # before: read-only folders inside it (.ipython) are bound over it
            seen.writable.append(_bind(path, stage, writable=True))
        bound: list[str] = []
        for path in [*SYSTEM_PATHS, *ETC_PATHS, *read_only]:
            if not os.path.exists(path):
                continue
            if path in SYSTEM_PATHS + ETC_PATHS and os.path.islink(path):
                _mirror(path, stage)  # /bin -> usr/bin: the link; its target is bound anyway
                seen.read_only.append(f"{path} -> {os.readlink(path)}")
                continue
            if _covered(path, bound):
                continue
            bound.append(_bind(path, stage, writable=False))
            seen.read_only.append(bound[-1])
        _dev(stage, tmp_mb)
        seen.private.append(f"/dev ({', '.join(DEVICES)}; /dev/shm tmpfs, {tmp_mb} MiB)")
        os.makedirs(stage + "/proc", mode=0o555, exist_ok=True)
        mount("proc", stage + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        seen.private.append("/proc (own PID namespace)")
        _etc(stage, uid, gid, home)
        seen.private.append("/etc/passwd, group, nsswitch.conf, hosts (the kernel's own)")
        _pivot(stage)
    except OSError:
        try:
            umount(stage)
        except OSError:
            pass
        raise
    # nothing of the root itself is writable; binds and tmpfs keep their own modes
    mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=0755,size=16m")
    return seen
