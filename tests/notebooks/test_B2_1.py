"""B2-1 "CNN (5x5 畳み込み) で MNIST を識別する": the cases of its own, beyond
tests/notebooks/test_contract.py. The other wrong answers named in the notebook's design
run the test cells directly in this process (pure functions, no kernel needed).
"""

from __future__ import annotations

import numpy as np
import pytest

import nbgrading as nbg

pytestmark = pytest.mark.slow

A = "B2-1"


def test_written_answer_is_a_manually_graded_markdown_cell_after_a_locked_prompt():
    nb = nbg.read_source(A)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    i = ids.index("discussion_variants")
    answer, prompt = nb.cells[i], nb.cells[i - 1]
    assert answer.cell_type == "markdown"
    assert answer.metadata.nbgrader["grade"] and answer.metadata.nbgrader["solution"]
    assert prompt.metadata.nbgrader["grade_id"] == "discussion_variants_prompt"
    assert prompt.metadata.nbgrader["locked"] and not prompt.metadata.nbgrader["grade"]


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



# --------------------------------------------------------------------------- im2col and its memory


def _run_with_solution(grade_id: str, answers: list[str], **names):
    """Run a test cell after the solution's answer cells ``answers`` (and the loop version)."""
    sources = [nbg.cell_source(A, "conv_output_size"), nbg.cell_source(A, "conv_params")]
    sources += [nbg.cell_source(A, a) for a in answers]
    loop = next(c.source for c in nbg.read_source(A).cells if c.source.startswith("x_small = np.zeros"))
    nbg.run_code(loop, *sources, nbg.cell_source(A, grade_id), **names)


def test_im2col_tests_pass_the_solution():
    _run_with_solution("test_im2col_patches", ["im2col"])
    _run_with_solution("test_conv2d_im2col_random_shapes", ["im2col", "conv2d_im2col"])
    _run_with_solution("test_im2col_bytes_random", ["im2col_bytes"])
    _run_with_solution("test_conv2d_batched_stays_under_limit", ["im2col", "conv2d_im2col", "im2col_bytes", "conv2d_batched"])


def test_batched_test_rejects_batches_sized_without_the_channels():
    # per-image bytes without the channel factor: batches three times too big for C = 3
    too_big = """
def conv2d_batched(x, kernel, bias, stride=1, padding="valid", max_bytes=256 * 2**20):
    per_image = im2col_bytes(1, x.shape[1], x.shape[2], 1, kernel.shape[0], stride, padding, x.dtype.itemsize)
    batch = max(max_bytes // per_image, 1)
    return np.concatenate([conv2d_im2col(x[i : i + batch], kernel, bias, stride, padding) for i in range(0, len(x), batch)])
"""
    with pytest.raises(AssertionError, match="max_bytes"):
        nbg.run_code(
            nbg.cell_source(A, "conv_output_size"),
            nbg.cell_source(A, "im2col"),
            nbg.cell_source(A, "conv2d_im2col"),
            nbg.cell_source(A, "im2col_bytes"),
            too_big,
            nbg.hidden_block(A, "test_conv2d_batched_stays_under_limit"),
        )


def test_same_padding_puts_the_odd_pixel_at_the_bottom_right_as_keras_does():
    keras = pytest.importorskip("keras")
    ns = nbg.run_code(nbg.cell_source(A, "conv_output_size"), nbg.cell_source(A, "im2col"), nbg.cell_source(A, "conv2d_im2col"))
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 8, 7, 3)).astype("float32")
    conv = keras.layers.Conv2D(4, kernel_size=4, strides=3, padding="same")
    want = keras.ops.convert_to_numpy(conv(x))
    kernel, bias = conv.get_weights()
    assert np.allclose(ns["conv2d_im2col"](x, kernel, bias, 3, "same"), want, atol=1e-5)
