"""``course-grade export | similarity | report``: the end of the term's loop.

``cli.py`` calls :func:`add_subcommands` with its subparsers; each command reads what
``course-grade grade`` left (the gradebook, ``autograded/``, ``grading-output/<a>/``).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

import nbformat

from . import class_report, feedback_page, late, lms, similarity

REPO = Path(__file__).resolve().parents[1]


def _db_url(args: argparse.Namespace) -> str:
    return args.db_url or f"sqlite:///{Path(args.course).resolve() / 'gradebook.db'}"


def _out(args: argparse.Namespace) -> Path:
    return Path(args.out) if args.out else Path(args.course).resolve() / "grading-output" / args.assignment


def _report_json(args: argparse.Namespace) -> dict:
    path = _out(args) / "report.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _zone(name: str | None):
    try:
        return lms.zone(name)
    except ValueError as exc:
        raise SystemExit(f"error: --lms-timezone: {exc}") from exc


def _autograded(course: Path, assignment: str) -> dict[str, nbformat.NotebookNode]:
    """student -> autograded notebook (nbgrader's ``autograded/<student>/<a>/<a>.ipynb``)."""
    out = {}
    for path in sorted((course / "autograded").glob(f"*/{assignment}/{assignment}.ipynb")):
        out[path.parts[-3]] = nbformat.read(path, as_version=4)
    return out


def _roster_and_times(args: argparse.Namespace):
    """Roster, submission times and LMS late markers from ``--download`` (or the last run)."""
    if args.download:
        from .ingest import collect

        entries, _ = collect(Path(args.download))
        kind = lms.Lms(args.lms) if args.lms in {m.value for m in lms.Lms} else lms.detect(entries)
        if kind is None:
            raise SystemExit(f"error: {args.download} does not look like a Sakai, Moodle or Canvas download; give --lms")
        got = lms.download(entries, kind, _zone(args.lms_timezone))
        times = {s.student: s.submitted_at for s in got.submissions if s.submitted_at}
        flags = {s.student: s.late_flag for s in got.submissions if s.late_flag is not None}
        return got.roster, times, flags
    report = _report_json(args)
    students = report.get("students", {})
    times = {}
    for s, d in students.items():
        if d.get("submitted_at"):
            times[s] = datetime.fromisoformat(d["submitted_at"])
    roster = [lms.RosterEntry(s, display_id=s) for s in sorted(students)]
    if not roster:
        raise SystemExit(f"error: no grading-output/{args.assignment}/report.json and no --download: nothing says who is in the class")
    return roster, times, {}


def cmd_export(args: argparse.Namespace) -> int:
    course = Path(args.course).resolve()
    policy = late.policy_from_args(args)
    roster, times, flags = _roster_and_times(args)
    db_url = _db_url(args)
    out = _out(args)
    rows = lms.final_scores(db_url, args.assignment, roster, policy, times, flags)
    graded = {s: r for s, r in rows.items() if r.graded}
    pages = feedback_page.write_pages(
        course, args.assignment, db_url, out / "feedback-pages",
        {s: r.outcome for s, r in graded.items()},
        {s: r.submitted_at.astimezone(policy.due.tzinfo) if policy else r.submitted_at for s, r in graded.items() if r.submitted_at},
        feedback_page.Lang(args.feedback_lang),
    )
    pages = {s: page for s, page in pages.items() if s in graded}
    path = lms.export(args.lms, args.assignment, db_url, out, roster, policy, times, flags, pages, args.title, args.canvas_assignment_id)
    print(f"{path}: {len(graded)} graded, {len(rows) - len(graded)} without a submission (empty grade), {len(pages)} feedback pages")
    if policy:
        print(f"  late rule: {policy.describe()}")
    return 0


def cmd_similarity(args: argparse.Namespace) -> int:
    course = Path(args.course).resolve()
    notebooks = _autograded(course, args.assignment)
    if len(notebooks) < 2:
        print(f"error: fewer than two graded notebooks in {course / 'autograded'} for {args.assignment}; run course-grade grade first", file=sys.stderr)
        return 2
    release = nbformat.read(course / "release" / args.assignment / f"{args.assignment}.ipynb", as_version=4)
    boilerplate = similarity.release_boilerplate(release)
    answers = similarity.answers_from_notebooks(notebooks, release)
    pairs = similarity.compare(answers, boilerplate, similarity.Method(args.method))
    paths = similarity.write_outputs(pairs, answers, _out(args), boilerplate, args.top)
    for p in pairs[: min(5, len(pairs))]:
        print(f"  {p.score:.2f}  {p.a}  {p.b}")
    print(f"{len(pairs)} pairs -> {paths['csv']}, {paths['html']}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    course = Path(args.course).resolve()
    report_json = _out(args) / "report.json"
    final = None
    outcomes = None
    db = _db_url(args)
    if args.db_url or (course / "gradebook.db").is_file():
        students = _report_json(args).get("students", {})
        times = {s: datetime.fromisoformat(d["submitted_at"]) for s, d in students.items() if d.get("submitted_at")}
        policy = late.policy_from_args(args)
        rows = lms.read_rows(db, args.assignment, list(students), policy, times) if students else {}
        final = {s: r.final for s, r in rows.items() if r.final is not None} or None
        outcomes = {s: r.outcome for s, r in rows.items() if r.outcome is not None} if policy else None
    source = course / "source" / args.assignment / f"{args.assignment}.ipynb"
    hidden = class_report.hidden_test_ids(nbformat.read(source, as_version=4)) if source.is_file() else set()
    try:
        path = class_report.write(report_json, (_out(args) / "report.html") if args.out else None, final, hidden, outcomes)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"class report -> {path}")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("assignment", help="assignment id, e.g. B1-1")
    p.add_argument("--course", default=str(REPO), help="course directory (default: this repository)")
    p.add_argument("--out", help="the grading run's output folder, read and written (default: grading-output/<assignment>)")
    p.add_argument("--db-url", help="gradebook URL (default: sqlite gradebook.db in the course directory)")


def add_subcommands(subparsers) -> None:
    """Add ``export``, ``similarity`` and ``report`` to ``course-grade``'s subparsers."""
    p = subparsers.add_parser("export", help="write the LMS's import file from the gradebook (manual grades and late penalty included)")
    _common(p)
    p.add_argument("--lms", required=True, choices=[f.value for f in lms.ExportFormat], help="what to write: sakai (Upload All zip), moodle (grading worksheet), canvas (gradebook import), csv")
    p.add_argument("--download", help="the LMS download the submissions came from: roster (students without a submission) and submission times")
    p.add_argument("--lms-timezone", help="time zone of the LMS server's zip times (Moodle), e.g. Asia/Tokyo")
    p.add_argument("--title", help="the assignment's name in the LMS (Sakai's folder, Canvas's column; default: the assignment id)")
    p.add_argument("--canvas-assignment-id", help="Canvas assignment id, for the column header '<title> (<id>)'")
    p.add_argument("--feedback-lang", choices=[lang.value for lang in feedback_page.Lang], default="ja", help="language of the feedback pages (default ja)")
    late.add_arguments(p)
    p.set_defaults(func=cmd_export)

    p = subparsers.add_parser("similarity", help="rank pairs of students by how alike their answer cells are")
    _common(p)
    p.add_argument("--method", choices=[m.value for m in similarity.Method], default=similarity.Method.COPYDETECT.value)
    p.add_argument("--top", type=int, default=10, help="pairs shown side by side in similarity.html (default 10)")
    p.set_defaults(func=cmd_similarity)

    p = subparsers.add_parser("report", help="report.html: how the class did (distribution, tests, discrimination, flags)")
    _common(p)
    late.add_arguments(p)
    p.set_defaults(func=cmd_report)
