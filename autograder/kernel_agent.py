"""The grader's errand-runner inside the student's kernel, reached over the stdin channel.

While a test cell is judged (:mod:`.trusted`), the grader runs :func:`serve` in the
student's kernel. It asks for what it needs with ``input()`` replies and gets its answers
in the next ``input()`` prompt, all as :mod:`.plain_data`:

* ``{"op": "export", "names": [...]}``: the values the test reads, as plain data; a
  function becomes a reference the grader can call; a Keras model its config and weight
  shapes (the judge rebuilds it);
* ``{"op": "call", "ref": n, "args": [...], "kwargs": {...}}``: call a function
  referenced before, return its value (or the exception it raised);
* ``{"op": "done"}``: return.

Nothing this module sends is trusted: the student's code shares the process and could
change it. It matters only that the judge accepts plain data and nothing else, so a
changed agent can give no more than honest code could compute.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from . import plain_data

#: a model's config larger than this is refused (characters of JSON)
MAX_MODEL_CONFIG = 4 * 2**20


class _Session:
    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = namespace
        self.refs: list[Any] = []

    # the student's side of references --------------------------------------------

    def _reference(self, value: Any) -> dict | None:
        keras = sys.modules.get("keras")
        if keras is not None and isinstance(value, keras.Model):
            return self._model(keras, value)
        if callable(value):
            self.refs.append(value)
            return {"t": "function", "ref": len(self.refs) - 1, "name": str(getattr(value, "__name__", "function"))[:100]}
        return None

    def _model(self, keras: Any, model: Any) -> dict:
        foreign = _foreign_class(keras, model)
        if foreign is not None:  # the judge says why it cannot rebuild it
            return {"t": "model", "config": "", "weights": [], "foreign": foreign}
        try:
            config = keras.saving.serialize_keras_object(model)
            text = json.dumps(config)
        except Exception as exc:  # a custom layer without get_config, a lambda ...
            raise plain_data.NotPlain(plain_data.type_name(model), f"its config cannot be written: {type(exc).__name__}: {exc}") from None
        if len(text) > MAX_MODEL_CONFIG:
            raise plain_data.NotPlain(plain_data.type_name(model), "its config is too large")
        shapes = [[int(n) for n in weight.shape] for weight in model.weights]
        return {"t": "model", "config": text, "weights": shapes}

    def _resolve(self, data: dict) -> Any:
        ref = data.get("ref")
        if data.get("t") == "function" and type(ref) is int and 0 <= ref < len(self.refs):
            return self.refs[ref]
        raise plain_data.PlainDataError("unknown reference")

    def _encode(self, value: Any) -> dict:
        try:
            return plain_data.encode(value, self._reference)
        except plain_data.NotPlain as exc:
            return plain_data.not_plain_marker(exc)
        except RecursionError:
            return plain_data.not_plain_marker(plain_data.NotPlain(plain_data.type_name(value), "nested too deeply"))

    # requests ---------------------------------------------------------------------

    def export(self, names: list[str]) -> dict:
        values = {}
        for name in names:
            if type(name) is str and name in self.namespace:
                values[name] = self._encode(self.namespace[name])
        return {"values": values}

    def call(self, ref: Any, args: Any, kwargs: Any) -> dict:
        function = self._resolve({"t": "function", "ref": ref})
        args = plain_data.decode(args, self._resolve)
        kwargs = plain_data.decode(kwargs, self._resolve)
        try:
            value = function(*args, **kwargs)
        except KeyboardInterrupt:
            return {"interrupted": True}
        except BaseException as exc:  # noqa: BLE001 - the student's function may raise anything
            return {"raised": {"type": type(exc).__name__[:100], "message": _text(exc)}}
        return {"value": self._encode(value)}

    def answer(self, request: dict) -> dict:
        op = request.get("op")
        if op == "export":
            return self.export(list(request.get("names", [])))
        if op == "call":
            return self.call(request.get("ref"), request.get("args"), request.get("kwargs"))
        return {"error": f"unknown request {op!r}"}


def _foreign_class(keras: Any, model: Any) -> str | None:
    """The first class in ``model`` that is not exactly Keras' own (a model or layer class of the
    student's, a subclass, ``Lambda``), as the judge names it; None when there is none."""
    from keras.src.models.functional import Functional

    def shown(cls: type) -> str:
        return f"keras.layers.{cls.__name__}" if cls.__module__.startswith("keras.") else cls.__qualname__

    if type(model) not in (keras.Sequential, Functional):
        return shown(type(model))
    for layer in model._flatten_layers(include_self=False, recursive=True):
        cls = type(layer)
        if cls in (keras.Sequential, Functional):
            continue
        if cls is not getattr(keras.layers, cls.__name__, None) or cls.__name__ == "Lambda":
            return shown(cls)
    return None


def _text(exc: BaseException) -> str:
    try:
        return str(exc)[:2000]
    except Exception:  # a __str__ that raises
        return ""


def serve(namespace: dict[str, Any] | None = None) -> None:
    """Answer the grader's requests until it says ``done`` (run in the student's kernel)."""
    if namespace is None:
        from IPython import get_ipython

        namespace = get_ipython().user_ns
    session = _Session(namespace)
    reply: dict = {"op": "ready"}
    while True:
        try:
            request = json.loads(input(json.dumps(reply)))
        except KeyboardInterrupt:
            reply = {"interrupted": True}
            continue
        if not isinstance(request, dict) or request.get("op") == "done":
            return
        try:
            reply = session.answer(request)
        except KeyboardInterrupt:
            reply = {"interrupted": True}
        except (plain_data.PlainDataError, TypeError, ValueError) as exc:
            reply = {"error": f"{type(exc).__name__}: {exc}"}
