"""Collecting submissions from folders and LMS zips, and reading rosters."""

from __future__ import annotations

import io
import os
import time
import tracemalloc
import zipfile

import nbformat
import pytest
import zip_builders
from notebook_builders import release_nb, student_nb
from zip_builders import GiB, MiB

from autograder import checks, ingest, repair
from autograder.ingest import IngestProblem, Problem
from autograder.repair import InvalidSubmission


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
    assert got.problems[0].problem is Problem.DUPLICATE


def test_ingest_reports_unknown_and_foreign_files(tmp_path):
    write(tmp_path, "B2-2.ipynb")
    write(tmp_path, "notes.txt")
    write(tmp_path, "s1_B2-1.ipynb")
    write(tmp_path, ".ipynb_checkpoints/s1_B2-2-checkpoint.ipynb")
    got = ingest.ingest(tmp_path, "B2-2")
    assert got.submissions == []
    problems = {p.file: p.problem for p in got.problems}
    assert problems == {
        "B2-2.ipynb": Problem.UNKNOWN_STUDENT,
        "notes.txt": Problem.NOT_NOTEBOOK,
        "s1_B2-1.ipynb": Problem.OTHER_ASSIGNMENT,
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
    roster = write(tmp_path, "roster.csv", b"id,name\n21X1234,Taro\n21X5678,Hanako\n21X9999,Jiro\n")
    subs = tmp_path / "subs"
    write(subs, "Taro Yamada_21X1234_assignsubmission_file_/Copy of B2-2.ipynb")
    write(subs, "B2-2 21X5678.ipynb")
    got = ingest.ingest(subs, "B2-2", roster=ingest.read_roster(roster))
    assert sorted(s.student for s in got.submissions) == ["21X1234", "21X5678"]
    assert IngestProblem(Problem.NO_SUBMISSION, student="21X9999") in got.problems


def test_only_selected_students_are_taken(tmp_path):
    write(tmp_path, "s1_B2-2.ipynb")
    write(tmp_path, "s2_B2-2.ipynb")
    assert [s.student for s in ingest.ingest(tmp_path, "B2-2", only={"s2"}).submissions] == ["s2"]


def test_custom_id_pattern(tmp_path):
    write(tmp_path, "B2-2-20251234.ipynb")
    got = ingest.ingest(tmp_path, "B2-2", id_pattern=r"-(?P<student>\d{8})\.ipynb$")
    assert [s.student for s in got.submissions] == ["20251234"]


def test_ingest_problems_keep_the_report_json_shape(tmp_path):
    write(tmp_path, "notes.txt")
    write(tmp_path, "s1_B2-1.ipynb")
    write(tmp_path, "s2_B2-2.ipynb", b"old", age=60)
    write(tmp_path, "s2_B2-2 (1).ipynb", b"new")
    got = ingest.ingest(tmp_path, "B2-2", roster={"s2": "", "s3": ""})
    assert [p.as_dict() for p in got.problems] == [
        {"file": "notes.txt", "problem": "not a notebook, ignored"},
        {"file": "s1_B2-1.ipynb", "problem": "named for another assignment, ignored", "detail": "named for B2-1, not B2-2"},
        {"student": "s2", "problem": "duplicate submissions", "detail": "kept s2_B2-2 (1).ipynb, ignored s2_B2-2.ipynb"},
        {"student": "s3", "problem": "no submission"},
    ]


# ---------------------------------------------------------------- archives read within limits

NOTEBOOK = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


def lms_zip(tmp_path, entries, name="lms.zip"):
    path = tmp_path / name
    path.write_bytes(zip_builders.raw_zip(entries))
    return path


def ingest_measured(source, **kwargs):
    """``ingest`` with the peak of Python's allocations while it ran, in bytes."""
    tracemalloc.start()
    try:
        got = ingest.ingest(source, "B2-2", **kwargs)
        return got, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def bomb_zip(tmp_path_factory):
    """An LMS zip: two good notebooks, a 3 GiB notebook (3 MB zipped), a 3 GiB zip inside the
    zip, and a notebook whose headers say 1 KB while it holds 3 GiB."""
    path = tmp_path_factory.mktemp("bomb") / "lms.zip"
    path.write_bytes(
        zip_builders.raw_zip(
            [
                zip_builders.deflated("s1_B2-2.ipynb", NOTEBOOK),
                zip_builders.zeros("s2_B2-2.ipynb", 3 * GiB),
                zip_builders.zeros("s3_B2-2.zip", 3 * GiB),
                zip_builders.zeros("s4_B2-2.ipynb", 3 * GiB, declared_size=1000),
                zip_builders.deflated("s5_B2-2.ipynb", NOTEBOOK),
            ]
        )
    )
    assert path.stat().st_size < 16 * MiB
    return path


def test_zip_bomb_is_not_decompressed_and_the_others_are_read(bomb_zip):
    got, peak = ingest_measured(bomb_zip)
    assert peak < 32 * MiB  # the bomb holds 9 GiB
    assert [(s.student, s.data) for s in got.submissions if s.rejected is None] == [("s1", NOTEBOOK), ("s5", NOTEBOOK)]


def test_zip_bomb_notebook_makes_its_student_invalid_with_the_size(bomb_zip):
    got, _ = ingest_measured(bomb_zip)
    bomb = next(s for s in got.submissions if s.student == "s2")
    assert bomb.data == b""
    assert isinstance(bomb.rejected, InvalidSubmission)
    assert "3072.0 MiB" in str(bomb.rejected) and "大きすぎます" in bomb.rejected.ja and "too large" in bomb.rejected.en


def test_zip_bomb_inside_the_zip_is_reported_not_opened(bomb_zip):
    got, _ = ingest_measured(bomb_zip)
    assert IngestProblem(Problem.TOO_LARGE, file="s3_B2-2.zip", detail="3072.0 MiB uncompressed (IngestLimits.max_file_bytes = 512.0 MiB)") in got.problems


def test_entry_whose_header_understates_its_size_is_not_read_past_it(bomb_zip):
    got, _ = ingest_measured(bomb_zip)
    assert "s4" not in [s.student for s in got.submissions]
    (lying,) = [p for p in got.problems if p.file == "s4_B2-2.ipynb"]
    assert lying.problem is Problem.CORRUPT_ENTRY and "CRC" in lying.detail


def test_counting_read_stops_at_the_limit_whatever_the_header_says(tmp_path):
    class Endless(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, buffer):
            buffer[:] = bytes(len(buffer))
            return len(buffer)

    reader = ingest._Reader(ingest.IngestLimits(), [])
    with pytest.raises(ingest._Refused) as refused:
        reader._read_counted(io.BufferedReader(Endless()), 3 * MiB, 3 * MiB, declared=1000)
    assert refused.value.problem is Problem.TOO_LARGE
    assert reader.bytes_read <= 3 * MiB + 1


@pytest.mark.parametrize(
    "name, why",
    [
        ("../s3_B2-2.ipynb", "'..' leads out of the archive's folder"),
        ("s3/../../s3_B2-2.ipynb", "'..' leads out of the archive's folder"),
        ("..\\s3_B2-2.ipynb", "'..' leads out of the archive's folder"),
        ("/home/s3/s3_B2-2.ipynb", "absolute path"),
        ("C:/Users/s3/s3_B2-2.ipynb", "Windows drive letter"),
        ("C:\\Users\\s3\\s3_B2-2.ipynb", "Windows drive letter"),
    ],
)
def test_entries_leaving_the_archive_are_refused_with_the_reason(tmp_path, name, why):
    source = lms_zip(
        tmp_path,
        [zip_builders.deflated("s1_B2-2.ipynb", NOTEBOOK), zip_builders.deflated(name, NOTEBOOK), zip_builders.deflated("s2_B2-2.ipynb", NOTEBOOK)],
    )
    got = ingest.ingest(source, "B2-2")
    assert [s.student for s in got.submissions] == ["s1", "s2"]
    assert got.problems == [IngestProblem(Problem.UNSAFE_PATH, file=name.replace("\\", "/"), detail=why)]


@pytest.mark.parametrize("encoding", ["cp932", "utf-8"], ids=["japanese-windows", "macos"])
def test_entry_names_without_the_utf8_flag_are_decoded_as_written(tmp_path, encoding):
    from dataclasses import replace

    entry = replace(zip_builders.deflated("ソフト 山田_21X1234/B2-2.ipynb", NOTEBOOK), name_encoding=encoding)
    got = ingest.ingest(lms_zip(tmp_path, [entry]), "B2-2", roster={"21X1234": ""})
    assert [(s.student, s.origin) for s in got.submissions] == [("21X1234", "ソフト 山田_21X1234/B2-2.ipynb")]


def nested(depth: int) -> bytes:
    """A zip holding s1's notebook, inside ``depth`` further zips."""
    data = zip_builders.raw_zip([zip_builders.deflated("s1_B2-2.ipynb", NOTEBOOK)])
    for level in range(depth):
        data = zip_builders.raw_zip([zip_builders.deflated(f"level{level}.zip", data)])
    return data


def test_zips_nested_deeper_than_the_limit_are_reported(tmp_path):
    (tmp_path / "deep.zip").write_bytes(nested(3))
    (tmp_path / "ok.zip").write_bytes(nested(2))
    got = ingest.ingest(tmp_path, "B2-2", limits=ingest.IngestLimits(max_depth=2), id_pattern=r"(?P<student>s\d)_")
    assert [s.origin for s in got.submissions] == ["ok.zip!/level1.zip!/level0.zip!/s1_B2-2.ipynb"]
    assert got.problems == [IngestProblem(Problem.TOO_DEEP, file="deep.zip!/level2.zip!/level1.zip!/level0.zip", detail="a zip inside 3 zips (IngestLimits.max_depth = 2)")]


def test_entries_beyond_the_count_limit_are_not_read(tmp_path):
    source = lms_zip(tmp_path, [zip_builders.deflated(f"s{i}_B2-2.ipynb", NOTEBOOK) for i in range(1, 6)])
    got = ingest.ingest(source, "B2-2", limits=ingest.IngestLimits(max_entries=3))
    assert [s.student for s in got.submissions] == ["s1", "s2", "s3"]
    assert got.problems == [IngestProblem(Problem.TOO_MANY_ENTRIES, file="lms.zip", detail="more than 3 files (IngestLimits.max_entries): 2 file(s) of this zip not read")]


def test_files_beyond_the_total_size_limit_are_reported_not_read(tmp_path):
    source = lms_zip(tmp_path, [zip_builders.deflated(f"s{i}_B2-2.ipynb", NOTEBOOK) for i in range(1, 4)])
    got = ingest.ingest(source, "B2-2", limits=ingest.IngestLimits(max_total_bytes=2 * len(NOTEBOOK) + 10))
    assert [s.student for s in got.submissions] == ["s1", "s2"]
    assert [(p.file, p.problem) for p in got.problems] == [("s3_B2-2.ipynb", Problem.TOTAL_LIMIT)]


def test_bzip2_entries_are_refused_since_zipfile_cannot_bound_them(tmp_path):
    source = tmp_path / "lms.zip"
    with zipfile.ZipFile(source, "w") as z:
        z.writestr("s1_B2-2.ipynb", NOTEBOOK, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("s2_B2-2.ipynb", NOTEBOOK, compress_type=zipfile.ZIP_BZIP2)
    got = ingest.ingest(source, "B2-2")
    assert [s.student for s in got.submissions] == ["s1"]
    assert [(p.file, p.problem) for p in got.problems] == [("s2_B2-2.ipynb", Problem.UNSUPPORTED_COMPRESSION)]


def test_unreadable_zip_is_reported_by_its_name(tmp_path):
    (tmp_path / "lms.zip").write_bytes(b"PK\x03\x04 truncated")
    got = ingest.ingest(tmp_path / "lms.zip", "B2-2")
    assert got.submissions == [] and [(p.file, p.problem) for p in got.problems] == [("lms.zip", Problem.UNREADABLE_ZIP)]


def test_other_files_in_a_zip_are_reported_without_being_read(tmp_path):
    source = lms_zip(tmp_path, [zip_builders.zeros("s1_video.mp4", 3 * GiB), zip_builders.deflated("s1_B2-2.ipynb", NOTEBOOK)])
    got, peak = ingest_measured(source)
    assert [s.student for s in got.submissions] == ["s1"] and peak < 32 * MiB
    assert got.problems == [IngestProblem(Problem.NOT_NOTEBOOK, file="s1_video.mp4")]


def test_oversized_notebook_in_a_folder_is_not_read_and_its_student_is_invalid(tmp_path):
    write(tmp_path, "s1_B2-2.ipynb", NOTEBOOK)
    write(tmp_path, "s2_B2-2.ipynb", b" " * 5000)
    got = ingest.ingest(tmp_path, "B2-2", limits=ingest.IngestLimits(max_notebook_bytes=4096))
    s1, s2 = got.submissions
    assert (s1.data, s1.rejected) == (NOTEBOOK, None)
    assert s2.data == b"" and "too large" in s2.rejected.en and got.problems == []


# ---------------------------------------------------------------- rosters as LMS and Excel export them


def roster_file(tmp_path, text: str, encoding: str = "utf-8") -> os.PathLike:
    return write(tmp_path, "roster.csv", text.encode(encoding))


@pytest.mark.parametrize("header", ["Student ID", "学籍番号", "ID", "id", "EID", "Username", "student_id", "ＩＤ", "User name", "ID number", "ユーザID"])
def test_roster_id_column_is_found_by_its_lms_header(tmp_path, header):
    path = roster_file(tmp_path, f"氏名,{header},メール\n山田 太郎,21X1234,taro@example.jp\n佐藤 花子,21X5678,hanako@example.jp\n")
    assert ingest.read_roster(path) == {"21X1234": "山田 太郎", "21X5678": "佐藤 花子"}


def test_roster_with_bom_from_excel_utf8_csv(tmp_path):
    path = roster_file(tmp_path, "学籍番号,氏名\n21X1234,山田 太郎\n", "utf-8-sig")
    assert ingest.read_roster(path) == {"21X1234": "山田 太郎"}


def test_roster_in_shift_jis_from_japanese_excel(tmp_path):
    path = roster_file(tmp_path, "学籍番号,氏名,学部\n21X1234,髙橋 﨑子,情報科学部\n", "cp932")
    assert ingest.read_roster(path) == {"21X1234": "髙橋 﨑子"}


def test_roster_saved_as_excel_unicode_text(tmp_path):
    path = roster_file(tmp_path, "学籍番号\t氏名\r\n21X1234\t山田 太郎\r\n", "utf-16")
    assert ingest.read_roster(path) == {"21X1234": "山田 太郎"}


def test_roster_from_canvas_uses_canvas_ids_and_skips_points_possible(tmp_path):
    path = roster_file(
        tmp_path,
        'Student,ID,SIS User ID,SIS Login ID,Section,B2-2 (1234)\n'
        '    Points Possible,,,,,10\n'
        '"Yamada, Taro",48213,21X1234,taro,DL 2025,8\n',
    )
    assert ingest.read_roster(path) == {"48213": "Yamada, Taro"}


def test_roster_from_blackboard_uses_usernames(tmp_path):
    path = roster_file(tmp_path, '"Last Name","First Name","Username","Student ID","Last Access"\n"Yamada","Taro","tyamada","21X1234","2025-06-01"\n')
    assert ingest.read_roster(path) == {"tyamada": "Yamada Taro"}


def test_roster_skips_an_id_column_left_empty(tmp_path):
    path = roster_file(tmp_path, "First name,Last name,ID number,Username\nTaro,Yamada,,21x1234\n")
    assert ingest.read_roster(path) == {"21x1234": "Yamada Taro"}


def test_roster_column_can_be_named(tmp_path):
    path = roster_file(tmp_path, "Username,Student ID\ntyamada,21X1234\n")
    assert ingest.read_roster(path, id_column="student id") == {"21X1234": ""}


def test_roster_without_a_header_lists_ids_in_the_first_column(tmp_path):
    assert ingest.read_roster(roster_file(tmp_path, "21X1234\n21X5678\n")) == {"21X1234": "", "21X5678": ""}


def test_roster_full_width_ids_are_read_as_ascii(tmp_path):
    assert ingest.read_roster(roster_file(tmp_path, "学籍番号\n２１Ｘ１２３４\n")) == {"21X1234": ""}


def test_roster_without_an_id_column_is_a_clear_error(tmp_path):
    path = roster_file(tmp_path, "Name,Email,Section\nTaro,taro@example.jp,A\n")
    with pytest.raises(ingest.RosterError, match="no student id column. Headers found: 'Name', 'Email', 'Section'. Head the id column 'Student ID' or '学籍番号'") as error:
        ingest.read_roster(path)
    assert "Username" in str(error.value) and "EID" in str(error.value)


def test_roster_in_an_unknown_encoding_is_a_clear_error(tmp_path):
    path = write(tmp_path, "roster.csv", b"\x81\x00\xff\xfe\xfd")
    with pytest.raises(ingest.RosterError, match="neither UTF-8 nor Shift_JIS"):
        ingest.read_roster(path)


def test_roster_header_is_never_a_student(tmp_path):
    roster = ingest.read_roster(roster_file(tmp_path, "Student ID,Name\n21X1234,Taro\n"))
    write(tmp_path / "subs", "21X1234_B2-2.ipynb")
    got = ingest.ingest(tmp_path / "subs", "B2-2", roster=roster)
    assert [s.student for s in got.submissions] == ["21X1234"] and got.problems == []


# ---------------------------------------------------------------- one bad file costs only its student


def prepared(submission, release):
    """What grading does with each submission before running it: read, repair and review,
    any failure making that student invalid."""
    try:
        nb = submission.notebook()
        with repair.invalid_on_error(repair.Step.REPAIR):
            fixed = repair.repair(nb, release)
        with repair.invalid_on_error(repair.Step.REVIEW):
            checks.review(fixed.notebook, checks.instructor_names(release))
    except InvalidSubmission as invalid:
        return invalid
    return fixed.notebook


def test_nested_and_oversized_files_make_only_their_students_invalid(tmp_path):
    good = nbformat.writes(student_nb()).encode()
    write(tmp_path, "s1_B2-2.ipynb", good)
    write(tmp_path, "s2_B2-2.ipynb", b'{"cells": [], "metadata": {"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}")
    write(tmp_path, "s3_B2-2.ipynb", good + b" " * 2 * MiB)
    write(tmp_path, "s4_B2-2.ipynb", good)
    got = ingest.ingest(tmp_path, "B2-2", limits=ingest.IngestLimits(max_notebook_bytes=MiB))
    outcome = {s.student: prepared(s, release_nb()) for s in got.submissions}
    assert [s for s, o in outcome.items() if not isinstance(o, InvalidSubmission)] == ["s1", "s4"]
    assert "nested too deeply" in outcome["s2"].en and "入れ子が深すぎ" in outcome["s2"].ja
    assert "too large" in outcome["s3"].en and "大きすぎます" in outcome["s3"].ja


def test_roster_with_a_header_and_no_students_is_a_clear_error(tmp_path):
    with pytest.raises(ingest.RosterError, match="no student ids under the id column"):
        ingest.read_roster(roster_file(tmp_path, "Student ID,Name\n,\n"))


@pytest.mark.parametrize(
    "text",
    [
        "Identifier,Full name,ID number,Email address,Status\nParticipant 123456,Yamada Taro,21X1234,taro@example.jp,Submitted\n",
        "識別子,フルネーム,ID番号,メールアドレス\n参加者 123456,Yamada Taro,21X1234,taro@example.jp\n",
    ],
    ids=["english", "japanese"],
)
def test_roster_from_a_moodle_grading_worksheet_uses_participant_numbers(tmp_path, text):
    roster = ingest.read_roster(roster_file(tmp_path, text))
    assert roster == {"123456": "Yamada Taro"}
    write(tmp_path / "subs", "Yamada Taro_123456_assignsubmission_file_/B2-2.ipynb")
    assert [s.student for s in ingest.ingest(tmp_path / "subs", "B2-2", roster=roster).submissions] == ["123456"]


def test_copies_written_at_almost_the_same_time_are_ordered_by_their_copy_number(tmp_path):
    """A git checkout or a copy writes both files within a few milliseconds: '(1)' is the later download."""
    for name in ("s1_B1-1 (1).ipynb", "s1_B1-1.ipynb"):  # (1) written first, as git checks out in name order
        (tmp_path / name).write_text(nbformat.writes(nbformat.v4.new_notebook()), encoding="utf-8")
    stamp = 1_790_000_000
    os.utime(tmp_path / "s1_B1-1 (1).ipynb", (stamp, stamp))
    os.utime(tmp_path / "s1_B1-1.ipynb", (stamp + 0.004, stamp + 0.004))
    got = ingest.ingest(tmp_path, "B1-1")
    assert [s.origin for s in got.submissions] == ["s1_B1-1 (1).ipynb"]
    os.utime(tmp_path / "s1_B1-1.ipynb", (stamp + 3600, stamp + 3600))  # an hour later: the time decides
    assert [s.origin for s in ingest.ingest(tmp_path, "B1-1").submissions] == ["s1_B1-1.ipynb"]
