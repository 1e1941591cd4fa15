"""Shared fixtures: a clean environment for every test, no dataset on disk unless asked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]
COURSE_VARS = (
    "COURSE_DATA_DIR",
    "COURSE_SYNTHETIC_DATA",
    "COURSE_GRADING_MODE",
    "COURSE_GRADING_TRAIN_SIZE",
    "COURSE_GRADING_TEST_SIZE",
    "COURSE_GRADING_EPOCHS",
    "NBGRADER_EXECUTION",
)


@pytest.fixture(autouse=True)
def clean_course_env(monkeypatch):
    """Each test starts with none of the course's switches set."""
    for name in COURSE_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def empty_keras_home(tmp_path, monkeypatch):
    """A KERAS_HOME with no cached datasets, as on a new machine."""
    home = tmp_path / "keras_home"
    home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


@pytest.fixture
def offline(monkeypatch):
    """Make keras downloads fail the way they do without network access."""
    from course_utils import data

    def refuse(name):
        raise Exception(f"URL fetch failure on https://example.invalid/{name}: None -- [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(data, "_download", refuse)
