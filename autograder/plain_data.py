"""Answers moved between the student's kernel and the trusted judge, as plain data only.

A test's verdict is computed in a process where no student code runs (:mod:`.trusted`);
what it needs of the student's work crosses over in this format, written by the
grader's code on both sides. Only values of these *exact* types cross:

* ``None``, ``bool``, ``int``, ``float``, ``str``; ``list``, ``tuple`` and ``dict``
  (keys: hashable plain values) holding such values;
* NumPy arrays of a numeric or boolean dtype (the dtype, shape and bytes; never a
  subclass such as ``np.matrix``) and NumPy scalars of those dtypes;
* on the student's side, two references the judge resolves itself: a Keras model (its
  config and weight shapes, rebuilt by :mod:`.trusted` from standard layers only) and a
  function (called back in the student's kernel, never copied).

Everything is tagged JSON: ``{"t": "int", "v": "12"}``. A subclass of ``int`` or
``ndarray`` with a forged ``==`` is not ``int`` or ``ndarray`` and is refused with
:class:`NotPlain`, so nothing but data of the grader's own types reaches a comparison.
Decoding is strict: an unknown tag, a non-numeric dtype or a byte count that does not match
the shape raises :class:`PlainDataError`.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from typing import Any

import numpy as np

#: nesting deeper than this is refused (a list inside a list ... 64 times)
MAX_DEPTH = 64
#: the most array bytes one message may carry
MAX_ARRAY_BYTES = 512 * 2**20
#: the most values (elements of containers) one message may carry
MAX_ITEMS = 2_000_000
#: NumPy dtype kinds that cross: boolean, signed, unsigned, float, complex
NUMERIC_KINDS = frozenset("biufc")


class NotPlain(Exception):
    """A value of a type that does not cross (a subclass, a custom object ...)."""

    def __init__(self, type_name: str, why: str = "") -> None:
        super().__init__(f"{type_name}{': ' + why if why else ''}")
        self.type_name = type_name
        self.why = why


class PlainDataError(ValueError):
    """Data that does not follow the format (sent by a tampered or broken kernel)."""


def type_name(value: Any) -> str:
    cls = type(value)
    module = getattr(cls, "__module__", "") or ""
    qualname = getattr(cls, "__qualname__", cls.__name__)
    return qualname if module == "builtins" else f"{module}.{qualname}"


class _Budget:
    def __init__(self) -> None:
        self.items = 0
        self.array_bytes = 0

    def count(self, items: int = 1, array_bytes: int = 0) -> None:
        self.items += items
        self.array_bytes += array_bytes
        if self.items > MAX_ITEMS:
            raise NotPlain("too many values", f"more than {MAX_ITEMS} values in one answer")
        if self.array_bytes > MAX_ARRAY_BYTES:
            raise NotPlain("too much data", f"more than {MAX_ARRAY_BYTES // 2**20} MiB of arrays in one answer")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _numeric_dtype(dtype: np.dtype) -> bool:
    return dtype.kind in NUMERIC_KINDS and dtype.fields is None and dtype.subdtype is None and not dtype.hasobject


# --------------------------------------------------------------------------- encode


Hook = Callable[[Any], "dict | None"]


def encode(value: Any, hook: Hook | None = None) -> dict:
    """``value`` as tagged plain data; :class:`NotPlain` when anything in it does not cross.

    ``hook`` is asked first about every value that is not of a plain type; it returns a
    tagged reference (a model, a function) or None.
    """
    return _encode(value, hook, 0, _Budget())


def _encode(value: Any, hook: Hook | None, depth: int, budget: _Budget) -> dict:
    if depth > MAX_DEPTH:
        raise NotPlain("nesting", f"more than {MAX_DEPTH} levels of nested containers")
    budget.count()
    cls = type(value)
    if value is None:
        return {"t": "none"}
    if cls is bool:
        return {"t": "bool", "v": value}
    if cls is int:
        return {"t": "int", "v": hex(value)}
    if cls is float:
        return {"t": "float", "v": value.hex()}
    if cls is str:
        return {"t": "str", "v": value}
    if cls is list or cls is tuple:
        return {"t": cls.__name__, "v": [_encode(item, hook, depth + 1, budget) for item in value]}
    if cls is dict:
        items = []
        for key, item in value.items():
            if type(key) in (list, dict):
                raise NotPlain(type_name(key), "a dict key must be a hashable plain value")
            items.append([_encode(key, hook, depth + 1, budget), _encode(item, hook, depth + 1, budget)])
        return {"t": "dict", "v": items}
    if cls is np.ndarray:
        if not _numeric_dtype(value.dtype):
            raise NotPlain(f"numpy.ndarray of dtype {value.dtype}", "only numeric and boolean arrays cross")
        budget.count(value.size, value.nbytes)
        data = np.ascontiguousarray(value).tobytes()
        return {"t": "ndarray", "dtype": value.dtype.str, "shape": [int(n) for n in value.shape], "data": _b64(data)}
    if isinstance(value, np.generic) and cls is np.dtype(cls).type and _numeric_dtype(np.dtype(cls)):
        return {"t": "npscalar", "dtype": value.dtype.str, "data": _b64(value.tobytes())}
    if hook is not None:
        reference = hook(value)
        if reference is not None:
            return reference
    raise NotPlain(type_name(value))


# --------------------------------------------------------------------------- decode


Resolver = Callable[[dict], Any]


def decode(data: Any, resolve: Resolver | None = None) -> Any:
    """The value ``data`` describes, built from the grader's own types only.

    ``resolve`` builds the references (tags ``model`` and ``function``); without it they
    are refused.
    """
    return _decode(data, resolve, 0, _Budget())


def _fail(why: str) -> PlainDataError:
    return PlainDataError(f"not plain data: {why}")


def _decode(data: Any, resolve: Resolver | None, depth: int, budget: _Budget) -> Any:
    if depth > MAX_DEPTH:
        raise _fail("nested too deeply")
    if type(data) is not dict or type(data.get("t")) is not str:
        raise _fail("a value without a tag")
    try:
        budget.count()
    except NotPlain as exc:
        raise _fail(str(exc)) from None
    tag = data["t"]
    v = data.get("v")
    if tag == "none":
        return None
    if tag == "bool" and type(v) is bool:
        return v
    if tag == "int" and type(v) is str:
        try:
            return int(v, 0)  # 0x... (what encode writes) or decimal
        except ValueError:
            raise _fail("a bad int") from None
    if tag == "float" and type(v) is str:
        try:
            return float.fromhex(v)
        except (ValueError, OverflowError):
            raise _fail("a bad float") from None
    if tag == "str" and type(v) is str:
        return v
    if tag in ("list", "tuple") and type(v) is list:
        items = [_decode(item, resolve, depth + 1, budget) for item in v]
        return items if tag == "list" else tuple(items)
    if tag == "dict" and type(v) is list:
        out = {}
        for pair in v:
            if type(pair) is not list or len(pair) != 2:
                raise _fail("a bad dict entry")
            key = _decode(pair[0], resolve, depth + 1, budget)
            try:
                out[key] = _decode(pair[1], resolve, depth + 1, budget)
            except TypeError:
                raise _fail("an unhashable dict key") from None
        return out
    if tag == "ndarray":
        return _decode_array(data, budget)
    if tag == "npscalar":
        dtype = _dtype(data.get("dtype"))
        raw = _bytes(data.get("data"))
        if len(raw) != dtype.itemsize:
            raise _fail("a NumPy scalar of the wrong size")
        return np.frombuffer(raw, dtype=dtype)[0]
    if tag in ("model", "function") and resolve is not None:
        return resolve(data)
    raise _fail(f"the tag {tag!r}")


def _dtype(text: Any) -> np.dtype:
    if type(text) is not str or len(text) > 8:
        raise _fail("a bad dtype")
    try:
        dtype = np.dtype(text)
    except TypeError:
        raise _fail(f"the dtype {text!r}") from None
    if not _numeric_dtype(dtype):
        raise _fail(f"the dtype {text!r} is not numeric")
    return dtype


def _bytes(text: Any) -> bytes:
    if type(text) is not str:
        raise _fail("bad array data")
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise _fail("bad array data") from None


def _decode_array(data: dict, budget: _Budget) -> np.ndarray:
    dtype = _dtype(data.get("dtype"))
    shape = data.get("shape")
    if type(shape) is not list or len(shape) > 32 or any(type(n) is not int or n < 0 for n in shape):
        raise _fail("a bad array shape")
    raw = _bytes(data.get("data"))
    size = math.prod(shape)
    if len(raw) != size * dtype.itemsize:
        raise _fail("array bytes that do not match the shape")
    try:
        budget.count(size, len(raw))
    except NotPlain as exc:
        raise _fail(str(exc)) from None
    try:
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    except ValueError:
        raise _fail("a bad array shape") from None


# --------------------------------------------------------------------------- markers


def not_plain_marker(exc: NotPlain) -> dict:
    """What a side sends in place of a value that does not cross."""
    return {"t": "notplain", "type": exc.type_name, "why": exc.why}


def is_marker(data: Any, tag: str) -> bool:
    return type(data) is dict and data.get("t") == tag
