"""One control group per grading job: memory, process and CPU limits, killed whole at the end.

The grader (:mod:`.sandbox_setup`) makes the job's cgroup before the kernel starts; the
kernel's launcher (:mod:`.sandbox_kernel`) moves itself into it before any student code
exists, so every process of the job is inside and cannot leave (leaving needs write access
to another cgroup's ``cgroup.procs``, which an unprivileged uid lacks). When the job ends,
:func:`kill` kills every process in it and :func:`remove` deletes it.

cgroup v2 is used where it has the ``memory`` controller (``/sys/fs/cgroup`` mounted as
cgroup2, or the hybrid ``unified`` mount with controllers); otherwise cgroup v1 with the
``memory``, ``pids`` and ``cpu`` hierarchies under ``/sys/fs/cgroup/<controller>/``. Without
either (not root, no delegated subtree) there is no cgroup and the RSS watchdog of
:class:`~autograder.execute.HardenedExecute` alone bounds memory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
GROUP = "course-grade"  # parent of every job's cgroup, below the grader's own
CPU_PERIOD_US = 100_000


@dataclass(frozen=True)
class Limits:
    """What one job's processes may use together."""

    memory_mb: int  # the cgroup's hard limit: RAM including tmpfs and shared memory
    pids: int  # processes and threads
    cpus: float  # CPU time per wall-clock second


@dataclass(frozen=True)
class JobCgroup:
    """The folders of one job's cgroup (one for v2, one per controller for v1)."""

    version: int
    memory: str  # folder holding the memory controller's files
    folders: tuple[str, ...]  # every folder the job's processes are put in

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> JobCgroup:
        return cls(int(data["version"]), str(data["memory"]), tuple(data["folders"]))


def _own_path(controller: str) -> str:
    """This process's cgroup path in ``controller``'s hierarchy ("" for the v2 one)."""
    with open("/proc/self/cgroup", encoding="ascii") as f:
        for line in f:
            _, names, path = line.rstrip("\n").split(":", 2)
            if (controller in names.split(",")) if controller else names == "":
                return path
    return "/"


def _v2_mount() -> Path | None:
    """The cgroup2 mount whose controllers include memory, pids and cpu, if any."""
    for mount in (CGROUP_ROOT, CGROUP_ROOT / "unified"):
        controllers = mount / "cgroup.controllers"
        with contextlib.suppress(OSError):
            if {"memory", "pids", "cpu"} <= set(controllers.read_text().split()):
                return mount
    return None


def _write(folder: Path, name: str, value: str) -> None:
    (folder / name).write_text(value)


def _create_v2(mount: Path, name: str, limits: Limits) -> JobCgroup:
    # cgroup v2 lets only a cgroup without processes of its own (or the root) hand
    # controllers down: as root the jobs' parent sits below the root; without root, next
    # to the grader's own cgroup, in the subtree delegated to its user
    if os.geteuid() == 0:
        above = mount
    else:
        above = (mount / _own_path("").lstrip("/")).parent
    parent = above / GROUP
    parent.mkdir(exist_ok=True)
    with contextlib.suppress(OSError):  # may already be on
        _write(above, "cgroup.subtree_control", "+memory +pids +cpu")
    _write(parent, "cgroup.subtree_control", "+memory +pids +cpu")
    folder = parent / name
    folder.mkdir()
    _write(folder, "memory.max", str(limits.memory_mb * 2**20))
    with contextlib.suppress(OSError):
        _write(folder, "memory.swap.max", "0")
    _write(folder, "pids.max", str(limits.pids))
    _write(folder, "cpu.max", f"{int(limits.cpus * CPU_PERIOD_US)} {CPU_PERIOD_US}")
    return JobCgroup(2, str(folder), (str(folder),))


def _create_v1(name: str, limits: Limits) -> JobCgroup:
    folders = {}
    for controller in ("memory", "pids", "cpu"):
        hierarchy = CGROUP_ROOT / controller
        if not (hierarchy / "cgroup.procs").exists():
            raise OSError(f"no cgroup v1 {controller} hierarchy at {hierarchy}")
        parent = hierarchy / _own_path(controller).lstrip("/") / GROUP
        parent.mkdir(exist_ok=True)
        folder = parent / name
        folder.mkdir()
        folders[controller] = folder
    memory = folders["memory"]
    _write(memory, "memory.limit_in_bytes", str(limits.memory_mb * 2**20))
    with contextlib.suppress(OSError):  # only where swap accounting is on
        _write(memory, "memory.memsw.limit_in_bytes", str(limits.memory_mb * 2**20))
    _write(folders["pids"], "pids.max", str(limits.pids))
    _write(folders["cpu"], "cpu.cfs_period_us", str(CPU_PERIOD_US))
    _write(folders["cpu"], "cpu.cfs_quota_us", str(int(limits.cpus * CPU_PERIOD_US)))
    return JobCgroup(1, str(memory), tuple(str(f) for f in folders.values()))


def create(name: str, limits: Limits) -> tuple[JobCgroup | None, str]:
    """A new cgroup ``name`` with ``limits``, and a line saying what was made or why none was."""
    mount = _v2_mount()
    try:
        group = _create_v2(mount, name, limits) if mount else _create_v1(name, limits)
    except OSError as exc:
        return None, f"no cgroup ({exc})"
    return group, f"cgroup v{group.version}"


def join(group: JobCgroup, pid: int = 0) -> None:
    """Put ``pid`` (0: this process) into every folder of ``group``; raise OSError if refused."""
    for folder in group.folders:
        _write(Path(folder), "cgroup.procs", str(pid or os.getpid()))


def pids(group: JobCgroup) -> set[int]:
    found: set[int] = set()
    for folder in group.folders:
        with contextlib.suppress(OSError):
            found |= {int(p) for p in Path(folder, "cgroup.procs").read_text().split()}
    return found


def kill(group: JobCgroup, patience: float = 5.0) -> bool:
    """Kill every process of ``group`` (forks while it is killed included); True when none is left."""
    if group.version == 2:
        with contextlib.suppress(OSError):
            _write(Path(group.folders[0]), "cgroup.kill", "1")
    deadline = time.monotonic() + patience
    while True:
        left = pids(group)
        if not left:
            return True
        if time.monotonic() > deadline:
            return False
        for pid in left:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)


def remove(group: JobCgroup, patience: float = 5.0) -> None:
    """Delete ``group``'s folders (after :func:`kill`); killed processes may take a moment to go."""
    deadline = time.monotonic() + patience
    for folder in group.folders:
        while True:
            try:
                os.rmdir(folder)
                break
            except FileNotFoundError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.02)


def _counter(path: Path, key: str) -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    return 0


def oom_kills(memory_folder: str) -> int:
    """How many processes the memory limit of this cgroup has killed so far."""
    folder = Path(memory_folder)
    if (folder / "memory.events").exists():
        return _counter(folder / "memory.events", "oom_kill")
    return _counter(folder / "memory.oom_control", "oom_kill")


def peak_mb(memory_folder: str) -> int:
    """The most memory the cgroup's processes used at once, in MiB."""
    folder = Path(memory_folder)
    for name in ("memory.peak", "memory.max_usage_in_bytes"):
        with contextlib.suppress(OSError, ValueError):
            return int((folder / name).read_text()) // 2**20
    return 0
