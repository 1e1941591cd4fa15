"""B1-2 "ドロップアウトと過学習": the source notebook grades as intended under nbgrader.

One module-scoped fixture builds a throw-away course, generates the release and runs three
autogrades (the solution, the untouched release, a submission with plausible wrong answers).
Other wrong answers are checked by running the test cells' code (hidden parts included)
in this process, without another autograde.
"""

from __future__ import annotations

import nbformat
import numpy as np
import pytest

import nbgrading as nbg

pytestmark = pytest.mark.slow

ASSIGNMENT = "B1-2"

TEST_IDS = {
    "test_dropout_mlp_rates_p3": 1,
    "test_dropout_mlp_output_layer": 1,
    "test_dropout_mlp_layer_order_hidden": 2,
    "test_dropout_adds_no_parameters": 1,
    "test_best_rate_small_example": 1,
    "test_best_rate_hidden": 2,
}

# Wrong answers that pass the visible checks; only the hidden parts catch them.
RATE_HARD_CODED = '''
def build_dropout_mlp(rate: float) -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Flatten(),
            layers.Dense(512, activation="relu"),
            layers.Dropout(0.3),
            layers.Dense(512, activation="relu"),
            layers.Dropout(0.3),
            layers.Dense(10, activation="softmax"),
        ]
    )
'''
DROPOUT_COUNTED_AS_PARAMETERS = "dropout_extra_params = 2 * 512  # one mask entry per hidden unit\n"
BEST_RATE_LAST_EPOCH = '''
def best_rate(histories: dict[float, dict]) -> float:
    return min(sorted(histories), key=lambda rate: histories[rate]["val_loss"][-1])
'''
WRONG_ANSWERS = {
    "build_dropout_mlp": RATE_HARD_CODED,
    "dropout_extra_params": DROPOUT_COUNTED_AS_PARAMETERS,
    "best_rate": BEST_RATE_LAST_EPOCH,
}
# Dropout(0.3) hard-coded, 1024 "parameters", last-epoch val_loss: the hidden parts fail ...
WRONG_ZERO = {
    "test_dropout_mlp_layer_order_hidden",
    "test_dropout_adds_no_parameters",
    "test_best_rate_hidden",
}
# ... while the visible checks the wrong answers happen to pass still pass.
WRONG_FULL = {
    "test_dropout_mlp_rates_p3",
    "test_dropout_mlp_output_layer",
    "test_best_rate_small_example",
}

# More wrong answers, checked in process against the test cells' code.
DROPOUT_AFTER_FIRST_LAYER_ONLY = '''
def build_dropout_mlp(rate):
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Flatten(),
            layers.Dense(512, activation="relu"),
            layers.Dropout(rate),
            layers.Dense(512, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
'''
DROPOUT_BEFORE_HIDDEN_LAYERS = '''
def build_dropout_mlp(rate):
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Flatten(),
            layers.Dropout(rate),
            layers.Dense(512, activation="relu"),
            layers.Dropout(rate),
            layers.Dense(512, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
'''
BEST_RATE_MAX_VAL_ACCURACY = '''
def best_rate(histories):
    return max(sorted(histories), key=lambda rate: max(histories[rate]["val_accuracy"]))
'''
BEST_RATE_TIES_BY_INSERTION_ORDER = '''
def best_rate(histories):
    return min(histories, key=lambda rate: min(histories[rate]["val_loss"]))
'''


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return nbg.grade_three_ways(tmp_path_factory, ASSIGNMENT, WRONG_ANSWERS)


def _run_test_cells(namespace: dict, grade_ids: list[str]) -> dict[str, bool]:
    """Run the source test cells (hidden parts included) in ``namespace``: passed or not."""
    passed = {}
    for gid in grade_ids:
        try:
            exec(nbg.cell_source(ASSIGNMENT, gid), namespace)
        except Exception:  # nbgrader scores any error in a test cell 0
            passed[gid] = False
        else:
            passed[gid] = True
    return passed


def _models_from(build_code: str) -> dict:
    import keras
    from keras import layers

    namespace = {"keras": keras, "layers": layers, "np": np}
    exec(build_code, namespace)
    for name, rate in (("model_p0", 0.0), ("model_p3", 0.3), ("model_p7", 0.7)):
        namespace[name] = namespace["build_dropout_mlp"](rate)
    return namespace


# --------------------------------------------------------------------- the committed notebook


