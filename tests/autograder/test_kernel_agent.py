"""The agent in the student's kernel, without a kernel: what it exports, how it calls a
student function, and how serve() talks over input()."""

from __future__ import annotations

import builtins
import json

import numpy as np
import pytest

from autograder import kernel_agent, plain_data
from autograder.kernel_agent import _Session
from autograder.plain_data import PlainDataError, decode, encode


class AlwaysEqualInt(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


class WrongSizeError(Exception):
    pass


def add(a, b):
    return a + b


def describe(*args, **kwargs):
    """What arrived, as plain values."""
    return [type(a).__name__ for a in args] + sorted(f"{k}={type(v).__name__}" for k, v in kwargs.items())


def raise_value_error(size):
    raise ValueError(f"size {size} is not allowed")


def raise_own_error():
    raise WrongSizeError("サイズが違います")


def forged():
    return AlwaysEqualInt(0)


def apply(function, value):
    return function(value)


def double(x):
    return 2 * x


class UnprintableError(Exception):
    def __str__(self):
        raise RuntimeError("no text")


def raise_unprintable():
    raise UnprintableError()


def interrupted():
    raise KeyboardInterrupt


def wire(message: dict) -> dict:
    """A message as it travels: JSON text and back."""
    return json.loads(json.dumps(message))


@pytest.fixture
def session():
    namespace = {
        "n_params": 262656, "weights": [np.ones((2, 3), np.float32), np.zeros(3)], "shape": (28, 28),
        "add": add, "describe": describe, "raise_value_error": raise_value_error, "raise_own_error": raise_own_error,
        "forged": forged, "apply": apply, "double": double, "raise_unprintable": raise_unprintable, "interrupted": interrupted,
        "forged_value": AlwaysEqualInt(3),
    }
    return _Session(namespace)


def export(session: _Session, *names) -> dict:
    return wire(session.answer({"op": "export", "names": list(names)}))["values"]


def call(session: _Session, function: str, *args, **kwargs) -> dict:
    """Export ``function``, then call the reference the export gave."""
    ref = export(session, function)[function]["ref"]
    return wire(session.answer({"op": "call", "ref": ref, "args": encode(list(args)), "kwargs": encode(kwargs)}))


# --------------------------------------------------------------------------- export


def test_export_sends_values_as_plain_data():
    values = export(_Session({"n_params": 262656, "shape": (28, 28), "weights": [np.ones((2, 3), np.float32)]}), "n_params", "shape", "weights")
    assert decode(values["n_params"]) == 262656
    assert decode(values["shape"]) == (28, 28)
    [w] = decode(values["weights"])
    assert type(w) is np.ndarray and w.dtype == np.float32 and w.shape == (2, 3)


def test_export_omits_names_the_student_did_not_bind(session):
    assert set(export(session, "n_params", "softmax")) == {"n_params"}


def test_export_ignores_names_that_are_not_strings(session):
    assert set(wire(session.answer({"op": "export", "names": [3, None, ["n_params"], "n_params"]}))["values"]) == {"n_params"}


def test_export_turns_functions_into_numbered_references(session):
    values = export(session, "add", "describe")
    assert values["add"] == {"t": "function", "ref": 0, "name": "add"}
    assert values["describe"] == {"t": "function", "ref": 1, "name": "describe"}


def test_export_marks_a_value_that_is_not_plain_with_its_type(session):
    marker = export(session, "forged_value")["forged_value"]
    assert marker["t"] == "notplain" and marker["type"].endswith("AlwaysEqualInt")


def test_export_marks_a_self_containing_list_instead_of_failing():
    loop: list = []
    loop.append(loop)
    values = export(_Session({"loop": loop, "ok": 1}), "loop", "ok")
    assert values["loop"]["t"] == "notplain" and "nest" in values["loop"]["why"]
    assert decode(values["ok"]) == 1


# --------------------------------------------------------------------------- call


def test_call_returns_the_functions_value_as_plain_data(session):
    assert decode(call(session, "add", 2, 3)["value"]) == 5
    assert decode(call(session, "add", np.arange(3), np.ones(3))["value"]).tolist() == [1.0, 2.0, 3.0]


def test_call_decodes_arguments_to_the_plain_types_they_were(session):
    answer = call(session, "describe", (1, 2), [3], np.float32(1.5), np.zeros(2), None, scale=2.0, label="x")
    assert decode(answer["value"]) == ["tuple", "list", "float32", "ndarray", "NoneType", "label=str", "scale=float"]


def test_call_resolves_function_references_among_the_arguments(session):
    ref_double = export(session, "double")["double"]["ref"]
    ref_apply = export(session, "apply")["apply"]["ref"]
    args = {"t": "list", "v": [{"t": "function", "ref": ref_double}, encode(4)]}
    answer = session.answer({"op": "call", "ref": ref_apply, "args": args, "kwargs": encode({})})
    assert decode(answer["value"]) == 8


def test_call_reports_the_exception_type_and_message(session):
    assert call(session, "raise_value_error", 5) == {"raised": {"type": "ValueError", "message": "size 5 is not allowed"}}
    assert call(session, "raise_own_error") == {"raised": {"type": "WrongSizeError", "message": "サイズが違います"}}


def test_call_reports_an_exception_whose_text_fails_with_an_empty_message(session):
    assert call(session, "raise_unprintable") == {"raised": {"type": "UnprintableError", "message": ""}}


def test_call_reports_a_keyboard_interrupt_as_interrupted(session):
    assert call(session, "interrupted") == {"interrupted": True}


def test_call_marks_a_result_that_is_not_plain(session):
    value = call(session, "forged")["value"]
    assert value["t"] == "notplain" and value["type"].endswith("AlwaysEqualInt")


@pytest.mark.parametrize("ref", [5, -1, "0", True, None])
def test_call_of_an_unknown_reference_is_refused(session, ref):
    export(session, "add")
    with pytest.raises(PlainDataError, match="unknown reference"):
        session.answer({"op": "call", "ref": ref, "args": encode([1, 2]), "kwargs": encode({})})


def test_call_with_arguments_that_are_not_plain_data_is_refused(session):
    export(session, "add")
    with pytest.raises(PlainDataError):
        session.answer({"op": "call", "ref": 0, "args": [1, 2], "kwargs": encode({})})


def test_an_unknown_request_is_answered_with_an_error(session):
    assert session.answer({"op": "exec", "code": "import os"}) == {"error": "unknown request 'exec'"}


# --------------------------------------------------------------------------- Keras models


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


def test_export_sends_a_keras_model_as_its_config_and_weight_shapes(keras):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(2)])
    data = export(_Session({"model": model}), "model")["model"]
    assert set(data) == {"t", "config", "weights"} and data["t"] == "model"
    assert data["weights"] == [[4, 3], [3], [3, 2], [2]]
    config = json.loads(data["config"])
    assert config["class_name"] == "Sequential"
    assert [layer["class_name"] for layer in config["config"]["layers"]] == ["InputLayer", "Dense", "Dense"]


