"""B2-1 "CNN (5x5 畳み込み) で MNIST を識別する": the source notebook grades as intended.

One module fixture builds a throw-away course, generates the release and autogrades
three submissions: the solution, the untouched release and a notebook with plausible
wrong answers. The other wrong answers named in the notebook's design run the test
cells directly in this process (pure functions, no kernel needed).
"""

from __future__ import annotations

import pytest

import nbgrading as nbg

pytestmark = pytest.mark.slow

A = "B2-1"

EXPECTED_POINTS = {
    "test_conv_output_size_valid": 1.0,
    "test_conv_output_size_same": 1.0,
    "test_conv_output_size_rejects_unknown_padding": 1.0,
    "test_conv_params_one_bias_per_filter": 1.0,
    "test_conv_params_non_square_kernel": 1.0,
    "test_mnist_cnn_params_conv_layers": 1.0,
    "test_mnist_cnn_params_dense_layers": 1.0,
    "test_mnist_cnn_total": 1.0,
}
MANUAL_POINTS = {"discussion_variants": 2.0}

WRONG_ANSWERS = {
    # Two slips at once: "valid" ignores the stride, "same" rounds down (w // s).
    # Both agree with the truth at stride 1, which is all the visible checks use.
    "conv_output_size": '''
def conv_output_size(w: int, k: int, stride: int = 1, padding: str = "valid") -> int:
    if padding == "valid":
        return w - k + 1
    if padding == "same":
        return w // stride
    raise ValueError(padding)
''',
    # The seed's H x H formula taken literally: the kernel is assumed square.
    "conv_params": '''
def conv_params(k_h: int, k_w: int, c_in: int, c_out: int) -> int:
    return k_h * k_h * c_in * c_out + c_out
''',
    # Flatten length from conv1's 32 channels instead of conv2's 64: 12*12*32*128 + 128.
    "mnist_cnn_params": '''
mnist_cnn_params = {"conv1": 320, "conv2": 18496, "dense1": 12 * 12 * 32 * 128 + 128, "dense2": 1290}
mnist_cnn_total = sum(mnist_cnn_params.values())
''',
}

