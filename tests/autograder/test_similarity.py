"""Similarity: copied answers (also with renamed variables) rank first, independent correct answers do not."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import nbformat
import pytest

from autograder import similarity as sim

REPO = Path(__file__).resolve().parents[2]
STUB_BODY = "    # YOUR CODE HERE\n    raise NotImplementedError()"
STUB_TOP = "# YOUR CODE HERE\nraise NotImplementedError()"

# three students who solved B1-1 independently, each in their own way (s1001 is the demo's solution)
LOOPS = {
    "softmax": "    result = np.empty_like(np.asarray(z, dtype=float))\n    for row_index, row in enumerate(np.asarray(z, dtype=float)):\n        largest = row.max()\n        exps = np.exp(row - largest)\n        result[row_index] = exps / exps.sum()\n    return result",
    "dense_params": "    weights = n_in * n_out\n    biases = n_out\n    return weights + biases",
    "mlp_total_params": "layer_sizes = [784, 512, 512, 10]\nmlp_total_params = 0\nfor i in range(len(layer_sizes) - 1):\n    mlp_total_params += dense_params(layer_sizes[i], layer_sizes[i + 1])",
    "forward": "    activations = np.asarray(X, dtype=float)\n    pairs = list(zip(weights[0::2], weights[1::2]))\n    for index, (kernel, bias) in enumerate(pairs):\n        pre = activations @ kernel + bias\n        if index == len(pairs) - 1:\n            activations = softmax(pre)\n        else:\n            activations = np.where(pre > 0, pre, 0.0)\n    return activations",
}
COMPACT = {
    "softmax": "    z = np.asarray(z, dtype=np.float64)\n    m = np.max(z, axis=-1)[:, None]\n    ez = np.exp(z - m)\n    return ez / np.sum(ez, axis=-1)[:, None]",
    "dense_params": "    return (n_in + 1) * n_out",
    "mlp_total_params": "mlp_total_params = dense_params(784, 512) + dense_params(512, 512) + dense_params(512, 10)",
    "forward": "    out = X\n    layers = [(weights[j], weights[j + 1]) for j in range(0, len(weights), 2)]\n    *hidden, last = layers\n    for W, b in hidden:\n        out = np.clip(out @ W + b, 0, None)\n    W, b = last\n    return softmax(out @ W + b)",
}
# copied from LOOPS with comments and blank lines added
COPIED = {gid: code.replace("\n", "\n\n", 1) + "  # done" for gid, code in LOOPS.items()}
# copied from COMPACT with every variable renamed and spacing changed
RENAMED = {
    "softmax": "    logits = np.asarray(z, dtype = np.float64)\n    row_max = np.max(logits, axis=-1)[:, None]\n    exps = np.exp(logits - row_max)\n    return exps / np.sum(exps, axis=-1)[:, None]",
    "dense_params": "    return (n_in + 1)*n_out",
    "mlp_total_params": "mlp_total_params = (dense_params(784, 512)\n                    + dense_params(512, 512)\n                    + dense_params(512, 10))",
    "forward": "    act = X\n    params = [(weights[idx], weights[idx + 1]) for idx in range(0, len(weights), 2)]\n    *body, head = params\n    for kernel, bias in body:\n        act = np.clip(act @ kernel + bias, 0, None)\n    kernel, bias = head\n    return softmax(act @ kernel + bias)",
}
COPIED_PAIRS = [{"s2001", "s2003"}, {"s2002", "s2004"}]


def _answered(release, bodies: dict[str, str]):
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in bodies and cell.metadata["nbgrader"].get("solution"):
            cell.source = cell.source.replace(STUB_BODY, bodies[gid]) if STUB_BODY in cell.source else cell.source.replace(STUB_TOP, bodies[gid])
    return nb


@pytest.fixture(scope="module")
def release():
    return nbformat.read(REPO / "release" / "B1-1" / "B1-1.ipynb", as_version=4)


@pytest.fixture(scope="module")
def answers(release):
    """The demo class (a full and a half answer) extended with the students above."""
    demo = REPO / "demo" / "submissions" / "B1-1"
    notebooks = {s: nbformat.read(demo / f"{s}_B1-1.ipynb", as_version=4) for s in ("s1001", "s1002")}
    for student, bodies in {"s2001": COPIED, "s2002": RENAMED, "s2003": LOOPS, "s2004": COMPACT}.items():
        notebooks[student] = _answered(release, bodies)
    return sim.answers_from_notebooks(notebooks, release)


@pytest.mark.parametrize("method", list(sim.Method))
def test_both_copied_pairs_rank_first_and_independent_answers_far_below(answers, release, method):
    pairs = sim.compare(answers, sim.release_boilerplate(release), method)
    top = [{p.a, p.b} for p in pairs[:2]]
    assert sorted(map(sorted, top)) == sorted(map(sorted, COPIED_PAIRS))
    independent = [p for p in pairs if {p.a, p.b} not in COPIED_PAIRS and {p.a, p.b} != {"s1001", "s1002"}]
    assert max(p.score for p in independent) < 0.5 * min(p.score for p in pairs[:2])


def test_boilerplate_alone_makes_no_one_similar(release):
    stub = sim.answer_cells(release)
    pairs = sim.compare([sim.Answer("x", stub), sim.Answer("y", stub)], sim.release_boilerplate(release))
    assert pairs[0].score == 0.0


def test_release_lines_are_taken_out_of_the_answers(answers):
    code = {a.student: a for a in answers}["s2003"].cells["softmax"]
    assert code.startswith("    result = np.empty_like") and "Row-wise softmax" not in code


def test_renaming_identifiers_does_not_change_the_token_stream():
    assert sim.normalised_tokens("a = b + 1  # c") == sim.normalised_tokens("total = value + 2")
    assert sim.normalised_tokens("np.exp(x)") == ["V", ".", "exp", "(", "V", ")", ";"]


def test_outputs_rank_list_and_side_by_side_view(answers, release, tmp_path):
    pairs = sim.compare(answers, sim.release_boilerplate(release))
    paths = sim.write_outputs(pairs, answers, tmp_path, sim.release_boilerplate(release), top=3)
    rows = list(csv.DictReader(open(paths["csv"], encoding="utf-8")))
    assert len(rows) == 15 and rows[0]["rank"] == "1"
    assert json.loads(paths["json"].read_text())[0]["score"] == pytest.approx(pairs[0].score)
    page = paths["html"].read_text(encoding="utf-8")
    assert page.count('<section class="pair">') == 3 and "<mark>" in page
