"""Kernel launcher for grading: isolate the process, then run a guarded IPython kernel.

Started by the autograder's kernelspec as
``python -m autograder.sandbox_kernel --sandbox CONFIG.json -f CONN`` (a
:class:`~autograder.sandbox_config.SandboxConfig`), or forked by the zygote, which then
calls :func:`main` the same way. While still single-threaded:

1. join the job's cgroup (memory, pids and CPU limits; :mod:`.sandbox_cgroup`), so every
   later process of the job is counted and can be killed with it;
2. a new PID namespace (and, without root, a user namespace first). The process that
   unshares is not in it: it forks the namespace's first process, which becomes the
   kernel, and stays as its *launcher*: it relays the grader's signals, waits, and exits
   as the kernel did. When the kernel ends, Linux kills every process of the namespace,
   so nothing a student starts (a ``setsid`` daemon, a CPU burner) outlives it;
3. in the kernel: new mount and network namespaces (no network), and a file system
   that is deny by default (:mod:`.sandbox_fs`): an empty root with only the paths the
   grader listed bound read-only, the working folder read-write, a private ``/tmp``,
   ``/var/tmp``, ``/dev/shm``, ``/dev`` and ``/proc``. Where that cannot be built the older
   deny list is applied instead (an empty tmpfs over every path in ``hide``), and the
   status says so;
4. as root: switch to the job's unprivileged uid/gid (no capabilities left, so the mounts
   cannot be undone and other processes cannot be signalled), resource limits;
5. run :class:`GradingKernel`, which before every test cell restores what student code
   may have patched (IPython input/AST transformers, shell methods, event callbacks, the
   functions of numpy/numpy.testing/math/builtins, keras Model/Layer methods, names that
   the instructor's locked cells bound) and reports what it restored in the reply.

What was achieved (namespaces, file system mode and the paths visible, limits in force,
errors) is written to ``status_file`` before any student code runs; it becomes
``isolation`` in ``report.json``.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import select
import signal
import stat
import sys
import tempfile

from . import sandbox_cgroup, sandbox_fs
from .cells import CellRole, bound_names
from .cells import neutralize_magics as neutralize_magics  # re-exported for older callers
from .sandbox_config import SANDBOX_ARG, SandboxConfig

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
CLONE_NEWPID = 0x20000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1

#: folders in the kernel's working folder that the grader makes and the kernel cannot change
GRADER_IPYTHON_DIR = ".ipython"
GRADER_JUPYTER_DIR = ".jupyter"

ROLE_KEY = "__course_grade_role__"
REPORT_KEY = "course_grade_integrity"


# --------------------------------------------------------------------------- isolation


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (a uid switch clears it)."""
    try:
        _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (AttributeError, OSError):  # not Linux
        pass


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


_mount = sandbox_fs.mount
_umount = sandbox_fs.umount


def _write_id_maps(uid: int, gid: int) -> None:
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{gid} {gid} 1")


def _others_can_enter(path: str) -> bool:
    try:
        return bool(os.stat(path).st_mode & stat.S_IXOTH)
    except OSError:
        return False


