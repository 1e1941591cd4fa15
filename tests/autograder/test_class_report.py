"""report.html: distribution, per-test pass rates, discrimination, time, flags, files without an id."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from conftest import screenshot

from autograder import class_report as cr
from autograder import late

TESTS = {"test_visible": 2.0, "test_hidden": 3.0, "test_easy": 1.0}


def _student(sid, visible, hidden, easy, status="graded", seconds=10.0, problems=(), findings=()):
    tests = {"test_visible": [visible, 2.0], "test_hidden": [hidden, 3.0], "test_easy": [easy, 1.0]}
    return {
        "student": sid, "origin": f"{sid}_B1-1.ipynb", "status": status, "score": visible + hidden + easy,
        "max_score": 6.0, "manual_pending": 0.0, "tests": tests, "repairs": [], "findings": list(findings),
        "events": [], "problems": list(problems), "seconds": seconds,
    }


@pytest.fixture(scope="module")
def report():
    """Ten students: strong ones pass the hidden test, weak ones fail it; everyone passes test_easy."""
    students = {}
    for i in range(10):
        strong = i >= 5
        students[f"s{i:02d}"] = _student(f"s{i:02d}", 2.0 if i % 3 else 0.0, 3.0 if strong else 0.0, 1.0, seconds=8.0 + i)
    students["s07"] = _student("s07", 2.0, 3.0, 1.0, status="review", findings=["rebinds instructor name 'np'"])
    students["s03"] = _student("s03", 0.0, 0.0, 1.0, status="partial", problems=["kernel-died (cell 12: memory limit)"])
    return {
        "assignment": "B1-1", "seconds": 130.2, "isolation": {},
        "ingest_problems": [
            {"file": "B1-1.ipynb", "problem": "unknown student", "detail": "file name does not match the student id pattern"},
            {"file": "<img src=x onerror=alert(1)>.ipynb", "problem": "unknown student", "detail": ""},
            {"file": "notes.txt", "problem": "not a notebook, ignored"},
        ],
        "students": students,
    }


def test_hidden_test_most_students_fail_heads_the_table(report):
    stats = cr.item_stats(report, cr._totals(report, None), {"test_hidden"})
    assert stats[0].grade_id == "test_hidden" and stats[0].hidden
    assert stats[0].pass_rate == pytest.approx(0.5) and stats[-1].grade_id == "test_easy" and stats[-1].pass_rate == 1.0


def test_discrimination_separates_a_test_that_tracks_ability_from_one_everyone_passes(report):
    stats = {t.grade_id: t for t in cr.item_stats(report, cr._totals(report, None))}
    assert stats["test_hidden"].discrimination == pytest.approx(1.0)  # top 27 % all pass, bottom 27 % all fail
    assert stats["test_easy"].discrimination == pytest.approx(0.0)


def test_discrimination_needs_four_students():
    small = {"students": {f"s{i}": _student(f"s{i}", 2.0, 3.0 * (i % 2), 1.0) for i in range(3)}}
    assert all(t.discrimination is None for t in cr.item_stats(small, cr._totals(small, None)))


def test_gradebook_totals_replace_the_autograders(report):
    page = cr.render(report, final_scores={s: 6.0 for s in report["students"]})
    assert "mean 6.00" in page and "manual grades and late penalties included" in page


def test_flagged_and_unidentified_submissions_are_listed(report):
    assert [s for s, _, _ in cr.flagged(report)] == ["s03", "s07"]
    assert [p["file"] for p in cr.without_id(report)] == ["B1-1.ipynb", "<img src=x onerror=alert(1)>.ipynb"]


def test_late_submissions_are_listed_with_hours_and_penalty(report):
    policy = late.policy_from_strings("2026-12-01T23:59+09:00", "10%/day", "50%")
    outcomes = {"s01": late.apply(policy, 4.0, datetime(2026, 12, 2, 16, 0, tzinfo=timezone.utc)), "s02": late.apply(policy, 3.0, None)}
    page = cr.render(report, late=outcomes)
    assert "Late submissions (1)" in page and "<td>s01</td><td>25.0</td><td>20 % (-0.8)</td><td>3.2</td>" in page


def test_write_reads_report_json_and_writes_report_html(report, tmp_path):
    (tmp_path / "report.json").write_text(json.dumps(report), encoding="utf-8")
    page = cr.write(tmp_path / "report.json").read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') == 3 and "&lt;img src=x onerror" in page


def test_missing_report_json_says_to_grade_first(tmp_path):
    with pytest.raises(ValueError, match="course-grade grade"):
        cr.write(tmp_path / "report.json")


def test_report_renders_in_chromium_with_its_figures(report, chromium, tmp_path):
    path = tmp_path / "report.html"
    path.write_text(cr.render(report, hidden={"test_hidden"}), encoding="utf-8")
    tab = chromium.new_page()
    tab.goto(path.as_uri())
    tab.wait_for_load_state("load")
    widths = tab.evaluate("() => [...document.images].map(i => i.complete ? i.naturalWidth : 0)")
    assert len(widths) == 3 and all(w > 100 for w in widths)
    assert tab.locator("table.tests tbody tr").first.inner_text().startswith("hidden test_hidden")
    assert tab.locator("table.flagged tbody tr").count() == 2
    assert tab.locator("table.no-id tbody tr").count() == 2
    assert tab.evaluate("() => document.querySelectorAll('table.no-id img').length") == 0  # a file name is text
    screenshot(tab, tmp_path, "class_report")
    tab.close()
