"""The gradebook on a real PostgreSQL server (nbgrader's db_url), started by the test."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from autograder import pipeline

REPO = Path(__file__).resolve().parents[2]
A = "B1-1"

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not bins:
        pytest.fail("PostgreSQL is not installed: `./run test` installs the Debian package postgresql")
    bindir = Path(bins[-1]).parent
    base = Path(tempfile.mkdtemp(prefix="course-grade-pg-"))  # reachable for the postgres user
    data, sockets = base / "data", base / "sock"
    sockets.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        for path in (base, sockets):
            shutil.chown(path, "postgres", "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    port = free_port()

    def run(*cmd):
        subprocess.run([*prefix, *cmd], check=True, capture_output=True, text=True)

    run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "grader")
    run(str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(base / "log"), "-o", f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1", "start")
    try:
        run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "grader", "gradebook")
        yield f"postgresql://grader@127.0.0.1:{port}/gradebook"
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_parallel_grading_records_every_grade_in_postgres(postgres_url, tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    for name in ("source", "release"):
        shutil.copytree(REPO / name, course / name)
    shutil.copy(REPO / "nbgrader_config.py", course)
    opts = pipeline.Options(
        assignment=A,
        submissions=REPO / "demo" / "submissions" / A,
        course_root=course,
        out=tmp_path / "out",
        jobs=2,
        students={"s1001", "s1002", "s1003", "s1009"},
        db_url=postgres_url,
        progress=False,
    )
    outcome = pipeline.grade(opts)
    assert {r.student: r.score for r in outcome.results} == {"s1001": 12.0, "s1002": 2.0, "s1003": 12.0, "s1009": 0.0}
    assert not (course / "gradebook.db").exists(), "nothing may fall back to SQLite"

    from nbgrader.api import Gradebook

    with Gradebook(postgres_url) as gb:
        scores = {s.student.id: s.score for s in gb.find_assignment(A).submissions}
    assert scores == {"s1001": 12.0, "s1002": 2.0, "s1003": 12.0}