def _expose(needed: list[str], uid_switch: bool, stage_dir: str) -> list[str]:
    """Make ``needed`` paths reachable for another uid below closed dirs (e.g. /root)."""
    if not uid_switch:
        return []
    blocked: dict[str, list[str]] = {}
    for path in needed:
        parts = os.path.abspath(path).split(os.sep)
        for i in range(2, len(parts)):
            ancestor = os.sep.join(parts[:i])
            if not _others_can_enter(ancestor):
                blocked.setdefault(ancestor, []).append(os.path.abspath(path))
                break
    done = []
    for ancestor, paths in blocked.items():
        stage = tempfile.mkdtemp(prefix="cg-stage-", dir=stage_dir or None)
        keep = []
        for i, p in enumerate(sorted(set(paths))):
            if not os.path.exists(p):
                continue
            spot = os.path.join(stage, str(i))
            os.mkdir(spot)
            _mount(p, spot, None, MS_BIND | MS_REC)
            keep.append((p, spot))
        _mount("tmpfs", ancestor, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
        for p, spot in keep:
            os.makedirs(p, mode=0o755, exist_ok=True)
            _mount(spot, p, None, MS_BIND | MS_REC)
            _umount(spot)
        done.append(ancestor)
    return done


def _hide(paths: list[str]) -> list[str]:
    hidden = []
    for path in paths:
        if not os.path.lexists(path):
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
        else:
            _mount("/dev/null", path, None, MS_BIND)
        hidden.append(path)
    return hidden


def _join_cgroup(cfg: SandboxConfig, status: dict) -> None:
    """Move this process (so every later one of the job) into the job's cgroup."""
    watchdog = f"RSS watchdog at {cfg.memory_mb} MiB" if cfg.memory_mb else "RSS watchdog"
    status["limits"] = {"memory": watchdog, "pids": "rlimit nproc (per uid)", "cpu": "timeouts only"}
    if not cfg.cgroup:
        return
    group = sandbox_cgroup.JobCgroup.from_dict(cfg.cgroup)
    try:
        sandbox_cgroup.join(group)
    except OSError as exc:
        status["errors"].append(f"cgroup not joined ({exc}): memory bounded by the RSS watchdog alone")
        return
    status["cgroup"] = group.as_dict()
    version = f"cgroup v{group.version}"
    status["limits"] = {
        "memory": f"{version} (all memory, tmpfs and shared memory included) and {watchdog}",
        "pids": version,
        "cpu": version,
    }


def _fork_into_pid_namespace(status: dict) -> int | None:
    """After ``unshare(CLONE_NEWPID)``: fork the namespace's first process.

    Returns, in that child, a pipe end that reads end-of-file once the launcher is gone.
    The launcher itself never returns: it relays signals to the child (the grader
    interrupts and stops "the kernel" through its pid), waits, and exits as the child did.
    Its death kills the child (``PR_SET_PDEATHSIG``), whose death kills every process
    of the namespace: nothing a student starts outlives the kernel.
    """
    read_end, write_end = os.pipe()
    oom_adjusted = _oom_score_adj(-1000)  # a memory limit kills the kernel, not its waiter
    child = os.fork()
    if child == 0:
        os.close(write_end)
        if oom_adjusted:
            _oom_score_adj(0)
        os.setsid()  # the grader's killpg reaches the launcher only, which relays once
        _die_with_launcher(read_end)
        return read_end
    os.close(read_end)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)

    def relay(signum, _frame):
        with contextlib.suppress(OSError):
            os.kill(child, signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(signum, relay)
    while True:
        try:
            _, wait_status = os.waitpid(child, 0)
            break
        except ChildProcessError:
            os._exit(1)
    code = os.waitstatus_to_exitcode(wait_status)
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code & 0xFF)


def _oom_score_adj(value: int) -> bool:
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(value))
        return True
    except OSError:
        return False


def _die_with_launcher(read_end: int) -> None:
    die_with_parent()
    ready, _, _ = select.select([read_end], [], [], 0)
    if ready:  # end of file: the launcher ended before we asked to end with it
        os._exit(1)


def _filesystem(cfg: SandboxConfig, status: dict, uid: int, gid: int, own_pids: bool) -> None:
    """Deny by default (an empty root); the deny list of private paths where that fails."""
    if cfg.stage:
        try:
            seen = sandbox_fs.build_root(cfg.stage, cfg.read_only, cfg.writable, cfg.tmp_mb, uid, gid, cfg.workdir)
            if not own_pids:
                seen.private = [p.replace("own PID namespace", "the host's processes") for p in seen.private]
            status["filesystem"] = "allow list (empty root)"
            status["visible"] = seen.as_dict()
            # the course's private paths, checked to be out of reach from here
            for path in cfg.hide:
                if os.path.lexists(path):
                    status["errors"].append(f"private path visible in the empty root: {path}")
                else:
                    status["hidden"].append(path)
            return
        except OSError as exc:
            status["errors"].append(f"empty root not built ({exc}): fell back to hiding a deny list")
    status["filesystem"] = "deny list (everything visible but the hidden paths)"
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    status["exposed"] = _expose(cfg.needed, os.geteuid() == 0 and cfg.uid is not None, cfg.stage)
    status["hidden"] = _hide(cfg.hide)


