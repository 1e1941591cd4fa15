"""Every setting has one default, which the command line shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder import cli, options
from autograder.environment import kernel_env, with_own_bin
from course_utils import config as course_config


def test_grading_sizes_are_the_notebooks_own():
    opts = options.Options("B1-1", Path("subs"), Path("."))
    assert (opts.train_size, opts.test_size, opts.epochs) == (
        course_config.DEFAULT_GRADING_TRAIN_SIZE,
        course_config.DEFAULT_GRADING_TEST_SIZE,
        course_config.DEFAULT_GRADING_EPOCHS,
    )


@pytest.mark.parametrize("flag, field", [("--jobs", "jobs"), ("--cell-timeout", "cell_timeout"), ("--memory-mb", "memory_mb"), ("--epochs", "epochs")])
def test_the_command_line_defaults_are_the_options_defaults(flag, field):
    args = cli.build_parser().parse_args(["grade", "B1-1", "subs"])
    assert getattr(args, field) == options.default(field)


def test_nonsense_settings_are_refused():
    with pytest.raises(ValueError, match="jobs must be at least 1"):
        options.Options("B1-1", Path("subs"), Path("."), jobs=0)


def test_a_kernel_sees_only_allow_listed_variables(monkeypatch):
    monkeypatch.setenv("COURSE_GRADE_CANARY", "secret-token")
    monkeypatch.setenv("DATABASE_URL", "postgresql://instructor:pw@db/course")
    env = kernel_env(options.Options("B1-1", Path("subs"), Path("."), jobs=2))
    assert "COURSE_GRADE_CANARY" not in env and "DATABASE_URL" not in env
    assert env["COURSE_GRADING_MODE"] == "1" and env["NBGRADER_EXECUTION"] == "autograde"
    assert env["COURSE_GRADING_TRAIN_SIZE"] == str(course_config.DEFAULT_GRADING_TRAIN_SIZE)


def test_nbgrader_finds_alembic_without_an_activated_venv():
    import sys

    env = with_own_bin({"PATH": "/usr/bin"})
    assert env["PATH"].split(":")[0] == str(Path(sys.executable).parent)