# What the wrong submission scores 0 on (each in its hidden part), and what it keeps:
# it still raises ValueError, counts one bias per filter and gets the conv layers right.
WRONG_ZERO = {
    "test_conv_output_size_valid",
    "test_conv_output_size_same",
    "test_conv_params_non_square_kernel",
    "test_mnist_cnn_params_dense_layers",
    "test_mnist_cnn_total",
}
WRONG_FULL = {
    "test_conv_output_size_rejects_unknown_padding",
    "test_conv_params_one_bias_per_filter",
    "test_mnist_cnn_params_conv_layers",
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return nbg.grade_three_ways(tmp_path_factory, A, WRONG_ANSWERS)


# --------------------------------------------------------------------------- the notebook itself


def test_autograded_tests_and_points_are_the_expected_ones():
    nbg.assert_declared_points(A, EXPECTED_POINTS, MANUAL_POINTS, total=10)


def test_written_answer_is_a_manually_graded_markdown_cell_after_a_locked_prompt():
    nb = nbg.read_source(A)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    i = ids.index("discussion_variants")
    answer, prompt = nb.cells[i], nb.cells[i - 1]
    assert answer.cell_type == "markdown"
    assert answer.metadata.nbgrader["grade"] and answer.metadata.nbgrader["solution"]
    assert answer.metadata.nbgrader["points"] == MANUAL_POINTS["discussion_variants"]
    assert prompt.metadata.nbgrader["grade_id"] == "discussion_variants_prompt"
    assert prompt.metadata.nbgrader["locked"] and not prompt.metadata.nbgrader["grade"]


def test_part_headings_state_the_points_of_their_tests_and_written_answers():
    nbg.assert_heading_points(A, {"B2-1-1": 3, "B2-1-2": 2, "B2-1-3": 3, "B2-1-4": 2})


def test_committed_notebook_has_no_outputs_and_one_kernelspec():
    nbg.assert_committed_notebook_clean(A)


# --------------------------------------------------------------------------- autograding


def test_solution_gets_full_points_on_every_autograded_test(graded):
    nbg.assert_full_points(graded.scores["solution"], EXPECTED_POINTS)


def test_solution_runs_without_errors_and_its_tests_print_nothing_to_stderr(graded):
    nbg.assert_clean_test_cells(graded, "solution", EXPECTED_POINTS)


def test_untouched_release_scores_zero_on_every_test(graded):
    # Every test calls conv_output_size / conv_params or reads mnist_cnn_params, which
    # only the answer cells define: none is answer-independent.
    nbg.assert_zero_points(graded.scores["untouched"], EXPECTED_POINTS)


def test_wrong_answers_score_zero_exactly_on_the_tests_that_should_catch_them(graded):
    nbg.assert_zero_exactly_on(graded.scores["wrong"], EXPECTED_POINTS, WRONG_ZERO)
    nbg.assert_full_exactly_on(graded.scores["wrong"], EXPECTED_POINTS, WRONG_FULL)


def test_wrong_answers_pass_the_visible_checks_and_fail_in_the_hidden_part(graded):
    nbg.assert_hidden_block_caught(graded, WRONG_ZERO, WRONG_FULL)


def test_release_contains_no_solutions_and_no_hidden_tests(graded):
    # The padding test's visible part already shows its "_raised = ..." lines.
    forbidden = ("1199882", "-(-w // stride)")
    nbg.assert_release_hides_solutions(graded, forbidden, hidden_in=EXPECTED_POINTS, skip_lines_shown_visibly=True)
    nbg.assert_release_stubs(
        graded,
        {
            "conv_output_size": 'def conv_output_size(w: int, k: int, stride: int = 1, padding: str = "valid") -> int:',
            "conv_params": "def conv_params(k_h: int, k_w: int, c_in: int, c_out: int) -> int:",
            "mnist_cnn_params": "# mnist_cnn_params: dict[str, int]",
        },
    )


# --------------------------------------------------------------------------- more wrong answers, run directly


def _valid_ignores_stride(w, k, stride=1, padding="valid"):
    if padding == "same":
        return -(-w // stride)
    if padding == "valid":
        return w - k + 1
    raise ValueError(padding)


def _same_rounds_down(w, k, stride=1, padding="valid"):
    if padding == "same":
        return w // stride
    if padding == "valid":
        return (w - k) // stride + 1
    raise ValueError(padding)


def _hard_coded(w, k, stride=1, padding="valid"):
    if padding not in ("valid", "same"):
        raise ValueError(padding)
    return {(28, 3): 26, (28, 5): 24}.get((w, k), 28) if padding == "valid" else 28


def _unknown_padding_is_valid(w, k, stride=1, padding="valid"):
    if padding == "same":
        return -(-w // stride)
    return (w - k) // stride + 1


def _right_size(w, k, stride=1, padding="valid"):
    if padding == "valid":
        return (w - k) // stride + 1
    if padding == "same":
        return -(-w // stride)
    raise ValueError(padding)


@pytest.mark.parametrize(
    ("grade_id", "wrong"),
    [
        ("test_conv_output_size_valid", _valid_ignores_stride),
        ("test_conv_output_size_valid", _hard_coded),
        ("test_conv_output_size_same", _same_rounds_down),
        ("test_conv_output_size_same", _hard_coded),
    ],
)
def test_size_tests_pass_the_wrong_answer_visibly_and_reject_it_in_the_hidden_part(grade_id, wrong):
    nbg.run_code(nbg.visible_part(A, grade_id), conv_output_size=wrong)
    with pytest.raises(AssertionError):
        nbg.run_code(nbg.hidden_block(A, grade_id), conv_output_size=wrong)


def test_same_size_test_rejects_rounding_down_for_odd_sizes_with_stride_two():
    assert _same_rounds_down(7, 3, 2, "same") == 3 and _right_size(7, 3, 2, "same") == 4
    with pytest.raises(AssertionError):
        nbg.run_test_cell(A, "test_conv_output_size_same", conv_output_size=_same_rounds_down)


def test_padding_test_rejects_treating_an_unknown_padding_as_valid():
    gid = "test_conv_output_size_rejects_unknown_padding"
    with pytest.raises(AssertionError):
        nbg.run_test_cell(A, gid, conv_output_size=_unknown_padding_is_valid)
    nbg.run_test_cell(A, gid, conv_output_size=_right_size)


def _bias_per_input_channel(k_h, k_w, c_in, c_out):
    return k_h * k_w * c_in * c_out + c_in


def _no_bias(k_h, k_w, c_in, c_out):
    return k_h * k_w * c_in * c_out


def test_bias_test_passes_a_bias_per_input_channel_visibly_and_rejects_it_in_the_hidden_part():
    # 32 -> 32 channels: one bias per input channel happens to give the same 9,248.
    nbg.run_code(nbg.visible_part(A, "test_conv_params_one_bias_per_filter"), conv_params=_bias_per_input_channel)
    with pytest.raises(AssertionError):
        nbg.run_code(nbg.hidden_block(A, "test_conv_params_one_bias_per_filter"), conv_params=_bias_per_input_channel)


def test_both_conv_params_tests_reject_a_missing_bias():
    for gid in ("test_conv_params_one_bias_per_filter", "test_conv_params_non_square_kernel"):
        with pytest.raises(AssertionError):
            nbg.run_test_cell(A, gid, conv_params=_no_bias)
        with pytest.raises(AssertionError):
            nbg.run_code(nbg.hidden_block(A, gid), conv_params=_no_bias)


def test_conv_params_tests_accept_the_formula_with_one_bias_per_filter():
    for gid in ("test_conv_params_one_bias_per_filter", "test_conv_params_non_square_kernel"):
        nbg.run_test_cell(A, gid, conv_params=lambda k_h, k_w, c_in, c_out: k_h * k_w * c_in * c_out + c_out)
