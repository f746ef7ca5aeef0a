"""Serializers: how job data becomes bytes at a backend boundary.

What crosses the boundary as data: a job's arguments, its result, the error it raised and its
options. The memory store keeps them as objects and needs no serializer. A store that keeps
bytes (SQLite, Redis: planned) turns each into bytes through a ``Serializer``:

* ``JSONSerializer``, the default: stdlib ``json``, compact, UTF-8. It keeps ``None``,
  ``bool``, ``int`` (of any size Python can write as text), finite ``float``, ``str``,
  ``list``, ``tuple`` and ``dict`` with ``str`` keys. A tuple is read back as a list: JSON has
  one kind of array. NaN and infinities are refused (they are not JSON), and so are keys that
  are not ``str`` (``json`` would turn ``1`` into ``"1"``, which does not come back equal).
* ``MsgpackSerializer``, optional (``pip install 'asyncjobs-inproc[msgpack]'``): the same
  types plus ``bytes``, with ints in msgpack's 64-bit range; more compact than JSON.
* ``PickleSerializer``, opt-in and never a default: it stores almost any object, and reading
  a pickle runs code chosen by whoever wrote the bytes. Anyone who can write to the store can
  then run code in every process that reads from it. Use it only for a store you trust as
  much as your own code.

The built-in JSON and msgpack serializers take exact types only: a subclass (an enum, a
namedtuple, an ``OrderedDict``) is refused, since it would come back as the plain type and a
job would find out only when it ran. They also refuse a container that holds itself (a cycle)
and nesting deeper than ``MAX_NESTING`` levels. A value held in two places comes back as two
equal copies.

Refusals happen at submit: for a store that keeps bytes, the engine calls
``encode_payload(serializer, "args", args)`` (and so on) when a job is submitted, and a value
that cannot be stored raises ``UnencodablePayload`` there, naming the path to the part
(``args[1]['when']``) and its type, never later in a worker. ``decode_payload`` turns bytes
that cannot be read back into ``CorruptPayload``, naming the field.
"""

from __future__ import annotations

import importlib
import json
import math
import pickle
import sys
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeAlias, runtime_checkable

from ._errors import ECHO_LIMIT, CorruptPayload, UnencodablePayload, echo, echo_error

__all__ = [
    "MAX_NESTING",
    "JSONSerializer",
    "MsgpackSerializer",
    "PickleSerializer",
    "Serializer",
    "check_arguments",
    "decode_payload",
    "encode_payload",
]

MAX_NESTING = 500
"""The most levels of containers (lists, tuples, dicts) the JSON and msgpack serializers
store. Their readers rebuild nesting by recursion, which on Python 3.11 shares the
interpreter's recursion limit (1,000 by default) with the reader's own stack: 500 leaves the
other half to the code that reads."""

_Trail: TypeAlias = "tuple[_Trail, int | str] | None"
"""The steps from the root to a part, innermost last, linked so a path costs nothing until a
refusal renders it."""


@runtime_checkable
class Serializer(Protocol):
    """Turns job data into bytes and back. ``dumps`` raises on a value it cannot encode."""

    name: str
    """A short name for messages and stored metadata, such as ``"json"``."""

    def dumps(self, value: object) -> bytes:
        """The bytes of ``value``; raises if it cannot be encoded."""
        ...

    def loads(self, data: bytes) -> object:
        """The value ``data`` was made from."""
        ...


def _type_name(cls: type) -> str:
    """``datetime.datetime``, ``int``: a type's qualified name, never raising."""
    try:
        module, qualname = cls.__module__, cls.__qualname__
    except Exception:  # noqa: BLE001 - a metaclass may do anything; a message must not fail
        return "<unnamed type>"
    return qualname if module == "builtins" else f"{module}.{qualname}"


def _name_of(serializer: object) -> str:
    """The serializer's ``name``, or its type's name when it has no usable one."""
    try:
        name = getattr(serializer, "name", None)
    except Exception:  # noqa: BLE001 - see _type_name
        name = None
    return name if isinstance(name, str) else _type_name(type(serializer))


def _render(root: str, trail: _Trail) -> str:
    steps: list[str] = []
    while trail is not None:
        trail, step = trail
        steps.append(f"[{step}]" if type(step) is int else f"[{echo(step)}]")
    return root + "".join(reversed(steps))


def _text_problem(text: str) -> str | None:
    if text.isascii():  # O(1): the common case costs nothing
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return f"{echo(text)} holds a lone surrogate, which UTF-8 cannot encode"
    return None


