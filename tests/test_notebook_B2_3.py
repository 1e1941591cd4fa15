"""B2-3 (Fashion-MNIST, LeNet-5 and its two improvements) graded as nbgrader would grade it.

One module-scoped fixture generates the release and autogrades three submissions: the
source notebook itself ("solution"), the untouched release ("untouched") and the source
notebook with plausible wrong answers in every answer cell ("wrong"). A second group of
tests runs single test cells in this process against further wrong answers, which costs
no autograde run.
"""

from __future__ import annotations

import pytest

import nbgrading as nbg

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
    return nbg.grade_three_ways(tmp_path_factory, ASSIGNMENT, WRONG_ANSWERS)


def test_notebook_has_ten_one_point_autograded_tests():
    nbg.assert_declared_points(ASSIGNMENT, ALL_TESTS)


def test_part_headings_carry_the_points_of_their_tests():
    nbg.assert_heading_points(ASSIGNMENT, {"B2-3-1": 2, "B2-3-2": 4, "B2-3-3": 4, "B2-3-4": 3})


def test_committed_notebook_has_no_outputs_and_one_kernelspec():
    nbg.assert_committed_notebook_clean(ASSIGNMENT)


def test_solution_gets_full_points_on_every_autograded_test(graded):
    nbg.assert_full_points(graded.scores["solution"], ALL_TESTS)


def test_solution_notebook_runs_without_errors_or_stderr_in_test_cells(graded):
    nbg.assert_clean_test_cells(graded, "solution", ALL_TESTS)


def test_untouched_release_scores_zero_on_every_autograded_test(graded):
    # Every test depends on an answer: none is answer-independent.
    nbg.assert_zero_points(graded.scores["untouched"], ALL_TESTS)


def test_each_hidden_test_catches_its_plausible_wrong_answer(graded):
    nbg.assert_zero_exactly_on(graded.scores["wrong"], ALL_TESTS, CAUGHT_BY_HIDDEN_TESTS)


def test_wrong_answers_still_pass_the_visible_checks(graded):
    nbg.assert_full_exactly_on(graded.scores["wrong"], ALL_TESTS, PASSED_BY_WRONG_ANSWERS)


def test_release_has_no_solutions_or_hidden_tests(graded):
    hand_computed = ("61706", "61,706", "(14, 14, 6)", "(10, 10, 16)")
    written_answer = ("採点者用の解答例",)  # reference answer of the written part
    nbg.assert_release_hides_solutions(graded, HIDDEN_TEST_TEXT + hand_computed + written_answer)


def test_release_keeps_stubs_with_signatures_and_type_hints(graded):
    nbg.assert_release_stubs(
        graded,
        {
            "build_lenet5": "def build_lenet5() -> keras.Model:",
            "build_lenet5_dropout": "def build_lenet5_dropout() -> keras.Model:",
            "build_lenet5_wide": "def build_lenet5_wide() -> keras.Model:",
            "lenet5_output_shapes": "lenet5_output_shapes: list[tuple[int, int, int]]",
            "lenet5_params": "lenet5_params: int",
        },
    )


# --------------------------------------------------------------------------- in-process


def _run_test_cell(grade_id: str, **namespace) -> None:
    """Run one test cell of the source notebook (hidden part included) on the given names."""
    nbg.run_test_cell(ASSIGNMENT, grade_id, **namespace)


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
