from __future__ import annotations

import collections
import enum
import math
import pickle
import subprocess
import sys
from datetime import datetime
from typing import Any, NamedTuple

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asyncjobs._errors import AsyncJobsError, CorruptPayload, UnencodablePayload
from asyncjobs.serializers import (
    MAX_NESTING,
    JSONSerializer,
    MsgpackSerializer,
    PickleSerializer,
    Serializer,
    decode_payload,
    encode_payload,
)


@pytest.fixture
def msgpack_serializer() -> MsgpackSerializer:
    pytest.importorskip("msgpack", reason="msgpack is a dev dependency: pip install -e '.[dev]'")
    return MsgpackSerializer()


@pytest.fixture(params=["json", "msgpack"])
def checked(request: pytest.FixtureRequest) -> Serializer:
    """Each serializer whose refusals name the path to the part."""
    if request.param == "json":
        return JSONSerializer()
    return request.getfixturevalue("msgpack_serializer")  # type: ignore[no-any-return]


@attrs.define
class Point:
    x: int
    y: list[str]


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr is broken")


class Color(enum.IntEnum):
    RED = 1


class Pair(NamedTuple):
    a: int
    b: int


def nested(levels: int) -> list[Any]:
    """A list nested ``levels`` deep: [[[...]]] with ``levels`` lists."""
    value: list[Any] = []
    for _ in range(levels - 1):
        value = [value]
    return value


def untupled(value: Any) -> Any:
    """``value`` as JSON reads it back: tuples become lists."""
    if isinstance(value, (list, tuple)):
        return [untupled(item) for item in value]
    if isinstance(value, dict):
        return {key: untupled(item) for key, item in value.items()}
    return value


def refusal(serializer: Serializer, field: str, value: object) -> UnencodablePayload:
    with pytest.raises(UnencodablePayload) as info:
        encode_payload(serializer, field, value)
    assert isinstance(info.value, AsyncJobsError)
    assert isinstance(info.value, TypeError)
    return info.value


# --- the protocol and round trips ---


def test_every_builtin_serializer_is_a_serializer(msgpack_serializer: MsgpackSerializer) -> None:
    for serializer in (JSONSerializer(), msgpack_serializer, PickleSerializer()):
        assert isinstance(serializer, Serializer)
    assert [JSONSerializer.name, MsgpackSerializer.name, PickleSerializer.name] == [
        "json",
        "msgpack",
        "pickle",
    ]
    assert not isinstance(object(), Serializer)


def test_json_is_compact_utf8_and_gives_tuples_back_as_lists() -> None:
    serializer = JSONSerializer()
    value = {"é": "日本 ✓", "t": (1, 2.5, None, True, [False]), "big": 2**200}
    data = encode_payload(serializer, "args", value)
    big = str(2**200)
    assert data == f'{{"é":"日本 ✓","t":[1,2.5,null,true,[false]],"big":{big}}}'.encode()
    assert decode_payload(serializer, "args", data) == {
        "é": "日本 ✓",
        "t": [1, 2.5, None, True, [False]],
        "big": 2**200,
    }
    assert serializer.loads(serializer.dumps((1, "a"))) == [1, "a"]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(json_values)
def test_json_round_trip_of_generated_values(value: Any) -> None:
    serializer = JSONSerializer()
    assert decode_payload(serializer, "f", encode_payload(serializer, "f", value)) == untupled(
        value
    )


def test_msgpack_round_trip_keeps_bytes_and_the_64_bit_range(
    msgpack_serializer: MsgpackSerializer,
) -> None:
    value: dict[str, Any] = {
        "b": b"\x00\xff",
        "t": ("é", -(2**63), 2**64 - 1, 1.5, None, False),
        "nested": [{"k": []}],
    }
    data = encode_payload(msgpack_serializer, "result", value)
    assert decode_payload(msgpack_serializer, "result", data) == {
        "b": b"\x00\xff",
        "t": ["é", -(2**63), 2**64 - 1, 1.5, None, False],
        "nested": [{"k": []}],
    }


def test_msgpack_keeps_nan_and_infinity(msgpack_serializer: MsgpackSerializer) -> None:
    data = encode_payload(msgpack_serializer, "result", [math.inf, math.nan])
    back = decode_payload(msgpack_serializer, "result", data)
    assert isinstance(back, list)
    assert back[0] == math.inf
    assert math.isnan(back[1])


def test_pickle_round_trip_of_a_custom_object() -> None:
    serializer = PickleSerializer()
    value = (Point(1, ["a"]), {3: datetime(2024, 1, 2)})
    data = encode_payload(serializer, "result", value)
    assert data.startswith(b"\x80" + bytes([pickle.HIGHEST_PROTOCOL]))
    assert decode_payload(serializer, "result", data) == value


def test_a_value_shared_by_two_places_is_no_cycle() -> None:
    shared = [1]
    serializer = JSONSerializer()
    assert serializer.loads(encode_payload(serializer, "args", [shared, {"a": shared}])) == [
        [1],
        {"a": [1]},
    ]


# --- refusals naming the path ---


