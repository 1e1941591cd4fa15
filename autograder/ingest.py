"""Collect handed-in notebooks from a folder or an LMS zip and work out whose they are.

Handles what collecting from an LMS or from Colab downloads produces: ``Copy of B2-2.ipynb``,
``B2-2 (1).ipynb``, ``<student_id>_B2-2.ipynb``, one folder per student, zips inside the
zip, macOS ``__MACOSX`` debris and checkpoints. Every file that is not used is reported
with the reason (:class:`IngestProblem`); nothing is silently dropped.

Archives are read with :class:`IngestLimits`: an entry is never decompressed beyond the
limits (the size a zip declares is checked first and every read is counted as well, since
a header can lie), entries whose names leave the archive (``../``, absolute paths, drive
letters) are refused, and each refusal is reported for that file while the rest of the
archive is read. A notebook larger than the notebook limit is not read; it becomes a
:class:`Submission` with ``rejected`` set, so that its student is reported ``invalid``.
"""

from __future__ import annotations

import csv
import functools
import io
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path, PurePosixPath

from nbformat import NotebookNode

from .options import ID_PATTERN
from .repair import MAX_NOTEBOOK_BYTES, InvalidSubmission, read_submission, too_large

SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
ASSIGNMENT_ID = re.compile(r"B\d-\d", re.IGNORECASE)
COPY_NUMBER = re.compile(r"\((\d+)\)")
DRIVE_LETTER = re.compile(r"^[A-Za-z]:")

MiB = 1 << 20
GiB = 1 << 30
_CHUNK = MiB


@dataclass(frozen=True)
class IngestLimits:
    """The most that collecting submissions reads; beyond a limit a file is reported, not read.

    Sizes are uncompressed bytes. ``max_total_bytes`` counts every byte decompressed or read
    in one run (notebooks and the zips inside zips, which are held in memory while read),
    so it bounds the memory ingest uses.
    """

    max_total_bytes: int = 2 * GiB
    max_file_bytes: int = 512 * MiB  # one entry of a zip (a notebook or a zip inside it)
    max_notebook_bytes: int = MAX_NOTEBOOK_BYTES  # one notebook, checked before it is read or parsed
    max_entries: int = 20_000  # files in all the archives of one run together
    max_depth: int = 2  # zips inside the zip: 1 = a zip in the zip is opened, its zips are not
    max_sidecar_bytes: int = 1 * MiB  # a text file an LMS writes beside the notebooks (timestamp.txt, grades.csv ...)


SIDECAR_SUFFIXES = (".txt", ".csv", ".html", ".htm")  # what LMS downloads carry besides the files

class Problem(Enum):
    """Why a file (or a student) was not taken as a submission; the value is the report's text."""

    UNREADABLE_ZIP = "unreadable zip"
    NOT_NOTEBOOK = "not a notebook, ignored"
    OTHER_ASSIGNMENT = "named for another assignment, ignored"
    UNKNOWN_STUDENT = "unknown student"
    UNUSABLE_ID = "unusable student id"
    DUPLICATE = "duplicate submissions"
    NO_SUBMISSION = "no submission"
    UNSAFE_PATH = "unsafe path in zip, not read"
    TOO_LARGE = "too large, not read"
    TOO_DEEP = "zip nested too deep, not read"
    TOO_MANY_ENTRIES = "too many files in zips, rest not read"
    TOTAL_LIMIT = "total size limit of the run reached, not read"
    CORRUPT_ENTRY = "damaged zip entry, not read"
    UNSUPPORTED_COMPRESSION = "unsupported zip compression, not read"