def test_a_function_returning_a_model_sends_the_model(keras):
    def build():
        return keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])

    session = _Session({"build": build})
    value = call(session, "build")["value"]
    assert value["t"] == "model" and value["weights"] == [[2, 1], [1]]


def test_a_model_with_a_layer_class_of_its_own_is_sent_as_foreign_without_its_config(keras):
    class Holder(keras.layers.Layer):
        def __init__(self, thing, **kwargs):
            super().__init__(**kwargs)
            self.thing = thing

        def call(self, inputs):
            return inputs

    model = keras.Sequential([keras.Input((4,)), Holder(object()), keras.layers.Dense(2)])
    marker = export(_Session({"model": model}), "model")["model"]
    assert marker["t"] == "model" and marker["config"] == "" and marker["foreign"].endswith("Holder")


def test_a_subclass_of_a_standard_layer_that_borrows_its_name_is_foreign(keras):
    class Conv2D(keras.layers.Conv2D):  # noqa: N801 - named like Keras' own on purpose
        pass

    model = keras.Sequential([keras.Input((8, 8, 1)), Conv2D(2, 3)])
    marker = export(_Session({"model": model}), "model")["model"]
    assert marker["foreign"].endswith("Conv2D") and not marker["foreign"].startswith("keras.layers")


