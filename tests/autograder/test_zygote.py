"""The kernel zygote: kernels forked with TensorFlow already imported, managed by jupyter_client."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest
from jupyter_client.manager import KernelManager

from autograder import zygote

pytestmark = pytest.mark.skipif(not zygote.Zygote.available(), reason="package not installed: no provisioner entry point")

KERNEL_ARGV = [sys.executable, *zygote.KERNEL_MODULE, "-f", "{connection_file}"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zygote")
    os.chmod(folder, 0o700)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", MPLBACKEND="module://matplotlib_inline.backend_inline")
    z = zygote.Zygote(str(folder), env, str(folder / "zygote.log"))
    deadline = time.monotonic() + 120
    while not os.path.exists(z.socket_path):
        assert z.process.poll() is None, (folder / "zygote.log").read_text()
        assert time.monotonic() < deadline, "zygote did not start within 120 s"
        time.sleep(0.1)
    yield z
    z.stop()


def kernel_manager(tmp_path: Path, provisioner: dict) -> KernelManager:
    spec_dir = tmp_path / "kernels" / "zygote-test"
    spec_dir.mkdir(parents=True)
    spec = {"argv": KERNEL_ARGV, "display_name": "zygote test", "language": "python", "metadata": {"kernel_provisioner": provisioner}}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    os.environ["JUPYTER_PATH"] = str(tmp_path)
    try:
        km = KernelManager(kernel_name="zygote-test")
        km.start_kernel(cwd=str(tmp_path))
    finally:
        os.environ.pop("JUPYTER_PATH")
    return km


def run(km: KernelManager, code: str, timeout: float = 60, messages: list | None = None) -> tuple[str, dict]:
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        out: list[str] = []

        def hook(msg):
            out.append(msg["content"].get("text", ""))
            if messages is not None:
                messages.append(msg)

        reply = kc.execute_interactive(code, timeout=timeout, output_hook=hook)
        return "".join(out), reply["content"]
    finally:
        kc.stop_channels()


def test_forked_kernel_starts_with_tensorflow_imported_and_works(server, tmp_path):
    km = kernel_manager(tmp_path, server.provisioner())
    try:
        assert isinstance(km.provisioner.process, zygote.ForkedKernel), "the kernel was not forked by the zygote"
        out, reply = run(km, "import os, sys\nprint('tensorflow' in sys.modules, os.getppid() != os.getpid())\nimport keras\nprint(keras.ops.sum(keras.ops.ones(3)))")
        assert reply["status"] == "ok", reply
        assert out.startswith("True True") and "3.0" in out, out
    finally:
        km.shutdown_kernel(now=True)


def test_forked_kernel_shows_figures_inline_like_a_fresh_kernel(server, tmp_path):
    km = kernel_manager(tmp_path, server.provisioner())
    try:
        messages: list = []
        _, reply = run(km, "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])", messages=messages)
        assert reply["status"] == "ok", reply
        images = [m for m in messages if m["msg_type"] == "display_data" and "image/png" in m["content"]["data"]]
        assert len(images) == 1, f"expected the figure as an inline PNG, got {[m['msg_type'] for m in messages]}"
        out, _ = run(km, "print(plt.get_fignums())")
        assert out.strip() == "[]", f"figures were not closed after display: {out}"
    finally:
        km.shutdown_kernel(now=True)


def test_forked_kernels_do_not_share_random_state_or_the_zygote_import_path(server, tmp_path):
    draws = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        km = kernel_manager(folder, server.provisioner())
        try:
            out, reply = run(km, "import os, sys, numpy\nprint(numpy.random.random(), sys.path[0] == os.getcwd())")
            assert reply["status"] == "ok", reply
            draw, own_path = out.split()
            assert own_path == "True", "sys.path[0] is not the kernel's own start folder"
            draws.append(draw)
        finally:
            km.shutdown_kernel(now=True)
    assert draws[0] != draws[1], "two kernels drew the same 'random' number: the zygote's seed was inherited"


def test_forked_kernel_can_be_interrupted(server, tmp_path):
    km = kernel_manager(tmp_path, server.provisioner())
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        msg_id = kc.execute("import time\ntime.sleep(60)")
        time.sleep(1.0)
        km.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=20)
        assert reply["parent_header"]["msg_id"] == msg_id
        assert reply["content"]["ename"] == "KeyboardInterrupt", reply["content"]
        kc.stop_channels()
    finally:
        km.shutdown_kernel(now=True)


def test_killed_kernel_is_reported_dead(server, tmp_path):
    km = kernel_manager(tmp_path, server.provisioner())
    try:
        pid = km.provisioner.process.pid
        assert km.is_alive()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while km.is_alive():
            assert time.monotonic() < deadline, "a killed kernel still looks alive"
            time.sleep(0.05)
        assert km.provisioner.process.returncode == -signal.SIGKILL
    finally:
        km.shutdown_kernel(now=True)


def test_kernel_dies_when_its_requester_goes_away(server, tmp_path):
    connection = tmp_path / "kernel.json"
    connection.write_text("{}")
    kernel = zygote.request_kernel(server.socket_path, [sys.executable, *zygote.KERNEL_MODULE, "-f", str(connection)], dict(os.environ), str(tmp_path))
    assert psutil.pid_exists(kernel.pid)
    kernel._conn.close()  # as when the nbgrader process that asked for it is killed
    deadline = time.monotonic() + 10
    while psutil.pid_exists(kernel.pid) and psutil.Process(kernel.pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the kernel outlived the process that asked for it"
        time.sleep(0.05)


def test_zygote_starts_nothing_but_the_grading_kernel(server):
    with pytest.raises(OSError, match="only starts"):
        zygote.request_kernel(server.socket_path, [sys.executable, "-c", "print('hello')"], dict(os.environ), None)


def test_without_a_zygote_the_kernel_starts_the_ordinary_way(tmp_path):
    dead = psutil.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    started = time.monotonic()
    km = kernel_manager(tmp_path, {"provisioner_name": zygote.PROVISIONER_NAME, "config": {"socket": str(tmp_path / "none.sock"), "server_pid": dead.pid}})
    try:
        assert time.monotonic() - started < 30, "waited for a zygote that had exited"
        assert not isinstance(km.provisioner.process, zygote.ForkedKernel)
        out, reply = run(km, "print(6 * 7)")
        assert reply["status"] == "ok" and out.strip() == "42"
    finally:
        km.shutdown_kernel(now=True)


def test_zygote_ends_when_the_grader_is_killed(tmp_path):
    script = (
        "import os, sys, time\n"
        "from autograder.zygote import Zygote\n"
        f"z = Zygote({str(tmp_path)!r}, dict(os.environ), {str(tmp_path / 'zygote.log')!r})\n"
        "print(z.process.pid, z.socket_path, flush=True)\n"
        "time.sleep(120)\n"
    )
    grader = psutil.Popen([sys.executable, "-c", script], stdout=-1, text=True)
    pid, socket_path = grader.stdout.readline().split()
    pid = int(pid)
    deadline = time.monotonic() + 120
    while not os.path.exists(socket_path):  # serving, not still starting
        assert time.monotonic() < deadline and psutil.pid_exists(pid), "the zygote did not start"
        time.sleep(0.1)
    grader.kill()
    grader.wait()
    deadline = time.monotonic() + 20
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the zygote outlived the grader that started it"
        time.sleep(0.1)


def test_no_waiting_for_a_zygote_that_died_before_it_listened(tmp_path):
    zombie = psutil.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    zombie.kill()
    deadline = time.monotonic() + 10
    while zombie.status() != psutil.STATUS_ZOMBIE:  # exited, not reaped: as a crashed zygote
        assert time.monotonic() < deadline
        time.sleep(0.05)
    started = time.monotonic()
    with pytest.raises(FileNotFoundError):
        zygote.request_kernel(str(tmp_path / "never.sock"), KERNEL_ARGV, {}, None, server_pid=zombie.pid, wait=30)
    assert time.monotonic() - started < 5
    zombie.wait()
