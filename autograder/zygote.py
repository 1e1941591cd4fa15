"""Start grading kernels by forking one process that has already imported TensorFlow.

Importing TensorFlow, Keras, matplotlib and ipykernel takes about 5 s of CPU, more than a
whole B2-2 notebook needs in grading mode. The zygote pays it once per grading run:

* :func:`serve` (``python -m autograder.zygote SOCKET GRADER_PID``) imports :data:`PRELOAD`, then
  listens on a Unix socket that only the grader can reach. It never runs student code.
* For each request it forks a *monitor*, which forks the *kernel*. The kernel takes the
  requester's stdio, environment, working directory and command line, and runs
  :func:`autograder.sandbox_kernel.main` exactly as a freshly started process would (the
  job's cgroup, own PID, mount and network namespaces, an empty root, unprivileged uid,
  guarded kernel: the forked process stays as the launcher and forks once more into the
  new PID namespace). The monitor reports the kernel's pid
  and later its exit status, and kills the kernel if the requester goes away.
* :class:`ZygoteProvisioner` is the jupyter_client kernel provisioner that asks for such
  a kernel; the autograder's kernelspec names it. If the zygote cannot be reached it starts
  the kernel the ordinary way, so grading is only slower, never different.

Nothing TensorFlow does at run time happens before the fork: importing creates no eager
context and none of its thread pools (OpenBLAS's idle workers are re-created after a fork
by OpenBLAS itself), and numpy's global generator is reseeded in every child, so each
kernel starts from the state a fresh process would have.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import importlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning.local_provisioner import LocalProvisioner
from traitlets import Integer, Unicode

from .sandbox_kernel import die_with_parent

PRELOAD = (
    "numpy",
    "tensorflow",
    "keras",
    "matplotlib",
    "matplotlib.pyplot",  # not its inline backend: that hooks into IPython when first imported
    "sklearn.metrics",
    "IPython",
    "ipykernel.ipkernel",
    "ipykernel.kernelapp",
    "course_utils",
    "autograder.sandbox_kernel",
)
PROVISIONER_NAME = "course-grade-zygote"
KERNEL_MODULE = ["-m", "autograder.sandbox_kernel"]
MAX_REQUEST = 1 << 20


# --------------------------------------------------------------------------- server side


def _preload() -> list[str]:
    failed = []
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception as exc:  # an optional library missing only costs speed
            failed.append(f"{name}: {exc}")
    return failed


def _reseed() -> None:
    """After a fork: fresh entropy for numpy's global generator, as a new process has."""
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()


def _run_kernel(request: dict, fds: list[int], monitor: int) -> None:
    """In the forked kernel process: become the requested command, never return."""
    code = 1
    try:
        die_with_parent()
        if os.getppid() != monitor:  # the monitor is already gone
            return
        os.setpgid(0, 0)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for target, fd in enumerate(fds[:3]):
            os.dup2(fd, target)
        os.closerange(3, max(os.sysconf("SC_OPEN_MAX"), 1 << 16))  # the zygote's socket and files stay behind
        cwd = request.get("cwd") or "/"
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(request["env"])
        argv = list(request["argv"])
        # as `python -m` would have it: the start directory first on the import path
        sys.path[0] = os.path.abspath(cwd)
        # ipykernel read JPY_PARENT_PID when the zygote imported it: name the monitor,
        # this process's real parent, as the parent to watch
        args = [*argv[3:], f"--IPKernelApp.parent_handle={monitor}"]
        sys.argv = [argv[0], *args]
        from autograder import sandbox_kernel

        sandbox_kernel.main(args, die_with=monitor)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _read_request(conn: socket.socket) -> tuple[dict, list[int]]:
    fds: list[int] = []
    try:
        message, fds, _, _ = socket.recv_fds(conn, MAX_REQUEST, 3)
        request = json.loads(message)
        if len(fds) != 3 or not isinstance(request.get("argv"), list) or not isinstance(request.get("env"), dict):
            raise ValueError("a request needs argv, env and three file descriptors")
        if request["argv"][1:3] != KERNEL_MODULE:
            raise ValueError(f"the zygote only starts {' '.join(KERNEL_MODULE)} ..., not {request['argv']!r}")
    except (OSError, ValueError):
        for fd in fds:
            os.close(fd)
        raise
    return request, fds