def isolate(cfg: SandboxConfig, die_with: int | None = None) -> dict:
    """Apply the sandbox; return a description of what was achieved.

    Joins the job's cgroup, enters a new PID namespace (the caller forks: only the
    returned process goes on, see :func:`_fork_into_pid_namespace`), new mount and
    network namespaces, builds the file system, sets resource limits and switches to the
    job's uid. ``die_with``: the pid of the process this one must not outlive (the
    zygote's monitor) when no PID namespace could be made.
    """
    status: dict = {
        "namespaces": "none",
        "pid_namespace": False,
        "network": "host",
        "filesystem": "host",
        "hidden": [],
        "uid": os.getuid(),
        "errors": [],
    }
    as_root = os.geteuid() == 0
    uid, gid = os.getuid(), os.getgid()
    _join_cgroup(cfg, status)
    libc = _libc()
    try:
        if not as_root:
            _check(libc.unshare(CLONE_NEWUSER), "unshare(user)")
            _write_id_maps(uid, gid)
        status["namespaces"] = "root" if as_root else "userns"
    except OSError as exc:
        status["errors"].append(str(exc))
    launcher_pipe = None
    if status["namespaces"] != "none":
        try:
            _check(libc.unshare(CLONE_NEWPID), "unshare(pid)")
            launcher_pipe = _fork_into_pid_namespace(status)
            status["pid_namespace"] = True
        except OSError as exc:
            status["errors"].append(str(exc))
        try:
            _check(libc.unshare(CLONE_NEWNS | CLONE_NEWNET), "unshare(mount, network)")
            status["network"] = "none (own network namespace)"
            switch = as_root and cfg.uid is not None
            kernel_uid = int(cfg.uid) if switch else uid
            kernel_gid = int(cfg.gid if cfg.gid is not None else cfg.uid) if switch else gid
            _filesystem(cfg, status, kernel_uid, kernel_gid, status["pid_namespace"])
        except OSError as exc:
            status["errors"].append(str(exc))
    for name, value in cfg.limits.items():
        res = getattr(resource, f"RLIMIT_{name.upper()}", None)
        if res is not None:
            try:
                resource.setrlimit(res, (value, value))
            except (ValueError, OSError) as exc:
                status["errors"].append(f"rlimit {name}: {exc}")
    if as_root and cfg.uid is not None:
        uid = int(cfg.uid)
        gid = int(cfg.gid if cfg.gid is not None else uid)
        os.setgroups([gid])
        os.setgid(gid)
        os.setuid(uid)
        status["uid"] = uid
    if launcher_pipe is not None:
        _die_with_launcher(launcher_pipe)  # the uid switch cleared it
        os.close(launcher_pipe)
    elif die_with:
        die_with_parent()
        if os.getppid() != die_with:  # the monitor ended before we asked again
            os._exit(1)
    return status


# --------------------------------------------------------------------------- kernel


def _snapshot_module(module) -> dict:
    return dict(vars(module))


def _restore_module(module, snap: dict, label: str, restored: list[str]) -> None:
    current = vars(module)
    for name, value in snap.items():
        if current.get(name, _MISSING) is not value:
            try:
                setattr(module, name, value)
                restored.append(f"{label}.{name}")
            except (AttributeError, TypeError):
                pass


def _snapshot_class(cls) -> dict:
    return dict(vars(cls))


#: attributes Python itself adds on first access (reading ``cls.__annotations__`` creates it)
LAZY_DUNDERS = frozenset({"__annotations__"})


