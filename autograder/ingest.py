"""Collect handed-in notebooks from a folder or an LMS zip and work out whose they are.

Handles what collecting from an LMS or from Colab downloads produces: ``Copy of B2-2.ipynb``,
``B2-2 (1).ipynb``, ``<student_id>_B2-2.ipynb``, one folder per student, zips inside the
zip, macOS ``__MACOSX`` debris and checkpoints. Every file that is not used is reported
with the reason; nothing is silently dropped.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

DEFAULT_ID_PATTERN = r"^(?P<student>[A-Za-z0-9][A-Za-z0-9.-]*)_"
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
ASSIGNMENT_ID = re.compile(r"B\d-\d", re.IGNORECASE)
COPY_NUMBER = re.compile(r"\((\d+)\)")


@dataclass
class Submission:
    student: str
    origin: str
    data: bytes
    modified: datetime
    notes: list[str] = field(default_factory=list)


@dataclass
class Ingested:
    submissions: list[Submission]
    problems: list[dict] = field(default_factory=list)


@dataclass
class _Entry:
    path: str
    data: bytes
    modified: datetime


def _skip(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


def _from_zip(raw: bytes, prefix: str, problems: list[dict], depth: int = 0) -> list[_Entry]:
    entries: list[_Entry] = []
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except zipfile.BadZipFile as exc:
        problems.append({"file": prefix, "problem": "unreadable zip", "detail": str(exc)})
        return entries
    for info in archive.infolist():
        if info.is_dir():
            continue
        name = f"{prefix}{info.filename}"
        if _skip(info.filename):
            continue
        data = archive.read(info)
        modified = datetime(*info.date_time, tzinfo=timezone.utc)
        if info.filename.lower().endswith(".zip") and depth < 2:
            entries += _from_zip(data, name + "!/", problems, depth + 1)
        else:
            entries.append(_Entry(name, data, modified))
    return entries


def _collect(source: Path, problems: list[dict]) -> list[_Entry]:
    if source.is_file() and source.suffix.lower() == ".zip":
        return _from_zip(source.read_bytes(), "", problems)
    if source.is_file():
        stamp = datetime.fromtimestamp(source.stat().st_mtime, timezone.utc)
        return [_Entry(source.name, source.read_bytes(), stamp)]
    if not source.is_dir():
        raise FileNotFoundError(f"{source} is neither a folder nor a zip of submissions.")
    entries: list[_Entry] = []
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source).as_posix()
        if not path.is_file() or _skip(rel):
            continue
        if path.suffix.lower() == ".zip":
            entries += _from_zip(path.read_bytes(), rel + "!/", problems)
        else:
            entries.append(_Entry(rel, path.read_bytes(), datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)))
    return entries


def read_roster(path: Path) -> dict[str, str]:
    """Student ids (and names) from a CSV with an ``id`` column (or ids in the first column)."""
    text = path.read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise ValueError(f"roster {path} is empty")
    header = [h.strip().lower() for h in rows[0]]
    if "id" in header:
        col, name_col, body = header.index("id"), header.index("name") if "name" in header else None, rows[1:]
    else:
        col, name_col, body = 0, None, rows
    roster = {}
    for row in body:
        if len(row) > col and row[col].strip():
            roster[row[col].strip()] = row[name_col].strip() if name_col is not None and len(row) > name_col else ""
    return roster


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
    id_pattern: str = DEFAULT_ID_PATTERN,
    roster: dict[str, str] | None = None,
    only: set[str] | None = None,
) -> Ingested:
    """Submissions for ``assignment`` in ``source`` (folder, zip or single notebook)."""
    problems: list[dict] = []
    pattern = re.compile(id_pattern)
    by_student: dict[str, list[Submission]] = {}
    for entry in _collect(source, problems):
        if not entry.path.lower().endswith(".ipynb"):
            problems.append({"file": entry.path, "problem": "not a notebook, ignored"})
            continue
        mentioned = {m.upper() for m in ASSIGNMENT_ID.findall(PurePosixPath(entry.path).name)}
        if mentioned and assignment.upper() not in mentioned:
            problems.append({"file": entry.path, "problem": f"named for {', '.join(sorted(mentioned))}, not {assignment}: ignored"})
            continue
        student, why = _student_for(entry.path, pattern, roster)
        if student is None:
            problems.append({"file": entry.path, "problem": "unknown student", "detail": why})
            continue
        if not SAFE_ID.match(student):
            problems.append({"file": entry.path, "problem": "unusable student id", "detail": repr(student)})
            continue
        if only is not None and student not in only:
            continue
        notes = [] if mentioned else [f"file name {PurePosixPath(entry.path).name!r} does not mention {assignment}"]
        by_student.setdefault(student, []).append(Submission(student, entry.path, entry.data, entry.modified, notes))

    chosen: list[Submission] = []
    for student, subs in sorted(by_student.items()):
        def rank(s: Submission):
            copy = COPY_NUMBER.findall(PurePosixPath(s.origin).name)
            return (s.modified, int(copy[-1]) if copy else 0, s.origin)

        subs.sort(key=rank)
        keep = subs[-1]
        if len(subs) > 1:
            others = [s.origin for s in subs[:-1]]
            keep.notes.append(f"{len(subs)} files for this student: graded the newest {keep.origin!r}")
            problems.append({"student": student, "problem": "duplicate submissions", "detail": f"kept {keep.origin}, ignored {', '.join(others)}"})
        chosen.append(keep)
    if roster is not None:
        for student in sorted(set(roster) - set(by_student)):
            if only is None or student in only:
                problems.append({"student": student, "problem": "no submission"})
    return Ingested(chosen, problems)
