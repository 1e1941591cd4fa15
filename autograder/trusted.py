"""Verdicts computed where no student code runs: the judge of every graded test cell.

The student's kernel executes the notebook as the student would; it never decides a
point. For each graded test cell, :class:`Judge` runs the instructor's test code in
the grading job's own process, in a namespace that holds what the notebook's locked
set-up cells bind (run here from the instructor's copy) and, for every other name the test
reads, the student's value moved out of the kernel as :mod:`.plain_data`:

* plain values and NumPy arrays are copied, with the grader's own types only;
* a Keras model is rebuilt here from its config with Keras' safe deserialisation, standard
  layers only (:func:`rebuild_model`); a ``Lambda`` or custom layer is refused;
* a student function becomes a proxy: calling it sends the (plain) arguments to the
  student's kernel, runs the function there under a time limit and brings the plain
  result back. Hidden inputs are therefore chosen here, and the comparison runs here.

Anything that does not cross fails the test with a message in Japanese saying why. The
verdict becomes the cell's outputs (an ``error`` output when it failed), which nbgrader
then scores as usual.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import io
import json
import time
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any

from nbformat.notebooknode import NotebookNode

from . import plain_data
from .agent_link import AgentError, AgentLink, CallTimeout, KernelDied, KernelHung
from .cells import free_names, read_before_bound

CELL_FILE = "<test cell>"

# --------------------------------------------------------------------------- failures a test shows


class JudgeFailure(BaseException):
    """Why the judge could not use a student's answer. Not an ``Exception``: a test's
    ``except Exception`` (or ``except ValueError``) must not turn it into a pass."""


class NotPlainValue(JudgeFailure):
    """A name the test reads, or a student function's result, is not plain data."""


class ModelNotRebuildable(JudgeFailure):
    """A Keras model that cannot be rebuilt from standard layers."""


class StudentCallTimeout(JudgeFailure):
    """A student function called by a test ran past its time limit."""


class StudentKernelError(JudgeFailure):
    """The student's kernel did not answer the grader's request properly."""


class StudentError(Exception):
    """A student function raised an exception that is not one of Python's own."""


class CannotPass(JudgeFailure):
    """A test passed something that is not plain data to a student function."""


PLAIN_TYPES_JA = "int・float・bool・str・None と list・tuple・dict、数値の NumPy 配列、標準の層だけでできた Keras モデル"


def not_plain_message(what: str, type_name: str, why: str = "") -> str:
    detail = f" ({why})" if why else ""
    return (
        f"{what} は採点で受け渡せる値ではありません (型: {type_name}){detail}。"
        f"採点では {PLAIN_TYPES_JA} だけを受け取ります。サブクラスや自作のクラスではなく、これらの型で返してください。"
    )


# --------------------------------------------------------------------------- what a test reads