def _restore_class(cls, snap: dict, label: str, restored: list[str]) -> None:
    for name in list(vars(cls)):
        if name not in snap and name not in LAZY_DUNDERS:
            try:
                delattr(cls, name)
                restored.append(f"{label}.{name} (added)")
            except (AttributeError, TypeError):
                pass
    for name, value in snap.items():
        if vars(cls).get(name, _MISSING) is not value:
            try:
                setattr(cls, name, value)
                restored.append(f"{label}.{name}")
            except (AttributeError, TypeError):
                pass


_MISSING = object()


def _trusted_prefixes() -> tuple[str, ...]:
    import site

    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages()}
    try:
        import course_utils

        prefixes.add(os.path.dirname(os.path.dirname(course_utils.__file__)))
    except ImportError:
        pass
    return tuple(p.rstrip(os.sep) + os.sep for p in prefixes if p)


def _is_trusted(callback, trusted: tuple[str, ...]) -> bool:
    """True for callbacks defined under ``trusted`` prefixes (matplotlib's inline flush...)."""
    func = getattr(callback, "__func__", callback)
    module = sys.modules.get(getattr(func, "__module__", "") or "")
    path = getattr(module, "__file__", None) or ""
    return bool(path) and os.path.abspath(path).startswith(trusted)


def make_kernel_class(trusted: tuple[str, ...] = ()):
    """Build the guarded kernel class (imports ipykernel only when called).

    ``trusted``: path prefixes of installed code whose IPython event callbacks are kept.
    """
    import builtins
    import inspect
    import math
    import types

    from ipykernel.ipkernel import IPythonKernel

    guarded_modules = [builtins, math]
    try:
        import numpy
        import numpy.testing

        guarded_modules += [numpy, numpy.testing]
    except ImportError:
        pass

    class GradingKernel(IPythonKernel):
        """IPython kernel that puts test cells back on trusted ground before they run."""

        implementation = "course-grade"

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            shell = self.shell
            self._module_snaps = [(m, _snapshot_module(m), m.__name__) for m in guarded_modules]
            self._class_snaps = []
            self._shell_dict = dict(vars(shell))
            self._shell_class_snaps = [(c, _snapshot_class(c), c.__name__) for c in type(shell).__mro__[:3]]
            self._transformers = (
                shell.input_transformer_manager,
                list(shell.input_transformer_manager.cleanup_transforms),
                list(shell.input_transformer_manager.line_transforms),
                list(shell.input_transformer_manager.token_transformers),
                list(shell.input_transformers_post),
                list(shell.ast_transformers),
            )
            self._events = {k: list(v) for k, v in shell.events.callbacks.items()}
            self._locked_values: dict[str, object] = {}
            self._keras_snapped = False

        def _snap_keras(self) -> None:
            """Snapshot keras classes once keras is imported (by the setup cell)."""
            if self._keras_snapped or "keras" not in sys.modules:
                return
            try:
                import keras

                for cls in (keras.Model, keras.layers.Layer, keras.Sequential):
                    self._class_snaps.append((cls, _snapshot_class(cls), f"keras.{cls.__name__}"))
                self._keras_snapped = True
            except Exception:
                pass

        def _restore(self) -> list[str]:
            restored: list[str] = []
            shell = self.shell
            for module, snap, label in self._module_snaps:
                _restore_module(module, snap, label, restored)
            for cls, snap, label in self._class_snaps + self._shell_class_snaps:
                _restore_class(cls, snap, label, restored)
            for name in list(vars(shell)):
                value = vars(shell)[name]
                if name not in self._shell_dict and callable(value) and not name.startswith("_"):
                    delattr(shell, name)
                    restored.append(f"shell.{name} (added)")
                elif name in self._shell_dict and isinstance(self._shell_dict[name], types.MethodType) and value is not self._shell_dict[name]:
                    setattr(shell, name, self._shell_dict[name])
                    restored.append(f"shell.{name}")
            manager, cleanup, line, token, post, ast_t = self._transformers
            if shell.input_transformer_manager is not manager:
                shell.input_transformer_manager = manager
                restored.append("shell.input_transformer_manager")
            for attr, saved in (("cleanup_transforms", cleanup), ("line_transforms", line), ("token_transformers", token)):
                if list(getattr(manager, attr)) != saved:
                    setattr(manager, attr, list(saved))
                    restored.append(f"input transformers ({attr})")
            if list(shell.input_transformers_post) != post:
                shell.input_transformers_post = list(post)
                restored.append("input transformers (post)")
            if list(shell.ast_transformers) != ast_t:
                shell.ast_transformers = list(ast_t)
                restored.append("AST transformers")
            for event, callbacks in shell.events.callbacks.items():
                saved = self._events.get(event, [])
                keep = [cb for cb in callbacks if cb in saved or _is_trusted(cb, trusted)]
                if len(keep) != len(callbacks):
                    shell.events.callbacks[event] = keep
                    restored.append(f"event callbacks ({event})")
            user_ns = shell.user_ns
            for name, value in self._locked_values.items():
                if user_ns.get(name, _MISSING) is not value:
                    user_ns[name] = value
                    restored.append(f"name '{name}' bound by an instructor cell")
            return restored

        def _remember_locked(self, code: str) -> None:
            user_ns = self.shell.user_ns
            for name in bound_names(code):
                value = user_ns.get(name, _MISSING)
                if value is not _MISSING and (
                    inspect.ismodule(value) or inspect.isfunction(value) or inspect.isclass(value) or inspect.isbuiltin(value)
                ):
                    self._locked_values[name] = value

        async def do_execute(self, code, silent, store_history=True, user_expressions=None, allow_stdin=False, **kwargs):
            user_expressions = dict(user_expressions or {})
            role = user_expressions.pop(ROLE_KEY, None)
            restored: list[str] = []
            if role == CellRole.TEST.value:
                self._snap_keras()
                restored = self._restore()
            reply = await super().do_execute(code, silent, store_history, user_expressions, allow_stdin, **kwargs)
            if role == CellRole.LOCKED.value:
                self._snap_keras()
                self._remember_locked(code)
            if restored:
                reply[REPORT_KEY] = restored
            return reply

    return GradingKernel


