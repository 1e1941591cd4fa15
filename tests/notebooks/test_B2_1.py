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
    _run_with_solution(BATCH_RANGES_TEST, ["batch_ranges"])
    _run_with_solution(BATCHED_TEST, BATCHED_ANSWERS)


# --------------------------------------------------------------------------- batches under a byte limit

BATCH_RANGES_TEST = "test_batch_ranges_cover_images_under_limit"
BATCHED_TEST = "test_conv2d_batched_values_and_limit"
BATCHED_ANSWERS = ["im2col", "conv2d_im2col", "im2col_bytes", "batch_ranges", "conv2d_batched"]


def _answers(*grade_ids: str) -> list[str]:
    return [nbg.cell_source(A, "conv_output_size"), *(nbg.cell_source(A, g) for g in grade_ids)]


def _batch_ranges_below_the_limit(n_images, image_bytes, max_bytes):
    """A batch kept strictly under max_bytes: one image fewer whenever the limit is an exact multiple."""
    per_batch = (max_bytes - 1) // image_bytes
    if per_batch < 1:
        raise ValueError("one image does not fit")
    return [(start, min(start + per_batch, n_images)) for start in range(0, n_images, per_batch)]


def _batch_ranges_last_batch_overruns(n_images, image_bytes, max_bytes):
    """The last stop not clipped to n_images."""
    per_batch = max_bytes // image_bytes
    if per_batch < 1:
        raise ValueError("one image does not fit")
    return [(start, start + per_batch) for start in range(0, n_images, per_batch)]


def _batch_ranges_as_lists(n_images, image_bytes, max_bytes):
    """Pairs as lists, computed with a while loop."""
    fit = max_bytes // image_bytes
    if not fit:
        raise ValueError("one image does not fit")
    out, start = [], 0
    while start < n_images:
        out.append([start, min(start + fit, n_images)])
        start += fit
    return out


@pytest.mark.parametrize("wrong", [_batch_ranges_below_the_limit, _batch_ranges_last_batch_overruns])
def test_batch_ranges_test_rejects_off_by_one_batches_in_its_hidden_part(wrong):
    if wrong is _batch_ranges_below_the_limit:  # passes the visible example: 250 is no multiple of 100
        nbg.run_code(nbg.visible_part(A, BATCH_RANGES_TEST), batch_ranges=wrong)
    with pytest.raises(AssertionError):
        nbg.run_code(nbg.hidden_block(A, BATCH_RANGES_TEST), batch_ranges=wrong)


def test_batch_ranges_test_accepts_pairs_as_lists():
    nbg.run_test_cell(A, BATCH_RANGES_TEST, batch_ranges=_batch_ranges_as_lists)


# per-image bytes without the channel factor: batches three times too big for C = 3,
# and no ValueError for an image over the limit
_BATCHED_WITHOUT_CHANNELS = """
def conv2d_batched(x, kernel, bias, stride=1, padding="valid", max_bytes=256 * 2**20):
    per_image = im2col_bytes(1, x.shape[1], x.shape[2], 1, kernel.shape[0], stride, padding, x.dtype.itemsize)
    return np.concatenate([conv2d_im2col(x[a:b], kernel, bias, stride, padding) for a, b in batch_ranges(len(x), per_image, max_bytes)])
"""
_BATCHED_FLOAT32_ONLY = """
def conv2d_batched(x, kernel, bias, stride=1, padding="valid", max_bytes=256 * 2**20):
    per_image = im2col_bytes(1, x.shape[1], x.shape[2], x.shape[3], kernel.shape[0], stride, padding)
    return np.concatenate([conv2d_im2col(x[a:b], kernel, bias, stride, padding) for a, b in batch_ranges(len(x), per_image, max_bytes)])
"""


@pytest.mark.parametrize(
    "wrong, message", [(_BATCHED_WITHOUT_CHANNELS, "チャネル数"), (_BATCHED_FLOAT32_ONLY, "itemsize")], ids=["without-channels", "item-size-fixed-at-4"]
)
def test_batched_test_passes_the_visible_part_and_rejects_wrong_batch_sizes_in_its_hidden_part(wrong, message):
    answers = _answers("im2col", "conv2d_im2col", "im2col_bytes", "batch_ranges")
    nbg.run_code(*answers, wrong, nbg.visible_part(A, BATCHED_TEST))
    with pytest.raises(AssertionError, match=message):
        nbg.run_code(*answers, wrong, nbg.hidden_block(A, BATCHED_TEST))


def test_batched_test_rejects_images_lost_at_the_end_of_the_last_batch():
    drops_remainder = """
def conv2d_batched(x, kernel, bias, stride=1, padding="valid", max_bytes=256 * 2**20):
    per_image = im2col_bytes(1, x.shape[1], x.shape[2], x.shape[3], kernel.shape[0], stride, padding, x.dtype.itemsize)
    if per_image > max_bytes:
        raise ValueError("one image does not fit")
    batch = max_bytes // per_image
    return np.concatenate([conv2d_im2col(x[i : i + batch], kernel, bias, stride, padding) for i in range(0, len(x) - batch + 1, batch)])
"""
    with pytest.raises(AssertionError, match="出力の形"):
        nbg.run_code(*_answers("im2col", "conv2d_im2col", "im2col_bytes"), drops_remainder, nbg.hidden_block(A, BATCHED_TEST))


def _run_isolated(grade_id: str, answers: list[str]) -> None:
    """Run a test cell the way the trusted grader does: the answer cells in a namespace of
    their own (the student's kernel), the test cell in another that receives the answers'
    names; rebinding a name in the test cell cannot reach the answers' functions."""
    import numpy as np

    student = nbg.run_code(*_answers(*answers))
    trusted = {"np": np, **{name: value for name, value in student.items() if not name.startswith("__") and name != "np"}}
    exec(compile(nbg.cell_source(A, grade_id), grade_id, "exec"), trusted)


def test_batch_tests_pass_when_the_answers_run_apart_from_the_test_cell():
    _run_isolated(BATCH_RANGES_TEST, ["batch_ranges"])
    _run_isolated(BATCHED_TEST, BATCHED_ANSWERS)


def test_no_test_cell_rebinds_a_name_an_answer_cell_binds():
    """Student code runs in the student's kernel: a test cell's rebinding never reaches it."""
    import ast

    nb = nbg.read_source(A)
    answer_names: set[str] = set()
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution"):
            answer_names |= {n.name for n in ast.parse(cell.source).body if isinstance(n, ast.FunctionDef)}
            answer_names |= {t.id for n in ast.parse(cell.source).body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    rebound = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            tree = ast.parse(cell.source)
            stored = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del))}
            stored |= {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
            if stored & answer_names or any(isinstance(n, ast.Global) for n in ast.walk(tree)):
                rebound[meta["grade_id"]] = sorted(stored & answer_names)
    assert rebound == {}


def test_same_padding_puts_the_odd_pixel_at_the_bottom_right_as_keras_does():
    keras = pytest.importorskip("keras")
    ns = nbg.run_code(nbg.cell_source(A, "conv_output_size"), nbg.cell_source(A, "im2col"), nbg.cell_source(A, "conv2d_im2col"))
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 8, 7, 3)).astype("float32")
    conv = keras.layers.Conv2D(4, kernel_size=4, strides=3, padding="same")
    want = keras.ops.convert_to_numpy(conv(x))
    kernel, bias = conv.get_weights()
    assert np.allclose(ns["conv2d_im2col"](x, kernel, bias, 3, "same"), want, atol=1e-5)
