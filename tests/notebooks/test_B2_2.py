"""B2-2 "CNN の畳み込み層の深さと識別性能": the cases of its own, beyond tests/notebooks/test_contract.py.

Further wrong answers run single test cells (hidden parts included) in this process.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

import nbgrading as nbg

pytestmark = pytest.mark.slow

A = "B2-2"


def _receptive_field_own_stride(stack):
    """Wrong: multiplies each kernel by the product of strides up to and including its own."""
    size, jump = 1, 1
    for kernel, stride in stack:
        jump *= stride
        size += (kernel - 1) * jump
    return size


def test_receptive_field_tests_reject_the_own_stride_answer_in_their_hidden_part():
    gid = "test_receptive_field_with_strides"
    with pytest.raises(AssertionError):
        nbg.run_test_cell(A, gid, receptive_field=_receptive_field_own_stride)
    with pytest.raises(AssertionError):
        nbg.run_code(nbg.hidden_block(A, gid), receptive_field=_receptive_field_own_stride)


def test_receptive_field_stride_one_test_rejects_a_hard_coded_visible_case():
    gid = "test_receptive_field_stride_one"
    nbg.run_code(nbg.visible_part(A, gid), receptive_field=lambda stack: 5)
    with pytest.raises(AssertionError):
        nbg.run_test_cell(A, gid, receptive_field=lambda stack: 5)


def test_receptive_field_parameter_does_not_shadow_the_keras_layers_module():
    source = nbg.cell_source(A, "receptive_field")
    assert source.startswith("def receptive_field(stack: list[tuple[int, int]]) -> int:")


def _lookup(shape, stack):
    """Wrong: the visible example and the two course models looked up, nothing computed."""
    head = (("pool", 2), ("dense", 20), ("dense", 10))
    table = {
        ((4, 4, 1), (("conv", 2, 3), ("pool", 2), ("dense", 5))): 65,
        ((32, 32, 3), (("conv", 32, 3),) * 3 + head): 183462,
        ((32, 32, 3), (("conv", 32, 5),) + head): 166502,
        ((32, 32, 3), (("conv", 32, 3),) + head): 164966,
    }
    return table.get((tuple(shape), tuple(stack)), 0)


def test_cnn_params_tests_reject_a_lookup_of_the_known_cases():
    nbg.run_test_cell(A, "test_cnn_params_course_models", cnn_params=_lookup)  # it knows those three
    with pytest.raises(AssertionError):
        nbg.run_test_cell(A, "test_cnn_params_random_stacks", cnn_params=_lookup)


def _no_bias(shape, stack):
    h, w, c = shape
    total, flat = 0, None
    for kind, *args in stack:
        if kind == "conv":
            total += args[1] ** 2 * c * args[0]
            c = args[0]
        elif kind == "pool":
            h, w = h // args[0], w // args[0]
        else:
            total += (h * w * c if flat is None else flat) * args[0]
            flat = args[0]
    return total


def test_cnn_params_tests_reject_forgotten_biases():
    for gid in ("test_cnn_params_course_models", "test_cnn_params_random_stacks"):
        with pytest.raises(AssertionError):
            nbg.run_test_cell(A, gid, cnn_params=_no_bias)


def test_the_value_scan_catches_numbers_printed_before_their_answer(tmp_path: Path):
    # the background table the notebook had before: 18 and 27 weights, before the question
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("| 5x5 | 5x5 = 25 | 3x3 x 2 層 = 18 |\n| 7x7 | 7x7 = 49 | 3x3 x 3 層 = 27 |"),
        nbformat.v4.new_markdown_cell("## 課題 B2-2-1 (8 点)"),
        nbformat.v4.new_code_cell("weights_per_channel_pair = ...", metadata={"nbgrader": {"grade_id": "weights_per_channel_pair"}}),
    ]
    release = tmp_path / "B2-2.ipynb"
    nbformat.write(nb, release)
    graded = nbg.Graded(A, tmp_path, release, {})
    with pytest.raises(AssertionError, match="27"):
        nbg.assert_no_value_before_answer(graded, {"weights_per_channel_pair": ("18", "27")})
    nbg.assert_no_value_before_answer(graded, {"weights_per_channel_pair": ("36",)})
