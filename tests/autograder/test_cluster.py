"""Grading on a Dask cluster (``--cluster``) gives the grades of a local run, and loses nobody.

Small classes of B1-1 demo students (s1001 and s1003 answer everything: 10 points;
s1002 answers one part: 2 points), except the equivalence test, which grades the whole
demo class and compares with the golden file test_pipeline.py compares its local run to.
The worker faults use the test-only hooks of :mod:`autograder.cluster_worker`.
"""

from __future__ import annotations

import csv
import html
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from course_copies import course_copy

from autograder import cluster, cluster_worker, pipeline  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
A = "B1-1"
DEMO = REPO / "demo" / "submissions" / A
SMALL = {"s1001": "s1001_B1-1.ipynb", "s1002": "s1002_B1-1.ipynb", "s1003": "s1003_Copy of B1-1.ipynb"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return course_copy(tmp_path_factory.mktemp("course"))


def small_class(folder: Path, students: dict[str, str]) -> Path:
    folder.mkdir()
    for name in students.values():
        shutil.copy(DEMO / name, folder / name)
    return folder


def options(course: Path, subs: Path, out: Path, **kwargs) -> pipeline.Options:
    return pipeline.Options(assignment=A, submissions=subs, course_root=course, out=out, cell_timeout=30, progress=False, **kwargs)


def gradebook_submissions(course: Path) -> list[str]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return sorted(s.student_id for s in gb.find_assignment(A).submissions)


# ----------------------------------------------------------------------------- no Dask unless asked


def test_grading_without_cluster_never_imports_dask():
    code = "import sys, autograder.cli, autograder.pipeline; print(sorted(m for m in ('dask', 'distributed') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert done.stdout.strip() == "[]"


def test_cluster_addresses_are_checked_before_anything_runs():
    assert cluster.ClusterSpec.parse("local:2") == cluster.ClusterSpec(workers=2)
    assert cluster.ClusterSpec.parse("tls://10.0.0.5:8786").address == "tls://10.0.0.5:8786"
    for bad in ("local:0", "local", "10.0.0.5:8786", "http://host:8786"):
        with pytest.raises(ValueError, match="local:N"):
            cluster.ClusterSpec.parse(bad)
    assert cluster.parse_resources(["GPU=1", "MEM=2.5"]) == {"GPU": 1.0, "MEM": 2.5}
    with pytest.raises(ValueError, match="NAME=AMOUNT"):
        cluster.parse_resources(["GPU"])


# ----------------------------------------------------------------------------- equivalence


def test_demo_class_on_a_local_cluster_grades_exactly_as_the_local_run(course, tmp_path):
    """`--cluster local:2` gives the golden scores, statuses, reasons and events of `--jobs 2`."""
    from test_pipeline import _as_expected

    out = tmp_path / "out"
    outcome = pipeline.grade(options(course, DEMO, out, cluster="local:2"))
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    expected = json.loads((Path(__file__).parent / "data" / "demo_B1-1_expected.json").read_text(encoding="utf-8"))
    want = {s: {k: v for k, v in d.items() if k != "findings"} for s, d in expected["students"].items()}
    assert _as_expected(report) == want
    rows = {r["student"]: r for r in csv.DictReader(open(out / "grades.csv", encoding="utf-8"))}
    assert sorted(rows) == sorted(want)
    for student, data in expected["students"].items():
        row = rows[student]
        assert (float(row["score"]), row["status"], row["origin"]) == (data["score"], data["status"], data["origin"]), student
        for problem in data["problems"]:  # grades.csv gives the same reasons
            assert problem.split(" MiB")[0].split(": N")[0] in row["problems"], (student, problem)
        if data["status"] != "invalid":
            page = html.unescape(re.sub(r"<[^>]+>", "", (out / "feedback" / f"{student}.html").read_text(encoding="utf-8")))
            assert f"{data['score']:g} / {data['max_score']:g}" in page, student
    executed = [r for r in outcome.results if r.status != "invalid"]
    assert {r.worker for r in executed} <= {"0", "1"} and len({r.worker for r in executed}) == 2
    for student in (r.student for r in executed):
        iso = report["students"][student]["isolation"]
        assert iso["errors"] == [] and iso["network"].startswith("none"), (student, iso)


# ----------------------------------------------------------------------------- worker faults


@pytest.fixture(scope="module")
def faulty_run(course, tmp_path_factory, request):
    """Three students on two workers: s1001's first worker is killed mid-job, s1004's job kills every worker."""
    tmp = tmp_path_factory.mktemp("faults")
    subs = small_class(tmp / "subs", {"s1001": SMALL["s1001"], "s1002": SMALL["s1002"], "s1004": "s1004_B1-1 (1).ipynb"})
    markers = tmp / "markers"
    markers.mkdir()
    mp = pytest.MonkeyPatch()
    mp.setenv(cluster_worker.CRASH_ONCE_ENV, f"s1001:{markers}")
    mp.setenv(cluster_worker.POISON_ENV, "s1004")
    try:
        outcome = pipeline.grade(options(course, subs, tmp / "out", cluster="local:2", retries=1))
    finally:
        mp.undo()
    return {r.student: r for r in outcome.results}, markers, tmp / "out"


def test_worker_killed_mid_job_is_retried_and_every_student_graded_once(faulty_run, course):
    results, markers, out = faulty_run
    assert (markers / "s1001").exists(), "the crash hook did not fire: the test tested nothing"
    assert [(s, results[s].score, results[s].status) for s in ("s1001", "s1002")] == [("s1001", 12.0, "graded"), ("s1002", 2.0, "graded")]
    rows = [r["student"] for r in csv.DictReader(open(out / "grades.csv", encoding="utf-8"))]
    assert rows == ["s1001", "s1002", "s1004"]
    assert gradebook_submissions(course).count("s1001") == 1


def test_job_that_kills_every_worker_is_an_error_with_the_reason(faulty_run):
    results, _, _ = faulty_run
    r = results["s1004"]
    assert (r.status, r.score) == ("error", 0.0)
    assert any(e["kind"] == "worker-lost" and "2 workers died" in e["detail"] and "KilledWorker" in e["detail"] for e in r.events), r.events


# ----------------------------------------------------------------------------- as the README says


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _certificates(folder: Path) -> dict[str, Path]:
    """A self-signed CA certificate and key, as an instructor makes them once (README)."""
    from distributed.security import Security

    made = Security.temporary()
    files = {"ca": folder / "ca.pem", "cert": folder / "cert.pem", "key": folder / "key.pem"}
    files["ca"].write_text(made.tls_ca_file)
    files["cert"].write_text(made.tls_scheduler_cert)
    files["key"].write_text(made.tls_scheduler_key)
    for path in files.values():
        path.chmod(0o600)
    return files


def test_scheduler_and_workers_as_separate_processes_with_tls_grade_a_class(course, tmp_path):
    """The README's lab-PC setup on 127.0.0.1: `dask scheduler`, two `dask worker`s, `course-grade --cluster tls://`."""
    tls = _certificates(tmp_path)
    port = _free_port()
    address = f"tls://127.0.0.1:{port}"
    tls_args = ["--tls-ca-file", str(tls["ca"]), "--tls-cert", str(tls["cert"]), "--tls-key", str(tls["key"])]
    env = dict(os.environ, DASK_DISTRIBUTED__WORKER__DAEMON="False")
    dask = str(Path(sys.executable).parent / "dask")  # the `dask` command of this installation
    log = open(tmp_path / "cluster.log", "wb")
    scheduler = [dask, "scheduler", "--protocol", "tls", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"]
    procs = [subprocess.Popen([*scheduler, *tls_args], env=env, stdout=log, stderr=log)]
    try:
        for n in (1, 2):
            worker = [dask, "worker", address, "--nthreads", "1", "--name", f"lab-pc-{n}", "--no-dashboard"]
            procs.append(subprocess.Popen([*worker, *tls_args], env=env, stdout=log, stderr=log))
        subs = small_class(tmp_path / "subs", SMALL)
        grader_env = dict(
            os.environ,
            DASK_DISTRIBUTED__COMM__TLS__CA_FILE=str(tls["ca"]),
            DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT=str(tls["cert"]),
            DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY=str(tls["key"]),
        )
        started = time.monotonic()
        command = [sys.executable, "-m", "autograder", "grade", A, str(subs), "--course", str(course), "--out", str(tmp_path / "out")]  # course-grade
        done = subprocess.run([*command, "--cluster", address, "--cell-timeout", "30", "--no-progress"], env=grader_env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr + (tmp_path / "cluster.log").read_text(errors="replace")[-3000:]
        assert time.monotonic() - started < 600
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
    rows = {r["student"]: (float(r["score"]), r["status"]) for r in csv.DictReader(open(tmp_path / "out" / "grades.csv", encoding="utf-8"))}
    assert rows == {"s1001": (12.0, "graded"), "s1002": (2.0, "graded"), "s1003": (12.0, "graded")}
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert {d["worker"] for d in report["students"].values()} <= {"lab-pc-1", "lab-pc-2"}
    assert "graded per worker: lab-pc-" in done.stdout
    # the scheduler is gone: --resume finds everyone recorded and executes nothing (it never asks the scheduler)
    again = subprocess.run([*command, "--cluster", address, "--cell-timeout", "30", "--no-progress", "--resume"], env=grader_env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    resumed = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert {s: (d["score"], d["worker"], d["seconds"]) for s, d in resumed["students"].items()} == {
        s: (d["score"], d["worker"], d["seconds"]) for s, d in report["students"].items()
    }
