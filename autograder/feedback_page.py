"""The feedback page a student reads: their notebook, points per test, never the hidden tests.

Built from the autograded notebook and per-cell grades (:class:`CellGrade`, read from the
gradebook by :func:`grades_from_gradebook` so manual marks and comments entered in
formgrader appear), without nbgrader's ``generate_feedback``. Japanese by default,
English with ``lang=Lang.EN``.

Safety: everything in the notebook was written or produced by the student. Plain text is
escaped; Markdown is rendered and then cleaned by ``nh3`` (Rust ``ammonia``: no
``<script>``, no ``on*=`` attributes, no ``javascript:`` URLs); HTML outputs are cleaned
the same way; JavaScript outputs are dropped; images are embedded only when they decode
as base64, SVG only as an ``<img>`` (where a browser runs no script). The page also
carries a Content-Security-Policy that allows no script at all. Test cells lose their
``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` blocks and errors keep only
``ename: evalue`` (the assert's own message), never a traceback that would quote code.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path

import nh3
from markdown_it import MarkdownIt

from . import cells
from .late import LateOutcome

HIDDEN = re.compile(r"[ \t]*### BEGIN HIDDEN TESTS.*?(### END HIDDEN TESTS[ \t]*\n?|\Z)", re.DOTALL)
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif")


class Lang(Enum):
    JA = "ja"
    EN = "en"


TEXT = {
    Lang.JA: {
        "title": "採点結果", "student": "学生", "assignment": "課題", "total": "合計", "points": "点",
        "passed": "合格", "failed": "不合格", "pending": "採点待ち", "test": "テスト", "answer": "あなたの答え",
        "submitted": "提出日時", "late": "提出遅れ", "penalty": "減点", "final": "最終得点", "on_time": "期限内",
        "comment": "先生からのコメント", "hidden": "(隠しテストの内容は表示されません)", "output": "出力",
        "late_text": "{units} 単位遅れ、{percent:g} % 減点 (-{penalty:g} 点)", "hard": "締切後の提出のため 0 点",
    },
    Lang.EN: {
        "title": "Feedback", "student": "Student", "assignment": "Assignment", "total": "Total", "points": "points",
        "passed": "passed", "failed": "failed", "pending": "awaiting manual grading", "test": "Test", "answer": "Your answer",
        "submitted": "Submitted", "late": "Late", "penalty": "Penalty", "final": "Final score", "on_time": "on time",
        "comment": "Instructor's comment", "hidden": "(hidden tests are not shown)", "output": "Output",
        "late_text": "{units} unit(s) late, {percent:g} % off (-{penalty:g} points)", "hard": "after the hard deadline: 0 points",
    },
}

STYLE = """
body{font-family:'Noto Sans CJK JP','Noto Sans JP',sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
pre{background:#f6f8fa;padding:.6rem;overflow-x:auto;white-space:pre-wrap}
.cell{border-left:4px solid #ddd;padding-left:.8rem;margin:1.2rem 0}
.passed{border-color:#2e7d32}.failed{border-color:#c62828}.pending{border-color:#f9a825}
.badge{font-weight:bold}.passed .badge{color:#2e7d32}.failed .badge{color:#c62828}
.error{color:#c62828}.comment{background:#fff8e1;padding:.5rem}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .6rem;text-align:left}
"""


@dataclass(frozen=True)
class CellGrade:
    grade_id: str
    score: float | None  # None: not graded yet (a written answer awaiting formgrader)
    max_score: float
    comment: str | None = None  # the instructor's comment on this cell

    @property
    def passed(self) -> bool | None:
        return None if self.score is None else self.score >= self.max_score


@dataclass(frozen=True)
class FeedbackData:
    student: str
    assignment: str
    grades: dict[str, CellGrade] = field(default_factory=dict)
    late: LateOutcome | None = None
    submitted_at: datetime | None = None
    comments: tuple[str, ...] = ()  # comments not tied to a graded cell

    @property
    def total(self) -> float:
        return sum(g.score or 0.0 for g in self.grades.values())

    @property
    def max_total(self) -> float:
        return sum(g.max_score for g in self.grades.values())


def grades_from_gradebook(db_url: str, assignment: str, student: str, notebook: str | None = None) -> dict[str, CellGrade]:
    """Per-cell grades (manual score when given, else automatic) and manual comments."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb:
        nb = gb.find_submission_notebook(notebook or assignment, assignment, student)
        comments = {c.name: c.manual_comment for c in nb.comments if c.manual_comment}
        out = {}
        for g in nb.grades:
            score = None if g.needs_manual_grade and g.manual_score is None else g.score
            out[g.name] = CellGrade(g.name, None if score is None else float(score), float(g.max_score), comments.get(g.name))
        return out


def strip_hidden(source: str) -> str:
    return HIDDEN.sub("", source).rstrip()


def _clean_html(text: str) -> str:
    return nh3.clean(text)


def _markdown(text: str) -> str:
    return _clean_html(MarkdownIt("commonmark").render(text))


def _pre(text: str, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<pre{attr}>{html.escape(ANSI.sub('', text))}</pre>"


def _image(mime: str, data) -> str | None:
    raw = "".join(data) if isinstance(data, list) else str(data)
    if mime == "image/svg+xml":
        raw = base64.b64encode(raw.encode("utf-8")).decode("ascii")
    try:
        base64.b64decode(raw.replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        return None
    return f'<img alt="figure" src="data:{mime};base64,{raw.replace(chr(10), "")}">'


def _output(output: dict) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        return _pre("".join(output.get("text", "")))
    if kind == "error":
        evalue = output.get("evalue", "")
        return _pre(f"{output.get('ename', 'Error')}: {evalue}" if evalue else output.get("ename", "Error"), "error")
    data = output.get("data", {})
    for mime in (*IMAGE_TYPES, "image/svg+xml"):
        if mime in data and (img := _image(mime, data[mime])):
            return img
    if "text/html" in data:
        return f'<div class="html-output">{_clean_html("".join(data["text/html"]))}</div>'
    if "text/markdown" in data:
        return _markdown("".join(data["text/markdown"]))
    if "text/plain" in data:
        return _pre("".join(data["text/plain"]))
    return ""  # application/javascript and other active content: not shown


def _grade_line(g: CellGrade, t: dict) -> tuple[str, str]:
    state = "pending" if g.passed is None else ("passed" if g.passed else "failed")
    score = "–" if g.score is None else f"{g.score:g}"
    return state, f'<span class="badge">{t[state]}</span> {score} / {g.max_score:g} {t["points"]}'


def _cell(cell, data: FeedbackData, t: dict) -> str:
    meta = cells.nbgrader_meta(cell)
    gid = cells.grade_id(cell)
    grade = data.grades.get(gid) if gid and cells.is_graded(cell) else None
    source = cell.get("source", "")
    is_test = cell.get("cell_type") == "code" and meta.get("grade") and not meta.get("solution")
    if cell.get("cell_type") == "code" and "### BEGIN HIDDEN TESTS" in source:
        source = strip_hidden(source) + f"\n# {t['hidden']}"
    parts = []
    state = ""
    if grade is not None:
        state, line = _grade_line(grade, t)
        label = t["test"] if is_test else t["answer"]
        parts.append(f"<h3>{label} <code>{html.escape(gid)}</code>: {line}</h3>")
    elif meta.get("solution"):
        parts.append(f"<h3>{t['answer']}</h3>")
    if cell.get("cell_type") == "markdown":
        parts.append(_markdown(source))
    elif cell.get("cell_type") == "code":
        parts.append(_pre(source))
        outs = [o for o in (_output(o) for o in cell.get("outputs", [])) if o]
        if outs:
            parts.append(f'<div class="outputs" aria-label="{t["output"]}">' + "".join(outs) + "</div>")
    if grade is not None and grade.comment:
        parts.append(f'<div class="comment"><b>{t["comment"]}:</b> {_pre(grade.comment)}</div>')
    return f'<section class="cell {state}">' + "".join(parts) + "</section>"


def _summary(data: FeedbackData, t: dict) -> str:
    rows = [(t["student"], html.escape(data.student)), (t["assignment"], html.escape(data.assignment)), (t["total"], f"{data.total:g} / {data.max_total:g} {t['points']}")]
    if data.submitted_at is not None:
        rows.append((t["submitted"], html.escape(data.submitted_at.isoformat(timespec="minutes"))))
    if data.late is not None:
        if data.late.after_hard_deadline:
            rows.append((t["late"], t["hard"]))
        elif data.late.late:
            rows.append((t["late"], t["late_text"].format(units=data.late.units, percent=data.late.percent, penalty=data.late.penalty)))
        else:
            rows.append((t["late"], t["on_time"]))
        final = data.late.final if data.late.late else data.total
        rows.append((t["final"], f"<b>{final:g} / {data.max_total:g} {t['points']}</b>"))
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    notes = "".join(f'<div class="comment"><b>{t["comment"]}:</b> {_pre(c)}</div>' for c in data.comments)
    return f"<table>{body}</table>{notes}"


def page_for(
    course_root: Path,
    assignment: str,
    db_url: str,
    student: str,
    late: LateOutcome | None = None,
    submitted_at: datetime | None = None,
    lang: Lang = Lang.JA,
) -> str | None:
    """``student``'s page from nbgrader's scored notebook (``autograded/<student>/<a>/<a>.ipynb``)
    and the gradebook; None when either has nothing for the student."""
    import nbformat
    from nbgrader.api import MissingEntry

    path = course_root / "autograded" / student / assignment / f"{assignment}.ipynb"
    if not path.is_file():
        return None
    try:
        grades = grades_from_gradebook(db_url, assignment, student)
    except MissingEntry:
        return None
    data = FeedbackData(student, assignment, grades, late, submitted_at)
    return render(nbformat.read(path, as_version=4), data, lang)


def write_pages(
    course_root: Path,
    assignment: str,
    db_url: str,
    out_dir: Path,
    outcomes: Mapping[str, LateOutcome | None] | None = None,
    submitted_at: Mapping[str, datetime] | None = None,
    lang: Lang = Lang.JA,
) -> dict[str, str]:
    """A page for every notebook in ``autograded/<student>/<a>/<a>.ipynb`` that the gradebook
    has grades for, written to ``out_dir/<student>.html``; returns student -> page."""
    pages = {}
    for path in sorted((course_root / "autograded").glob(f"*/{assignment}/{assignment}.ipynb")):
        student = path.parts[-3]
        page = page_for(course_root, assignment, db_url, student, (outcomes or {}).get(student), (submitted_at or {}).get(student), lang)
        if page is None:
            continue
        pages[student] = page
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / f"{student}.html").write_text(page, encoding="utf-8")
    return pages


def render(nb, data: FeedbackData, lang: Lang = Lang.JA) -> str:
    """The whole page (a standalone HTML document) for one student's autograded notebook."""
    t = TEXT[lang]
    cells = "".join(_cell(c, data, t) for c in nb.get("cells", []))
    title = f"{t['title']}: {html.escape(data.assignment)}"
    return (
        f'<!DOCTYPE html><html lang="{lang.value}"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>{title}</title><style>{STYLE}</style></head><body>"
        f"<h1>{title}</h1>{_summary(data, t)}<h2>{'ノートブック' if lang is Lang.JA else 'Notebook'}</h2>{cells}</body></html>"
    )
