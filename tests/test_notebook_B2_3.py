"""B2-3 (Fashion-MNIST, LeNet-5 and its two improvements) graded as nbgrader would grade it.

One module-scoped fixture generates the release and autogrades three submissions: the
source notebook itself ("solution"), the untouched release ("untouched") and the source
notebook with plausible wrong answers in every answer cell ("wrong"). A second group of
tests runs single test cells in this process against further wrong answers, which costs
no autograde run.
"""

from __future__ import annotations

from types import SimpleNamespace

import nbformat
import numpy as np
import pytest
from nbgrading import (
    auto_points,
    autograde,
    autograded_notebook,
    cell_by_grade_id,
    dump,
    errors,
    generate,
    make_course,
    source_notebook,
    with_answers,
)

pytestmark = pytest.mark.slow

ASSIGNMENT = "B2-3"

ALL_TESTS = {
    "test_lenet5_layer_types": 1.0,
    "test_lenet5_layer_settings": 1.0,
    "test_lenet5_output_shapes_channels": 1.0,
    "test_lenet5_output_shapes_sizes": 1.0,
    "test_lenet5_params_range": 1.0,
    "test_lenet5_params_exact": 1.0,
    "test_dropout_model_uses_max_pooling": 1.0,
    "test_dropout_model_dropout_positions": 1.0,
    "test_wide_model_filters": 1.0,
    "test_wide_model_extra_params": 1.0,
}

# A plausible wrong answer for every answer cell. Each passes the visible check(s) of its
# part and fails exactly one test, whose hidden block does the catching.
WRONG_ANSWERS = {
    # padding "valid" in the first convolution (24x24 instead of 28x28 after it)
    "build_lenet5": '''
def build_lenet5() -> keras.Model:
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(6, (5, 5), padding="valid", activation="relu"),
        layers.AveragePooling2D((2, 2)),
        layers.Conv2D(16, (5, 5), padding="valid", activation="relu"),
        layers.AveragePooling2D((2, 2)),
        layers.Flatten(),
        layers.Dense(120, activation="relu"),
        layers.Dense(84, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
''',
    # the same "valid padding" slip, worked through consistently by hand
    "lenet5_output_shapes": "lenet5_output_shapes = [(24, 24, 6), (12, 12, 6), (8, 8, 16), (4, 4, 16)]",
    # weights only, biases forgotten: 150 + 2400 + 48000 + 10080 + 840
    "lenet5_params": "lenet5_params = 5*5*1*6 + 5*5*6*16 + 5*5*16*120 + 120*84 + 84*10",
    # Dropout put before each pooling layer instead of after it
    "build_lenet5_dropout": '''
def build_lenet5_dropout() -> keras.Model:
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(6, (5, 5), padding="same", activation="relu"),
        layers.Dropout(0.2),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(16, (5, 5), padding="valid", activation="relu"),
        layers.Dropout(0.2),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dense(120, activation="relu"),
        layers.Dropout(0.3),
        layers.Dense(84, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
''',
    # "twice as wide" read as doubling everything: filters 12/32 but also Dense 240/168
    "build_lenet5_wide": '''
def build_lenet5_wide() -> keras.Model:
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(12, (5, 5), padding="same", activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Dropout(0.2),
        layers.Conv2D(32, (5, 5), padding="valid", activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Dropout(0.2),
        layers.Flatten(),
        layers.Dense(240, activation="relu"),
        layers.Dropout(0.3),
        layers.Dense(168, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
''',
}

# The tests that score 0 for WRONG_ANSWERS (one hidden test per answer cell) ...
CAUGHT_BY_HIDDEN_TESTS = {
    "test_lenet5_layer_settings",
    "test_lenet5_output_shapes_sizes",
    "test_lenet5_params_exact",
    "test_dropout_model_dropout_positions",
    "test_wide_model_extra_params",
}
# ... while every visible check keeps its point: the wrong answers get past them.
PASSED_BY_WRONG_ANSWERS = set(ALL_TESTS) - CAUGHT_BY_HIDDEN_TESTS

HIDDEN_TEST_TEXT = (
    "_lenet_params",
    "_out_side",
    "_side_after",
    "_weights_only",
    "_describe(",
    "_want_weights",
)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("course"), (ASSIGNMENT,))
    release = generate(course, ASSIGNMENT)
    source = source_notebook(ASSIGNMENT)
    return SimpleNamespace(
        course=course,
        release=release,
        points=auto_points(nbformat.read(source, as_version=4)),
        solution=autograde(course, ASSIGNMENT, "solution", source),
        untouched=autograde(course, ASSIGNMENT, "untouched", release),
        wrong=autograde(course, ASSIGNMENT, "wrong", with_answers(source, WRONG_ANSWERS)),
    )


def test_notebook_has_ten_one_point_autograded_tests():
    nb = nbformat.read(source_notebook(ASSIGNMENT), as_version=4)
    assert auto_points(nb) == ALL_TESTS


def test_solution_gets_full_points_on_every_autograded_test(graded):
    got = {gid: graded.solution[gid][0] for gid in graded.points}
    assert got == graded.points, dump(graded.solution)


def test_solution_notebook_runs_without_errors_or_stderr_in_test_cells(graded):
    nb = autograded_notebook(graded.course, ASSIGNMENT, "solution")
    assert errors(nb) == []
    for gid in graded.points:
        streams = [o.get("name") for o in cell_by_grade_id(nb, gid).get("outputs", []) if o.get("output_type") == "stream"]
        assert "stderr" not in streams, gid


