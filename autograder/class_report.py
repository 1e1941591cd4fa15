"""``report.html``: how the class did on one assignment, from the run's ``report.json``.

Sections: score distribution (histogram), every test's pass rate and mean points (lowest
first: the test most students fail heads the table; hidden tests marked), item
discrimination, grading time per submission, everyone flagged for review or with
problems, and files that could not be given to a student.

Item discrimination (upper-lower index): students are ranked by total score; the upper and
lower groups are the top and bottom 27 % (at least one student each, Kelley 1939); for each
test ``D = p_upper - p_lower`` where ``p`` is the group's mean fraction of the test's points.
D near 0 (or negative) marks a test that does not separate strong from weak submissions;
D >= 0.3 is the usual "discriminates well". With fewer than 4 students D is not computed.

Figures are drawn with matplotlib (Agg, no pyplot state) and embedded as base64 PNG; the
page loads nothing and runs no script (Content-Security-Policy).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from . import cells
from .cells import CellRole
from .late import LateOutcome

UPPER_LOWER = 0.27
FLAG_STATUSES = {"review", "partial", "error", "invalid"}
NO_ID_PROBLEMS = {"unknown student", "unusable student id"}
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
HIDDEN_MARK = "### BEGIN HIDDEN TESTS"


@dataclass(frozen=True)
class ItemStats:
    grade_id: str
    max_points: float
    mean_points: float
    pass_rate: float  # share of students with full points
    discrimination: float | None
    hidden: bool


def hidden_test_ids(source_nb) -> set[str]:
    """Grade ids of test cells with a hidden block in the source notebook."""
    return {cells.grade_id(c) for c in source_nb.cells if cells.role(c) is CellRole.TEST and HIDDEN_MARK in cells.source(c)}


def _totals(report: dict, final_scores: Mapping[str, float] | None) -> dict[str, float]:
    students = report.get("students", {})
    return {s: float(final_scores[s]) if final_scores and s in final_scores else float(d.get("score", 0.0)) for s, d in students.items()}


def item_stats(report: dict, totals: Mapping[str, float], hidden: set[str] = frozenset()) -> list[ItemStats]:
    students = report.get("students", {})
    ranked = sorted(totals, key=lambda s: totals[s])
    k = max(1, math.floor(len(ranked) * UPPER_LOWER)) if len(ranked) >= 4 else 0
    lower, upper = ranked[:k], ranked[-k:] if k else []
    names = sorted({t for d in students.values() for t in d.get("tests", {})})
    stats = []
    for name in names:
        rows = {s: d["tests"][name] for s, d in students.items() if name in d.get("tests", {})}
        maximum = max(m for _, m in rows.values()) or 1.0
        fraction = {s: (score / m if m else 0.0) for s, (score, m) in rows.items()}
        disc = None
        if k and all(s in fraction for s in upper + lower):
            disc = statistics.fmean(fraction[s] for s in upper) - statistics.fmean(fraction[s] for s in lower)
        stats.append(
            ItemStats(
                name, maximum, statistics.fmean(score for score, _ in rows.values()),
                sum(1 for score, m in rows.values() if score >= m) / len(rows), disc, name in hidden,
            )
        )
    return sorted(stats, key=lambda t: (t.pass_rate, t.grade_id))


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    return f'<img alt="figure" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def score_histogram(totals: Mapping[str, float], max_score: float) -> str:
    fig = Figure(figsize=(6, 3))
    ax = fig.add_subplot()
    bins = max(1, min(20, int(math.ceil(max_score)) or 1))
    ax.hist(list(totals.values()), bins=bins, range=(0, max_score or 1), color="#3b6ea5", edgecolor="white")
    ax.set_xlabel("score")
    ax.set_ylabel("students")
    ax.set_title(f"Score distribution (n = {len(totals)})")
    return _png(fig)


def pass_rate_chart(stats: list[ItemStats]) -> str:
    fig = Figure(figsize=(6, 0.35 * len(stats) + 1))
    ax = fig.add_subplot()
    ax.barh([("[hidden] " if t.hidden else "") + t.grade_id for t in stats], [100 * t.pass_rate for t in stats], color="#5a9e6f")
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("students with full points (%)")
    return _png(fig)


def time_histogram(seconds: list[float]) -> str:
    fig = Figure(figsize=(6, 3))
    ax = fig.add_subplot()
    ax.hist(seconds, bins=min(20, max(1, len(seconds))), color="#a57b3b", edgecolor="white")
    ax.set_xlabel("seconds per submission")
    ax.set_ylabel("submissions")
    return _png(fig)


def _e(value) -> str:
    return html.escape(str(value))


def _table(header: list[str], rows: list[list[str]], cls: str = "") -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def flagged(report: dict) -> list[tuple[str, str, list[str]]]:
    out = []
    for s, d in sorted(report.get("students", {}).items()):
        items = list(d.get("problems", [])) + [f"review: {f}" for f in d.get("findings", [])]
        if d.get("status") in FLAG_STATUSES or items:
            out.append((s, d.get("status", ""), items))
    return out


def without_id(report: dict) -> list[dict]:
    return [p for p in report.get("ingest_problems", []) if p.get("problem") in NO_ID_PROBLEMS]


def render(
    report: dict,
    final_scores: Mapping[str, float] | None = None,
    hidden: set[str] = frozenset(),
    late: Mapping[str, LateOutcome] | None = None,
) -> str:
    """The page. ``final_scores``: totals from the gradebook (manual grades, late penalty)
    to use instead of the autograder's; ``hidden``: grade ids of hidden tests; ``late``:
    the late rule's outcome per student (a "Late submissions" table)."""
    students = report.get("students", {})
    totals = _totals(report, final_scores)
    max_score = max((float(d.get("max_score", 0)) for d in students.values()), default=0.0)
    stats = item_stats(report, totals, hidden)
    seconds = [float(d.get("seconds", 0.0)) for d in students.values() if d.get("seconds")]
    parts = [f"<h1>Class report: {_e(report.get('assignment', ''))}</h1>"]
    if totals:
        values = list(totals.values())
        parts.append(
            f'<p id="summary">{len(values)} students; mean {statistics.fmean(values):.2f}, median {statistics.median(values):g}, '
            f"max {max(values):g} of {max_score:g} points"
            + (" (gradebook totals: manual grades and late penalties included)" if final_scores else "")
            + "</p>"
        )
        parts.append('<h2 id="distribution">Score distribution</h2>' + score_histogram(totals, max_score))
    rows = [
        [("<b>hidden</b> " if t.hidden else "") + _e(t.grade_id), f"{100 * t.pass_rate:.0f} %", f"{t.mean_points:.2f} / {t.max_points:g}", "–" if t.discrimination is None else f"{t.discrimination:+.2f}"]
        for t in stats
    ]
    parts.append('<h2 id="tests">Tests (lowest pass rate first)</h2>')
    if stats:
        parts.append(_table(["test", "full points", "mean points", "discrimination D"], rows, "tests") + pass_rate_chart(stats))
    if seconds:
        parts.append(
            f'<h2 id="time">Grading time</h2><p>mean {statistics.fmean(seconds):.1f} s, median {statistics.median(seconds):.1f} s, '
            f"max {max(seconds):.1f} s per submission; whole run {float(report.get('seconds', 0)):.0f} s</p>" + time_histogram(seconds)
        )
    late_rows = sorted((s, o) for s, o in (late or {}).items() if o is not None and o.late)
    if late is not None:
        parts.append(f'<h2 id="late">Late submissions ({len(late_rows)})</h2>')
        parts.append(
            _table(
                ["student", "hours late", "penalty", "final"],
                [[_e(s), f"{o.lateness.total_seconds() / 3600:.1f}", f"{o.percent:g} % (-{o.penalty:g})" if not o.after_hard_deadline else "after the hard deadline", f"{o.final:g}"] for s, o in late_rows],
                "late",
            )
            if late_rows
            else "<p>none</p>"
        )
    flags = flagged(report)
    parts.append(f'<h2 id="flagged">Flagged for review or with problems ({len(flags)})</h2>')
    parts.append(_table(["student", "status", "what"], [[_e(s), _e(st), "<br>".join(_e(i) for i in items)] for s, st, items in flags], "flagged") if flags else "<p>none</p>")
    missing = without_id(report)
    parts.append(f'<h2 id="no-id">Submissions without a student id ({len(missing)})</h2>')
    parts.append(_table(["file", "problem", "detail"], [[_e(p.get("file", "")), _e(p["problem"]), _e(p.get("detail", ""))] for p in missing], "no-id") if missing else "<p>none</p>")
    style = "body{font-family:sans-serif;max-width:62rem;margin:2rem auto;padding:0 1rem}table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.2rem .6rem;text-align:left}img{max-width:100%}"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>Class report {_e(report.get('assignment', ''))}</title><style>{style}</style></head><body>{''.join(parts)}</body></html>"
    )


def write(
    report_json: Path,
    out: Path | None = None,
    final_scores: Mapping[str, float] | None = None,
    hidden: set[str] = frozenset(),
    late: Mapping[str, LateOutcome] | None = None,
) -> Path:
    """Read ``report.json``, write ``report.html`` next to it (or to ``out``)."""
    try:
        report = json.loads(report_json.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read {report_json} ({exc}); run course-grade grade first") from exc
    target = out or report_json.with_name("report.html")
    target.write_text(render(report, final_scores, hidden, late), encoding="utf-8")
    return target