class _CheckedSerializer:
    """What the JSON and msgpack serializers share: a walk over the value, before encoding
    it, that finds the first part they cannot store and names its path."""

    name = "?"
    _scalars: frozenset[type] = frozenset()
    _accepts = ""  # for messages: the types it stores

    def dumps(self, value: object) -> bytes:
        """The bytes of ``value``; raises ``UnencodablePayload`` naming the path to the first
        part it cannot store (the root is called ``value``)."""
        return self._dump_as("value", value)

    def _dump_as(self, root: str, value: object) -> bytes:
        refusal = self._refusal(root, value)
        if refusal is not None:
            raise refusal
        try:
            return self._encode(value)
        except Exception as exc:  # the walk refuses what the encoder would; just in case
            raise UnencodablePayload(
                root, _type_name(type(value)), self.name, f"encoding raised {_raised(exc)}"
            ) from exc

    def _encode(self, value: object) -> bytes:
        raise NotImplementedError

    def _scalar_problem(self, value: object) -> str | None:
        return _text_problem(value) if type(value) is str else None

    def _refusal(self, root: str, value: object) -> UnencodablePayload | None:
        def refuse(trail: _Trail, cls: type, reason: str) -> UnencodablePayload:
            return UnencodablePayload(_render(root, trail), _type_name(cls), self.name, reason)

        # An explicit stack, not recursion: any depth is walked (and refused) without a
        # RecursionError. ``path`` holds the containers around the current part, outermost
        # first, so a cycle is a container met again inside itself; a value shared between
        # two places is not one.
        stack: list[tuple[object, _Trail, int]] = [(value, None, 0)]
        path: list[tuple[int, _Trail]] = []
        on_path: set[int] = set()
        while stack:
            item, trail, depth = stack.pop()
            if len(path) > depth:  # left the containers deeper than this part
                on_path.difference_update(i for i, _ in path[depth:])
                del path[depth:]
            cls = type(item)
            if cls is dict or cls is list or cls is tuple:
                if id(item) in on_path:
                    outer = next(t for i, t in path if i == id(item))
                    again = _render(root, outer)[:ECHO_LIMIT]
                    return refuse(
                        trail, cls, f"it is the {cls.__name__} at {again} again (a cycle)"
                    )
                if depth >= MAX_NESTING:
                    return refuse(trail, cls, f"nested deeper than MAX_NESTING={MAX_NESTING}")
                path.append((id(item), trail))
                on_path.add(id(item))
            if type(item) is dict:
                # reversed, here and below: the stack pops the first part first
                for key, child in reversed(item.items()):
                    if type(key) is not str:
                        why = "only str keys come back equal"
                        return refuse(trail, type(key), f"this dict has the key {echo(key)}: {why}")
                    problem = _text_problem(key)
                    if problem is not None:
                        return refuse(trail, str, f"a dict key: {problem}")
                    stack.append((child, (trail, key), depth + 1))
            elif type(item) is list or type(item) is tuple:
                for index in range(len(item) - 1, -1, -1):
                    stack.append((item[index], (trail, index), depth + 1))
            elif cls in self._scalars:
                problem = self._scalar_problem(item)
                if problem is not None:
                    return refuse(trail, cls, problem)
            else:
                why = f"{echo(item)} is not of a type it stores (exactly: {self._accepts})"
                return refuse(trail, cls, why)
        return None


def _int_digits_limit() -> int:
    # Python 3.11 (and late 3.10 releases) refuse to turn longer ints into text, or back
    get: Callable[[], int] = getattr(sys, "get_int_max_str_digits", lambda: 0)
    return get()


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


class JSONSerializer(_CheckedSerializer):
    """The default serializer of a store that keeps bytes: compact UTF-8 JSON. Stores None,
    bool, int, finite float, str, list, tuple (read back as a list) and dict with str keys."""

    name = "json"
    _scalars = frozenset({type(None), bool, int, float, str})
    _accepts = "None, bool, int, finite float, str, list, tuple (read back as a list), dict"

    def _scalar_problem(self, value: object) -> str | None:
        if type(value) is float and not math.isfinite(value):
            return f"{value!r} is not a finite number, and JSON has no NaN or infinity"
        if type(value) is int:
            limit = _int_digits_limit()
            # bit_length first: the power of ten is worked out only for huge ints
            if limit and value.bit_length() > 3 * limit and abs(value) >= 10**limit:
                return (
                    f"an int of more than {limit} digits, past Python's limit for ints as "
                    "text (sys.set_int_max_str_digits)"
                )
        return super()._scalar_problem(value)

    def _encode(self, value: object) -> bytes:
        text = json.dumps(
            value,
            ensure_ascii=False,
            allow_nan=False,
            check_circular=False,  # the walk refused cycles
            separators=(",", ":"),
        )
        return text.encode("utf-8")

    def loads(self, data: bytes) -> object:
        """The value ``data`` was made from; raises on bytes that are not UTF-8 JSON (and on
        NaN or infinities, which it never writes)."""
        return json.loads(data.decode("utf-8"), parse_constant=_refuse_constant)