def test_refusal_names_the_path_type_and_serializer(checked: Serializer) -> None:
    error = refusal(checked, "args", (1, {"when": datetime(2024, 1, 2)}))
    assert error.field == "args[1]['when']"
    assert error.value_type == "datetime.datetime"
    assert error.serializer == checked.name
    message = str(error)
    assert message.startswith(f"args[1]['when']: serializer '{checked.name}' refused type ")
    assert "datetime.datetime(2024, 1, 2, 0, 0)" in message
    assert "tuple (read back as a list)" in message  # what it does store


def test_refusal_in_a_dict_in_a_list_in_a_tuple(checked: Serializer) -> None:
    error = refusal(checked, "kwargs", ("a", [0, {"ok": 1, "k": {1, 2}}]))
    assert (error.field, error.value_type) == ("kwargs[1][1]['k']", "set")


def test_the_first_bad_part_is_named(checked: Serializer) -> None:
    error = refusal(checked, "args", [1, {"a": object(), "b": {2}}, {3}])
    assert (error.field, error.value_type) == ("args[1]['a']", "object")


def test_dumps_alone_names_the_root_value(checked: Serializer) -> None:
    with pytest.raises(UnencodablePayload) as info:
        checked.dumps([{"x": {1}}])
    assert info.value.field == "value[0]['x']"


@pytest.mark.parametrize(
    ("key", "key_type"), [(1, "int"), (None, "NoneType"), (True, "bool"), ((1, 2), "tuple")]
)
def test_keys_that_are_not_str_are_refused(checked: Serializer, key: Any, key_type: str) -> None:
    error = refusal(checked, "kwargs", {"opts": [{"fine": 1, key: "x"}]})
    assert (error.field, error.value_type) == ("kwargs['opts'][0]", key_type)
    assert f"the key {key!r}" in str(error)


def test_msgpack_refuses_bytes_keys(msgpack_serializer: MsgpackSerializer) -> None:
    error = refusal(msgpack_serializer, "kwargs", {b"k": 1})
    assert (error.field, error.value_type) == ("kwargs", "bytes")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_json_refuses_nan_and_infinity(value: float) -> None:
    error = refusal(JSONSerializer(), "result", {"score": [value]})
    assert (error.field, error.value_type) == ("result['score'][0]", "float")
    assert "not a finite number" in str(error)


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        (Color.RED, f"{__name__}.Color"),
        (collections.OrderedDict(a=1), "collections.OrderedDict"),
        (Pair(1, 2), f"{__name__}.Pair"),
        (b"raw", "bytes"),
        (bytearray(b"raw"), "bytearray"),
    ],
)
def test_json_refuses_subclasses_and_other_types(value: object, type_name: str) -> None:
    error = refusal(JSONSerializer(), "args", ["ok", value])
    assert (error.field, error.value_type) == ("args[1]", type_name)


def test_text_that_utf8_cannot_encode_is_refused(checked: Serializer) -> None:
    error = refusal(checked, "args", ["fine é", "bad \ud800"])
    assert (error.field, error.value_type) == ("args[1]", "str")
    assert "lone surrogate" in str(error)
    error = refusal(checked, "kwargs", {"k\udfff": 1})
    assert (error.field, error.value_type) == ("kwargs", "str")


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, 10**30])
def test_msgpack_refuses_ints_outside_64_bits(
    msgpack_serializer: MsgpackSerializer, value: int
) -> None:
    error = refusal(msgpack_serializer, "args", (0, [value]))
    assert (error.field, error.value_type) == ("args[1][0]", "int")
    assert "64-bit range" in str(error)


def test_json_refuses_ints_too_long_to_write_as_text() -> None:
    limit = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 0
    if not limit:
        pytest.skip("this Python has no limit on ints as text")
    serializer = JSONSerializer()
    longest = 10**limit - 1
    assert serializer.loads(encode_payload(serializer, "args", [longest])) == [longest]
    error = refusal(serializer, "args", [-(10**limit)])
    assert (error.field, error.value_type) == ("args[0]", "int")


def test_a_list_that_holds_itself_is_refused(checked: Serializer) -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    error = refusal(checked, "args", ("x", loop))
    assert (error.field, error.value_type) == ("args[1][1]", "list")
    assert "it is the list at args[1] again (a cycle)" in str(error)


def test_a_cycle_through_a_dict_is_refused(checked: Serializer) -> None:
    outer: dict[str, Any] = {"items": []}
    outer["items"].append({"parent": outer})
    error = refusal(checked, "kwargs", outer)
    assert (error.field, error.value_type) == ("kwargs['items'][0]['parent']", "dict")


def test_nesting_up_to_the_limit_round_trips(checked: Serializer) -> None:
    value = nested(MAX_NESTING)
    assert checked.loads(encode_payload(checked, "args", value)) == value


def test_nesting_past_the_limit_is_refused(checked: Serializer) -> None:
    error = refusal(checked, "args", nested(MAX_NESTING + 1))
    assert (error.field, error.value_type) == ("args" + "[0]" * MAX_NESTING, "list")
    assert f"nested deeper than MAX_NESTING={MAX_NESTING}" in str(error)
    assert len(str(error)) < 500  # the path is cut in the message


