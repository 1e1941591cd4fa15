"""The plain-data codec: values of the exact plain types round trip, everything else is
refused with NotPlain, and decoding refuses anything that does not follow the format."""

from __future__ import annotations

import base64
import functools
import json
import math

import numpy as np
import pytest

from autograder import plain_data
from autograder.plain_data import NotPlain, PlainDataError, decode, encode


def round_trip(value, hook=None, resolve=None):
    """``value`` encoded, sent as strict JSON (no NaN tokens) and decoded again."""
    wire = json.dumps(encode(value, hook), allow_nan=False)
    return decode(json.loads(wire), resolve)


def assert_same(got, want):
    """Equal, and of exactly the same type at every level (tuples stay tuples ...)."""
    assert type(got) is type(want), f"{type(got)} is not {type(want)}"
    if isinstance(want, (list, tuple)):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert_same(g, w)
    elif isinstance(want, dict):
        assert list(got) == list(want)
        for key in want:
            assert_same(got[key], want[key])
    elif isinstance(want, float) and math.isnan(want):
        assert math.isnan(got)
    else:
        assert got == want


def nested(depth: int):
    """A list nested ``depth`` times around 0."""
    return functools.reduce(lambda inner, _: [inner], range(depth), 0)


# --------------------------------------------------------------------------- what crosses


@pytest.mark.parametrize("value", [None, True, False, 0, -7, 2**64, -(2**200), 10**4000, 1.5, -2.25e-300, "", "日本語 ok"])
def test_plain_scalars_round_trip_with_their_exact_type(value):
    assert_same(round_trip(value), value)


def test_floats_keep_nan_infinities_negative_zero_and_every_bit():
    values = [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308, 0.1 + 0.2]
    got = round_trip(values)
    assert math.isnan(got[0])
    assert got[1:3] == [math.inf, -math.inf]
    assert got[3] == 0.0 and math.copysign(1.0, got[3]) == -1.0
    assert [v.hex() for v in got[4:]] == [v.hex() for v in values[4:]]


def test_an_int_of_more_than_4300_digits_round_trips():
    assert round_trip(10**5000) == 10**5000


def test_nested_containers_keep_tuples_apart_from_lists():
    value = {"layers": [("conv", 3, 1), ["dense", 10]], "empty": ((), [], {}), "deep": [(1, [2, (3.0, None)])]}
    assert_same(round_trip(value), value)


def test_dict_keys_may_be_ints_floats_strings_tuples_bools_and_none():
    value = {1: "int", 2.5: "float", "s": "str", (1, "a", (2.0,)): "tuple", None: "none", False: "bool"}
    assert_same(round_trip(value), value)


DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64", "longdouble", "complex64", "complex128", ">i4", ">f8", "<u2"]
SHAPES = [(), (0,), (5,), (2, 3), (0, 3), (2, 1, 3)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_numeric_arrays_round_trip_dtype_shape_and_values(dtype, shape):
    array = (np.arange(math.prod(shape)) % 3).reshape(shape).astype(dtype)
    got = round_trip(array)
    assert type(got) is np.ndarray
    assert got.dtype == array.dtype and got.dtype.str == array.dtype.str
    assert got.shape == shape
    assert np.array_equal(got, array)


def test_decoded_arrays_are_writable_c_ordered_copies():
    source = np.arange(6.0).reshape(2, 3)
    source.setflags(write=False)
    got = round_trip(source)
    assert got.flags.writeable and got.flags.c_contiguous and got.flags.owndata
    got[0, 0] = 99.0  # writes to the copy only
    assert source[0, 0] == 0.0


def test_fortran_ordered_and_strided_arrays_cross_as_their_values():
    fortran = np.asfortranarray(np.arange(6).reshape(2, 3))
    strided = np.arange(20)[::3]
    assert np.array_equal(round_trip(fortran), fortran)
    assert np.array_equal(round_trip(strided), [0, 3, 6, 9, 12, 15, 18])


def test_float_arrays_keep_nan_infinity_and_negative_zero():
    got = round_trip(np.array([np.nan, np.inf, -np.inf, -0.0]))
    assert np.isnan(got[0]) and got[1] == np.inf and got[2] == -np.inf and np.signbit(got[3])


@pytest.mark.parametrize("scalar", [np.int8(-3), np.int64(-5), np.uint64(2**64 - 1), np.float16(0.5), np.float32(1.5),
                                    np.float64(0.1), np.longdouble(2.5), np.complex128(1 + 2j), np.bool_(True), np.bool_(False)],
                         ids=lambda s: type(s).__name__)
def test_numpy_scalars_keep_their_exact_type(scalar):
    got = round_trip(scalar)
    assert type(got) is type(scalar)
    assert got == scalar


def test_a_hook_turns_other_values_into_references_that_a_resolver_builds():
    def student_function():
        return 1

    def hook(value):
        return {"t": "function", "ref": 0, "name": "f"} if value is student_function else None

    got = round_trip([student_function, 2], hook=hook, resolve=lambda data: ("resolved", data["ref"]))
    assert got == [("resolved", 0), 2]


# --------------------------------------------------------------------------- what is refused


class AlwaysEqualInt(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


class AlwaysEqualFloat(float):
    def __eq__(self, other):
        return True

    __hash__ = float.__hash__


class ShoutingStr(str):
    pass


class ForgedList(list):
    pass


class ForgedTuple(tuple):
    pass


class ForgedDict(dict):
    pass


class ForgedArray(np.ndarray):
    def __eq__(self, other):
        return np.ones(self.shape, dtype=bool)


@pytest.mark.parametrize("value", [AlwaysEqualInt(0), AlwaysEqualFloat(0.0), ShoutingStr("a"), ForgedList([1]),
                                   ForgedTuple((1,)), ForgedDict(a=1)], ids=lambda v: type(v).__name__)
def test_subclasses_of_plain_types_are_refused_by_name(value):
    with pytest.raises(NotPlain) as caught:
        encode(value)
    assert type(value).__name__ in caught.value.type_name


def test_a_subclass_inside_a_container_is_refused():
    with pytest.raises(NotPlain, match="AlwaysEqualInt"):
        encode({"ok": [1, 2, (3, AlwaysEqualInt(4))]})
    with pytest.raises(NotPlain, match="AlwaysEqualInt"):
        encode({AlwaysEqualInt(1): "key"})


@pytest.mark.parametrize("make", [lambda: np.arange(3).view(ForgedArray), lambda: np.matrix([[1, 2]]),
                                  lambda: np.ma.masked_array([1, 2], mask=[0, 1]),
                                  lambda: np.rec.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")])],
                         ids=["ndarray-subclass", "matrix", "masked", "recarray"])
@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_ndarray_subclasses_are_refused(make):
    with pytest.raises(NotPlain):
        encode(make())


@pytest.mark.parametrize("value", [np.array([1, "a"], dtype=object), np.array(["ab", "c"]), np.array([b"ab"]),
                                   np.zeros(2, dtype=[("a", "i4"), ("b", "f8")]), np.zeros(2, dtype="V4"),
                                   np.array(["2020-01-01"], dtype="datetime64[D]"), np.array([1], dtype="timedelta64[s]")],
                         ids=["object", "str", "bytes", "structured", "void", "datetime", "timedelta"])
def test_arrays_of_non_numeric_dtypes_are_refused(value):
    with pytest.raises(NotPlain, match="dtype"):
        encode(value)


@pytest.mark.parametrize("value", [object(), {1, 2}, frozenset(), b"bytes", bytearray(b"x"), 1j, range(3), len,
                                   np.str_("a"), np.bytes_(b"a"), np.datetime64("2020-01-01"), np.zeros(1, dtype="V4")[0]],
                         ids=lambda v: type(v).__name__)
def test_other_objects_are_refused_without_a_hook(value):
    with pytest.raises(NotPlain):
        encode(value)


def test_nesting_up_to_the_limit_crosses_and_deeper_is_refused():
    assert round_trip(nested(plain_data.MAX_DEPTH)) == nested(plain_data.MAX_DEPTH)
    with pytest.raises(NotPlain, match="nest"):
        encode(nested(plain_data.MAX_DEPTH + 1))


def test_a_list_that_contains_itself_is_refused_without_recursion_error():
    loop: list = [1]
    loop.append(loop)
    with pytest.raises(NotPlain, match="nest"):
        encode(loop)


def test_too_many_values_or_array_bytes_are_refused_both_ways(monkeypatch):
    monkeypatch.setattr(plain_data, "MAX_ITEMS", 10)
    with pytest.raises(NotPlain, match="too many"):
        encode(list(range(20)))
    with pytest.raises(PlainDataError, match="too many"):
        decode({"t": "list", "v": [{"t": "none"}] * 20})
    monkeypatch.setattr(plain_data, "MAX_ITEMS", 10_000)
    monkeypatch.setattr(plain_data, "MAX_ARRAY_BYTES", 100)
    with pytest.raises(NotPlain, match="too much"):
        encode(np.zeros(20))  # 160 bytes
    with pytest.raises(PlainDataError, match="too much"):
        decode(array(shape=(20,), data=b64(bytes(160))))


def test_a_not_plain_marker_names_the_type_and_is_no_value():
    marker = plain_data.not_plain_marker(NotPlain("numpy.matrix", "why"))
    assert marker == {"t": "notplain", "type": "numpy.matrix", "why": "why"}
    assert plain_data.is_marker(marker, "notplain") and not plain_data.is_marker([], "notplain")
    with pytest.raises(PlainDataError):
        decode(marker)


# --------------------------------------------------------------------------- decoding is strict


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def array(dtype="<f8", shape=(1,), data=None):
    return {"t": "ndarray", "dtype": dtype, "shape": list(shape), "data": b64(bytes(8)) if data is None else data}


BAD = {
    "unknown tag": {"t": "pickle", "v": "x"},
    "no tag": {"v": 1},
    "tag not a string": {"t": 3},
    "list instead of object": [{"t": "none"}],
    "bare string": "none",
    "bare number": 3,
    "null": None,
    "bool given as int": {"t": "bool", "v": 1},
    "bool given as string": {"t": "bool", "v": "true"},
    "int given as number": {"t": "int", "v": 12},
    "int given as bool": {"t": "int", "v": True},
    "int not a number": {"t": "int", "v": "twelve"},
    "float given as number": {"t": "float", "v": 1.5},
    "float not hex": {"t": "float", "v": "one"},
    "float overflowing": {"t": "float", "v": "0x1p+99999"},
    "str given as number": {"t": "str", "v": 1},
    "list of untagged values": {"t": "list", "v": [1, 2]},
    "list given as string": {"t": "list", "v": "ab"},
    "tuple given as object": {"t": "tuple", "v": {"a": {"t": "none"}}},
    "dict given as object": {"t": "dict", "v": {"a": {"t": "none"}}},
    "dict entry of one item": {"t": "dict", "v": [[{"t": "none"}]]},
    "dict with a list key": {"t": "dict", "v": [[{"t": "list", "v": []}, {"t": "none"}]]},
    "object dtype": array("|O"),
    "unicode dtype": array("<U3", data=b64(bytes(12))),
    "structured dtype": array("f8,i4", data=b64(bytes(12))),
    "void dtype": array("V8"),
    "datetime dtype": array("<M8[s]"),
    "dtype not a string": array(8),
    "dtype too long": array("float64" + " " * 10),
    "dtype unknown": array("xyz"),
    "fewer bytes than the shape": array(shape=(2,)),
    "more bytes than the shape": array(shape=(0,)),
    "bytes for a 0-d array missing": array(shape=(), data=""),
    "negative dimension": array(shape=(-1,)),
    "float dimension": {"t": "ndarray", "dtype": "<f8", "shape": [1.0], "data": b64(bytes(8))},
    "bool dimension": {"t": "ndarray", "dtype": "<f8", "shape": [True], "data": b64(bytes(8))},
    "shape a string": {"t": "ndarray", "dtype": "<f8", "shape": "1", "data": b64(bytes(8))},
    "33 dimensions": array(shape=(1,) * 33),
    "bad base64": array(data="AAAA!AAAAAA="),
    "non-ascii base64": array(data="ä" * 12),
    "data not a string": array(data=[0] * 8),
    "scalar of the wrong size": {"t": "npscalar", "dtype": "<f8", "data": b64(bytes(4))},
    "scalar of object dtype": {"t": "npscalar", "dtype": "|O", "data": b64(bytes(8))},
    "model without resolver": {"t": "model", "config": "{}", "weights": []},
    "function without resolver": {"t": "function", "ref": 0, "name": "f"},
}


@pytest.mark.parametrize("data", list(BAD.values()), ids=list(BAD))
def test_data_that_does_not_follow_the_format_raises_plain_data_error(data):
    with pytest.raises(PlainDataError, match="not plain data"):
        decode(data)


def test_a_bad_value_deep_inside_containers_is_found():
    good = encode({"a": [1, (2, 3)], "b": np.arange(3)})
    good["v"][1][1]["shape"] = [4]  # three elements' bytes, four announced
    with pytest.raises(PlainDataError, match="do not match"):
        decode(good)


def test_decoding_nesting_deeper_than_the_limit_is_refused():
    data = {"t": "none"}
    for _ in range(plain_data.MAX_DEPTH + 2):
        data = {"t": "list", "v": [data]}
    with pytest.raises(PlainDataError, match="nested too deeply"):
        decode(data)


def test_an_empty_array_with_a_huge_dimension_raises_plain_data_error():
    with pytest.raises(PlainDataError):
        decode(array(shape=(2**62, 0), data=""))