@dataclass(frozen=True)
class IngestProblem:
    """One file (or student) the ingest could not use, and why."""

    problem: Problem
    file: str | None = None
    student: str | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        """The shape ``report.json`` has always used: ``file`` or ``student``, ``problem``, ``detail``."""
        out: dict[str, str] = {}
        if self.file is not None:
            out["file"] = self.file
        if self.student is not None:
            out["student"] = self.student
        out["problem"] = self.problem.value
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass
class Submission:
    student: str
    origin: str
    data: bytes
    modified: datetime
    notes: list[str] = field(default_factory=list)
    rejected: InvalidSubmission | None = None  # set (and ``data`` empty) when the file was not read

    def notebook(self) -> NotebookNode:
        """The parsed notebook; :class:`InvalidSubmission` with the reason if it was refused or is unreadable."""
        if self.rejected is not None:
            raise self.rejected
        return read_submission(self.data)


@dataclass
class Ingested:
    submissions: list[Submission]
    problems: list[IngestProblem] = field(default_factory=list)


@dataclass
class _Entry:
    path: str
    data: bytes
    modified: datetime
    too_large: int | None = None  # the size of a notebook that was not read


class _Refused(Exception):
    """An entry that is reported instead of read."""

    def __init__(self, problem: Problem, detail: str):
        super().__init__(detail)
        self.problem, self.detail = problem, detail


def _skip(path: str) -> bool:
    """Editor and OS debris (checkpoints, dot files, ``__MACOSX``): not submissions, not worth a report."""
    parts = PurePosixPath(path).parts
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


def _unsafe(name: str) -> str | None:
    """Why a zip entry's name leaves the archive's folder, or None when it stays inside."""
    if name.startswith("/"):
        return "absolute path"
    if DRIVE_LETTER.match(name):
        return "Windows drive letter"
    if ".." in name.split("/"):
        return "'..' leads out of the archive's folder"
    return None


def _entry_name(info: zipfile.ZipInfo) -> str:
    """An entry's name with ``/`` separators, decoded as the zipping tool meant it.

    Without the UTF-8 flag zipfile decodes names as CP437; macOS and Linux tools wrote UTF-8
    there, Japanese Windows' "compressed folder" CP932 (Shift_JIS).
    """
    name = info.filename
    if not info.flag_bits & 0x800:
        raw = name.encode("cp437")
        for encoding in ("utf-8", "cp932"):
            try:
                name = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
    return name.replace("\\", "/")


def _size(n: int) -> str:
    return f"{n / MiB:.1f} MiB" if n >= MiB else f"{n} bytes"