def test_a_model_config_over_the_size_limit_is_marked_not_plain(keras, monkeypatch):
    monkeypatch.setattr(kernel_agent, "MAX_MODEL_CONFIG", 100)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    marker = export(_Session({"model": model}), "model")["model"]
    assert marker["t"] == "notplain" and "too large" in marker["why"]


# --------------------------------------------------------------------------- serve over input()


def run_serve(monkeypatch, namespace: dict, requests: list[str]) -> list[dict]:
    """serve() with input() answered from ``requests``; the prompts it showed, parsed."""
    prompts: list[dict] = []
    pending = iter(requests)

    def fake_input(prompt=""):
        prompts.append(json.loads(prompt))
        return next(pending)

    monkeypatch.setattr(builtins, "input", fake_input)
    kernel_agent.serve(namespace)
    return prompts


def test_serve_says_ready_answers_each_request_in_the_next_prompt_and_ends_on_done(monkeypatch):
    requests = [json.dumps({"op": "export", "names": ["x"]}), json.dumps({"op": "call", "ref": 0, "args": encode([2, 3]), "kwargs": encode({})}),
                json.dumps({"op": "done"})]
    prompts = run_serve(monkeypatch, {"x": add}, requests)
    assert prompts[0] == {"op": "ready"}
    assert prompts[1] == {"values": {"x": {"t": "function", "ref": 0, "name": "add"}}}
    assert decode(prompts[2]["value"]) == 5
    assert len(prompts) == 3


def test_serve_answers_a_bad_request_with_an_error_and_goes_on(monkeypatch):
    requests = [json.dumps({"op": "call", "ref": 7, "args": encode([]), "kwargs": encode({})}), json.dumps({"op": "nothing"}),
                json.dumps({"op": "export", "names": ["x"]}), json.dumps({"op": "done"})]
    prompts = run_serve(monkeypatch, {"x": 1}, requests)
    assert prompts[1]["error"].startswith("PlainDataError")
    assert prompts[2] == {"error": "unknown request 'nothing'"}
    assert decode(prompts[3]["values"]["x"]) == 1


def test_serve_ends_on_a_request_that_is_not_an_object(monkeypatch):
    prompts = run_serve(monkeypatch, {}, ["[1, 2]", json.dumps({"op": "done"})])
    assert prompts == [{"op": "ready"}]


def test_serve_answers_an_interrupt_while_waiting_with_interrupted(monkeypatch):
    answers = iter([KeyboardInterrupt, json.dumps({"op": "done"})])
    prompts: list[dict] = []

    def fake_input(prompt=""):
        prompts.append(json.loads(prompt))
        answer = next(answers)
        if answer is KeyboardInterrupt:
            raise KeyboardInterrupt
        return answer

    monkeypatch.setattr(builtins, "input", fake_input)
    kernel_agent.serve({})
    assert prompts == [{"op": "ready"}, {"interrupted": True}]


def test_serve_sends_only_strict_json_even_for_nan(monkeypatch):
    run = run_serve(monkeypatch, {"x": float("nan")}, [json.dumps({"op": "export", "names": ["x"]}), json.dumps({"op": "done"})])
    assert plain_data.decode(run[1]["values"]["x"]) != plain_data.decode(run[1]["values"]["x"])  # nan, carried as text
    json.dumps(run[1], allow_nan=False)