def to_python(code: str) -> str:
    """A cell's code as plain Python (IPython magics become calls, as in a kernel)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(code)


# --------------------------------------------------------------------------- Keras models

_NOT_STANDARD = "は採点側で組み立て直せません。Lambda 層や自作の層・関数を使わず、keras.layers の標準の層だけでモデルを作ってください"
_SPECIAL_CLASSES = {"__keras_tensor__", "__tuple__", "__numpy__", "__tensor__"}
_REFUSED_LAYERS = {"Lambda", "TFSMLayer", "TorchModuleWrapper", "JaxLayer", "FlaxLayer", "Layer", "InputSpec"}


def _allowed_classes() -> dict[str | None, set[str]]:
    import inspect

    import keras

    def public(module: Any, base: type | None = None) -> set[str]:
        return {
            name for name, obj in vars(module).items()
            if not name.startswith("_") and inspect.isclass(obj) and (base is None or issubclass(obj, base))
        }

    return {
        "keras": {"Sequential", "Model", "DTypePolicy", "FloatDTypePolicy"},
        "keras.models": {"Sequential", "Model"},
        "keras.src.models.functional": {"Functional"},
        "keras.layers": public(keras.layers, keras.layers.Layer) - _REFUSED_LAYERS,
        "keras.initializers": public(keras.initializers),
        "keras.regularizers": public(keras.regularizers),
        "keras.constraints": public(keras.constraints),
        None: _SPECIAL_CLASSES,
    }


def check_standard_config(config: Any, allowed: dict[str | None, set[str]] | None = None) -> None:
    """Raise :class:`ModelNotRebuildable` unless every object in ``config`` is a standard Keras one."""
    allowed = allowed if allowed is not None else _allowed_classes()
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            if "class_name" in node:
                name, module = node.get("class_name"), node.get("module")
                if isinstance(name, str) and module is None and name in _SPECIAL_CLASSES:
                    pass
                elif not isinstance(name, str) or not isinstance(module, (str, type(None))) or name not in allowed.get(module, set()) or node.get("registered_name") not in (None, name):
                    shown = f"{module}.{name}" if module else str(name)
                    raise ModelNotRebuildable(f"{shown} {_NOT_STANDARD}")
            stack.extend(node.values())


def rebuild_model(data: dict) -> Any:
    """A Keras model from the config a student's kernel sent (standard layers only)."""
    import keras

    foreign = data.get("foreign")
    if foreign is not None:
        raise ModelNotRebuildable(f"{str(foreign)[:200]} {_NOT_STANDARD}")
    text, shapes = data.get("config"), data.get("weights")
    if type(text) is not str or type(shapes) is not list:
        raise plain_data.PlainDataError("not plain data: a bad model")
    try:
        config = json.loads(text)
    except (ValueError, RecursionError):
        raise plain_data.PlainDataError("not plain data: a model config that is not JSON") from None
    if isinstance(config, dict):
        config.pop("compile_config", None)  # the optimizer and loss: not needed to judge the architecture
    check_standard_config(config)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = keras.saving.deserialize_keras_object(config, safe_mode=True)
    except Exception as exc:
        raise ModelNotRebuildable(f"モデルを設定から組み立て直せませんでした ({type(exc).__name__}: {str(exc)[:300]})") from None
    if not isinstance(model, keras.Model):
        raise ModelNotRebuildable("Keras のモデルではありません")
    rebuilt = [[int(n) for n in weight.shape] for weight in model.weights]
    if rebuilt != shapes:
        raise ModelNotRebuildable("組み立て直したモデルの重みの形が、学生のカーネルにあるモデルと一致しません")
    return model


# --------------------------------------------------------------------------- the verdict


@dataclass
class Verdict:
    """What the judge decided for one test cell."""

    passed: bool
    outputs: list[NotebookNode] = field(default_factory=list)
    reason: str = ""  # the failure, one line ("" when passed)
    kernel_hung: bool = False  # a call ignored the interrupts: the kernel must be stopped
    timed_out: bool = False  # a call ran past its limit: running the test in the kernel would too


class _Stalled(Exception):
    pass


