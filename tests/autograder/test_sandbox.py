"""A grading kernel sees only what it needs, leaves nothing behind and cannot outgrow its limits.

Hostile submissions graded through the whole pipeline, as :mod:`test_pipeline` grades the
demo class: a spy that searches the machine for other courses' hidden tests and for files
this test planted; an attacker that writes wherever it can and leaves a pid-hopping
``setsid`` daemon planting IPython start-up files for later kernels; a memory bomb in
``/dev/shm`` and ``/tmp`` (invisible to an RSS watchdog). Run 1 grades them with two workers next to
untouched demo students, run 2 with one worker and a smaller memory limit.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest
from course_copies import course_copy

from autograder import pipeline
from autograder.options import Options

REPO = Path(__file__).resolve().parents[2]
A = "B1-1"
DEMO = REPO / "demo" / "submissions" / A
EXPECTED = json.loads((Path(__file__).parent / "data" / "demo_B1-1_expected.json").read_text(encoding="utf-8"))["students"]
TOKEN = f"cgsbx{os.getpid()}"
CANARY = "CG_SANDBOX_CANARY_SECRET"
SOFTMAX_CELL, DENSE_CELL = "softmax", "dense_params"
SHARED_PLACES = ("/tmp", "/var/tmp", "/dev/shm", "/home", "/srv", "/run/lock")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists("/proc/self/ns/pid"), reason="Linux namespaces needed"),
]

SPY = r'''
import json as _json, os as _os
_token = "{token}"
_needle = "BEGIN " + "HIDDEN TESTS"
_found = {{"markers": [], "hidden": [], "root": sorted(_os.listdir("/")), "env": sorted(_os.environ)}}
def _look(top):
    for folder, subs, files in _os.walk(top):
        if folder == "/":
            subs[:] = [s for s in subs if s not in ("proc", "sys", "dev")]
        for name in files + subs:
            path = _os.path.join(folder, name)
            if _token in name:
                _found["markers"].append(path)
            if name.endswith(".ipynb"):
                try:
                    with open(path, errors="replace") as _f:
                        if _needle in _f.read(4_000_000):
                            _found["hidden"].append(path)
                except OSError:
                    pass
_tops = ["/", "/tmp", "/home", "/root", "/srv"]
_here = _os.getcwd()
while _here != "/":
    _here = _os.path.dirname(_here)
    _tops.append(_here)
_tops += [f"/proc/{{p}}/cwd" for p in _os.listdir("/proc") if p.isdigit()]
for _top in _tops:
    _look(_top)
print("SPY " + _json.dumps(_found))
'''

DAEMON = r'''
import os, sys, time
token = sys.argv[1]
if os.geteuid() == 0:  # never as root, should this ever run unsandboxed
    sys.exit()


def plant():
    for top in ("/tmp", "/var/tmp", "/dev/shm", os.path.expanduser("~"), os.path.dirname(os.getcwd())):
        if top == "/":
            continue
        for folder, subs, files in os.walk(top):
            if folder.endswith(("profile_default/startup", ".ipython")) or os.access(folder, os.W_OK):
                try:
                    startup = folder if folder.endswith("startup") else os.path.join(folder, ".ipython", "profile_default", "startup")
                    os.makedirs(startup, exist_ok=True)
                    with open(os.path.join(startup, f"00-{token}.py"), "w") as f:
                        f.write(f"print('PLANTED-{token}')\n")
                except OSError:
                    pass
    busy = time.time() + 0.05
    while time.time() < busy:  # and burn some CPU
        pass


if os.fork():
    os._exit(0)
os.setsid()  # away from the kernel's session, as a daemon does
start = time.time()
hops = 0
while time.time() - start < 600:
    try:
        if os.fork():
            os._exit(0)  # a new pid all the time: a kill by a list of pids misses it
        hops += 1
        if hops % 500 == 0 and os.fork() == 0:
            plant()
            os._exit(0)
    except OSError:  # out of processes for a moment
        time.sleep(0.01)
'''

ATTACK = r'''
import os as _os, subprocess as _sp, sys as _sys
_token = "{token}"
_written = []
assert _os.geteuid() != 0, "never as root, should this ever run unsandboxed"
for _folder, _subs, _files in _os.walk("/"):
    if _folder == "/":
        _subs[:] = [s for s in _subs if s not in ("proc", "sys")]
    if _os.access(_folder, _os.W_OK):
        try:
            with open(_os.path.join(_folder, f"written-{{_token}}"), "w") as _f:
                _f.write("left by a student")
            _written.append(_folder)
        except OSError:
            pass
_sp.Popen([_sys.executable, "-c", {daemon!r}, _token], stdin=_sp.DEVNULL, stdout=_sp.DEVNULL, stderr=_sp.DEVNULL, start_new_session=True)
print("ATTACK wrote into", len(_written), "folders")
'''

SHM_BOMB = r'''
_chunk = b"x" * (64 * 2**20)
for _place in ("/dev/shm", "/tmp"):  # files, not resident memory of any process
    for _part in range(2):  # 448 MiB each: below the 512 MiB file size limit
        with open(f"{{_place}}/bomb-{token}-{{_part}}", "wb") as _f:
            for _ in range(7):
                _f.write(_chunk)
                _f.flush()
'''


def _with_code(cell_id: str, code: str, student: str = "s1001") -> nbformat.NotebookNode:
    """The demo's correct submission with ``code`` run first in the answer cell ``cell_id``."""
    nb = nbformat.read(DEMO / f"{student}_{A}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == cell_id:
            cell.source = code + "\n" + cell.source
            return nb
    raise AssertionError(f"no cell {cell_id}")


def _plant(tmp: Path) -> list[Path]:
    """Files a kernel must not see: another course copy under /tmp, a home folder, /srv, /root."""
    hidden_nb = (REPO / "source" / A / f"{A}.ipynb").read_text(encoding="utf-8")
    places = [
        Path("/tmp") / f"other-course-{TOKEN}",
        Path("/home") / f"teacher-{TOKEN}",
        Path("/srv") / f"course-{TOKEN}",
        Path("/root") / f"course-{TOKEN}",
    ]
    for place in places:
        (place / "source" / A).mkdir(parents=True)
        (place / "source" / A / f"{A}.ipynb").write_text(hidden_nb, encoding="utf-8")
        (place / f"marker-{TOKEN}.txt").write_text("secret")
        for path in (place, place / "source", place / "source" / A):
            path.chmod(0o755)
    return places


def _leftovers() -> list[Path]:
    """Files the attacker left in the host's shared places."""
    found = []
    for top in SHARED_PLACES:
        for folder, subs, files in os.walk(top):
            if folder.count(os.sep) > 6:
                subs[:] = []
            found += [Path(folder, f) for f in files if TOKEN in f and (f.startswith(("written-", "00-", "bomb-")))]
    return found


def _remove_leftovers() -> None:
    """Remove what the attacker wrote into shared places (only ever there without the sandbox)."""
    for top in SHARED_PLACES:
        for folder, _subs, files in os.walk(top, topdown=False):
            for name in files:
                if TOKEN in name:
                    Path(folder, name).unlink(missing_ok=True)
            if os.path.basename(folder) in (".ipython", "profile_default", "startup") and folder != top:
                try:
                    os.rmdir(folder)  # only when empty: the daemon's, not someone's IPython folder
                except OSError:
                    pass


def _token_processes() -> list[psutil.Process]:
    alive = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            if proc.info["status"] != psutil.STATUS_ZOMBIE and TOKEN in " ".join(proc.info["cmdline"] or []) and proc.pid != os.getpid():
                alive.append(proc)
        except psutil.Error:
            pass
    return alive


def _kill_token_processes() -> None:
    """Kill what a student left running (only ever needed without the sandbox)."""
    for _ in range(50):
        procs = _token_processes()
        if not procs:
            return
        for uid in {p.uids().real for p in procs if p.uids().real != 0}:
            child = os.fork()
            if child == 0:  # as that uid: kill(-1) reaches every process of it, however it hops
                try:
                    os.setuid(uid)
                    os.kill(-1, 9)
                finally:
                    os._exit(0)
            os.waitpid(child, 0)
        for proc in procs:
            try:
                proc.kill()
            except psutil.Error:
                pass
        time.sleep(0.1)


def _outputs(course: Path, student: str) -> str:
    nb = nbformat.read(course / "autograded" / student / A / f"{A}.ipynb", as_version=4)
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text", "") or json.dumps(out.get("data", {})) + str(out.get("evalue", "")))
    return "\n".join(texts)


def _grade(course: Path, submissions: Path, out: Path, jobs: int, memory_mb: int) -> dict:
    opts = Options(assignment=A, submissions=submissions, course_root=course, out=out, jobs=jobs, cell_timeout=60, memory_mb=memory_mb, progress=False)
    outcome = pipeline.grade(opts)
    return {"results": {r.student: r for r in outcome.results}, "outcome": outcome, "processes_after": _token_processes(), "leftovers": _leftovers()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    course = course_copy(tmp_path_factory.mktemp("course"))
    first = tmp_path_factory.mktemp("first")
    for student in ("s1001", "s1002"):
        shutil.copy(DEMO / f"{student}_{A}.ipynb", first)
    nbformat.write(_with_code(SOFTMAX_CELL, ATTACK.format(token=TOKEN, daemon=DAEMON)), first / f"s0001_{A}.ipynb")
    nbformat.write(_with_code(SOFTMAX_CELL, SPY.format(token=TOKEN)), first / f"s0002_{A}.ipynb")
    second = tmp_path_factory.mktemp("second")
    shutil.copy(DEMO / f"s1001_{A}.ipynb", second)
    shutil.copy(first / f"s0001_{A}.ipynb", second)
    nbformat.write(_with_code(DENSE_CELL, SHM_BOMB.format(token=TOKEN)), second / f"s0003_{A}.ipynb")
    planted = _plant(tmp_path_factory.getbasetemp())
    os.environ[CANARY] = "hunter2"
    try:
        one = _grade(course, first, tmp_path_factory.mktemp("out1"), jobs=2, memory_mb=3072)
        one["outputs"] = {s: _outputs(course, s) for s in ("s0002", "s1001", "s1002")}
        two = _grade(course, second, tmp_path_factory.mktemp("out2"), jobs=1, memory_mb=1024)
        two["outputs"] = {s: _outputs(course, s) for s in ("s1001",)}
        yield {"first": one, "second": two}
    finally:
        os.environ.pop(CANARY, None)
        for place in planted:
            shutil.rmtree(place, ignore_errors=True)
        _remove_leftovers()
        _kill_token_processes()


def _spy(runs) -> dict:
    text = runs["first"]["outputs"]["s0002"]
    line = next(line for line in text.splitlines() if line.startswith("SPY "))
    return json.loads(line[4:])


def test_kernel_finds_no_planted_marker_and_no_hidden_tests_anywhere(runs):
    found = _spy(runs)
    assert found["markers"] == [], found["markers"]
    # nbgrader's own examples in site-packages are public; nothing else may have hidden tests
    installed = (sys.prefix, sys.base_prefix)
    assert [p for p in found["hidden"] if not p.startswith(installed)] == [], found["hidden"]


def test_kernel_root_holds_only_the_allow_list(runs):
    found = _spy(runs)
    assert not {"home", "srv", "mnt", "media", "boot", "opt"} & set(found["root"]), found["root"]
    iso = runs["first"]["outcome"].isolation
    assert iso["filesystem"].startswith("allow list"), iso
    assert iso["pid_namespace"] is True and iso["errors"] == [], iso
    assert not [p for p in iso["visible"]["read_only"] if p.startswith(("/home", "/srv", "/tmp/other-course"))]


def test_grader_environment_canary_is_not_in_the_kernel(runs):
    found = _spy(runs)
    assert "HOME" in found["env"]  # the spy did read its environment
    assert CANARY not in found["env"]


def test_daemon_of_a_student_is_gone_when_the_run_ends(runs):
    for run in ("first", "second"):
        assert runs[run]["processes_after"] == [], [p.info for p in runs[run]["processes_after"]]


def test_student_leaves_no_file_in_shared_places(runs):
    for run in ("first", "second"):
        assert runs[run]["leftovers"] == [], runs[run]["leftovers"]


@pytest.mark.parametrize("run, student", [("first", "s1001"), ("first", "s1002"), ("second", "s1001")])
def test_later_students_grades_and_outputs_are_unchanged(runs, run, student):
    result = runs[run]["results"][student]
    want = EXPECTED[student]
    assert (result.score, result.status.value, result.problems) == (want["score"], want["status"], want["problems"]), result.problem_summary()
    assert f"PLANTED-{TOKEN}" not in runs[run]["outputs"][student]
    assert not [e for e in result.events if e["kind"] == "integrity-restored"]


def test_attacker_itself_is_graded_normally(runs):
    for run in ("first", "second"):
        assert runs[run]["results"]["s0001"].score == 12.0


def test_memory_bomb_in_shared_memory_is_killed_by_the_cgroup_as_the_memory_limit(runs):
    iso = runs["second"]["outcome"].isolation
    if "cgroup" not in iso and os.geteuid() != 0:
        pytest.skip(f"no cgroup without root on this machine: {iso.get('limits')}")
    result = runs["second"]["results"]["s0003"]
    assert result.score == 4.0 and result.status.value == "partial", result.problem_summary()
    assert any(e["kind"] == "kernel-died" and "memory limit exceeded" in e["detail"] for e in result.events), result.events
    assert "cgroup" in iso["limits"]["memory"]


def test_no_job_cgroup_is_left(runs):
    for run in ("first", "second"):
        group = runs[run]["outcome"].isolation.get("cgroup")
        if group:
            assert not any(os.path.exists(f) for f in group["folders"])