def test_very_deep_nesting_is_refused_without_recursion_error(checked: Serializer) -> None:
    error = refusal(checked, "args", {"deep": nested(100_000)})
    assert error.field == "args['deep']" + "[0]" * (MAX_NESTING - 1)


def test_a_raising_repr_does_not_break_the_message(checked: Serializer) -> None:
    error = refusal(checked, "kwargs", {"x": BadRepr()})
    assert (error.field, error.value_type) == ("kwargs['x']", f"{__name__}.BadRepr")
    assert "<BadRepr instance at " in str(error)


def test_a_raising_repr_of_a_key_does_not_break_the_message(checked: Serializer) -> None:
    error = refusal(checked, "kwargs", {BadRepr(): 1})
    assert (error.field, error.value_type) == ("kwargs", f"{__name__}.BadRepr")


# --- serializers of a user's own, and pickle ---


class Refusing:
    name = "mine"

    def __init__(self, error: Exception) -> None:
        self.error = error

    def dumps(self, value: object) -> bytes:
        raise self.error

    def loads(self, data: bytes) -> object:
        raise self.error


class ReturnsText:
    name = "text"

    def dumps(self, value: object) -> bytes:
        return "not bytes"  # type: ignore[return-value]

    def loads(self, data: bytes) -> object:
        return data


class BadStr(Exception):
    def __str__(self) -> str:
        raise RuntimeError("str is broken")


def test_a_user_serializer_that_raises_is_wrapped_naming_the_field() -> None:
    cause = ValueError("cannot do sets")
    error = refusal(Refusing(cause), "args", ({1},))
    assert (error.field, error.value_type, error.serializer) == ("args", "tuple", "mine")
    assert error.__cause__ is cause
    assert "dumps raised ValueError: cannot do sets" in str(error)


def test_a_user_serializer_whose_error_str_raises() -> None:
    error = refusal(Refusing(BadStr()), "result", 1)
    assert (error.field, error.value_type) == ("result", "int")
    assert "BadStr whose str() raised" in str(error)


def test_a_user_serializer_returning_something_but_bytes_is_refused() -> None:
    error = refusal(ReturnsText(), "args", (1,))
    assert (error.field, error.value_type, error.serializer) == ("args", "tuple", "text")
    assert "dumps returned str, not bytes" in str(error)


def test_a_subclass_that_dumps_its_own_way_is_treated_as_a_users_own() -> None:
    class Custom(JSONSerializer):
        name = "custom"

        def dumps(self, value: object) -> bytes:
            return b"fixed"

    assert encode_payload(Custom(), "args", {1: object()}) == b"fixed"


def test_pickle_refusal_is_wrapped_naming_the_field() -> None:
    error = refusal(PickleSerializer(), "args", (lambda: 1,))
    assert (error.field, error.value_type, error.serializer) == ("args", "tuple", "pickle")
    assert isinstance(error.__cause__, (pickle.PicklingError, AttributeError))


# --- reading back ---


@pytest.mark.parametrize("data", [b"\xff{", b'{"a":', b"NaN", b"[Infinity]", b"1 2", b""], ids=repr)
def test_json_corrupt_data_is_refused_naming_the_field(data: bytes) -> None:
    with pytest.raises(CorruptPayload) as info:
        decode_payload(JSONSerializer(), "result", data)
    assert isinstance(info.value, AsyncJobsError)
    assert isinstance(info.value, ValueError)
    assert (info.value.field, info.value.serializer) == ("result", "json")
    assert str(info.value).startswith("result: the stored bytes cannot be read by serializer")
    assert info.value.__cause__ is not None


@pytest.mark.parametrize("data", [b"\xc1", b"\x01\x02", b"\x92\x01", b"\x81\x01\x01"], ids=repr)
def test_msgpack_corrupt_data_is_refused_naming_the_field(
    msgpack_serializer: MsgpackSerializer, data: bytes
) -> None:
    with pytest.raises(CorruptPayload) as info:
        decode_payload(msgpack_serializer, "args", data)
    assert (info.value.field, info.value.serializer) == ("args", "msgpack")


def test_pickle_and_user_corrupt_data_is_refused_naming_the_field() -> None:
    with pytest.raises(CorruptPayload) as info:
        decode_payload(PickleSerializer(), "error", b"not a pickle")
    assert (info.value.field, info.value.serializer) == ("error", "pickle")
    with pytest.raises(CorruptPayload) as info:
        decode_payload(Refusing(KeyError("gone")), "options", b"x")
    assert (info.value.field, info.value.serializer) == ("options", "mine")
    assert "KeyError: 'gone'" in str(info.value)


# --- msgpack is optional ---


def test_msgpack_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "msgpack", None)  # import msgpack now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'asyncjobs-inproc\[msgpack\]'"):
        MsgpackSerializer()


def test_importing_the_module_never_needs_msgpack() -> None:
    code = (
        "import sys; sys.modules['msgpack'] = None; import asyncjobs.serializers as s; "
        "print(s.JSONSerializer().dumps([1]))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert (run.returncode, run.stdout) == (0, "b'[1]'\n"), run.stderr
