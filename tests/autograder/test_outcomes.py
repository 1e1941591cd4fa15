"""Statuses and events: one precedence, the report's strings kept."""

from __future__ import annotations

import pytest

from autograder.outcomes import EventKind, ExecutionEvent, Status, StudentResult, describe_events, status_of, worst


def test_the_worst_status_wins_in_the_declared_order():
    assert worst(Status.GRADED, Status.REVIEW) is Status.REVIEW
    assert worst(Status.REVIEW, Status.PARTIAL) is Status.PARTIAL
    assert worst(Status.PARTIAL, Status.ERROR, Status.REVIEW) is Status.ERROR
    assert worst(Status.INVALID, Status.ERROR) is Status.INVALID
    assert worst() is Status.GRADED


@pytest.mark.parametrize(
    "events, executed, findings, expected",
    [
        ([], True, False, Status.GRADED),
        ([], True, True, Status.REVIEW),
        ([ExecutionEvent(EventKind.INTEGRITY_RESTORED, 3, "numpy.isclose")], True, False, Status.REVIEW),
        ([ExecutionEvent(EventKind.TIMEOUT, 3, "interrupted")], True, False, Status.GRADED),
        ([ExecutionEvent(EventKind.KERNEL_DIED, 3, "died")], True, True, Status.PARTIAL),
        ([ExecutionEvent(EventKind.JOB_TIMEOUT, None, "900 s")], False, False, Status.ERROR),
        ([ExecutionEvent(EventKind.KERNEL_ERROR, None, "no start")], True, False, Status.ERROR),
    ],
)
def test_status_of_a_notebook(events, executed, findings, expected):
    assert status_of(events, executed=executed, findings=findings) is expected


def test_events_keep_their_report_strings():
    event = ExecutionEvent(EventKind.TIMEOUT_IGNORED_INTERRUPT, 7, "stopped")
    assert event.as_dict() == {"kind": "timeout-ignored-interrupt", "cell": 7, "detail": "stopped"}
    assert ExecutionEvent.from_dict(event.as_dict()) == event
    assert event.describe() == "timeout-ignored-interrupt (cell 7: stopped)"


def test_not_run_tests_are_counted_in_one_problem_line():
    events = [ExecutionEvent(EventKind.KERNEL_DIED, 2, "died"), *[ExecutionEvent(EventKind.NOT_RUN, i, "") for i in (4, 5, 6)]]
    assert describe_events(events) == ["kernel-died (cell 2: died)", "3 test cell(s) not run after the kernel stopped: scored 0"]


def test_a_result_read_back_from_report_json_has_a_typed_status():
    result = StudentResult(student="s1", origin="s1_B1-1.ipynb", status="partial")
    assert result.status is Status.PARTIAL and result.as_dict()["status"] == "partial"
    with pytest.raises(ValueError):
        StudentResult(student="s1", origin="x", status="great")