def test_untouched_release_scores_zero_on_every_autograded_test(graded):
    # Every test depends on an answer: none is answer-independent.
    got = {gid: graded.untouched[gid][0] for gid in graded.points}
    assert got == {gid: 0.0 for gid in graded.points}, dump(graded.untouched)


def test_each_hidden_test_catches_its_plausible_wrong_answer(graded):
    zero = {gid for gid in graded.points if graded.wrong[gid][0] == 0}
    assert zero == CAUGHT_BY_HIDDEN_TESTS, dump(graded.wrong)


def test_wrong_answers_still_pass_the_visible_checks(graded):
    got = {gid: graded.wrong[gid][0] for gid in PASSED_BY_WRONG_ANSWERS}
    assert got == {gid: graded.points[gid] for gid in PASSED_BY_WRONG_ANSWERS}, dump(graded.wrong)


def test_release_has_no_solutions_or_hidden_tests(graded):
    text = graded.release.read_text(encoding="utf-8")
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", *HIDDEN_TEST_TEXT):
        assert marker not in text, marker
    for answer in ("61706", "61,706", "(14, 14, 6)", "(10, 10, 16)"):  # hand-computed answers
        assert answer not in text, answer
    assert "採点者用の解答例" not in text  # reference answer of the written part


def test_release_keeps_stubs_with_signatures_and_type_hints(graded):
    nb = nbformat.read(graded.release, as_version=4)
    for gid, head in (
        ("build_lenet5", "def build_lenet5() -> keras.Model:"),
        ("build_lenet5_dropout", "def build_lenet5_dropout() -> keras.Model:"),
        ("build_lenet5_wide", "def build_lenet5_wide() -> keras.Model:"),
        ("lenet5_output_shapes", "lenet5_output_shapes: list[tuple[int, int, int]]"),
        ("lenet5_params", "lenet5_params: int"),
    ):
        source = cell_by_grade_id(nb, gid).source
        assert source.startswith(head) and "raise NotImplementedError()" in source, gid


# --------------------------------------------------------------------------- in-process


def _run_test_cell(grade_id: str, **namespace) -> None:
    """Run one test cell of the source notebook (hidden part included) on the given names."""
    cell = cell_by_grade_id(nbformat.read(source_notebook(ASSIGNMENT), as_version=4), grade_id)
    exec(compile(cell.source, grade_id, "exec"), {"np": np, **namespace})


def test_shape_tests_accept_the_hand_computed_shapes():
    right = [(28, 28, 6), (14, 14, 6), (10, 10, 16), (5, 5, 16)]
    _run_test_cell("test_lenet5_output_shapes_channels", lenet5_output_shapes=right)
    _run_test_cell("test_lenet5_output_shapes_sizes", lenet5_output_shapes=[list(s) for s in right])


@pytest.mark.parametrize(
    "wrong",
    [
        [(28, 28, 6), (28, 28, 6), (24, 24, 16), (24, 24, 16)],  # pooling does not halve
        [(24, 24, 6), (12, 12, 6), (8, 8, 16), (4, 4, 16)],  # valid padding in conv 1
        [(28, 28, 6), (14, 14, 6), (9, 9, 16), (4, 4, 16)],  # 14 - 5 without the + 1
        [(28, 28, 6), (14, 14, 6), (14, 14, 16), (7, 7, 16)],  # same padding in conv 2
    ],
)
def test_shape_sizes_hidden_test_rejects_wrong_sizes_with_right_channels(wrong):
    _run_test_cell("test_lenet5_output_shapes_channels", lenet5_output_shapes=wrong)
    with pytest.raises(AssertionError):
        _run_test_cell("test_lenet5_output_shapes_sizes", lenet5_output_shapes=wrong)


def test_params_tests_accept_61706():
    _run_test_cell("test_lenet5_params_range", lenet5_params=61706)
    _run_test_cell("test_lenet5_params_exact", lenet5_params=61706)


@pytest.mark.parametrize(
    "wrong",
    [
        61470,  # biases forgotten
        61475,  # one bias per layer instead of one per filter or unit
        61706 - 400 * 120 + 256 * 120,  # Flatten of 4x4x16 instead of 5x5x16 (not in range)
        61706 - 120 - 84 - 10,  # biases of the Dense layers forgotten
    ],
)
def test_params_exact_hidden_test_rejects_near_misses(wrong):
    with pytest.raises(AssertionError):
        _run_test_cell("test_lenet5_params_exact", lenet5_params=wrong)


def test_wide_model_doubling_dense_units_instead_of_filters_fails_both_wide_tests():
    keras = pytest.importorskip("keras")
    from keras import layers

    def model(f1, f2, d1, d2, pool=layers.MaxPooling2D):
        return keras.Sequential([
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(f1, (5, 5), padding="same", activation="relu"),
            pool((2, 2)),
            layers.Dropout(0.2),
            layers.Conv2D(f2, (5, 5), padding="valid", activation="relu"),
            pool((2, 2)),
            layers.Dropout(0.2),
            layers.Flatten(),
            layers.Dense(d1, activation="relu"),
            layers.Dropout(0.3),
            layers.Dense(d2, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ])

    dropout = model(6, 16, 120, 84)
    right = model(12, 32, 120, 84)
    _run_test_cell("test_wide_model_filters", model_wide=right)
    _run_test_cell("test_wide_model_extra_params", model_wide=right, model_dropout=dropout)

    dense_doubled = model(6, 16, 240, 168)
    with pytest.raises(AssertionError):
        _run_test_cell("test_wide_model_filters", model_wide=dense_doubled)
    with pytest.raises(AssertionError):
        _run_test_cell("test_wide_model_extra_params", model_wide=dense_doubled, model_dropout=dropout)
