"""The sandbox's parts, each on its own: what a kernel may see, the job's cgroup, a kernel started without the zygote."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from jupyter_client.manager import KernelManager

from autograder import environment, sandbox_cgroup, sandbox_setup
from autograder.options import Options

REPO = Path(__file__).resolve().parents[2]
linux_root = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/proc/self/ns/pid"), reason="needs root on Linux")


def _options(tmp_path: Path, course: Path = REPO, **kw) -> Options:
    return Options(assignment="B1-1", submissions=REPO / "demo" / "submissions" / "B1-1", course_root=course, out=tmp_path / "out", **kw)


def test_visible_paths_bind_the_course_packages_but_never_the_course_around_them(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    visible = sandbox_setup.visible_paths(_options(tmp_path))
    assert str(REPO / "autograder") in visible and str(REPO / "course_utils") in visible
    assert str(REPO) not in visible
    assert not [p for p in visible if p.startswith(str(REPO / "source"))]
    assert sys.base_prefix in visible


@linux_root
def test_job_cgroup_limits_memory_and_is_killed_whole():
    group, made = sandbox_cgroup.create(f"test-{os.getpid()}", sandbox_cgroup.Limits(memory_mb=64, pids=64, cpus=1.0))
    assert group is not None, made
    try:
        sleeper = subprocess.Popen(["sleep", "600"], preexec_fn=lambda: sandbox_cgroup.join(group), start_new_session=True)
        hog = subprocess.run(
            [sys.executable, "-c", "b = bytearray(256 * 2**20)\nfor i in range(0, len(b), 4096): b[i] = 1"],
            preexec_fn=lambda: sandbox_cgroup.join(group),
        )
        assert hog.returncode == -9  # killed by the memory limit
        assert sandbox_cgroup.oom_kills(group.memory) >= 1 and sandbox_cgroup.peak_mb(group.memory) >= 63
        assert sleeper.pid in sandbox_cgroup.pids(group)
        assert sandbox_cgroup.kill(group)
        sleeper.wait(timeout=5)
        assert sandbox_cgroup.pids(group) == set()
    finally:
        sandbox_cgroup.kill(group)
        sandbox_cgroup.remove(group)
    assert not any(os.path.exists(f) for f in group.folders)


PROBE = """
import json, os, subprocess, sys
daemon = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "sandbox-parts-probe"], start_new_session=True)
print(json.dumps({"pid": os.getpid(), "uid": os.getuid(), "root": sorted(os.listdir("/")),
                  "procs": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()), "daemon": daemon.pid,
                  "tmp": sorted(os.listdir("/tmp")), "cwd_writable": os.access(".", os.W_OK),
                  "ipython_writable": os.access(os.environ["IPYTHONDIR"], os.W_OK)}))
"""


@linux_root
def test_kernel_started_without_zygote_is_pid_1_of_an_empty_root_and_takes_its_processes_along(tmp_path):
    import json

    base = tmp_path / "base"
    base.mkdir(mode=0o711)
    opts = _options(tmp_path, zygote=False)
    with sandbox_setup.job_sandbox(opts, base, "s9999", 0, None, []) as box:
        os.environ["JUPYTER_PATH"] = str(box.jupyter_path)
        try:
            km = KernelManager(kernel_name=box.kernel_name, transport="ipc", ip=str(box.folder / "kernel"))
            km.start_kernel(cwd=str(box.folder), env=environment.kernel_env(opts))
        finally:
            os.environ.pop("JUPYTER_PATH")
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=60)
            out: list[str] = []
            kc.execute_interactive(PROBE, timeout=60, output_hook=lambda m: out.append(m["content"].get("text", "")))
            status = json.loads(box.status_file.read_text())
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
        seen = json.loads("".join(out))
        time.sleep(0.5)
        left = [p for p in psutil.process_iter(["cmdline"]) if "sandbox-parts-probe" in " ".join(p.info["cmdline"] or [])]
        assert left == [], "a process of the kernel outlived it"
    assert status["filesystem"].startswith("allow list") and status["pid_namespace"] and status["errors"] == [], status
    assert seen["pid"] == 1 and seen["uid"] >= sandbox_setup.FIRST_SANDBOX_UID
    assert seen["procs"] == sorted({1, seen["daemon"], *seen["procs"]}) and len(seen["procs"]) <= 3  # only its own
    assert not {"home", "srv", "mnt", "media", "opt", "boot"} & set(seen["root"]), seen["root"]
    assert seen["cwd_writable"] and not seen["ipython_writable"]