class _Reader:
    """Reads folders and zips within one run's :class:`IngestLimits`, reporting what it refuses."""

    def __init__(self, limits: IngestLimits, problems: list[IngestProblem]):
        self.limits = limits
        self.problems = problems
        self.bytes_read = 0
        self.entries = 0

    def _refuse(self, name: str, problem: Problem, detail: str) -> None:
        self.problems.append(IngestProblem(problem, file=name, detail=detail))

    def _budget(self, cap: int) -> int:
        """How much the next read may take: ``cap``, or less when the run's total is nearly spent."""
        left = self.limits.max_total_bytes - self.bytes_read
        if left <= 0:
            raise _Refused(Problem.TOTAL_LIMIT, f"{_size(self.limits.max_total_bytes)} already read in this run (IngestLimits.max_total_bytes)")
        return min(cap, left)

    def _read_counted(self, stream: io.BufferedIOBase, limit: int, own_cap: int, declared: int) -> bytes:
        """At most ``limit`` bytes of ``stream``, counted as they come whatever the header said.

        ``limit`` is the file's own cap ``own_cap`` or less, when the run's total is nearly spent.
        """
        chunks: list[bytes] = []
        got = 0
        while True:
            chunk = stream.read(min(_CHUNK, limit + 1 - got))
            if not chunk:
                break
            got += len(chunk)
            self.bytes_read += len(chunk)
            if got > limit:
                if limit < own_cap:
                    raise _Refused(Problem.TOTAL_LIMIT, f"{_size(self.limits.max_total_bytes)} already read in this run (IngestLimits.max_total_bytes)")
                raise _Refused(Problem.TOO_LARGE, f"more than {_size(limit)} uncompressed although the zip declares {_size(declared)}")
            chunks.append(chunk)
        return b"".join(chunks)

    def zip(self, opener: Path | bytes, prefix: str, depth: int) -> Iterator[_Entry]:
        """The entries of a zip (a file, or the bytes of a zip inside one); ``prefix`` names its entries."""
        name = prefix.removesuffix("!/") or (opener.name if isinstance(opener, Path) else ".")
        try:
            archive = zipfile.ZipFile(opener if isinstance(opener, Path) else io.BytesIO(opener))
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
            self._refuse(name, Problem.UNREADABLE_ZIP, str(exc))
            return
        with archive:
            infos = [i for i in archive.infolist() if not i.is_dir()]
            for index, info in enumerate(infos):
                entry_name = _entry_name(info)
                path = f"{prefix}{entry_name}"
                why = _unsafe(entry_name)
                if why is not None:
                    self._refuse(path, Problem.UNSAFE_PATH, why)
                    continue
                if _skip(entry_name):
                    continue
                self.entries += 1
                if self.entries > self.limits.max_entries:
                    left = len(infos) - index
                    self._refuse(name, Problem.TOO_MANY_ENTRIES, f"more than {self.limits.max_entries} files (IngestLimits.max_entries): {left} file(s) of this zip not read")
                    return
                try:
                    yield from self._zip_entry(archive, info, path, depth)
                except _Refused as refused:
                    self._refuse(path, refused.problem, refused.detail)
                except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
                    self._refuse(path, Problem.CORRUPT_ENTRY, f"{type(exc).__name__}: {exc}")

    def _zip_entry(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str, depth: int) -> Iterator[_Entry]:
        lower = info.filename.lower()
        modified = datetime(*info.date_time, tzinfo=timezone.utc)
        is_zip, is_notebook = lower.endswith(".zip"), lower.endswith(".ipynb")
        if not (is_zip or is_notebook) and lower.endswith(SIDECAR_SUFFIXES) and info.file_size <= self.limits.max_sidecar_bytes:
            with archive.open(info) as stream:
                yield _Entry(path, self._read_counted(stream, self._budget(self.limits.max_sidecar_bytes), self.limits.max_sidecar_bytes, info.file_size), modified)
            return
        if not (is_zip or is_notebook):
            self._refuse(path, Problem.NOT_NOTEBOOK, "")
            return
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            # bzip2 and lzma decompress without an output bound in zipfile: refuse rather than trust them
            raise _Refused(Problem.UNSUPPORTED_COMPRESSION, f"compression method {info.compress_type}; only stored and deflated entries are read")
        if is_zip and depth >= self.limits.max_depth:
            raise _Refused(Problem.TOO_DEEP, f"a zip inside {depth + 1} zips (IngestLimits.max_depth = {self.limits.max_depth})")
        cap = self.limits.max_notebook_bytes if is_notebook else self.limits.max_file_bytes
        if info.file_size > cap:
            if is_notebook:
                yield _Entry(path, b"", modified, too_large=info.file_size)
                return
            raise _Refused(Problem.TOO_LARGE, f"{_size(info.file_size)} uncompressed (IngestLimits.max_file_bytes = {_size(cap)})")
        limit = self._budget(cap)
        with archive.open(info) as stream:
            try:
                data = self._read_counted(stream, limit, cap, info.file_size)
            except _Refused as refused:
                if is_notebook and refused.problem is Problem.TOO_LARGE:
                    yield _Entry(path, b"", modified, too_large=limit + 1)
                    return
                raise
        if is_zip:
            yield from self.zip(data, path + "!/", depth + 1)
        else:
            yield _Entry(path, data, modified)

    def file(self, path: Path, name: str) -> Iterator[_Entry]:
        """A file on disk: a zip is opened, a notebook read unless it is over the notebook limit."""
        stat = path.stat()
        modified = datetime.fromtimestamp(stat.st_mtime, timezone.utc)
        lower = path.name.lower()
        if lower.endswith(".zip"):
            yield from self.zip(path, name + "!/", 0)
            return
        if not lower.endswith(".ipynb"):
            if lower.endswith(SIDECAR_SUFFIXES) and stat.st_size <= self.limits.max_sidecar_bytes:
                yield _Entry(name, path.read_bytes()[: self.limits.max_sidecar_bytes], modified)
            else:
                self._refuse(name, Problem.NOT_NOTEBOOK, "")
            return
        if stat.st_size > self.limits.max_notebook_bytes:
            yield _Entry(name, b"", modified, too_large=stat.st_size)
            return
        try:
            limit = self._budget(self.limits.max_notebook_bytes)
            with path.open("rb") as stream:
                data = self._read_counted(stream, limit, self.limits.max_notebook_bytes, stat.st_size)
        except _Refused as refused:
            if refused.problem is Problem.TOO_LARGE:  # it grew while being read
                yield _Entry(name, b"", modified, too_large=self.limits.max_notebook_bytes + 1)
                return
            self._refuse(name, refused.problem, refused.detail)
            return
        yield _Entry(name, data, modified)


