"""B1-1 "MLP で MNIST を識別する": the source notebook grades as intended under nbgrader.

One module fixture generates the release and autogrades three submissions: the source
notebook itself ("solution"), the untouched release ("untouched") and the source with
plausible wrong answers ("wrong"). Hidden tests are also run in-process on further
wrong answers, which needs no kernel.
"""

from __future__ import annotations

import types
import warnings

import numpy as np
import pytest

import nbgrading as nbg

pytestmark = pytest.mark.slow

A = "B1-1"

TESTS = {
    "test_softmax_rows_sum_to_one": 1,
    "test_softmax_hand_value": 1,
    "test_softmax_large_logits": 1,
    "test_softmax_random_batches": 1,
    "test_dense_params_hidden_layer": 1,
    "test_dense_params_random_sizes": 1,
    "test_mlp_total_params": 1,
    "test_forward_output_shape": 1,
    "test_forward_matches_keras": 1,
    "test_forward_random_networks": 1,
}

NAIVE_SOFTMAX = '''
def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, straight from the formula."""
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
'''
GLOBAL_MAX_SOFTMAX = '''
def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax shifted by the maximum of the whole batch instead of each row."""
    e = np.exp(z - z.max())
    return e / e.sum(axis=1, keepdims=True)
'''
IN_PLACE_SOFTMAX = '''
def softmax(z: np.ndarray) -> np.ndarray:
    """Stable softmax that overwrites its argument."""
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z
'''
BIAS_PER_INPUT = '''
def dense_params(n_in: int, n_out: int) -> int:
    """One bias per input instead of per output."""
    return n_in * n_out + n_in
'''
NO_BIAS = '''
def dense_params(n_in: int, n_out: int) -> int:
    """Weights only."""
    return n_in * n_out
'''
ONE_HIDDEN_LAYER_TOTAL = "mlp_total_params = dense_params(784, 512) + dense_params(512, 10)\n"
NO_BIAS_TOTAL = "mlp_total_params = 784 * 512 + 512 * 512 + 512 * 10\n"
THREE_LAYERS_ONLY = '''
def forward(X: np.ndarray, weights: list[np.ndarray]) -> np.ndarray:
    """Forward pass written for exactly three Dense layers."""
    W1, b1, W2, b2, W3, b3 = weights
    h1 = np.maximum(X @ W1 + b1, 0.0)
    h2 = np.maximum(h1 @ W2 + b2, 0.0)
    return softmax(h2 @ W3 + b3)
'''
FORWARD_NO_BIAS = '''
def forward(X: np.ndarray, weights: list[np.ndarray]) -> np.ndarray:
    """Forward pass that forgets the biases."""
    h = X
    for i in range(0, len(weights), 2):
        u = h @ weights[i]
        h = np.maximum(u, 0.0) if i + 2 < len(weights) else softmax(u)
    return h
'''
FORWARD_RELU_ON_OUTPUT = '''
def forward(X: np.ndarray, weights: list[np.ndarray]) -> np.ndarray:
    """Forward pass with a ReLU also in front of the softmax."""
    h = X
    for i in range(0, len(weights), 2):
        h = np.maximum(h @ weights[i] + weights[i + 1], 0.0)
    return softmax(h)
'''

