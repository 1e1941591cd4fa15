"""The feedback page: Japanese, points per test, the student's work, no hidden tests, nothing runs."""

from __future__ import annotations

import base64
import copy
import io
import re
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest
from conftest import StudentGrades, build_gradebook, enter_manual_grade, screenshot

from autograder import feedback_page as fp
from autograder import late

REPO = Path(__file__).resolve().parents[2]
HIDDEN_LINE = "_rng = np.random.default_rng(20240511)"  # inside B1-1's hidden block
EVIL_MARKDOWN = '答えです <script>window.__pwned = "script"</script> <img src=x onerror="window.__pwned = \'onerror\'">'
FAILED_MESSAGE = "各行の和が 1 になっていません (行ごとに正規化していますか)。"


def _png() -> str:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1))
    fig.add_subplot().plot([0, 1], [1, 0])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture(scope="module")
def notebook():
    """B1-1's source notebook as nbgrader leaves it after autograding (test cells hold the
    hidden tests again), with outputs: a failed test, a figure, and hostile student content."""
    nb = copy.deepcopy(nbformat.read(REPO / "source" / "B1-1" / "B1-1.ipynb", as_version=4))
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid == "test_softmax_rows_sum_to_one":
            cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue=FAILED_MESSAGE, traceback=[f"---> 5 {HIDDEN_LINE}", "AssertionError"])]
        elif gid == "softmax":
            cell.outputs = [
                nbformat.v4.new_output("display_data", data={"image/png": _png(), "text/plain": "<Figure>"}),
                nbformat.v4.new_output("display_data", data={"text/html": '<b>太字</b><script>window.__pwned = "html-output"</script>', "text/plain": "x"}),
                nbformat.v4.new_output("display_data", data={"application/javascript": 'window.__pwned = "js-output"'}),
                nbformat.v4.new_output("stream", name="stdout", text="<script>window.__pwned='stream'</script>\n"),
            ]
        elif gid == "discussion_answer":
            cell.source = EVIL_MARKDOWN
    return nb


@pytest.fixture(scope="module")
def grades():
    return {
        "test_softmax_rows_sum_to_one": fp.CellGrade("test_softmax_rows_sum_to_one", 0.0, 1.0),
        "test_softmax_random_batches": fp.CellGrade("test_softmax_random_batches", 1.0, 1.0),
        "discussion_answer": fp.CellGrade("discussion_answer", 1.5, 2.0, "2 番の考察をもう少し具体的に。"),
    }


@pytest.fixture(scope="module")
def page(notebook, grades):
    policy = late.policy_from_strings("2026-12-01T23:59+09:00", "10%/day", "50%")
    submitted = datetime(2026, 12, 2, 16, 0, tzinfo=timezone.utc)
    data = fp.FeedbackData("s1003", "B1-1", grades, late.apply(policy, 2.5, submitted), submitted)
    return fp.render(notebook, data)


def test_page_is_in_japanese_with_points_and_pass_fail(page):
    assert '<html lang="ja">' in page
    assert "不合格</span> 0 / 1 点" in page and "合格</span> 1 / 1 点" in page
    assert "採点結果" in page and "合計" in page


def test_failed_test_shows_its_own_message_not_the_traceback(page):
    assert f"AssertionError: {FAILED_MESSAGE}" in page
    assert "---&gt; 5" not in page


def test_hidden_tests_never_appear(page):
    assert HIDDEN_LINE not in page and "BEGIN HIDDEN TESTS" not in page
    assert "隠しテストの内容は表示されません" in page


def test_unterminated_hidden_block_is_removed_to_the_end_of_the_cell():
    assert fp.strip_hidden("assert a\n### BEGIN HIDDEN TESTS\nassert secret") == "assert a"


def test_late_penalty_and_manual_comment_are_shown(page):
    assert "2 単位遅れ、20 % 減点 (-0.5 点)" in page and "最終得点" in page
    assert "2 番の考察をもう少し具体的に。" in page


def test_student_code_and_figure_are_shown(page):
    assert "shifted = z - z.max(axis=1, keepdims=True)" in page
    assert '<img alt="figure" src="data:image/png;base64,' in page


def test_english_with_the_flag(notebook, grades):
    page = fp.render(notebook, fp.FeedbackData("s1", "B1-1", grades), fp.Lang.EN)
    assert '<html lang="en">' in page and "failed</span> 0 / 1 points" in page


def test_student_markup_is_sanitised_in_the_html(page):
    assert not re.search(r"<script|\bon[a-z]+\s*=|javascript:", page, re.IGNORECASE)
    assert "<b>太字</b>" in page  # harmless HTML output kept


def test_nothing_student_wrote_runs_in_chromium(page, chromium, tmp_path):
    dialogs = []
    tab = chromium.new_page()
    tab.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for name, html in (("feedback_page", page), ("feedback_page_without_csp", page.replace(f'<meta http-equiv="Content-Security-Policy" content="{fp.CSP}">', ""))):
        path = tmp_path / f"{name}.html"
        path.write_text(html, encoding="utf-8")
        tab.goto(path.as_uri())
        tab.wait_for_load_state("load")
        assert tab.evaluate("() => window.__pwned === undefined"), name
        assert tab.evaluate("() => document.images.length > 0 && [...document.images].every(i => i.complete)")
        assert tab.locator("text=不合格").count() >= 1
    screenshot(tab, tmp_path, "feedback_page")
    tab.close()
    assert dialogs == []


def test_grades_and_comments_come_from_the_gradebook(tmp_path):
    url = build_gradebook(tmp_path / "gradebook.db", {"s1": StudentGrades(auto={"test_softmax_rows_sum_to_one": 2})})
    before = fp.grades_from_gradebook(url, "B1-1", "s1")
    enter_manual_grade(url, "s1", "discussion_answer", 1.5, "よい考察です。")
    after = fp.grades_from_gradebook(url, "B1-1", "s1")
    assert before["discussion_answer"].score is None and before["discussion_answer"].passed is None
    assert after["discussion_answer"] == fp.CellGrade("discussion_answer", 1.5, 2.0, "よい考察です。")
    assert after["test_softmax_rows_sum_to_one"].passed
