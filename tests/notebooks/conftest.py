"""The four autogrades of an assignment, made once per test session and shared by
tests/notebooks/test_contract.py and the assignment's own test module."""

from __future__ import annotations

import pytest
from spec import SPECS

import nbgrading as nbg


@pytest.fixture(scope="session")
def graded_assignments(tmp_path_factory):
    """``get(assignment)``: the assignment's :class:`nbgrading.Graded`, autograded on first use."""
    cache: dict[str, nbg.Graded] = {}

    def get(assignment: str) -> nbg.Graded:
        if assignment not in cache:
            spec = SPECS[assignment]
            cache[assignment] = nbg.grade_submissions(tmp_path_factory, assignment, spec.wrong, spec.alternative)
        return cache[assignment]

    return get