_MSGPACK_INT_MIN, _MSGPACK_INT_MAX = -(2**63), 2**64 - 1


class MsgpackSerializer(_CheckedSerializer):
    """msgpack (an optional extra): the JSON serializer's types plus bytes, with ints from
    -2**63 to 2**64 - 1, and floats of any value (NaN and infinities included)."""

    name = "msgpack"
    _scalars = frozenset({type(None), bool, int, float, str, bytes})
    _accepts = (
        "None, bool, int (64-bit), float, str, bytes, list, tuple (read back as a list), dict"
    )

    def __init__(self) -> None:
        try:
            msgpack: Any = importlib.import_module("msgpack")
        except ImportError as exc:
            raise ImportError(
                "MsgpackSerializer needs the msgpack package, which is not installed: "
                "pip install 'asyncjobs-inproc[msgpack]' (in a clone: pip install -e "
                "'.[msgpack]'), or pip install msgpack"
            ) from exc
        self._packb: Callable[..., bytes] = msgpack.packb
        self._unpackb: Callable[..., object] = msgpack.unpackb

    def _scalar_problem(self, value: object) -> str | None:
        if type(value) is int and not _MSGPACK_INT_MIN <= value <= _MSGPACK_INT_MAX:
            return (
                f"{echo(value)} is outside msgpack's 64-bit range (-2**63 to 2**64 - 1); "
                "pass it as a str"
            )
        return super()._scalar_problem(value)

    def _encode(self, value: object) -> bytes:
        return self._packb(value, use_bin_type=True)

    def loads(self, data: bytes) -> object:
        """The value ``data`` was made from; raises on bytes that are not one msgpack value
        (and on map keys other than str or bytes)."""
        return self._unpackb(data, raw=False, strict_map_key=True, use_list=True)


class PickleSerializer:
    """pickle, at ``pickle.HIGHEST_PROTOCOL``: stores almost any object. Opt-in only, never a
    default: reading a pickle runs code chosen by whoever wrote it, so this serializer trusts
    everyone who can write to the store with running code in every process that reads it."""

    name = "pickle"

    def dumps(self, value: object) -> bytes:
        """The pickle of ``value``; raises what ``pickle`` raises on what it cannot pickle."""
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)

    def loads(self, data: bytes) -> object:
        """Unpickles ``data``, running whatever code it names: trusted data only."""
        return pickle.loads(data)


def encode_payload(serializer: Serializer, field: str, value: object) -> bytes:
    """``serializer.dumps(value)``, or ``UnencodablePayload`` when it refuses.

    For the JSON and msgpack serializers the error names the path to the first part they
    cannot store, from ``field`` down (``args[1]['when']``), and that part's type. For any
    other serializer (a user's own, or pickle) the accepted types are unknown: the error names
    ``field`` and the type of ``value``, and chains what ``dumps`` raised. A ``dumps`` that
    returns something other than bytes is refused the same way."""
    # a subclass of a built-in one that dumps its own way counts as a user's own
    own_dumps = getattr(type(serializer), "dumps", None) is _CheckedSerializer.dumps
    if isinstance(serializer, _CheckedSerializer) and own_dumps:
        return serializer._dump_as(field, value)
    try:
        data = serializer.dumps(value)
    except Exception as exc:  # a user's serializer may raise anything
        raise UnencodablePayload(
            field, _type_name(type(value)), _name_of(serializer), f"dumps raised {_raised(exc)}"
        ) from exc
    if not isinstance(data, bytes):
        raise UnencodablePayload(
            field,
            _type_name(type(value)),
            _name_of(serializer),
            f"dumps returned {_type_name(type(data))}, not bytes (a serializer must return bytes)",
        )
    return data


def check_arguments(serializer: Serializer, args: object, kwargs: Mapping[str, object]) -> None:
    """Refuse a job's arguments ``serializer`` cannot encode: ``UnencodablePayload`` names
    the part (``args[0]['when']``), before anything is stored."""
    encode_payload(serializer, "args", args)
    if kwargs:
        encode_payload(serializer, "kwargs", dict(kwargs))


def decode_payload(serializer: Serializer, field: str, data: bytes) -> object:
    """``serializer.loads(data)``, or ``CorruptPayload`` naming ``field`` when it raises
    (bytes damaged in the store, or written by another serializer)."""
    try:
        return serializer.loads(data)
    except Exception as exc:  # whatever loads raises, the bytes could not be read
        raise CorruptPayload(field, _name_of(serializer), _raised(exc)) from exc


def _raised(exc: BaseException) -> str:
    return f"{_type_name(type(exc))}: {echo_error(exc)}"
