"""release/ is exactly what nbgrader generates from source/, and leaks nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
ASSIGNMENTS = ["B1-1", "B1-2", "B2-1", "B2-2", "B2-3"]
NOTEBOOKS = [REPO / d / a / f"{a}.ipynb" for d in ("source", "release") for a in ASSIGNMENTS]


def test_every_assignment_has_a_source_and_a_release():
    assert sorted(p.name for p in (REPO / "source").iterdir() if p.is_dir()) == ASSIGNMENTS
    assert sorted(p.name for p in (REPO / "release").iterdir() if p.is_dir()) == ASSIGNMENTS


@pytest.mark.slow
def test_release_matches_a_fresh_nbgrader_generation():
    proc = subprocess.run([sys.executable, "-m", "autograder", "release", "--check"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "matches source/" in proc.stdout


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_release_has_no_solutions_or_hidden_tests(a):
    text = (REPO / "release" / a / f"{a}.ipynb").read_text(encoding="utf-8")
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text, f"release/{a} contains {marker}"
    assert "raise NotImplementedError()" in text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_committed_notebooks_are_clean(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"] == {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_setup_cell_is_locked_and_installs_from_the_repository_url(a):
    import tomllib

    url = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    nb = json.loads((REPO / "release" / a / f"{a}.ipynb").read_text(encoding="utf-8"))
    setup = [c for c in nb["cells"] if "google.colab" in "".join(c["source"])]
    assert len(setup) == 1
    assert setup[0]["metadata"]["nbgrader"]["locked"] is True
    assert f"git+{url}" in "".join(setup[0]["source"])


def test_cli_help_lists_the_commands():
    help_text = build_parser().format_help()
    for command in ("release", "grade", "demo"):
        assert command in help_text
    proc = subprocess.run(["course-grade", "grade", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "--jobs" in proc.stdout and "--roster" in proc.stdout


def test_grading_an_unknown_assignment_fails_clearly(tmp_path):
    proc = subprocess.run(["course-grade", "grade", "B9-9", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "no source notebook source/B9-9/B9-9.ipynb" in proc.stderr and "B2-2" in proc.stderr


def test_grading_a_missing_folder_fails_clearly(tmp_path):
    proc = subprocess.run(["course-grade", "grade", "B2-2", str(tmp_path / "nope")], capture_output=True, text=True)
    assert proc.returncode == 2 and "does not exist" in proc.stderr
