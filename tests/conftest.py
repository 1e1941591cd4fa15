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


CHROMIUM = Path("/usr/bin/chromium")
# as the machine's own probe starts it: no sandbox as root, no network chatter on a closed network
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
CHROMIUM_HINT = (
    "Run ./run test, which installs Debian's chromium (apt) and the Python playwright "
    'package (pip install -e ".[test]"); the tests never download a browser.'
)


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    """One headless Chromium (Debian's, never downloaded) with a fresh profile per test module."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(f"The Python package playwright is not installed. {CHROMIUM_HINT}")
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} not found. {CHROMIUM_HINT}")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
            locale="ja-JP",
        )
        try:
            yield context
        finally:
            context.close()