def test_source_notebook_has_no_outputs_and_one_python3_kernelspec():
    nbg.assert_committed_notebook_clean(ASSIGNMENT)


def test_source_notebook_declares_11_autograded_points_plus_3_manual():
    nbg.assert_declared_points(ASSIGNMENT, TEST_IDS, {"discussion_answer": 3})


def test_part_headings_carry_the_points_of_their_cells():
    headings = nbg.assert_heading_points(ASSIGNMENT, {"B1-2-1": 4, "B1-2-2": 1, "B1-2-3": 3, "B1-2-4": 3})
    assert list(headings.values()) == [
        "課題 B1-2-1 ドロップアウト付き MLP (4 点)",
        "課題 B1-2-2 ドロップアウトとパラメータ数 (1 点)",
        "課題 B1-2-3 最良のドロップアウト率を選ぶ (3 点)",
        "課題 B1-2-4 考察 (3 点)",
    ]


# --------------------------------------------------------------------- autograding


def test_solution_gets_full_points_on_every_autograded_test(graded):
    nbg.assert_full_points(graded.scores["solution"], TEST_IDS)


def test_solution_discussion_waits_for_manual_grading(graded):
    assert nbg.grade_of(graded.course, ASSIGNMENT, "solution", "discussion_answer") == (None, True)


def test_solution_runs_without_errors_or_stderr_in_test_cells(graded):
    nbg.assert_clean_test_cells(graded, "solution", TEST_IDS)


def test_untouched_release_scores_0_on_every_test(graded):
    # Every test depends on an answer: the stubs raise NotImplementedError, so
    # model_p0/3/7, dropout_extra_params and best_rate never exist.
    nbg.assert_zero_points(graded.scores["untouched"], TEST_IDS)
    # The unchanged written answer gets 0 at once, with no manual grading needed.
    assert nbg.grade_of(graded.course, ASSIGNMENT, "untouched", "discussion_answer") == (0.0, False)


def test_hidden_tests_catch_hard_coded_rate_counted_mask_and_last_epoch_loss(graded):
    nbg.assert_zero_exactly_on(graded.scores["wrong"], TEST_IDS, WRONG_ZERO)
    nbg.assert_full_exactly_on(graded.scores["wrong"], TEST_IDS, WRONG_FULL)


def test_release_has_no_solutions_hidden_tests_or_model_answer(graded):
    nbg.assert_release_hides_solutions(graded, ("解答例",), min_hidden_lines=21)
    release = nbformat.read(graded.release, as_version=4)
    assert nbg.cell_by_grade_id(release, "discussion_answer").source == "ここに回答を書いてください。"


# --------------------------------------------------------------------- more wrong answers, in process

MODEL_TESTS = [
    "test_dropout_mlp_rates_p3",
    "test_dropout_mlp_output_layer",
    "test_dropout_mlp_layer_order_hidden",
]
BEST_RATE_TESTS = ["test_best_rate_small_example", "test_best_rate_hidden"]


def test_dropout_after_first_hidden_layer_only_fails_the_rate_and_order_tests():
    passed = _run_test_cells(_models_from(DROPOUT_AFTER_FIRST_LAYER_ONLY), MODEL_TESTS)
    assert passed == {
        "test_dropout_mlp_rates_p3": False,
        "test_dropout_mlp_output_layer": True,
        "test_dropout_mlp_layer_order_hidden": False,
    }


def test_dropout_before_hidden_layers_passes_visible_checks_but_fails_hidden_order():
    passed = _run_test_cells(_models_from(DROPOUT_BEFORE_HIDDEN_LAYERS), MODEL_TESTS)
    assert passed == {
        "test_dropout_mlp_rates_p3": True,
        "test_dropout_mlp_output_layer": True,
        "test_dropout_mlp_layer_order_hidden": False,
    }


@pytest.mark.parametrize(
    "wrong_best_rate",
    [BEST_RATE_MAX_VAL_ACCURACY, BEST_RATE_TIES_BY_INSERTION_ORDER, BEST_RATE_LAST_EPOCH],
    ids=["max_val_accuracy", "ties_by_insertion_order", "last_epoch_val_loss"],
)
def test_best_rate_wrong_answers_pass_the_example_but_fail_hidden(wrong_best_rate):
    namespace = {"np": np}
    exec(wrong_best_rate, namespace)
    assert _run_test_cells(namespace, BEST_RATE_TESTS) == {
        "test_best_rate_small_example": True,
        "test_best_rate_hidden": False,
    }