def collect(source: Path, limits: IngestLimits = IngestLimits()) -> tuple[list[_Entry], list[IngestProblem]]:
    """Every file under ``source`` (folder, zip or single file) within ``limits``, and what was refused."""
    problems: list[IngestProblem] = []
    return _collect(source, _Reader(limits, problems)), problems


def _collect(source: Path, reader: _Reader) -> list[_Entry]:
    if source.is_file() and source.suffix.lower() == ".zip":
        return list(reader.zip(source, "", 0))
    if source.is_file():
        return list(reader.file(source, source.name))
    if not source.is_dir():
        raise FileNotFoundError(f"{source} is neither a folder nor a zip of submissions.")
    entries: list[_Entry] = []
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source).as_posix()
        if not path.is_file() or _skip(rel):
            continue
        entries += reader.file(path, rel)
    return entries


# --------------------------------------------------------------------------- rosters


class RosterError(ValueError):
    """A roster file that cannot be read as a list of students."""


def _header_key(text: str) -> str:
    """``Student ID``, ``student_id``, ``ＳｔｕｄｅｎｔＩＤ`` and ``StudentId`` all compare equal."""
    return re.sub(r"[\s_.\-:：]+", "", unicodedata.normalize("NFKC", text)).casefold()


# Headers of a student id column, in the order they are preferred when an export has several
# (compared with _header_key). Each LMS names files after one of its columns: Blackboard
# after "Username" (its export also has "Student ID"), Canvas after its own "ID" (not "SIS
# User ID"), Sakai after "Student ID" (the EID), Moodle after the participant number of its
# grading worksheet's "Identifier" ("Participant 123456", 識別子 "参加者 123456"); manaba and
# Japanese Excel sheets use 学籍番号.
ID_HEADERS = (
    "Identifier", "識別子",
    "学籍番号", "学生番号", "学生証番号",
    "Username", "User name", "ユーザ名", "ユーザー名", "EID", "Login ID", "ログインID", "User ID", "ユーザID", "ユーザーID",
    "Student ID", "Student Number", "ID number", "ID番号",
    "ID",
    "SIS User ID", "SIS Login ID",
)
NAME_HEADERS = ("氏名", "名前", "Name", "Full name", "Student name", "Student", "Display name", "フルネーム")
LAST_NAME_HEADERS = ("Last name", "Surname", "Family name", "姓")
FIRST_NAME_HEADERS = ("First name", "Given name", "名")


