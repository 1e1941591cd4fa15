"""Children of the grader: results come back, failures are reported, time limits kill the group."""

from __future__ import annotations

import os
import time

from autograder.nbgrader_runs import call


def _answer(x):
    return {"twice": 2 * x, "pid": os.getpid(), "cwd": os.getcwd(), "env": os.environ.get("ONLY_THIS")}


def _fail():
    raise ValueError("broken on purpose")


def _sleep_with_grandchild(path):
    pid = os.fork()
    if pid == 0:  # a grandchild that would outlive a careless time limit
        time.sleep(60)
        os._exit(0)
    with open(path, "w") as f:
        f.write(str(pid))
    time.sleep(60)


def test_a_child_returns_its_value_in_its_own_cwd_and_environment(tmp_path):
    done = call(_answer, 21, cwd=tmp_path, env={"ONLY_THIS": "yes"}, log=tmp_path / "log")
    assert done.exitcode == 0 and done.value["twice"] == 42
    assert done.value["pid"] != os.getpid() and done.value["cwd"] == str(tmp_path) and done.value["env"] == "yes"


def test_an_exception_is_reported_not_raised(tmp_path):
    done = call(_fail, cwd=tmp_path, env={}, log=tmp_path / "log")
    assert done.exitcode != 0 and "ValueError: broken on purpose" in done.error
    assert "Traceback" in (tmp_path / "log").read_text()


def test_a_time_limit_kills_the_child_and_what_it_started(tmp_path):
    started = time.monotonic()
    done = call(_sleep_with_grandchild, str(tmp_path / "flag"), cwd=tmp_path, env={}, log=tmp_path / "log", timeout=3)
    assert done.timed_out and time.monotonic() - started < 30
    grandchild = int((tmp_path / "flag").read_text())
    time.sleep(0.5)
    assert not _alive(grandchild), "the grandchild outlived the time limit"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False
