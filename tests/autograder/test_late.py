"""The late penalty rule: pure arithmetic on due date, submission time and score."""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta, timezone

import pytest

from autograder import late

JST = timezone(timedelta(hours=9))
DUE = datetime(2026, 12, 1, 23, 59, tzinfo=JST)


def policy(**kw) -> late.LatePolicy:
    base = {"due": DUE, "rate": 10.0, "unit": late.Unit.DAY, "cap": 50.0}
    base.update(kw)
    return late.LatePolicy(**base)


def test_on_time_submission_loses_nothing():
    out = late.apply(policy(), 8.0, DUE)
    assert (out.late, out.units, out.penalty, out.final) == (False, 0, 0.0, 8.0)


def test_one_minute_late_costs_one_started_day():
    out = late.apply(policy(), 8.0, DUE + timedelta(minutes=1))
    assert out.units == 1 and out.percent == 10.0 and out.final == pytest.approx(7.2)


def test_26_hours_late_is_two_days_twenty_percent():
    out = late.apply(policy(), 8.0, DUE + timedelta(hours=26))
    assert out.units == 2 and out.penalty == pytest.approx(1.6) and out.final == pytest.approx(6.4)


def test_penalty_stops_at_the_cap():
    out = late.apply(policy(), 10.0, DUE + timedelta(days=30))
    assert out.percent == 50.0 and out.final == pytest.approx(5.0)


def test_per_hour_rule_counts_started_hours():
    out = late.apply(policy(rate=2.0, unit=late.Unit.HOUR, cap=100.0), 10.0, DUE + timedelta(hours=3, minutes=1))
    assert out.units == 4 and out.final == pytest.approx(9.2)


def test_after_the_hard_deadline_the_score_is_zero():
    out = late.apply(policy(hard_deadline=DUE + timedelta(days=7)), 10.0, DUE + timedelta(days=8))
    assert out.after_hard_deadline and out.final == 0.0 and out.penalty == 10.0


def test_same_instant_in_another_zone_is_on_time():
    out = late.apply(policy(), 8.0, datetime(2026, 12, 1, 14, 59, tzinfo=timezone.utc))
    assert not out.late


def test_no_policy_or_no_time_takes_nothing_off():
    assert late.apply(None, 7.0, DUE + timedelta(days=3)).final == 7.0
    assert late.apply(policy(), 7.0, None).final == 7.0


def test_naive_due_date_is_refused_with_how_to_write_it():
    with pytest.raises(late.LateError, match=r"\+09:00"):
        late.LatePolicy(due=datetime(2026, 12, 1, 23, 59))


def test_command_line_options_give_the_documented_policy():
    parser = argparse.ArgumentParser()
    late.add_arguments(parser)
    args = parser.parse_args(["--due", "2026-12-01T23:59+09:00", "--late-penalty", "10%/day", "--late-cap", "50%"])
    assert late.policy_from_args(args) == policy()


def test_course_configuration_strings_give_the_same_policy():
    assert late.policy_from_strings(**{"due": "2026-12-01T23:59+09:00", "penalty": "10%/day", "cap": "50%"}) == policy()


@pytest.mark.parametrize("text", ["10 per day", "10%/week", "%/day"])
def test_unreadable_penalty_says_how_to_write_it(text):
    with pytest.raises(late.LateError, match="10%/day"):
        late.parse_penalty(text)


def test_penalty_without_due_date_is_refused():
    with pytest.raises(late.LateError, match="--due"):
        late.policy_from_strings(None, "10%/day")