def _monitor(conn: socket.socket) -> None:
    """In the forked monitor: read the request, fork the kernel, report its pid and exit status.

    The request is read here, not in the zygote, so that no kernel inherits another
    submission's paths or environment. The monitor does not die with the zygote: a kernel
    at work survives a zygote that crashes; it dies when its requester goes away.
    """
    code = 0
    kernel = None
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        try:
            request, fds = _read_request(conn)
        except (OSError, ValueError) as exc:
            conn.send(json.dumps({"error": str(exc)}).encode())
            return
        monitor = os.getpid()
        kernel = os.fork()
        if kernel == 0:
            conn.close()
            _run_kernel(request, fds, monitor)
        with contextlib.suppress(OSError):
            os.setpgid(kernel, kernel)  # also done by the child: no race with killpg
        for fd in fds:
            os.close(fd)
        conn.send(json.dumps({"pid": kernel}).encode())
        try:
            watch = [conn, os.pidfd_open(kernel)]  # readable when the kernel ends
        except (AttributeError, OSError):  # no pidfd (Linux < 5.3): poll instead
            watch = [conn]
        status = None
        while status is None:
            ready, _, _ = select.select(watch, [], [], None if len(watch) == 2 else 0.2)
            requester_gone = conn in ready and not conn.recv(4096)
            if requester_gone:  # so goes its kernel
                with contextlib.suppress(OSError):
                    os.killpg(kernel, signal.SIGKILL)
            done, wait_status = os.waitpid(kernel, os.WNOHANG)
            if done:
                status = wait_status
            elif requester_gone:
                status = os.waitpid(kernel, 0)[1]
        kernel = None
        with contextlib.suppress(OSError):
            conn.send(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode())
    except BaseException:
        code = 1
        if kernel:  # never leave a kernel nobody watches
            with contextlib.suppress(OSError):
                os.killpg(kernel, signal.SIGKILL)
    finally:
        os._exit(code)


def serve(path: str, parent: int | None = None) -> None:
    """Import the heavy libraries, then fork a monitor (and kernel) per connection on ``path``.

    ``parent``: the grader's pid; the zygote ends with it, even when it is killed.
    """
    started = time.monotonic()
    die_with_parent()
    if parent is not None and os.getppid() != parent:
        return  # the grader ended before we could ask to end with it
    failed = _preload()
    gc.freeze()  # the preloaded libraries' objects are never scanned by a kernel's collector
    os.register_at_fork(after_in_child=_reseed)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    old = os.umask(0o177)
    try:
        listener.bind(path)  # only the grader's uid may connect
    finally:
        os.umask(old)
    listener.listen(64)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # monitors are reaped by the kernel
    print(f"zygote ready in {time.monotonic() - started:.1f} s; not preloaded: {failed or 'none'}", flush=True)
    while True:
        try:
            conn, _ = listener.accept()
        except InterruptedError:
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() == 0:
            listener.close()
            _monitor(conn)
        conn.close()


class Zygote:
    """The zygote process of one grading run (started by the pipeline, killed at its end)."""

    def __init__(self, folder: str, env: dict[str, str], log: str) -> None:
        self.folder = folder
        self.socket_path = os.path.join(folder, "socket", "zygote.sock")
        # what libraries read at import comes from here, not from the grader's own
        # folders: an empty home (keras.json) and working directory (matplotlibrc)
        home = os.path.join(folder, "home")
        os.makedirs(home, exist_ok=True)
        with open(log, "ab") as handle:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "autograder.zygote", self.socket_path, str(os.getpid())],
                cwd=home,
                env=dict(env, HOME=home),
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def provisioner(self) -> dict:
        """The ``kernel_provisioner`` entry of a kernelspec whose kernels this zygote forks."""
        return {"provisioner_name": PROVISIONER_NAME, "config": {"socket": self.socket_path, "server_pid": self.process.pid}}

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # the zygote and its monitors
        self.process.wait()

    @staticmethod
    def available() -> bool:
        """True on Linux when jupyter_client can find :class:`ZygoteProvisioner` (package installed)."""
        from importlib.metadata import entry_points

        return sys.platform.startswith("linux") and any(ep.name == PROVISIONER_NAME for ep in entry_points(group="jupyter_client.kernel_provisioners"))


