"""LMS bulk downloads are recognised and read: ids, names, times and comments as the LMS wrote them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from autograder import demo_lms, lms
from autograder.ingest import collect

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "demo" / "lms"
TOKYO = ZoneInfo("Asia/Tokyo")
UTC = timezone.utc


@dataclass
class E:  # the shape of ingest's entries
    path: str
    data: bytes
    modified: datetime = datetime(2026, 1, 1, tzinfo=UTC)


def entries(name: str):
    return collect(DEMO / name / "B1-1")[0]


@pytest.mark.parametrize("name", ["sakai", "moodle", "canvas"])
def test_each_demo_download_is_recognised_as_its_lms(name):
    assert lms.detect(entries(name)) is lms.Lms(name)


def test_plain_folder_of_notebooks_is_no_lms():
    assert lms.detect(collect(REPO / "demo" / "submissions" / "B1-1")[0]) is None


def test_sakai_download_gives_eid_name_time_and_student_text():
    got = lms.download(entries("sakai"), lms.Lms.SAKAI)
    by_id = {s.student: s for s in got.submissions}
    assert sorted(by_id) == ["s1001", "s1002", "s1003", "s1004", "s1019"]
    assert by_id["s1002"].name == "Taro Suzuki"
    assert by_id["s1003"].submitted_at == datetime(2026, 12, 2, 16, 0, tzinfo=UTC)
    assert by_id["s1002"].comment == "後半は時間が足りませんでした。"
    assert by_id["s1001"].files[0][0].endswith("Sato, Hanako(s1001)/Submission attachment(s)/B1-1.ipynb")
    assert got.problems == []


def test_sakai_roster_from_grades_csv_lists_the_student_without_submission():
    roster = {r.student: r for r in lms.download(entries("sakai"), lms.Lms.SAKAI).roster}
    assert "s1020" in roster and roster["s1020"].folder == "Watanabe, Mio(s1020)"


def test_sakai_timestamp_in_the_format_before_sakai_12_is_read_as_utc():
    sub, _ = lms.read([E("A/Doe, Jane(jd1)/timestamp.txt", b"20261201145900123"), E("A/Doe, Jane(jd1)/Submission attachment(s)/x.ipynb", b"{}")], lms.Lms.SAKAI)
    assert sub[0].submitted_at == datetime(2026, 12, 1, 14, 59, 0, 123000, tzinfo=UTC)


def test_sakai_unreadable_timestamp_is_reported_not_dropped():
    subs, problems = lms.read([E("A/Doe, Jane(jd1)/timestamp.txt", b"yesterday"), E("A/Doe, Jane(jd1)/Submission attachment(s)/x.ipynb", b"{}")], lms.Lms.SAKAI)
    assert len(subs) == 1 and subs[0].submitted_at is None
    assert [p.kind for p in problems] == [lms.ProblemKind.BAD_TIMESTAMP]


def test_moodle_download_gives_participant_id_and_server_local_time():
    got = lms.download(entries("moodle"), lms.Lms.MOODLE, zip_timezone=TOKYO)
    by_id = {s.student: s for s in got.submissions}
    assert sorted(by_id) == ["5000101", "5000102", "5000103", "5000104", "5000105"]
    assert by_id["5000103"].submitted_at == datetime(2026, 12, 2, 16, 0, tzinfo=UTC)
    assert by_id["5000102"].comment == "後半は時間が足りませんでした。"
    assert "5000106" in {r.student for r in got.roster}  # from the grading worksheet


def test_moodle_download_without_folders_is_read_too():
    subs, problems = lms.read([E("Jane Doe_77_assignsubmission_file_B1-1.ipynb", b"{}")], lms.Lms.MOODLE)
    assert [(s.student, s.name) for s in subs] == [("77", "Jane Doe")] and problems == []


def test_canvas_zip_gives_user_id_and_canvas_late_marker():
    subs, problems = lms.read(entries("canvas"), lms.Lms.CANVAS)
    late = {s.student: s.late_flag for s in subs}
    assert late == {"2101": False, "2102": False, "2103": True, "2104": False, "2105": True}
    assert all(s.submitted_at is None for s in subs) and problems == []


def test_canvas_anonymous_grading_names_are_read():
    subs, _ = lms.read([E("anon_Xy12z_5551_B1-1.ipynb", b"{}")], lms.Lms.CANVAS)
    assert subs[0].student == "anon_Xy12z"


def test_file_outside_the_layout_is_reported_with_the_reason():
    _, problems = lms.read([E("A/notes.txt", b"hi")], lms.Lms.SAKAI)
    assert problems[0].kind is lms.ProblemKind.UNRECOGNISED and "Last, First(eid)" in problems[0].detail


def test_committed_demo_downloads_are_what_the_generator_makes():
    for rel, data in demo_lms.generate(REPO).items():
        assert (REPO / rel).read_bytes() == data, f"{rel} is stale: run python -m autograder.demo_lms"


def test_handins_give_the_pipeline_one_notebook_per_student_with_lms_fields():
    got = lms.download(entries("sakai"), lms.Lms.SAKAI)
    subs, fields, problems = lms.handins(got, "B1-1")
    assert [s.student for s in subs] == ["s1001", "s1002", "s1003", "s1004", "s1019"]
    assert subs[2].modified == datetime(2026, 12, 2, 16, 0, tzinfo=UTC)
    assert fields["s1002"].as_dict() == {"submitted_at": "2026-12-01T12:30:00+00:00", "comment": "後半は時間が足りませんでした。", "lms_late": None}
    assert problems == [{"student": "s1020", "problem": "no submission"}]


def test_handins_report_extra_files_and_keep_the_notebook_named_for_the_assignment():
    download = lms.download(
        [E("A/Doe, Jane(jd1)/Submission attachment(s)/notes.ipynb", b"{}"), E("A/Doe, Jane(jd1)/Submission attachment(s)/B1-1.ipynb", b"{}"), E("A/Doe, Jane(jd1)/Submission attachment(s)/x.pdf", b"%")],
        lms.Lms.SAKAI,
    )
    subs, _, problems = lms.handins(download, "B1-1")
    assert subs[0].origin.endswith("/B1-1.ipynb")
    assert {p["problem"] for p in problems} == {"not a notebook, ignored", "duplicate submissions"}