class _Call:
    """The proxies of one test cell: student functions called through the agent."""

    def __init__(self, link: AgentLink | None, budget: float, call_timeout: float) -> None:
        self.link = link
        self.deadline = time.monotonic() + budget
        self.call_timeout = call_timeout
        self.stalled: str | None = None
        self.hung: str | None = None
        self.timed_out = False
        self.proxies: dict[int, int] = {}  # id(proxy) -> ref
        self.models: dict[str, Any] = {}

    # references from the student's side -----------------------------------------

    def resolve(self, data: dict) -> Any:
        if data.get("t") == "model":
            key = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
            if key not in self.models:
                self.models[key] = rebuild_model(data)
            return self.models[key]
        ref, name = data.get("ref"), data.get("name")
        if type(ref) is not int or type(name) is not str:
            raise plain_data.PlainDataError("not plain data: a bad function reference")
        return self.proxy(ref, name)

    def proxy(self, ref: int, name: str) -> Any:
        call = self

        def student_function(*args: Any, **kwargs: Any) -> Any:
            return call.call(ref, name, args, kwargs)

        student_function.__name__ = student_function.__qualname__ = name
        student_function.__doc__ = f"The student's {name}, called in the student's kernel."
        self.proxies[id(student_function)] = ref
        return student_function

    # calls --------------------------------------------------------------------------

    def _argument(self, value: Any) -> dict | None:
        ref = self.proxies.get(id(value))
        return {"t": "function", "ref": ref} if ref is not None else None

    def call(self, ref: int, name: str, args: tuple, kwargs: dict) -> Any:
        if self.hung:
            raise StudentCallTimeout(self.hung)
        if self.stalled:
            raise StudentCallTimeout(self.stalled)
        if self.link is None:
            raise StudentKernelError(f"{name} を呼び出せません (学生のカーネルがありません)")
        try:
            request = {"op": "call", "ref": ref, "args": plain_data.encode(list(args), self._argument), "kwargs": plain_data.encode(kwargs, self._argument)}
        except plain_data.NotPlain as exc:
            raise CannotPass(f"採点側のテストが {name} に渡そうとした値 ({exc.type_name}) は学生のカーネルに送れません (テストの書き方の誤りです)") from None
        timeout = min(self.call_timeout, self.deadline - time.monotonic())
        if timeout <= 0:
            self.stalled = f"このテストで学生の関数を呼び出す時間の上限 ({self.call_timeout:.0f} 秒) を使い切りました"
            raise StudentCallTimeout(self.stalled)
        try:
            answer = self.link.ask(request, timeout)
        except CallTimeout:
            self.timed_out = True
            self.stalled = f"{name} の呼び出しが {timeout:.0f} 秒以内に終わりませんでした (無限ループや重すぎる計算がないか確かめてください)"
            raise StudentCallTimeout(self.stalled) from None
        except KernelHung:
            self.timed_out = True
            self.hung = f"{name} の呼び出しが {timeout:.0f} 秒以内に終わらず、中断にも応じませんでした"
            raise StudentCallTimeout(self.hung) from None
        except KernelDied:
            self.stalled = f"{name} の呼び出し中に学生のカーネルが止まりました (os._exit やメモリの使いすぎなど)"
            raise StudentKernelError(self.stalled) from None
        except AgentError as exc:
            self.stalled = f"学生のカーネルが採点の問い合わせに正しく答えませんでした ({exc})"
            raise StudentKernelError(self.stalled) from None
        return self._result(name, answer)

    def _result(self, name: str, answer: dict) -> Any:
        if answer.get("interrupted"):
            raise StudentCallTimeout(f"{name} の呼び出しが中断されました")
        if "raised" in answer:
            raised = answer["raised"] if isinstance(answer["raised"], dict) else {}
            kind, message = str(raised.get("type", "Exception"))[:100], str(raised.get("message", ""))[:2000]
            builtin = getattr(builtins, kind, None)
            if isinstance(builtin, type) and issubclass(builtin, Exception) and builtin.__module__ == "builtins":
                try:
                    error = builtin(message)
                except Exception:  # a constructor that needs more arguments (UnicodeDecodeError ...)
                    error = None
                if error is not None:
                    raise error
            raise StudentError(f"{name} が例外 {kind} を送出しました: {message}")
        if "value" not in answer:
            raise StudentKernelError(f"{name} の結果を学生のカーネルから受け取れませんでした ({str(answer.get('error', answer))[:200]})")
        value = answer["value"]
        if plain_data.is_marker(value, "notplain"):
            raise NotPlainValue(not_plain_message(f"{name}(...) の戻り値", str(value.get("type"))[:200], str(value.get("why", ""))[:300]))
        try:
            return plain_data.decode(value, self.resolve)
        except plain_data.PlainDataError as exc:
            raise StudentKernelError(f"{name} の結果が採点の形式になっていません ({exc})") from None


