"""Late submissions: a due date and a penalty rule, as plain arithmetic.

The rule, stated once (the feedback page and the exports say the same):

* a submission at or before ``due`` loses nothing;
* after ``due``, every *started* ``unit`` (hour or day) of lateness costs ``rate`` percent
  of the points the student earned (nbgrader's score, manual grades included), at most
  ``cap`` percent in all;
* after ``hard_deadline`` (optional) the submission scores 0.

Example: ``--due 2026-12-01T23:59+09:00 --late-penalty 10%/day --late-cap 50%``: handed in
26 hours late, 2 started days, 20 % off: 8 of 10 points become 6.4.

A percentage of the earned score (not of the maximum) never takes a student below 0 and
never costs an empty submission anything. Times must carry a time zone: the LMSs write
UTC (Sakai's ``timestamp.txt``) or local times with an offset, and a naive time would be
read differently on another machine.
"""

from __future__ import annotations

import argparse
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

PENALTY = re.compile(r"^\s*(?P<rate>\d+(?:\.\d+)?)\s*%\s*/\s*(?P<unit>h|hour|d|day)\s*$", re.IGNORECASE)
PERCENT = re.compile(r"^\s*(?P<value>\d+(?:\.\d+)?)\s*%?\s*$")


class LateError(ValueError):
    """A due date or penalty rule that cannot be understood (the message says how to write it)."""


class Unit(Enum):
    HOUR = "hour"
    DAY = "day"

    @property
    def length(self) -> timedelta:
        return timedelta(hours=1) if self is Unit.HOUR else timedelta(days=1)


@dataclass(frozen=True)
class LatePolicy:
    due: datetime
    rate: float = 0.0  # percent of the earned score per started unit
    unit: Unit = Unit.DAY
    cap: float = 100.0  # percent, the most a late submission loses
    hard_deadline: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("due", "hard_deadline"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise LateError(f"{name} {value.isoformat()} has no time zone: write it like 2026-12-01T23:59+09:00")
        if not 0 <= self.rate <= 100 or not 0 <= self.cap <= 100:
            raise LateError(f"penalty rate {self.rate} % and cap {self.cap} % must lie between 0 and 100")
        if self.hard_deadline is not None and self.hard_deadline < self.due:
            raise LateError("the hard deadline comes before the due date")

    def describe(self) -> str:
        text = f"due {self.due.isoformat()}; {self.rate:g} % per started {self.unit.value} late, at most {self.cap:g} %"
        if self.hard_deadline is not None:
            text += f"; 0 points after {self.hard_deadline.isoformat()}"
        return text


@dataclass(frozen=True)
class LateOutcome:
    """What the rule does to one submission."""

    lateness: timedelta  # 0 when on time
    units: int  # started hours/days late
    percent: float  # of the earned score taken off
    penalty: float  # points taken off
    final: float  # score after the penalty
    after_hard_deadline: bool = False

    @property
    def late(self) -> bool:
        return self.lateness > timedelta(0)


def apply(policy: LatePolicy | None, score: float, submitted_at: datetime | None) -> LateOutcome:
    """The penalty ``policy`` gives a submission scored ``score`` handed in at ``submitted_at``.

    No policy or no submission time: nothing is taken off.
    """
    if policy is None or submitted_at is None:
        return LateOutcome(timedelta(0), 0, 0.0, 0.0, score)
    if submitted_at.tzinfo is None:
        raise LateError(f"submission time {submitted_at.isoformat()} has no time zone")
    lateness = max(submitted_at - policy.due, timedelta(0))
    if policy.hard_deadline is not None and submitted_at > policy.hard_deadline:
        return LateOutcome(lateness, math.ceil(lateness / policy.unit.length), 100.0, score, 0.0, True)
    units = math.ceil(lateness / policy.unit.length)
    percent = min(policy.cap, policy.rate * units)
    penalty = round(score * percent / 100, 6)
    return LateOutcome(lateness, units, percent, penalty, round(score - penalty, 6))


# --------------------------------------------------------------------------- parsing


def parse_time(text: str) -> datetime:
    """An ISO 8601 time with an offset, e.g. ``2026-12-01T23:59+09:00``."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise LateError(f"{text!r} is not a date and time; write it like 2026-12-01T23:59+09:00") from exc
    if value.tzinfo is None:
        raise LateError(f"{text!r} has no time zone; write it like 2026-12-01T23:59+09:00 (Japan) or ...Z (UTC)")
    return value


def parse_penalty(text: str) -> tuple[float, Unit]:
    """``"10%/day"`` -> (10.0, Unit.DAY); ``"2%/hour"`` or ``"2%/h"`` -> (2.0, Unit.HOUR)."""
    match = PENALTY.match(text)
    if not match:
        raise LateError(f"late penalty {text!r} not understood; write it like 10%/day or 2%/hour")
    unit = Unit.HOUR if match["unit"].lower().startswith("h") else Unit.DAY
    return float(match["rate"]), unit


def parse_percent(text: str) -> float:
    match = PERCENT.match(text)
    if not match:
        raise LateError(f"{text!r} is not a percentage; write it like 50%")
    return float(match["value"])


def policy_from_strings(due: str | None, penalty: str | None = None, cap: str | None = None, hard_deadline: str | None = None) -> LatePolicy | None:
    """A policy from the strings the command line or the course configuration holds.

    ``due`` None: no policy. The same strings serve both, e.g. in ``nbgrader_config.py``
    next to nbgrader's own settings a course can keep a dict per assignment,
    ``{"due": "2026-12-01T23:59+09:00", "penalty": "10%/day", "cap": "50%"}``, and pass it
    as ``policy_from_strings(**that)``.
    """
    if due is None:
        if penalty or cap or hard_deadline:
            raise LateError("a late penalty needs a due date (--due)")
        return None
    rate, unit = parse_penalty(penalty) if penalty else (0.0, Unit.DAY)
    return LatePolicy(
        due=parse_time(due),
        rate=rate,
        unit=unit,
        cap=parse_percent(cap) if cap else 100.0,
        hard_deadline=parse_time(hard_deadline) if hard_deadline else None,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--due``, ``--late-penalty``, ``--late-cap``, ``--hard-deadline`` on ``parser``."""
    parser.add_argument("--due", help="due date with time zone, e.g. 2026-12-01T23:59+09:00 (default: no late penalty)")
    parser.add_argument("--late-penalty", help="percent of the earned score per started hour or day late, e.g. 10%%/day or 2%%/hour")
    parser.add_argument("--late-cap", help="most a late submission loses, e.g. 50%% (default 100%%)")
    parser.add_argument("--hard-deadline", help="after this time a submission scores 0, e.g. 2026-12-08T23:59+09:00")


def policy_from_args(args: argparse.Namespace) -> LatePolicy | None:
    return policy_from_strings(args.due, args.late_penalty, args.late_cap, args.hard_deadline)
