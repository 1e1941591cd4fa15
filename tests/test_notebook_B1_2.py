"""B1-2 "ドロップアウトと過学習": the source notebook grades as intended under nbgrader.

One module-scoped fixture builds a throw-away course, generates the release and runs three
autogrades (the solution, the untouched release, a submission with plausible wrong answers).
Other wrong answers are checked by running the test cells' code (hidden parts included)
in this process, without another autograde.
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import nbformat
import numpy as np
import pytest

from nbgrading import (
    auto_points,
    autograde,
    autograded_notebook,
    cell_by_grade_id,
    errors,
    generate,
    make_course,
    source_notebook,
    with_answers,
)

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
    course = make_course(tmp_path_factory.mktemp("course"), (ASSIGNMENT,))
    release = generate(course, ASSIGNMENT)
    wrong = with_answers(source_notebook(ASSIGNMENT), WRONG_ANSWERS)
    scores = {
        "solution": autograde(course, ASSIGNMENT, "solution", source_notebook(ASSIGNMENT)),
        "untouched": autograde(course, ASSIGNMENT, "untouched", release),
        "wrong": autograde(course, ASSIGNMENT, "wrong", wrong),
    }
    return SimpleNamespace(course=course, release=release, scores=scores)


def _source() -> nbformat.NotebookNode:
    return nbformat.read(source_notebook(ASSIGNMENT), as_version=4)


def _auto(scores: dict[str, tuple[float, float]]) -> dict[str, float]:
    return {gid: scores[gid][0] for gid in TEST_IDS}


def _hidden_blocks(nb: nbformat.NotebookNode) -> list[str]:
    found = []
    for cell in nb.cells:
        found += re.findall(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", cell.source, re.S)
    return found


def _run_test_cells(namespace: dict, grade_ids: list[str]) -> dict[str, bool]:
    """Run the source test cells (hidden parts included) in ``namespace``: passed or not."""
    nb = _source()
    passed = {}
    for gid in grade_ids:
        try:
            exec(cell_by_grade_id(nb, gid).source, namespace)
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
    raw = json.loads(source_notebook(ASSIGNMENT).read_text(encoding="utf-8"))
    assert raw["nbformat"] == 4
    assert raw["metadata"]["kernelspec"] == {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    code = [c for c in raw["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)


def test_source_notebook_declares_11_autograded_points_plus_3_manual():
    nb = _source()
    assert auto_points(nb) == {gid: float(p) for gid, p in TEST_IDS.items()}
    assert cell_by_grade_id(nb, "discussion_answer").metadata["nbgrader"]["points"] == 3


def test_part_headings_carry_the_points_of_their_cells():
    nb = _source()
    parts: dict[str, list] = {}
    current = None
    for cell in nb.cells:
        heading = re.match(r"## (.*)", cell.source) if cell.cell_type == "markdown" else None
        if heading:
            current = heading.group(1)
            parts[current] = []
        meta = cell.metadata.get("nbgrader", {})
        if current and meta.get("grade"):
            parts[current].append(meta["points"])
    graded = {h: sum(p) for h, p in parts.items() if h.startswith("課題")}
    assert graded == {
        "課題 B1-2-1 ドロップアウト付き MLP (4 点)": 4,
        "課題 B1-2-2 ドロップアウトとパラメータ数 (1 点)": 1,
        "課題 B1-2-3 最良のドロップアウト率を選ぶ (3 点)": 3,
        "課題 B1-2-4 考察 (3 点)": 3,
    }
    assert all(not p for h, p in parts.items() if not h.startswith("課題"))


# --------------------------------------------------------------------- autograding


def test_solution_gets_full_points_on_every_autograded_test(graded):
    assert _auto(graded.scores["solution"]) == {gid: float(p) for gid, p in TEST_IDS.items()}


def _discussion_grade(course, student: str) -> tuple[float | None, bool]:
    """(auto_score, needs_manual_grade) of the written answer; scores() reports 0 for both."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        grade = gb.find_grade("discussion_answer", ASSIGNMENT, ASSIGNMENT, student)
        return grade.auto_score, grade.needs_manual_grade


def test_solution_discussion_waits_for_manual_grading(graded):
    assert _discussion_grade(graded.course, "solution") == (None, True)


def test_solution_runs_without_errors_or_stderr_in_test_cells(graded):
    nb = autograded_notebook(graded.course, ASSIGNMENT, "solution")
    assert errors(nb) == []
    for gid in TEST_IDS:
        outputs = cell_by_grade_id(nb, gid).outputs
        assert not [o for o in outputs if o.get("name") == "stderr"], gid


def test_untouched_release_scores_0_on_every_test(graded):
    # Every test depends on an answer: the stubs raise NotImplementedError, so
    # model_p0/3/7, dropout_extra_params and best_rate never exist.
    assert _auto(graded.scores["untouched"]) == {gid: 0.0 for gid in TEST_IDS}
    # The unchanged written answer gets 0 at once, with no manual grading needed.
    assert _discussion_grade(graded.course, "untouched") == (0.0, False)


def test_hidden_tests_catch_hard_coded_rate_counted_mask_and_last_epoch_loss(graded):
    scores = _auto(graded.scores["wrong"])
    # Dropout(0.3) hard-coded, 1024 "parameters", last-epoch val_loss: hidden parts fail ...
    assert [gid for gid, s in scores.items() if s == 0] == [
        "test_dropout_mlp_layer_order_hidden",
        "test_dropout_adds_no_parameters",
        "test_best_rate_hidden",
    ]
    # ... while the visible checks the wrong answers happen to pass still pass.
    assert scores["test_dropout_mlp_rates_p3"] == 1
    assert scores["test_dropout_mlp_output_layer"] == 1
    assert scores["test_best_rate_small_example"] == 1


def test_release_has_no_solutions_hidden_tests_or_model_answer(graded):
    text = graded.release.read_text(encoding="utf-8")
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text
    release = nbformat.read(graded.release, as_version=4)
    release_source = "\n".join(c.source for c in release.cells)
    hidden_lines = {
        line.strip() for block in _hidden_blocks(_source()) for line in block.splitlines()
    }
    hidden_lines = {line for line in hidden_lines if len(line) > 12}
    assert len(hidden_lines) > 20
    assert [line for line in hidden_lines if line in release_source] == []
    assert "解答例" not in release_source
    assert cell_by_grade_id(release, "discussion_answer").source == "ここに回答を書いてください。"


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