class _MagicsIgnored:
    """What ``get_ipython()`` gives in the judge: the set-up's magics (``%pip``, ``%matplotlib``)
    prepare a student's environment and do nothing here."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("run_") or name in ("system", "getoutput"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)


_NO_SHELL = _MagicsIgnored()


class Judge:
    """Runs test cells in a namespace of the set-up cells only, on the student's plain data."""

    def __init__(self, setup: list[str], *, cell_timeout: float) -> None:
        self.cell_timeout = float(cell_timeout)
        namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins, "get_ipython": lambda: _NO_SHELL}
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for code in setup:
                exec(compile(to_python(code), "<set-up cell>", "exec"), namespace)
        self._setup = namespace

    def warm_up(self) -> None:
        """Build one small standard model, so the first model a test reads is rebuilt at full
        speed (Keras and TensorFlow set themselves up on first use; about 0.4 s)."""
        import sys

        keras = sys.modules.get("keras")
        if keras is None:
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Conv2D(1, 3), keras.layers.Flatten(), keras.layers.Dense(1)])
            rebuild_model({"t": "model", "config": json.dumps(keras.saving.serialize_keras_object(model)), "weights": [[int(n) for n in w.shape] for w in model.weights]})

    @property
    def setup_names(self) -> set[str]:
        return set(self._setup)

    def names_to_fetch(self, code: str, student_names: set[str]) -> list[str]:
        """What a test reads from the student: free names not bound by the set-up, and
        names it rebinds that a student cell binds (it may read them first)."""
        wanted = (free_names(code) | (read_before_bound(code) & student_names)) - self.setup_names
        return sorted(wanted)

    def judge(self, code: str, link: AgentLink | None, student_names: set[str]) -> Verdict:
        """The verdict of one test cell (the agent session on ``link`` is already started)."""
        call = _Call(link, self.cell_timeout, self.cell_timeout)
        namespace = dict(self._setup)
        missing: dict[str, str] = {}
        try:
            names = self.names_to_fetch(code, student_names)
            if names:
                namespace.update(self._fetch(names, call, missing))
        except (StudentCallTimeout, StudentKernelError) as exc:
            return self._failed(exc, call)
        out, err = io.StringIO(), io.StringIO()
        try:
            compiled = compile(to_python(code), CELL_FILE, "exec")
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                exec(compiled, namespace)
        except NameError as exc:
            name = getattr(exc, "name", None)
            if name in missing:
                return self._failed(NotPlainValue(missing[name]), call, out, err)
            return self._failed(exc, call, out, err, code)
        except (Exception, JudgeFailure) as exc:
            return self._failed(exc, call, out, err, code)
        return Verdict(True, _streams(out, err), "", bool(call.hung), call.timed_out)

    def _fetch(self, names: list[str], call: _Call, missing: dict[str, str]) -> dict[str, Any]:
        if call.link is None:
            return {}
        try:
            answer = call.link.ask({"op": "export", "names": names}, self.cell_timeout)
        except (CallTimeout, KernelHung) as exc:
            call.timed_out = True
            call.hung = call.hung or (str(exc) if isinstance(exc, KernelHung) else None)
            raise StudentCallTimeout(f"テストが読む値 ({', '.join(names)}) を {self.cell_timeout:.0f} 秒以内に受け取れませんでした") from None
        except AgentError as exc:
            raise StudentKernelError(f"学生のカーネルが採点の問い合わせに正しく答えませんでした ({exc})") from None
        values = answer.get("values")
        if not isinstance(values, dict):
            raise StudentKernelError("テストが読む値を学生のカーネルから受け取れませんでした")
        fetched: dict[str, Any] = {}
        for name in names:
            data = values.get(name)
            if data is None:
                continue  # not defined in the student's kernel: the test sees a NameError
            if plain_data.is_marker(data, "notplain"):
                missing[name] = not_plain_message(name, str(data.get("type"))[:200], str(data.get("why", ""))[:300])
                continue
            if plain_data.is_marker(data, "function"):
                data = dict(data, name=name)  # the name the test uses, in messages
            try:
                fetched[name] = plain_data.decode(data, call.resolve)
            except ModelNotRebuildable as exc:
                missing[name] = f"{name} のモデル: {exc}"
            except plain_data.PlainDataError as exc:
                missing[name] = not_plain_message(name, "?", str(exc))
        return fetched

    def _failed(self, exc: BaseException, call: _Call, out: io.StringIO | None = None, err: io.StringIO | None = None, code: str = "") -> Verdict:
        ename, evalue = type(exc).__name__, str(exc)
        lines = _where(exc, code)
        error = NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[*lines, f"{ename}: {evalue}"])
        outputs = _streams(out, err) if out is not None and err is not None else []
        reason = (f"{ename}: {evalue}".splitlines() or [ename])[0][:300]
        return Verdict(False, [*outputs, error], reason, bool(call.hung), call.timed_out)


def _streams(out: io.StringIO, err: io.StringIO) -> list[NotebookNode]:
    streams = []
    for name, buffer in (("stdout", out), ("stderr", err)):
        text = buffer.getvalue()
        if text:
            streams.append(NotebookNode(output_type="stream", name=name, text=text[:20000]))
    return streams


def _where(exc: BaseException, code: str) -> list[str]:
    """The test's own line where it failed (the grader's frames left out)."""
    if not code:
        return []
    lines = code.splitlines()
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == CELL_FILE]
    if not frames:
        return []
    number = frames[-1].lineno or 0
    shown = lines[number - 1].strip() if 0 < number <= len(lines) else ""
    return [f"テストのセル {number} 行目:", f"---> {shown}"]
