"""Stage 2: the handed-in notebooks and whose they are, from a folder, a zip or an LMS download.

Files are collected within :class:`~autograder.ingest.IngestLimits`. A Sakai, Moodle or
Canvas bulk download is recognised by its layout (``--lms`` forces one) and then the
LMS's own student ids, submission times and comments are used; anything else goes through
:func:`autograder.ingest.identify` (ids from file and folder names or the roster).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import lms
from .ingest import Submission, collect, identify, read_roster
from .options import Options
from .prepare import GradingError


@dataclass
class Handins:
    submissions: list[Submission]
    problems: list[dict]  # report.json's shape: file/student, problem, detail
    lms: lms.Lms | None = None
    fields: dict[str, lms.LmsFields] = field(default_factory=dict)  # per student, when from an LMS


def _zone(name: str | None):
    try:
        return lms.zone(name)
    except ValueError as exc:
        raise GradingError(f"--lms-timezone: {exc}") from exc


def handins(opts: Options) -> Handins:
    """What ``opts.submissions`` holds for ``opts.assignment``."""
    entries, refused = collect(opts.submissions)
    problems = [p.as_dict() for p in refused]
    kind = lms.Lms(opts.lms) if opts.lms else lms.detect(entries)
    if kind is None:
        roster = read_roster(opts.roster) if opts.roster else None
        got = identify(entries, refused, opts.assignment, opts.id_pattern, roster, opts.students)
        return Handins(got.submissions, [p.as_dict() for p in got.problems])
    subs, fields, lms_problems = lms.handins(lms.download(entries, kind, _zone(opts.lms_timezone)), opts.assignment)
    if opts.students is not None:
        subs = [s for s in subs if s.student in opts.students]
        lms_problems = [p for p in lms_problems if p.get("student") in (None, *opts.students)]
    return Handins(subs, problems + lms_problems, kind, fields)
