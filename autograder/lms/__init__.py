"""LMS bulk downloads in, grades and feedback back out (Sakai, Moodle, Canvas).

``detect(entries)`` tells which LMS wrote a download, ``read(entries, lms)`` turns it into
:class:`LmsSubmission` objects (student id, name, submission time, student comment, files)
plus the roster and problems, and ``export(...)`` writes what the LMS imports. Where each
format detail comes from is documented in :mod:`.sakai`, :mod:`.moodle`, :mod:`.canvas`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import canvas, moodle, sakai
from .export import ExportFormat, export, final_scores
from .handin import LmsFields, handins
from .model import Entry, Lms, LmsDownload, LmsProblem, LmsSubmission, ProblemKind, RosterEntry
from .scores import ExportRow, read_rows

__all__ = [
    "Entry", "ExportFormat", "ExportRow", "Lms", "LmsDownload", "LmsFields", "handins", "LmsProblem", "LmsSubmission",
    "ProblemKind", "RosterEntry", "detect", "download", "export", "final_scores", "read", "read_rows", "zone",
]

_MATCHERS = {Lms.SAKAI: sakai.matches, Lms.MOODLE: moodle.matches, Lms.CANVAS: canvas.matches}


def zone(name: str | None) -> tzinfo | None:
    """The time zone ``name`` (e.g. ``Asia/Tokyo``) for times an LMS writes without one; None for none."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r} (write e.g. Asia/Tokyo)") from exc


def detect(entries: Sequence[Entry]) -> Lms | None:
    """The LMS whose layout most of ``entries`` follow (at least half of the notebooks), or None."""
    if not entries:
        return None
    counts = {lms: match(entries) for lms, match in _MATCHERS.items()}
    best = max(counts, key=lambda lms: counts[lms])
    notebooks = sum(1 for e in entries if e.path.lower().endswith(".ipynb")) or 1
    return best if counts[best] and counts[best] * 2 >= min(notebooks, len(entries)) else None


def download(entries: Sequence[Entry], lms: Lms, zip_timezone: tzinfo | None = None) -> LmsDownload:
    """Submissions, roster and problems of a download made by ``lms``."""
    if lms is Lms.SAKAI:
        return sakai.read(entries)
    if lms is Lms.MOODLE:
        return moodle.read(entries, zip_timezone)
    return canvas.read(entries)


def read(entries: Sequence[Entry], lms: Lms, zip_timezone: tzinfo | None = None) -> tuple[list[LmsSubmission], list[LmsProblem]]:
    """(submissions, problems) of a download made by ``lms`` (see :func:`download` for the roster)."""
    got = download(entries, lms, zip_timezone)
    return got.submissions, got.problems
