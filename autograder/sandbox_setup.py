"""The grader's side of a kernel's sandbox: its folder, cgroup, kernelspec and clean-up.

For each job, :func:`job_sandbox` makes a private working folder (owned by the job's
own unprivileged uid when grading as root) with IPython's and Jupyter's folders made by
the grader and read-only to the kernel, the job's cgroup (:mod:`.sandbox_cgroup`), the
:class:`SandboxConfig` the kernel applies to itself (what its empty root may show:
:func:`visible_paths`) and a kernelspec that starts :mod:`autograder.sandbox_kernel`
with it (forked by the zygote when one runs). Afterwards it kills every process of the
cgroup and of the uid, and removes the cgroup and the folders.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from . import sandbox_cgroup
from .environment import data_dir
from .options import Options
from .sandbox_config import SANDBOX_ARG, SandboxConfig
from .sandbox_kernel import GRADER_IPYTHON_DIR, GRADER_JUPYTER_DIR

KERNEL_NAME = "course-grade"
FIRST_SANDBOX_UID = 61000
SANDBOX_UIDS = 4096  # uids FIRST_SANDBOX_UID ... + SANDBOX_UIDS - 1 are the grader's
UID_LOCKS = Path("/run/course-grade/uids")
#: course entries a kernel may see; everything else of the course directory is hidden
PUBLIC_ENTRIES = {"course_utils", "autograder", "release", "README.md", "pyproject.toml", "nbgrader_config.py", "LICENSE"}
LIMITS = {"nproc": 4096, "fsize": 512 * 2**20, "core": 0}
#: the packages of the course a kernel imports; only these folders of a source checkout are bound
COURSE_PACKAGES = ("course_utils", "autograder")
#: datasets installed for every user (Fashion-MNIST)
SHARED_DATASETS = "/usr/share/datasets"


@dataclass(frozen=True)
class JobSandbox:
    """Where a job's kernel lives and how the job's executor finds it."""

    folder: Path  # the kernel's working folder (and IPC sockets)
    jupyter_path: Path  # JUPYTER_PATH holding the job's kernelspec
    status_file: Path  # isolation achieved, written by the kernel before student code
    kernel_name: str = KERNEL_NAME


def hidden_and_needed(opts: Options, extra_hidden: list[str]) -> tuple[list[str], list[str]]:
    """Paths the kernel must not see, and the outermost paths it must still reach."""
    root = opts.course_root
    hide = [str(p) for p in sorted(root.iterdir()) if p.name not in PUBLIC_ENTRIES and not p.name.endswith(".egg-info")]
    for extra in (opts.workspace, opts.submissions, opts.out, *extra_hidden):
        extra = Path(extra).resolve()
        if not str(extra).startswith(str(root) + os.sep):
            hide.append(str(extra))
    needed = {sys.base_prefix, sys.prefix, sys.exec_prefix}
    needed |= {p for p in sys.path if p and os.path.isdir(p)}
    data = data_dir()
    if data:
        needed.add(data)
    ordered = sorted(needed, key=len)
    outer = [p for i, p in enumerate(ordered) if not any(p.startswith(q.rstrip(os.sep) + os.sep) for q in ordered[:i])]
    return hide, outer


def _package_folders() -> list[str]:
    """The folders of :data:`COURSE_PACKAGES` as this grader imports them (editable installs too)."""
    import importlib.util

    folders = []
    for name in COURSE_PACKAGES:
        spec = importlib.util.find_spec(name)
        for location in (spec.submodule_search_locations or []) if spec else []:
            folders.append(os.path.realpath(location))
    for finder in sys.meta_path:  # setuptools' editable finder maps package names to folders
        mapping = getattr(sys.modules.get(getattr(finder, "__module__", "")), "MAPPING", None)
        if isinstance(mapping, dict):
            folders += [os.path.realpath(mapping[n]) for n in COURSE_PACKAGES if n in mapping and os.path.isdir(mapping[n])]
    return sorted(set(folders))


def visible_paths(opts: Options) -> list[str]:
    """What a kernel may read besides the system's libraries: Python, the course packages, datasets.

    Folders on the import path that hold the course packages (a source checkout on
    PYTHONPATH, the course directory itself) are never bound whole: only the package
    folders in them are, so the course's ``source/``, ``gradebook.db`` and submissions
    stay out of sight.
    """
    packages = _package_folders()
    private = [str(opts.course_root), str(opts.workspace), str(Path(opts.submissions).resolve()), str(opts.out)]
    visible = {sys.base_prefix, sys.prefix, sys.exec_prefix, *packages, SHARED_DATASETS}
    import site

    sites = [*site.getsitepackages(), site.getusersitepackages()]
    visible |= set(sites)
    # the kernel's import path beyond its installation: PYTHONPATH and folders named in .pth files
    entries = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    for folder in sites:
        for pth in sorted(Path(folder).glob("*.pth")) if os.path.isdir(folder) else []:
            with contextlib.suppress(OSError, UnicodeDecodeError):
                entries += [line.strip() for line in pth.read_text().splitlines() if line.strip() and not line.startswith(("#", "import"))]
    for entry in entries:
        if not os.path.isdir(entry):
            continue
        real = os.path.realpath(entry)
        holds_course = any(p.startswith(real.rstrip(os.sep) + os.sep) for p in packages + private) or any(
            real == p or real.startswith(p.rstrip(os.sep) + os.sep) for p in private
        )
        if not holds_course:
            visible.add(real)
    data = data_dir()
    if data:
        visible.add(data)
    return sorted(p for p in visible if os.path.exists(p))


def matplotlib_config(folder: Path) -> Path:
    """A matplotlib config folder for kernels: figures at 50 dpi, the font cache ready."""
    import matplotlib
    from matplotlib import font_manager  # noqa: F401  (builds the cache once, here)

    folder.mkdir()
    # figures are still drawn (feedback shows them) but at a cheaper resolution
    (folder / "matplotlibrc").write_text("figure.dpi: 50\nsavefig.dpi: 50\n")
    for cache in sorted(Path(matplotlib.get_cachedir()).glob("fontlist-*.json")):  # else every kernel rebuilds it
        shutil.copy(cache, folder / cache.name)
    return folder


def kill_uid(uid: int) -> None:
    """Kill every process running as ``uid`` (what a job's kernel left behind)."""
    import psutil

    for proc in psutil.process_iter(["uids"]):
        with contextlib.suppress(psutil.Error):
            if proc.info["uids"] and proc.info["uids"].real == uid:
                proc.kill()


def _uid_in_use(uid: int) -> bool:
    import psutil

    for proc in psutil.process_iter(["uids"]):
        with contextlib.suppress(psutil.Error):
            if proc.info["uids"] and uid in (proc.info["uids"].real, proc.info["uids"].effective):
                return True
    return False


@contextlib.contextmanager
def job_uid() -> Iterator[int]:
    """A uid of the grader's range that no other job, of this run or another, holds now.

    Each job gets its own (not one per worker slot), held through a lock file for the
    job's duration and taken only when no process runs as it, so nothing a student
    leaves behind can meet the next student's kernel under the same uid.
    """
    UID_LOCKS.mkdir(parents=True, exist_ok=True, mode=0o700)
    start = random.randrange(SANDBOX_UIDS)
    for offset in range(SANDBOX_UIDS):
        uid = FIRST_SANDBOX_UID + (start + offset) % SANDBOX_UIDS
        handle = open(UID_LOCKS / str(uid), "a")  # noqa: SIM115 (held for the job)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        try:
            if _uid_in_use(uid):
                continue
            yield uid
            return
        finally:
            handle.close()
    raise RuntimeError(f"all {SANDBOX_UIDS} sandbox uids from {FIRST_SANDBOX_UID} are in use")


@contextlib.contextmanager
def job_sandbox(
    opts: Options, base: Path, student: str, slot: int, provisioner: dict | None, extra_hidden: list[str]
) -> Iterator[JobSandbox]:
    """Set up the sandbox of one job in ``base``; tear it down afterwards, whatever happened."""
    as_root = os.geteuid() == 0
    if as_root and opts.isolate:
        with job_uid() as uid, _job_sandbox(opts, base, student, slot, provisioner, extra_hidden, uid) as box:
            yield box
    else:
        with _job_sandbox(opts, base, student, slot, provisioner, extra_hidden, None) as box:
            yield box


@contextlib.contextmanager
def _job_sandbox(
    opts: Options, base: Path, student: str, slot: int, provisioner: dict | None, extra_hidden: list[str], uid: int | None
) -> Iterator[JobSandbox]:
    folder = base / f"slot{slot}-{student}"
    control = base / f"control-{slot}-{student}"  # the grader's: never the kernel's to write
    group = None
    try:
        folder.mkdir(mode=0o700)
        mpl = matplotlib_config(folder / ".matplotlib")
        if uid is not None:
            for path in (folder, *mpl.rglob("*"), mpl):
                os.chown(path, uid, uid)
        # IPython's and Jupyter's folders: the grader's, read-only to the kernel (no start-up files)
        for sub in ("profile_default/startup", "profile_default/security", "profile_default/log", "profile_default/pid"):
            (folder / GRADER_IPYTHON_DIR / sub).mkdir(parents=True, mode=0o755)
        (folder / GRADER_JUPYTER_DIR).mkdir(mode=0o755)
        control.mkdir(mode=0o711)
        argv = [sys.executable, "-m", "autograder.sandbox_kernel"]
        status_file = folder / ".isolation.json"
        if opts.isolate:
            hide, needed = hidden_and_needed(opts, extra_hidden)
            stage = control / "root"
            stage.mkdir(mode=0o700)
            if as_root_or_delegated():
                group, _ = sandbox_cgroup.create(f"{folder.parent.name}-{folder.name}", cgroup_limits(opts))
            config = SandboxConfig(
                workdir=str(folder),
                status_file=str(status_file),
                hide=hide,
                needed=needed,
                uid=uid,
                gid=uid,
                limits=dict(LIMITS),
                stage=str(stage),
                read_only=[*visible_paths(opts), str(folder / GRADER_IPYTHON_DIR), str(folder / GRADER_JUPYTER_DIR)],
                writable=[str(folder)],
                tmp_mb=cgroup_limits(opts).memory_mb,
                cgroup=group.as_dict() if group else None,
                memory_mb=opts.memory_mb,
            )
            config.write(control / "sandbox.json")
            argv += [SANDBOX_ARG, str(control / "sandbox.json")]
        argv += ["-f", "{connection_file}"]
        spec: dict = {"argv": argv, "display_name": "course-grade sandbox", "language": "python"}
        if provisioner is not None:
            spec["metadata"] = {"kernel_provisioner": provisioner}
        kernels = control / "jupyter" / "kernels" / KERNEL_NAME
        kernels.mkdir(parents=True)
        (kernels / "kernel.json").write_text(json.dumps(spec))
        yield JobSandbox(folder, control / "jupyter", status_file)
    finally:
        if group is not None:
            sandbox_cgroup.kill(group)
        if uid is not None:
            kill_uid(uid)
        if group is not None:
            sandbox_cgroup.remove(group)
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(control, ignore_errors=True)


def as_root_or_delegated() -> bool:
    """Whether to try a cgroup: as root (an unprivileged grader may have a delegated v2 subtree)."""
    return os.geteuid() == 0 or os.access("/sys/fs/cgroup/cgroup.subtree_control", os.W_OK)


def cgroup_limits(opts: Options) -> sandbox_cgroup.Limits:
    """The job's cgroup limits.

    Memory: ``--memory-mb`` plus an eighth (at least 64 MiB). The RSS watchdog enforces
    ``--memory-mb`` on what it sees (the kernel's resident memory); the cgroup is the hard
    ceiling on everything the job holds, which the watchdog cannot see: files in its
    tmpfs and shared memory, memory allocated faster than the watchdog polls. CPU: the
    job's share of the machine (what ``threads_per_job`` assumes).
    """
    return sandbox_cgroup.Limits(
        memory_mb=opts.memory_mb + max(64, opts.memory_mb // 8),
        pids=LIMITS["nproc"],
        cpus=float(opts.threads_per_job),
    )
