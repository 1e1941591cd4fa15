"""B1-1 "MLP で MNIST を識別する": the cases of its own, beyond tests/notebooks/test_contract.py.

Hidden tests run in-process on further wrong answers, which needs no kernel.
"""

from __future__ import annotations

import types
import warnings

import numpy as np
import pytest

import nbgrading as nbg

pytestmark = pytest.mark.slow

A = "B1-1"

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
FIRST_AND_LAST_LAYER = """
def mlp_params(sizes):
    return dense_params(sizes[0], sizes[1]) + dense_params(sizes[-2], sizes[-1])
"""
NO_BIAS_MLP = """
def mlp_params(sizes):
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
"""
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
    _run_test_cell("test_mlp_params_random_networks", [_cell("dense_params"), _cell("mlp_params")], model=FAKE_MODEL)
    _run_test_cell("test_precision_recall_random_labels", [_cell("precision_recall")])
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


@pytest.mark.parametrize("wrong", [FIRST_AND_LAST_LAYER, NO_BIAS_MLP], ids=["first_and_last_layer", "no_bias"])
def test_mlp_params_test_rejects_wrong_totals(wrong):
    with pytest.raises(AssertionError):
        _run_test_cell("test_mlp_params_random_networks", [_cell("dense_params"), wrong], model=FAKE_MODEL)


def test_mlp_params_test_rejects_a_lookup_of_the_visible_case():
    lookup = "def mlp_params(sizes):\n    return {(3, 4, 2): 26, (784, 512, 512, 10): 669706}[tuple(sizes)]\n"
    with pytest.raises((AssertionError, KeyError)):
        _run_test_cell("test_mlp_params_random_networks", [lookup], model=FAKE_MODEL)


SWAPPED = """
def precision_recall(y_true, y_pred, n_classes):
    hits = np.bincount(y_true[y_true == y_pred], minlength=n_classes)
    return hits / np.maximum(np.bincount(y_true, minlength=n_classes), 1), hits / np.maximum(np.bincount(y_pred, minlength=n_classes), 1)
"""
NAN_FOR_UNPREDICTED = """
def precision_recall(y_true, y_pred, n_classes):
    hits = np.bincount(y_true[y_true == y_pred], minlength=n_classes)
    with np.errstate(all="ignore"):
        return hits / np.bincount(y_pred, minlength=n_classes), hits / np.bincount(y_true, minlength=n_classes)
"""


@pytest.mark.parametrize("wrong", [SWAPPED, NAN_FOR_UNPREDICTED], ids=["swapped", "nan_for_unpredicted"])
def test_precision_recall_tests_reject_swapped_or_undefined_values(wrong):
    with pytest.raises(AssertionError):
        _run_test_cell("test_precision_recall_small_example", [wrong])
    with pytest.raises(AssertionError):
        _run_test_cell("test_precision_recall_random_labels", [wrong])


@pytest.mark.parametrize(
    "wrong", [THREE_LAYERS_ONLY, FORWARD_NO_BIAS, FORWARD_RELU_ON_OUTPUT], ids=["three_layers_only", "no_bias", "relu_on_output"]
)
def test_forward_random_networks_rejects_wrong_forward_passes(wrong):
    with pytest.raises((AssertionError, ValueError)):  # or ValueError when unpacking 3 layers
        _run_test_cell("test_forward_random_networks", [_cell("softmax"), wrong])
