"""Collecting submissions from folders and LMS zips, and reading rosters."""

from __future__ import annotations

import io
import os
import time
import zipfile

from autograder import ingest


def write(folder, name, data=b"{}", age=0):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def test_ingest_reads_ids_from_names_colab_copies_and_folders(tmp_path):
    write(tmp_path, "s1_B2-2.ipynb")
    write(tmp_path, "s2_Copy of B2-2.ipynb")
    write(tmp_path, "s3/B2-2 (1).ipynb")
    got = ingest.ingest(tmp_path, "B2-2")
    assert [(s.student, s.origin) for s in got.submissions] == [
        ("s1", "s1_B2-2.ipynb"),
        ("s2", "s2_Copy of B2-2.ipynb"),
        ("s3", "s3/B2-2 (1).ipynb"),
    ]
    assert got.problems == []


def test_ingest_keeps_the_newest_duplicate_and_reports_it(tmp_path):
    write(tmp_path, "s1_B2-2.ipynb", b"old", age=3600)
    write(tmp_path, "s1_B2-2 (1).ipynb", b"new")
    got = ingest.ingest(tmp_path, "B2-2")
    assert [s.data for s in got.submissions] == [b"new"]
    assert got.problems[0]["problem"] == "duplicate submissions"


def test_ingest_reports_unknown_and_foreign_files(tmp_path):
    write(tmp_path, "B2-2.ipynb")
    write(tmp_path, "notes.txt")
    write(tmp_path, "s1_B2-1.ipynb")
    write(tmp_path, ".ipynb_checkpoints/s1_B2-2-checkpoint.ipynb")
    got = ingest.ingest(tmp_path, "B2-2")
    assert got.submissions == []
    problems = {p["file"]: p["problem"] for p in got.problems}
    assert problems == {
        "B2-2.ipynb": "unknown student",
        "notes.txt": "not a notebook, ignored",
        "s1_B2-1.ipynb": "named for B2-1, not B2-2: ignored",
    }


def test_ingest_opens_lms_zips_and_zips_inside_them(tmp_path):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("B2-2.ipynb", "{}")
    outer = tmp_path / "lms.zip"
    with zipfile.ZipFile(outer, "w") as z:
        z.writestr("s1_B2-2.ipynb", "{}")
        z.writestr("__MACOSX/._s1_B2-2.ipynb", "junk")
        z.writestr("s2_B2-2.zip", inner.getvalue())
    got = ingest.ingest(outer, "B2-2")
    assert [s.student for s in got.submissions] == ["s1", "s2"]
    assert got.problems == []


def test_roster_ids_are_found_anywhere_in_the_path(tmp_path):
    roster = write(tmp_path, "roster.csv", "id,name\n21X1234,Taro\n21X5678,Hanako\n21X9999,Jiro\n".encode())
    subs = tmp_path / "subs"
    write(subs, "Taro Yamada_21X1234_assignsubmission_file_/Copy of B2-2.ipynb")
    write(subs, "B2-2 21X5678.ipynb")
    got = ingest.ingest(subs, "B2-2", roster=ingest.read_roster(roster))
    assert sorted(s.student for s in got.submissions) == ["21X1234", "21X5678"]
    assert {"student": "21X9999", "problem": "no submission"} in got.problems


def test_only_selected_students_are_taken(tmp_path):
    write(tmp_path, "s1_B2-2.ipynb")
    write(tmp_path, "s2_B2-2.ipynb")
    assert [s.student for s in ingest.ingest(tmp_path, "B2-2", only={"s2"}).submissions] == ["s2"]


def test_custom_id_pattern(tmp_path):
    write(tmp_path, "B2-2-20251234.ipynb")
    got = ingest.ingest(tmp_path, "B2-2", id_pattern=r"-(?P<student>\d{8})\.ipynb$")
    assert [s.student for s in got.submissions] == ["20251234"]
