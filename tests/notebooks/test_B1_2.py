"""B1-2 "ドロップアウトと過学習": the cases of its own, beyond tests/notebooks/test_contract.py.

Further wrong answers run the test cells' code (hidden parts included) in this process,
without another autograde.
"""

from __future__ import annotations

import numpy as np
import pytest
from spec import B1_2

import nbgrading as nbg

pytestmark = pytest.mark.slow

ASSIGNMENT = "B1-2"
BEST_RATE_LAST_EPOCH = B1_2.wrong["best_rate"]

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


def test_part_headings_name_the_four_parts():
    headings = nbg.assert_heading_points(ASSIGNMENT, B1_2.headings)
    assert list(headings.values()) == [
        "課題 B1-2-1 ドロップアウト付き MLP (4 点)",
        "課題 B1-2-2 ドロップアウトとパラメータ数 (1 点)",
        "課題 B1-2-3 最良のドロップアウト率を選ぶ (3 点)",
        "課題 B1-2-4 考察 (3 点)",
    ]


DROPOUT_OMITTED_AT_RATE_ZERO = '''
def build_dropout_mlp(rate):
    hidden = []
    for _ in range(2):
        hidden.append(layers.Dense(512, activation="relu"))
        if rate:
            hidden.append(layers.Dropout(rate))
    return keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(), *hidden, layers.Dense(10, activation="softmax")])
'''


def test_a_model_without_dropout_layers_at_rate_zero_passes_every_model_test():
    passed = _run_test_cells(_models_from(DROPOUT_OMITTED_AT_RATE_ZERO), MODEL_TESTS)
    assert passed == dict.fromkeys(MODEL_TESTS, True)