def _decode(raw: bytes, path: Path) -> str:
    """Text of a CSV saved as UTF-8 (with or without BOM), UTF-16 (Excel's "Unicode text") or Shift_JIS/CP932."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp932")  # Japanese Excel's "CSV": Shift_JIS with Microsoft's extensions
    except UnicodeDecodeError as exc:
        raise RosterError(
            f"roster {path}: neither UTF-8 nor Shift_JIS text (byte {exc.start}). "
            "Save it from Excel as 'CSV UTF-8 (comma delimited)' and try again."
        ) from None


def _rows(text: str) -> list[list[str]]:
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample.splitlines()[0] if sample else "", delimiters=",\t;")
    except (csv.Error, IndexError):
        dialect = csv.excel
    return [row for row in csv.reader(io.StringIO(text), dialect) if any(cell.strip() for cell in row)]


def _column(header: list[str], names: tuple[str, ...], body: list[list[str]] | None = None) -> int | None:
    keys = [_header_key(h) for h in header]
    for wanted in names:
        key = _header_key(wanted)
        for col, have in enumerate(keys):
            if have == key and (body is None or any(len(r) > col and r[col].strip() for r in body)):
                return col
    return None


def _cell(row: list[str], col: int | None) -> str:
    return unicodedata.normalize("NFKC", row[col]).strip() if col is not None and col < len(row) else ""


def read_roster(path: Path, id_column: str | None = None) -> dict[str, str]:
    """Student ids (and names) from a roster CSV as an LMS or Excel exports it.

    The id column is ``id_column`` if given, else the first of :data:`ID_HEADERS` present
    with values (``Student ID``, ``学籍番号``, ``Username``, ``EID``, ``ID`` ...); a file without a
    header row may list ids in its first column. Extra columns are ignored, rows without an
    id (Canvas' "Points Possible") skipped. Raises :class:`RosterError` naming the headers
    found when no id column can be told.
    """
    rows = _rows(_decode(path.read_bytes(), path))
    if not rows:
        raise RosterError(f"roster {path} is empty: it should list one student per row under a header such as 'Student ID'.")
    header, body = rows[0], rows[1:]
    found = ", ".join(map(repr, header))
    if id_column is not None:
        col = _column(header, (id_column,))
        if col is None:
            raise RosterError(f"roster {path}: no column {id_column!r}; headers found: {found}.")
    elif _column(header, ID_HEADERS) is None:
        first = _cell(header, 0)
        if SAFE_ID.match(first) and any(ch.isdigit() for ch in first):
            return {_cell(row, 0): "" for row in rows if _cell(row, 0)}  # no header row: ids in column 1
        raise RosterError(
            f"roster {path}: no student id column. Headers found: {found}. "
            f"Head the id column 'Student ID' or '学籍番号' (recognised: {', '.join(ID_HEADERS)}), or name the column to use."
        )
    else:
        col = _column(header, ID_HEADERS, body)
        if col is None:
            raise RosterError(f"roster {path}: no student ids under the id column(s) of {found}; is the roster empty?")
    participant = _header_key(header[col]) in {_header_key("Identifier"), _header_key("識別子")}
    name_col = _column(header, NAME_HEADERS)
    last_col, first_col = _column(header, LAST_NAME_HEADERS), _column(header, FIRST_NAME_HEADERS)
    roster: dict[str, str] = {}
    for row in body:
        student = _cell(row, col)
        if participant and (number := re.search(r"(\d+)$", student)):
            student = number.group(1)  # Moodle: "Participant 123456" names files "..._123456_assignsubmission_file_"
        if not student:
            continue
        name = _cell(row, name_col) if name_col is not None else " ".join(p for p in (_cell(row, last_col), _cell(row, first_col)) if p)
        roster[student] = name
    return roster


# --------------------------------------------------------------------------- whose file is it


def _tokens(path: str) -> set[str]:
    return {t for t in re.split(r"[^A-Za-z0-9]+", path) if t}


def _student_for(path: str, pattern: re.Pattern, roster: dict[str, str] | None) -> tuple[str | None, str]:
    if roster is not None:
        found = sorted(_tokens(path) & set(roster))
        if len(found) == 1:
            return found[0], ""
        if found:
            return None, f"matches several roster ids ({', '.join(found)})"
        return None, "no roster id in the file or folder name"
    # the file name first, then each enclosing zip or folder, innermost first
    names: list[str] = []
    for piece in reversed(path.split("!/")):
        names += list(reversed(PurePosixPath(piece).parts))
    for name in names:
        match = pattern.search(name)
        if match:
            return match.group("student"), ""
    folders = PurePosixPath(path.split("!/")[0]).parts[:-1]
    if folders:
        return folders[0], ""
    return None, f"file name does not match the student id pattern {pattern.pattern!r}"


def ingest(
    source: Path,
    assignment: str,
    id_pattern: str = ID_PATTERN,
    roster: dict[str, str] | None = None,
    only: set[str] | None = None,
    limits: IngestLimits = IngestLimits(),
) -> Ingested:
    """Submissions for ``assignment`` in ``source`` (folder, zip or single notebook)."""
    entries, problems = collect(source, limits)
    return identify(entries, problems, assignment, id_pattern, roster, only, limits)


SAME_TIME = 2.0  # seconds: file times closer than this (a copy, a git checkout) do not order downloads


def _copy_number(sub: Submission) -> int:
    copy = COPY_NUMBER.findall(PurePosixPath(sub.origin).name)
    return int(copy[-1]) if copy else 0


def _older_first(a: Submission, b: Submission) -> int:
    """Which of two files of a student is older: by file time, unless the times are too close
    to mean anything, then by the browser's copy number (``B1-1 (1).ipynb`` was downloaded
    after ``B1-1.ipynb``), then by name."""
    seconds = (a.modified - b.modified).total_seconds()
    if abs(seconds) >= SAME_TIME:
        return -1 if seconds < 0 else 1
    key_a, key_b = (_copy_number(a), a.origin), (_copy_number(b), b.origin)
    return (key_a > key_b) - (key_a < key_b)


def identify(
    entries: list[_Entry],
    problems: list[IngestProblem],
    assignment: str,
    id_pattern: str = ID_PATTERN,
    roster: dict[str, str] | None = None,
    only: set[str] | None = None,
    limits: IngestLimits = IngestLimits(),
) -> Ingested:
    """Whose each collected file is (from its name, folder or the roster); the newest per student."""
    pattern = re.compile(id_pattern)
    by_student: dict[str, list[Submission]] = {}
    for entry in entries:
        if not entry.path.lower().endswith(".ipynb"):  # a text file collect() read in case an LMS wrote it
            problems.append(IngestProblem(Problem.NOT_NOTEBOOK, file=entry.path))
            continue
        name = PurePosixPath(entry.path).name
        mentioned = {m.upper() for m in ASSIGNMENT_ID.findall(name)}
        if mentioned and assignment.upper() not in mentioned:
            problems.append(IngestProblem(Problem.OTHER_ASSIGNMENT, file=entry.path, detail=f"named for {', '.join(sorted(mentioned))}, not {assignment}"))
            continue
        student, why = _student_for(entry.path, pattern, roster)
        if student is None:
            problems.append(IngestProblem(Problem.UNKNOWN_STUDENT, file=entry.path, detail=why))
            continue
        if not SAFE_ID.match(student):
            problems.append(IngestProblem(Problem.UNUSABLE_ID, file=entry.path, detail=repr(student)))
            continue
        if only is not None and student not in only:
            continue
        notes = [] if mentioned else [f"file name {name!r} does not mention {assignment}"]
        rejected = too_large(entry.too_large, limits.max_notebook_bytes) if entry.too_large is not None else None
        by_student.setdefault(student, []).append(Submission(student, entry.path, entry.data, entry.modified, notes, rejected))

    chosen: list[Submission] = []
    for student, subs in sorted(by_student.items()):
        subs.sort(key=functools.cmp_to_key(_older_first))
        keep = subs[-1]
        if len(subs) > 1:
            others = [s.origin for s in subs[:-1]]
            keep.notes.append(f"{len(subs)} files for this student: graded the newest {keep.origin!r}")
            problems.append(IngestProblem(Problem.DUPLICATE, student=student, detail=f"kept {keep.origin}, ignored {', '.join(others)}"))
        chosen.append(keep)
    if roster is not None:
        for student in sorted(set(roster) - set(by_student)):
            if only is None or student in only:
                problems.append(IngestProblem(Problem.NO_SUBMISSION, student=student))
    return Ingested(chosen, problems)