# The submission graded as "wrong": each answer passes the visible checks of its tests.
WRONG_ANSWERS = {
    "softmax": NAIVE_SOFTMAX,
    "dense_params": BIAS_PER_INPUT,
    "mlp_total_params": ONE_HIDDEN_LAYER_TOTAL,
    "forward": THREE_LAYERS_ONLY,
}
CAUGHT_ONLY_BY_HIDDEN_TESTS = {
    "test_softmax_large_logits",
    "test_dense_params_random_sizes",
    "test_mlp_total_params",
    "test_forward_random_networks",
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return nbg.grade_three_ways(tmp_path_factory, A, WRONG_ANSWERS)


def test_notebook_has_the_ten_one_point_tests_and_a_two_point_written_answer():
    nbg.assert_declared_points(A, TESTS, {"discussion_answer": 2})


def test_part_headings_carry_the_points_of_their_tests():
    nbg.assert_heading_points(A, {"B1-1-1": 4, "B1-1-2": 3, "B1-1-3": 3, "B1-1-4": 2})


def test_committed_notebook_has_no_outputs_and_one_kernelspec():
    nbg.assert_committed_notebook_clean(A)


def test_solution_gets_full_points_on_every_autograded_test(graded):
    nbg.assert_full_points(graded.scores["solution"], TESTS)


def test_solution_runs_without_errors_or_stderr_in_test_cells(graded):
    nbg.assert_clean_test_cells(graded, "solution", TESTS)


def test_untouched_release_scores_zero_on_every_test(graded):
    # Every test calls or reads a student answer, so none is answer-independent.
    nbg.assert_zero_points(graded.scores["untouched"], TESTS)


def test_wrong_answers_lose_exactly_the_hidden_tests(graded):
    nbg.assert_zero_exactly_on(graded.scores["wrong"], TESTS, CAUGHT_ONLY_BY_HIDDEN_TESTS)


def test_wrong_answers_still_pass_the_visible_checks(graded):
    # naive softmax, bias-per-input dense_params and the 3-layer-only forward pass
    # look right on the visible examples: only the hidden parts catch them.
    nbg.assert_full_exactly_on(graded.scores["wrong"], TESTS, set(TESTS) - CAUGHT_ONLY_BY_HIDDEN_TESTS)


def test_release_hides_solutions_and_hidden_tests(graded):
    nbg.assert_release_hides_solutions(graded)


def test_release_answer_cells_keep_signature_and_docstring(graded):
    nbg.assert_release_stubs(
        graded,
        {
            "softmax": "def softmax(z: np.ndarray) -> np.ndarray:",
            "dense_params": "def dense_params(n_in: int, n_out: int) -> int:",
            "forward": "def forward(X: np.ndarray, weights: list[np.ndarray]) -> np.ndarray:",
        },
    )


# --------------------------------------------------------------------------- in-process


def _cell(grade_id: str) -> str:
    return nbg.cell_source(A, grade_id)


def _run_test_cell(grade_id: str, answers: list[str], **names) -> None:
    """Execute a test cell (hidden part included) after the given answer code."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        nbg.run_code(*answers, _cell(grade_id), **names)


FAKE_MODEL = types.SimpleNamespace(
    weights=[np.zeros(s) for s in ((784, 512), (512,), (512, 512), (512,), (512, 10), (10,))]
)


def test_hidden_tests_pass_the_reference_solution():
    _run_test_cell("test_softmax_large_logits", [_cell("softmax")])
    _run_test_cell("test_softmax_random_batches", [_cell("softmax")])
    _run_test_cell("test_dense_params_random_sizes", [_cell("dense_params")])
    _run_test_cell("test_mlp_total_params", [_cell("dense_params"), _cell("mlp_total_params")], model=FAKE_MODEL)
    _run_test_cell("test_forward_random_networks", [_cell("softmax"), _cell("forward")])


@pytest.mark.parametrize("wrong", [NAIVE_SOFTMAX, GLOBAL_MAX_SOFTMAX], ids=["naive", "global_max"])
def test_large_logits_test_rejects_unstable_softmax(wrong):
    with pytest.raises(AssertionError):
        _run_test_cell("test_softmax_large_logits", [wrong])


def test_random_batches_test_rejects_softmax_that_overwrites_its_input():
    _run_test_cell("test_softmax_rows_sum_to_one", [IN_PLACE_SOFTMAX])  # visible checks pass
    with pytest.raises(AssertionError, match="書き換えて"):
        _run_test_cell("test_softmax_random_batches", [IN_PLACE_SOFTMAX])


@pytest.mark.parametrize("wrong", [NO_BIAS, BIAS_PER_INPUT], ids=["no_bias", "bias_per_input"])
def test_dense_params_random_sizes_rejects_wrong_bias_count(wrong):
    with pytest.raises(AssertionError):
        _run_test_cell("test_dense_params_random_sizes", [wrong])


@pytest.mark.parametrize("wrong", [ONE_HIDDEN_LAYER_TOTAL, NO_BIAS_TOTAL], ids=["one_hidden_layer", "no_bias"])
def test_mlp_total_params_rejects_wrong_totals(wrong):
    with pytest.raises(AssertionError):
        _run_test_cell("test_mlp_total_params", [_cell("dense_params"), wrong], model=FAKE_MODEL)


@pytest.mark.parametrize(
    "wrong", [THREE_LAYERS_ONLY, FORWARD_NO_BIAS, FORWARD_RELU_ON_OUTPUT], ids=["three_layers_only", "no_bias", "relu_on_output"]
)
def test_forward_random_networks_rejects_wrong_forward_passes(wrong):
    with pytest.raises(Exception):  # AssertionError, or ValueError when unpacking 3 layers
        _run_test_cell("test_forward_random_networks", [_cell("softmax"), wrong])
