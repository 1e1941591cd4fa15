import pytest

from course_utils import config


def test_grading_mode_is_off_by_default():
    assert config.grading_mode() is False


def test_grading_mode_follows_nbgrader_execution(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert config.grading_mode() is True


def test_explicit_grading_switch_overrides_nbgrader(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setenv("COURSE_GRADING_MODE", "0")
    assert config.grading_mode() is False


def test_bad_boolean_is_reported_with_the_variable_name(monkeypatch):
    monkeypatch.setenv("COURSE_GRADING_MODE", "maybe")
    with pytest.raises(ValueError, match="COURSE_GRADING_MODE='maybe'"):
        config.grading_mode()


def test_training_epochs_are_capped_only_in_grading_mode(monkeypatch):
    assert config.training_epochs(20) == 20
    monkeypatch.setenv("COURSE_GRADING_MODE", "1")
    assert config.training_epochs(20) == 1
    monkeypatch.setenv("COURSE_GRADING_EPOCHS", "3")
    assert config.training_epochs(20) == 3
    assert config.training_epochs(1) == 1


def test_grading_sizes_default_and_override(monkeypatch):
    assert config.grading_sizes() == (256, 128)
    monkeypatch.setenv("COURSE_GRADING_TRAIN_SIZE", "128")
    monkeypatch.setenv("COURSE_GRADING_TEST_SIZE", "64")
    assert config.grading_sizes() == (128, 64)


def test_grading_size_must_be_positive(monkeypatch):
    monkeypatch.setenv("COURSE_GRADING_TRAIN_SIZE", "0")
    with pytest.raises(ValueError, match="at least 1"):
        config.grading_sizes()


@pytest.mark.parametrize(
    "raw, policy",
    [(None, "never"), ("0", "never"), ("1", "always"), ("true", "always"), ("missing", "always_missing")],
)
def test_synthetic_policy(monkeypatch, raw, policy):
    if raw is not None:
        monkeypatch.setenv("COURSE_SYNTHETIC_DATA", raw)
    assert config.synthetic_policy() == policy.replace("always_missing", "missing")


def test_unknown_synthetic_policy_explains_choices(monkeypatch):
    monkeypatch.setenv("COURSE_SYNTHETIC_DATA", "sometimes")
    with pytest.raises(ValueError, match="missing"):
        config.synthetic_policy()
