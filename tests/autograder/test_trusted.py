"""The trusted judge: test cells run in the grader's own namespace, on plain data from the
student's kernel. The kernel is simulated in-process: a fake link hands each request, as
JSON, to the real kernel_agent._Session over a namespace of this file's "student code"."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest

from autograder import kernel_agent, plain_data, trusted
from autograder.agent_link import AgentError, CallTimeout, KernelHung
from autograder.cells import free_names, read_before_bound
from autograder.trusted import Judge, ModelNotRebuildable, check_standard_config, rebuild_model


class FakeLink:
    """The grader's link to a student's kernel, answered in-process by the real agent."""

    def __init__(self, namespace: dict[str, Any], *, calls_raise: Exception | None = None, export_raises: Exception | None = None) -> None:
        self.session = kernel_agent._Session(namespace)
        self.requests: list[dict] = []
        self.calls_raise = calls_raise
        self.export_raises = export_raises
        self.tamper: dict[str, Any] | None = None  # the next answer, replaced by a tampered kernel

    def ask(self, request: dict, timeout: float) -> dict:
        request = json.loads(json.dumps(request))
        self.requests.append(request)
        if request["op"] == "call" and self.calls_raise is not None:
            raise self.calls_raise
        if request["op"] == "export" and self.export_raises is not None:
            raise self.export_raises
        if self.tamper is not None:
            return self.tamper
        return json.loads(json.dumps(self.session.answer(request)))

    @property
    def exported(self) -> list[str]:
        return [name for r in self.requests if r["op"] == "export" for name in r["names"]]


@pytest.fixture(scope="module")
def judge():
    return Judge(["import numpy as np\nBATCH = 32"], cell_timeout=5)


def run(judge: Judge, code: str, namespace: dict[str, Any], **link: Any) -> tuple[trusted.Verdict, FakeLink]:
    fake = FakeLink(namespace, **link)
    return judge.judge(code, fake, set(namespace)), fake


def error(verdict: trusted.Verdict):
    [out] = [o for o in verdict.outputs if o.output_type == "error"]
    return out


# --------------------------------------------------------------------------- student code


def named(name: str, function):
    """``function`` as a student's ``def name(...)`` (the agent sends a function's own name)."""
    function.__name__ = function.__qualname__ = name
    return function


def dense_params(n_in, n_out):
    return n_in * n_out + n_out


def dense_params_no_bias(n_in, n_out):
    return n_in * n_out


class AlwaysEqual(int):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = int.__hash__


@functools.partial(named, "dense_params")
def dense_params_forged(n_in, n_out):
    return AlwaysEqual(0)


def forged_array_class():
    import numpy as np

    class AlwaysClose(np.ndarray):
        def __eq__(self, other):
            return np.ones(self.shape, dtype=bool)

    return AlwaysClose


def conv_output_size(width, kernel, stride, padding):
    if padding not in ("same", "valid"):
        raise ValueError(f"unknown padding {padding!r}")
    return (width - kernel) // stride + 1 if padding == "valid" else -(-width // stride)


def conv_output_size_key_error(width, kernel, stride, padding):
    raise KeyError(padding)


class PaddingError(Exception):
    pass


@functools.partial(named, "conv_output_size")
def conv_output_size_own_error(width, kernel, stride, padding):
    raise PaddingError("padding が不正です")


TEST_DENSE = '"""dense_params counts weights and biases."""\nassert dense_params(512, 512) == 262656, "dense_params(512, 512) の値が違います。バイアスを数えましたか。"'
TEST_PADDING = '''_raised = False
try:
    conv_output_size(28, 3, 1, "full")
except ValueError:
    _raised = True
assert _raised, "padding が same でも valid でもないときは ValueError を送出してください。"
assert conv_output_size(28, 3, 1, "valid") == 26, "valid の出力サイズが違います。"'''


# --------------------------------------------------------------------------- verdicts


def test_a_correct_answer_passes_with_no_output(judge):
    verdict, _ = run(judge, TEST_DENSE, {"dense_params": dense_params})
    assert verdict.passed and verdict.outputs == [] and verdict.reason == "" and not verdict.kernel_hung


def test_a_wrong_answer_fails_with_the_tests_japanese_message_and_line(judge):
    verdict, _ = run(judge, TEST_DENSE, {"dense_params": dense_params_no_bias})
    assert not verdict.passed
    out = error(verdict)
    assert out.ename == "AssertionError"
    assert out.evalue == "dense_params(512, 512) の値が違います。バイアスを数えましたか。"
    assert out.traceback[:2] == ["テストのセル 2 行目:", "---> " + TEST_DENSE.splitlines()[1]]
    assert verdict.reason.startswith("AssertionError: dense_params(512, 512)")


def test_what_the_test_prints_is_kept_as_its_output(judge):
    verdict, _ = run(judge, "print('確認', dense_params(1, 1))", {"dense_params": dense_params})
    assert verdict.passed
    assert [(o.output_type, o.name, o.text) for o in verdict.outputs] == [("stream", "stdout", "確認 2\n")]


def test_an_int_subclass_with_forged_eq_returned_by_a_function_fails_as_not_plain(judge):
    verdict, _ = run(judge, TEST_DENSE, {"dense_params": dense_params_forged})
    out = error(verdict)
    assert not verdict.passed and out.ename == "NotPlainValue"
    assert "dense_params(...) の戻り値 は採点で受け渡せる値ではありません" in out.evalue
    assert "AlwaysEqual" in out.evalue


def test_an_int_subclass_with_forged_eq_stored_as_a_value_fails_as_not_plain(judge):
    verdict, _ = run(judge, 'assert n_params == 262656, "パラメータ数が違います。"', {"n_params": AlwaysEqual(0)})
    out = error(verdict)
    assert not verdict.passed and out.ename == "NotPlainValue"
    assert out.evalue.startswith("n_params は採点で受け渡せる値ではありません (型: ") and "AlwaysEqual" in out.evalue


def test_an_ndarray_subclass_with_forged_eq_fails_as_not_plain_as_value_and_as_result(judge):
    import numpy as np

    forged = np.zeros(3).view(forged_array_class())
    code = 'assert (probs == np.array([0.2, 0.3, 0.5])).all(), "確率が違います。"'
    verdict, _ = run(judge, code, {"probs": forged})
    assert error(verdict).ename == "NotPlainValue" and "AlwaysClose" in error(verdict).evalue
    code = 'assert (softmax(np.zeros(3)) == np.full(3, 1 / 3)).all(), "確率が違います。"'
    verdict, _ = run(judge, code, {"softmax": lambda z: forged})
    assert error(verdict).ename == "NotPlainValue" and "AlwaysClose" in error(verdict).evalue


def test_a_student_value_error_reaches_the_test_as_value_error(judge):
    verdict, _ = run(judge, TEST_PADDING, {"conv_output_size": conv_output_size})
    assert verdict.passed, verdict.reason


def test_a_student_key_error_is_not_caught_as_value_error(judge):
    verdict, _ = run(judge, TEST_PADDING, {"conv_output_size": conv_output_size_key_error})
    assert error(verdict).ename == "KeyError"


def test_a_student_exception_of_its_own_class_becomes_student_error(judge):
    verdict, _ = run(judge, TEST_PADDING, {"conv_output_size": conv_output_size_own_error})
    out = error(verdict)
    assert out.ename == "StudentError"
    assert out.evalue == "conv_output_size が例外 PaddingError を送出しました: padding が不正です"


def test_a_student_function_calling_sys_exit_fails_the_test_and_the_judge_goes_on(judge):
    def leave(*args):
        raise SystemExit(0)

    verdict, _ = run(judge, TEST_DENSE, {"dense_params": leave})
    assert error(verdict).ename == "StudentError" and "SystemExit" in error(verdict).evalue


def test_a_unicode_decode_error_of_the_student_is_not_turned_into_a_type_error(judge):
    def decode_bytes():
        return b"\xff".decode("utf-8")

    verdict, _ = run(judge, "decode_bytes()", {"decode_bytes": decode_bytes})
    assert error(verdict).ename in ("UnicodeDecodeError", "StudentError")


def test_a_student_function_passed_to_another_is_called_in_the_student_kernel(judge):
    code = 'assert apply(double, 4) == 8, "apply の値が違います。"'
    verdict, fake = run(judge, code, {"apply": lambda f, x: f(x), "double": lambda x: 2 * x})
    assert verdict.passed, verdict.reason
    assert [r["op"] for r in fake.requests] == ["export", "call"]


def test_a_value_the_test_cannot_send_fails_with_cannot_pass(judge):
    verdict, _ = run(judge, "dense_params(object(), 1)", {"dense_params": dense_params})
    assert error(verdict).ename == "CannotPass" and "object" in error(verdict).evalue


def test_a_name_the_student_did_not_bind_fails_with_name_error(judge):
    verdict, fake = run(judge, TEST_DENSE, {})
    assert error(verdict).ename == "NameError" and "dense_params" in error(verdict).evalue
    assert fake.exported == ["dense_params"]


# --------------------------------------------------------------------------- time limits and a stuck kernel


def test_a_call_past_its_time_limit_fails_with_student_call_timeout_and_later_calls_fail_fast(judge):
    code = "try:\n    dense_params(1, 1)\nexcept Exception:\n    pass\nassert dense_params(2, 2) == 6"
    verdict, fake = run(judge, code, {"dense_params": dense_params}, calls_raise=CallTimeout("no answer"))
    out = error(verdict)
    assert out.ename == "StudentCallTimeout"
    assert "dense_params の呼び出しが 5 秒以内に終わりませんでした" in out.evalue
    assert [r["op"] for r in fake.requests] == ["export", "call"]  # the second call never reached the kernel
    assert not verdict.kernel_hung


def test_a_kernel_that_ignores_the_interrupt_marks_the_verdict_kernel_hung(judge):
    verdict, _ = run(judge, TEST_DENSE, {"dense_params": dense_params}, calls_raise=KernelHung("ignored"))
    assert not verdict.passed and verdict.kernel_hung
    assert error(verdict).ename == "StudentCallTimeout" and "中断にも応じませんでした" in error(verdict).evalue


def test_a_hung_kernel_fails_the_test_even_when_the_test_catches_exceptions(judge):
    code = "try:\n    dense_params(1, 1)\nexcept Exception:\n    pass"
    verdict, _ = run(judge, code, {"dense_params": dense_params}, calls_raise=KernelHung("ignored"))
    assert not verdict.passed and verdict.kernel_hung and error(verdict).ename == "StudentCallTimeout"


def test_a_test_expecting_an_exception_is_not_passed_by_a_value_that_is_not_plain(judge):
    class Forged(int):
        def __eq__(self, other):
            return True

    code = "_raised = False\ntry:\n    dense_params(1, 1)\nexcept Exception:\n    _raised = True\nassert _raised"
    verdict, _ = run(judge, code, {"dense_params": lambda a, b: Forged(0)})
    assert not verdict.passed and error(verdict).ename == "NotPlainValue"


def test_an_agent_that_breaks_during_a_call_fails_with_student_kernel_error(judge):
    verdict, _ = run(judge, TEST_DENSE, {"dense_params": dense_params}, calls_raise=AgentError("the agent ended"))
    assert error(verdict).ename == "StudentKernelError" and "the agent ended" in error(verdict).evalue


def test_an_export_past_its_time_limit_fails_with_student_call_timeout(judge):
    verdict, _ = run(judge, TEST_DENSE, {"dense_params": dense_params}, export_raises=CallTimeout())
    assert error(verdict).ename == "StudentCallTimeout" and "dense_params" in error(verdict).evalue


def test_without_a_kernel_a_test_reading_student_names_fails(judge):
    verdict = judge.judge(TEST_DENSE, None, {"dense_params"})
    assert not verdict.passed and error(verdict).ename == "NameError"


# --------------------------------------------------------------------------- what is fetched


def test_names_the_setup_binds_and_builtins_are_never_fetched(judge):
    code = "assert len(softmax(np.zeros((BATCH, 3)))) == BATCH, '行数が違います。'"
    verdict, fake = run(judge, code, {"softmax": lambda z: z})
    assert verdict.passed, verdict.reason
    assert fake.exported == ["softmax"]


def test_numpy_in_a_test_is_the_judges_own_even_if_the_student_rebinds_np(judge):
    class FakeNumpy:
        @staticmethod
        def allclose(*args, **kwargs):
            return True

    code = 'assert np.allclose(softmax([0.0, 0.0]), [0.5, 0.5]), "ソフトマックスの値が違います。"'
    verdict, fake = run(judge, code, {"np": FakeNumpy(), "softmax": lambda z: [9.0, 9.0]})
    assert error(verdict).ename == "AssertionError"
    assert "np" not in fake.exported


def test_a_test_that_reads_then_rebinds_a_student_name_fetches_it(judge):
    code = "weights = [w * 2 for w in weights]\nassert weights == [2, 4], 'weights が違います。'"
    fake = FakeLink({"weights": [1, 2]})
    verdict = judge.judge(code, fake, {"weights"})
    assert verdict.passed, verdict.reason
    assert fake.exported == ["weights"]


def test_a_name_only_the_test_binds_is_not_fetched(judge):
    code = "p_check = dense_params(1, 1)\nassert p_check == 2"
    fake = FakeLink({"dense_params": dense_params, "p_check": 99})
    verdict = judge.judge(code, fake, {"dense_params"})
    assert verdict.passed and fake.exported == ["dense_params"]


def test_a_test_reading_no_student_name_asks_nothing(judge):
    verdict, fake = run(judge, "assert np.zeros(2).sum() == 0", {"x": 1})
    assert verdict.passed and fake.requests == []


def test_free_names_leave_out_what_the_cell_binds_and_builtins():
    code = "import math\n_x = [f(i) for i in range(n)]\ndef g(a):\n    return a + k\ntry:\n    pass\nexcept ValueError as e:\n    print(e)"
    assert free_names(code) == {"f", "n", "k"}
    assert read_before_bound("weights = weights[:2]\nlen(x)") == {"weights"}
    assert free_names("def broken(:") == set()


def test_a_setup_with_the_colab_only_install_runs_in_the_judge():
    setup = 'import sys\nif "google.colab" in sys.modules:\n    %pip install -q "dl-course @ git+https://example.invalid/x"\nimport numpy as np'
    verdict, fake = run(Judge([setup], cell_timeout=5), "assert np.ones(2).sum() == 2 and sys.version", {})
    assert verdict.passed and fake.requests == []


# --------------------------------------------------------------------------- tampered answers


@pytest.mark.parametrize("answer", [{"values": "x"}, {"error": "broken"}, {}], ids=["values-not-object", "error", "empty"])
def test_a_tampered_export_answer_fails_with_student_kernel_error(judge, answer):
    fake = FakeLink({"n_params": 262656})
    fake.tamper = answer
    verdict = judge.judge("assert n_params == 262656", fake, {"n_params"})
    assert not verdict.passed and error(verdict).ename == "StudentKernelError"


@pytest.mark.parametrize("answer", [{"value": {"t": "int"}}, {}, {"error": "TypeError: x"}, {"unexpected": 1}],
                         ids=["bad-value", "empty", "error", "unknown"])
def test_a_tampered_answer_to_a_call_fails_with_student_kernel_error(judge, answer):
    fake = FakeLink({"dense_params": dense_params})
    real = fake.session.answer

    def answer_of(request):
        return answer if request["op"] == "call" else real(request)

    fake.session.answer = answer_of
    verdict = judge.judge(TEST_DENSE, fake, {"dense_params"})
    assert not verdict.passed and error(verdict).ename == "StudentKernelError"


TAMPERED_VALUES = {
    "int not a string": {"t": "int", "v": 262656},
    "unknown tag": {"t": "pickle", "v": "..."},
    "bool as int": {"t": "bool", "v": 1},
    "array bytes not matching": {"t": "ndarray", "dtype": "<i8", "shape": [2], "data": "AAAAAAAAAAA="},
    "object array": {"t": "ndarray", "dtype": "|O", "shape": [1], "data": "AAAAAAAAAAA="},
    "model config not JSON": {"t": "model", "config": "{", "weights": []},
    "model config not a string": {"t": "model", "config": {"class_name": "Sequential"}, "weights": []},
    "function ref not an int": {"t": "function", "ref": "0", "name": "f"},
    "marker of a forged type": {"t": "notplain", "type": "AlwaysEqual", "why": ""},
}


@pytest.mark.parametrize("data", list(TAMPERED_VALUES.values()), ids=list(TAMPERED_VALUES))
def test_a_tampered_value_never_passes_and_names_the_value(judge, data):
    fake = FakeLink({})
    fake.tamper = {"values": {"n_params": data}}
    verdict = judge.judge('assert n_params == 262656, "パラメータ数が違います。"', fake, {"n_params"})
    assert not verdict.passed
    assert error(verdict).ename == "NotPlainValue" and "n_params" in error(verdict).evalue


@pytest.mark.parametrize("data", [{"t": "model", "config": "[" * 100_000 + "]" * 100_000, "weights": []},
                                  {"t": "ndarray", "dtype": "<f8", "shape": [2**62, 0], "data": ""}],
                         ids=["deeply-nested-model-config", "huge-empty-array"])
def test_a_tampered_value_that_breaks_a_parser_fails_the_test_instead_of_the_judge(judge, data):
    fake = FakeLink({})
    fake.tamper = {"values": {"n_params": data}}
    verdict = judge.judge("assert n_params == 262656", fake, {"n_params"})
    assert not verdict.passed


# --------------------------------------------------------------------------- Keras models


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


@pytest.fixture(scope="module")
def keras_judge(keras):
    return Judge(["import numpy as np\nimport keras"], cell_timeout=5)


def rebuilt(model):
    """A student model as the judge sees it: exported, sent as JSON, resolved by the judge."""
    data = json.loads(json.dumps(kernel_agent._Session({"model": model}).export(["model"])))["values"]["model"]
    return plain_data.decode(data, trusted._Call(None, 5, 5).resolve)


def sequential_cnn(keras):
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(6, (5, 5), padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(16, 5, activation="tanh", kernel_regularizer=keras.regularizers.l2(1e-4)),
        keras.layers.BatchNormalization(),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.25),
        keras.layers.Dense(10, activation="softmax", kernel_initializer="he_normal"),
    ])


def functional_cnn(keras):
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(8, 3, activation="relu")(inputs)
    x = keras.layers.AveragePooling2D(pool_size=2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(32)(x)
    x = keras.layers.Activation("relu")(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="student_cnn")


def layer_summary(model):
    configs = []
    for layer in model.layers:
        config = layer.get_config()
        config.pop("name", None)
        configs.append((type(layer), config))
    return configs


@pytest.mark.parametrize("build", [sequential_cnn, functional_cnn], ids=["sequential", "functional"])
def test_a_student_model_is_rebuilt_with_the_same_layers_settings_and_weight_shapes(keras, build):
    model = build(keras)
    copy = rebuilt(model)
    assert copy is not model and isinstance(copy, keras.Model) and type(copy) is type(model)
    assert layer_summary(copy) == layer_summary(model)
    assert [tuple(w.shape) for w in copy.weights] == [tuple(w.shape) for w in model.weights]
    assert copy.input_shape == model.input_shape
    assert copy.count_params() == model.count_params()


def test_a_test_reading_a_student_model_passes_on_the_rebuilt_model(keras, keras_judge):
    code = ('_kinds = [type(layer).__name__ for layer in model.layers]\n'
            'assert _kinds == ["Conv2D", "MaxPooling2D", "Conv2D", "BatchNormalization", "Flatten", "Dropout", "Dense"], "層の並びが違います。"\n'
            'assert model.layers[0].kernel_size == (5, 5) and model.layers[0].padding == "same", "1 層目の設定が違います。"\n'
            'assert model.count_params() == 18646, "パラメータ数が違います。"')
    verdict = keras_judge.judge(code, FakeLink({"model": sequential_cnn(keras)}), {"model"})
    assert verdict.passed, verdict.reason


def test_a_compiled_student_model_is_rebuilt(keras):
    model = sequential_cnn(keras)
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    assert rebuilt(model).count_params() == model.count_params()


def lambda_model(keras):
    return keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda z: z * 2), keras.layers.Dense(2)])


def custom_layer_model(keras):
    class Doubling(keras.layers.Layer):
        def call(self, inputs):
            return inputs * 2

    return keras.Sequential([keras.Input((4,)), Doubling(), keras.layers.Dense(2)])


@pytest.mark.parametrize("build, shown", [(lambda_model, "keras.layers.Lambda"), (custom_layer_model, "Doubling")],
                         ids=["lambda", "custom-layer"])
def test_a_model_with_a_lambda_or_custom_layer_fails_as_not_rebuildable(keras, keras_judge, build, shown):
    verdict = keras_judge.judge('assert model.count_params() == 10, "パラメータ数が違います。"', FakeLink({"model": build(keras)}), {"model"})
    out = error(verdict)
    assert not verdict.passed and out.ename == "NotPlainValue"
    assert out.evalue.startswith("model のモデル: ") and f"{shown} は採点側で組み立て直せません。" in out.evalue
    assert "keras.layers の標準の層だけで" in out.evalue


def test_a_function_returning_a_lambda_model_fails_as_not_rebuildable(keras, keras_judge):
    verdict = keras_judge.judge("build_model().count_params()", FakeLink({"build_model": lambda: lambda_model(keras)}), {"build_model"})
    assert error(verdict).ename == "ModelNotRebuildable" and "Lambda" in error(verdict).evalue


def test_rebuild_refuses_a_model_whose_weight_shapes_differ_from_the_students(keras):
    data = kernel_agent._Session({"model": sequential_cnn(keras)}).export(["model"])["values"]["model"]
    data["weights"][0] = [3, 3, 1, 6]
    with pytest.raises(ModelNotRebuildable, match="重みの形"):
        rebuild_model(data)


def standard_config(keras) -> dict:
    return json.loads(kernel_agent._Session({"m": sequential_cnn(keras)}).export(["m"])["values"]["m"]["config"])


def test_check_standard_config_accepts_the_config_of_standard_layers(keras):
    check_standard_config(standard_config(keras))


@pytest.mark.parametrize("node", [
    {"module": "os", "class_name": "system", "config": {"command": "rm -rf ~"}, "registered_name": None},
    {"module": "keras.layers", "class_name": "Dense", "config": {}, "registered_name": "Custom>Dense"},
    {"class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAA", "defaults": None, "closure": None}},
    {"module": None, "class_name": "Dense", "config": {}},
    {"module": "keras.layers", "class_name": "Layer", "config": {}},
    {"module": "builtins", "class_name": "function", "config": "eval", "registered_name": "function"},
    {"module": "keras.layers", "class_name": "Dense", "config": {}, "registered_name": 3},
], ids=["os-system", "registered-name", "lambda-code", "no-module", "base-layer", "builtin-function", "registered-name-not-string"])
def test_check_standard_config_refuses_anything_else_anywhere_in_the_config(keras, node):
    config = standard_config(keras)
    config["config"]["layers"][2]["config"]["kernel_initializer"] = node  # deep inside a layer
    with pytest.raises(ModelNotRebuildable, match="採点側で組み立て直せません"):
        check_standard_config(config)
    with pytest.raises(ModelNotRebuildable):
        rebuild_model({"config": json.dumps(config), "weights": []})


@pytest.mark.parametrize("node", [{"module": "keras.layers", "class_name": ["Dense"]}, {"module": ["keras.layers"], "class_name": "Dense"}],
                         ids=["class-name-a-list", "module-a-list"])
def test_check_standard_config_refuses_names_that_are_not_strings(keras, node):
    with pytest.raises(ModelNotRebuildable):
        check_standard_config({"module": "keras", "class_name": "Sequential", "config": {"layers": [node]}})
