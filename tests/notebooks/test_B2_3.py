"""B2-3 (Fashion-MNIST, LeNet-5 and its two improvements): the cases of its own, beyond
tests/notebooks/test_contract.py. Single test cells run in this process against further
wrong answers, which costs no autograde run.
"""

from __future__ import annotations

import pytest

import nbgrading as nbg

pytestmark = pytest.mark.slow

ASSIGNMENT = "B2-3"
LENET5 = [("conv", 6, 5, "same"), ("pool", 2), ("conv", 16, 5, "valid"), ("pool", 2), ("flatten",), ("dense", 120), ("dense", 84), ("dense", 10)]


def _run_test_cell(grade_id: str, **namespace) -> None:
    """Run one test cell of the source notebook (hidden part included) on the given names."""
    nbg.run_test_cell(ASSIGNMENT, grade_id, **namespace)


def _lookup_shapes(shape, stack):
    """Wrong: the visible example and LeNet-5 written down, nothing computed."""
    known = {
        4: [(6, 6, 2), (3, 3, 2), (18,), (4,)],
        8: [(28, 28, 6), (14, 14, 6), (10, 10, 16), (5, 5, 16), (400,), (120,), (84,), (10,)],
    }
    return known.get(len(stack), [(1,)] * len(stack))


def test_shape_tests_reject_a_lookup_of_the_known_stacks():
    _run_test_cell("test_output_shapes_lenet5", output_shapes=_lookup_shapes)
    with pytest.raises(AssertionError):
        _run_test_cell("test_output_shapes_random_stacks", output_shapes=_lookup_shapes)


def _pool_stride_one(shape, stack):
    h, w, c = shape
    out = []
    for layer in stack:
        if layer[0] == "conv":
            pad = (layer[2] - 1) // 2 if layer[3] == "same" else 0
            h, w, c = h + 2 * pad - layer[2] + 1, w + 2 * pad - layer[2] + 1, layer[1]
            out.append((h, w, c))
        elif layer[0] == "pool":  # wrong: a stride of 1, as if pooling kept the size minus p - 1
            h, w = h - layer[1] + 1, w - layer[1] + 1
            out.append((h, w, c))
        elif layer[0] == "flatten":
            out.append((h * w * c,))
        else:
            out.append((layer[1],))
    return out


def test_shape_tests_reject_pooling_that_does_not_shrink_by_its_size():
    with pytest.raises(AssertionError):
        _run_test_cell("test_output_shapes_lenet5", output_shapes=_pool_stride_one)


@pytest.mark.parametrize("wrong", [61470, 61475, 61706 - 400 * 120 + 256 * 120, 61706 - 120 - 84 - 10])
def test_params_lenet5_test_rejects_near_misses(wrong):
    with pytest.raises(AssertionError):
        _run_test_cell("test_stack_params_lenet5", stack_params=lambda shape, stack: wrong if len(stack) == 8 else 96)


def test_params_tests_accept_the_right_count_from_any_function():
    def params(shape, stack):
        return 61706 if stack == LENET5 else 96

    _run_test_cell("test_stack_params_lenet5", stack_params=params)
    with pytest.raises(AssertionError):
        _run_test_cell("test_stack_params_random_stacks", stack_params=params)


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


def test_layer_tables_and_prose_count_layers_from_one():
    nb = nbg.read_source(ASSIGNMENT)
    heading = nbg.cell_by_grade_id(nb, "part1_heading").source
    assert "| 1 | `Conv2D`" in heading and "| 0 |" not in heading
    assert all("model.layers` の添字" not in c.source for c in nb.cells)
