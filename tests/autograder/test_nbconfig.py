"""nbgrader's configuration comes from one function, with the course's own file underneath."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autograder.nbconfig import Stage, nbgrader_config
from autograder.options import CELL_TIMEOUT, Options

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def opts(tmp_path):
    shutil.copy(REPO / "nbgrader_config.py", tmp_path)
    return Options("B1-1", tmp_path / "subs", tmp_path, db_url="postgresql://grader@db/course", cell_timeout=17, memory_mb=999)


def test_the_course_file_is_read_and_the_stage_settings_win(opts):
    c = nbgrader_config(opts, Stage.RECORD)
    assert c.CourseDirectory.course_id == "dl-course"  # from the course's nbgrader_config.py
    assert c.ClearSolutions.text_stub.startswith("ここに")
    assert c.CourseDirectory.root == str(opts.course_root)
    assert c.CourseDirectory.db_url == "postgresql://grader@db/course"
    assert c.CourseDirectory.submitted_directory == ".grading/B1-1/executed"


def test_recording_runs_nothing_and_keeps_outputs_as_nbgraders_own_no_execute_flag(opts):
    c = nbgrader_config(opts, Stage.RECORD)
    assert c.Execute.enabled is False and c.ClearOutput.enabled is False
    assert c.Autograde.create_student is True and c.BaseConverter.force is True


def test_the_execute_stage_carries_the_kernel_settings(opts):
    c = nbgrader_config(opts, Stage.EXECUTE, kernel_name="course-grade", ipc_dir="/tmp/x")
    assert (c.HardenedExecute.timeout, c.HardenedExecute.memory_limit_mb) == (17, 999)
    assert c.HardenedExecute.kernel_name == "course-grade" and c.HardenedExecute.ipc_dir == "/tmp/x"
    assert c.IgnorePattern.enabled is True


def test_the_release_stage_writes_no_gradebook(opts, tmp_path):
    c = nbgrader_config(opts, Stage.RELEASE, release_dir=tmp_path / "out")
    assert c.GenerateAssignment.no_database is True and c.SaveCells.enabled is False
    assert c.CourseDirectory.release_directory == str(tmp_path / "out")


def test_the_template_has_its_own_gradebook(opts, tmp_path):
    c = nbgrader_config(opts, Stage.TEMPLATE, root=tmp_path / "template")
    assert c.CourseDirectory.db_url == f"sqlite:///{tmp_path / 'template' / 'gradebook.db'}"


def test_the_course_file_uses_the_graders_cell_timeout():
    from autograder.nbgrader_runs import load_course_config

    assert load_course_config(REPO).ExecutePreprocessor.timeout == CELL_TIMEOUT