def _sandbox_arg(argv: list[str]) -> tuple[SandboxConfig | None, list[str]]:
    """The sandbox configuration named by ``--sandbox PATH``, and the remaining arguments."""
    if SANDBOX_ARG not in argv:
        return None, argv
    at = argv.index(SANDBOX_ARG)
    return SandboxConfig.read(argv[at + 1]), argv[:at] + argv[at + 2 :]


def main(argv: list[str], die_with: int | None = None) -> None:
    """Isolate this process as the sandbox configuration says, then run the guarded kernel."""
    cfg, argv = _sandbox_arg(list(argv))
    conn_index = argv.index("-f") + 1 if "-f" in argv else None
    connection = None
    if conn_index is not None:
        with open(argv[conn_index]) as f:
            connection = f.read()
    status = isolate(cfg, die_with) if cfg else {"namespaces": "none", "errors": ["no sandbox configured"]}
    if cfg is not None:
        workdir = cfg.workdir
        os.chdir(workdir)
        for var, sub in (
            ("HOME", ""),
            ("MPLCONFIGDIR", ".matplotlib"),
            ("IPYTHONDIR", GRADER_IPYTHON_DIR),  # the grader's, read-only: no start-up files
            ("JUPYTER_CONFIG_DIR", GRADER_JUPYTER_DIR),
            ("JUPYTER_DATA_DIR", GRADER_JUPYTER_DIR),
        ):
            os.environ[var] = os.path.join(workdir, sub) if sub else workdir
        argv.append("--HistoryManager.enabled=False")  # IPython's folder is read-only
        if connection is not None:
            own = os.path.join(workdir, ".kernel-connection.json")
            with open(own, "w") as f:
                f.write(connection)
            argv[conn_index] = own
        with open(cfg.status_file, "w") as f:
            json.dump(status, f)
    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance(argv=argv, kernel_class=make_kernel_class(_trusted_prefixes()))


if __name__ == "__main__":
    main(sys.argv[1:])