# --------------------------------------------------------------------------- client side


class ForkedKernel:
    """What :class:`subprocess.Popen` offers jupyter_client, for a kernel the zygote forked."""

    stdin = stdout = stderr = None

    def __init__(self, conn: socket.socket, pid: int) -> None:
        self._conn = conn
        self.pid = pid
        self.returncode: int | None = None

    def _finish(self, data: bytes) -> int:
        try:
            self.returncode = int(json.loads(data)["exit"]) if data else -signal.SIGKILL
        except (ValueError, KeyError, TypeError):
            self.returncode = -signal.SIGKILL
        self._conn.close()
        return self.returncode

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                data = self._conn.recv(4096, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return None
            except OSError:
                data = b""
            self._finish(data)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self._conn.settimeout(timeout)
            try:
                data = self._conn.recv(4096)
            except TimeoutError as exc:
                raise subprocess.TimeoutExpired("zygote kernel", timeout) from exc
            except OSError:
                data = b""
            self._finish(data)
        return self.returncode  # type: ignore[return-value]

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def _alive(pid: int | None) -> bool:
    """False once ``pid`` has exited (a zombie nobody reaped yet counts as exited)."""
    if pid is None:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def request_kernel(
    path: str, argv: list[str], env: dict[str, str], cwd: str | None, server_pid: int | None = None, wait: float = 120.0
) -> ForkedKernel:
    """Ask the zygote at ``path`` for a kernel; raise OSError when it cannot give one.

    Waits while the zygote is still importing (no socket yet), up to ``wait`` seconds,
    but gives up at once when ``server_pid`` has exited or nobody listens any more.
    """
    deadline = time.monotonic() + wait
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    while True:
        try:
            conn.connect(path)
            break
        except FileNotFoundError:
            if time.monotonic() > deadline or not _alive(server_pid):
                conn.close()
                raise
            time.sleep(0.05)
        except OSError:
            conn.close()
            raise
    body = json.dumps({"argv": argv, "env": env, "cwd": cwd}).encode()
    devnull = os.open(os.devnull, os.O_RDONLY)
    try:
        socket.send_fds(conn, [body], [devnull, sys.stdout.fileno(), sys.stderr.fileno()])
    finally:
        os.close(devnull)
    conn.settimeout(wait)
    try:
        reply = json.loads(conn.recv(4096) or b"{}")
    except (OSError, ValueError) as exc:
        conn.close()
        raise OSError(errno.EIO, f"no answer from the kernel zygote: {exc}") from exc
    if "pid" not in reply:
        conn.close()
        raise OSError(errno.EIO, f"the kernel zygote refused: {reply.get('error', 'no reason given')}")
    conn.settimeout(None)
    return ForkedKernel(conn, int(reply["pid"]))


class ZygoteProvisioner(LocalProvisioner):
    """Local provisioner whose kernels are forked by the grading run's zygote."""

    socket = Unicode("", config=True, help="Unix socket of the zygote (autograder.zygote.serve)")
    server_pid = Integer(0, config=True, help="pid of the zygote: no waiting for a zygote that has exited")

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        if not self.socket:
            return await super().launch_kernel(cmd, **kwargs)
        env = dict(kwargs.get("env") or os.environ)
        env.setdefault("JPY_PARENT_PID", str(os.getpid()))
        cwd = kwargs.get("cwd")
        try:
            self.process = request_kernel(self.socket, cmd, env, str(cwd) if cwd else None, self.server_pid or None)
        except OSError as exc:
            self.log.warning("kernel zygote unavailable (%s); starting the kernel the ordinary way", exc)
            return await super().launch_kernel(cmd, **kwargs)
        self.pid = self.process.pid
        try:
            self.pgid = os.getpgid(self.pid)
        except OSError:
            self.pgid = None
        self.cwd = cwd
        return self.connection_info

    async def send_signal(self, signum: int) -> None:
        if isinstance(self.process, ForkedKernel) and self.process.poll() is not None:
            return  # reaped: its pid and group may already belong to another process
        await super().send_signal(signum)


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else None)
