"""JSON in the store; Python types back out.

Values are walked once into a JSON tree in which every type that plain JSON
would flatten (datetimes, UUIDs, bytes, enums, sets, tuples, pydantic models,
dataclasses...) is wrapped in a small tagged object ``{"__polos__": tag, ...}``.
Decoding reverses the walk, finding model, enum, dataclass and namedtuple
classes by their ``module:QualName``. A value that cannot be stored raises
``SerializationError`` when it is encoded, so a bad step output fails at that
step, never later in replay.

Stored data is not trusted to run code. Anyone who can write one row must
not be able to make every worker that reads it call a function of their
choosing (``{"__polos__": "enum", "c": "os:system", "v": "..."}`` would
otherwise run a shell command). So decoding:

- never imports a module: a class is found only in a module this process has
  already imported (``sys.modules``), by its own code;
- looks the name up in the module's and classes' own namespaces, so no
  module ``__getattr__`` or descriptor runs;
- builds only a class that is what its tag says (an ``Enum`` subclass, a
  pydantic model, a dataclass, a namedtuple) and never calls anything else.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import math
import sys
import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path, PurePath
from typing import Any

import orjson
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from .errors import PayloadTooLargeError, SerializationError

TAG = "__polos__"
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1
_class_refs: dict[type, str] = {}
#: Types stored as they are, tested inline so that the leaves of a value cost
#: no call each: most of a step's output is strings, flags and nulls.
_LEAVES = frozenset({str, bool, type(None)})
#: What a JSON tree holds that may need decoding: everything else is a leaf.
_BRANCHES = frozenset({list, dict})
#: Per model class, its (attribute, stored key) pairs; None where a stored key
#: would be the tag itself (then the general path wraps the data as a dict).
_model_keys: dict[type, tuple[tuple[str, str], ...] | None] = {}


def dumps(value: Any) -> str:
    """Encode ``value`` to JSON text; raises ``SerializationError``."""
    try:
        return orjson.dumps(to_tree(value)).decode()
    except RecursionError:
        raise SerializationError(
            "the value is nested too deeply or contains itself, so it cannot be stored"
        ) from None
    except orjson.JSONEncodeError as exc:  # e.g. a str with lone surrogates, or too deep
        raise SerializationError(f"the value cannot be stored as JSON: {exc}") from None


def dumps_limited(what: str, value: Any, limit: int) -> str:
    """:func:`dumps`, with errors naming ``what`` and a size limit in bytes."""
    try:
        text = dumps(value)
    except SerializationError as exc:
        raise SerializationError(f"{what}: {exc}") from None
    if len(text) > limit:
        raise PayloadTooLargeError(what, len(text), limit)
    return text


def loads(text: str | bytes | None, *, strict: bool = True) -> Any:
    """Decode JSON text made by :func:`dumps`.

    With ``strict=False`` a class that cannot be imported here (a client in a
    process that lacks the user's modules) decodes to its plain data instead
    of raising.
    """
    if text is None:
        return None
    return from_tree(orjson.loads(text), strict)


def to_tree(value: Any, lenient: bool = False) -> Any:
    """The JSON tree of ``value``.

    ``lenient`` is used for the data of pydantic models only: a leaf of a type
    we do not know (a URL, a secret...) becomes its pydantic JSON form, which
    the model's own validation turns back into the field's type.
    """
    t = type(value)
    if t is str or t is bool or value is None:
        return value
    if t is int:
        return value if _INT_MIN <= value <= _INT_MAX else {TAG: "int", "v": str(value)}
    if t is float:
        return value if math.isfinite(value) else {TAG: "float", "v": repr(value)}
    if t is list:
        return [v if type(v) in _LEAVES else to_tree(v, lenient) for v in value]
    if t is dict:
        if TAG not in value and all(type(k) is str for k in value):
            return {k: v if type(v) in _LEAVES else to_tree(v, lenient) for k, v in value.items()}
        return {
            TAG: "dict",
            "v": [[to_tree(k, lenient), to_tree(v, lenient)] for k, v in value.items()],
        }
    if not lenient:
        return _to_tagged(value, lenient)
    try:
        return _to_tagged(value, lenient)
    except SerializationError:
        try:
            return to_jsonable_python(value)
        except Exception:
            raise SerializationError(
                f"a value of type {_type_name(value)} inside a pydantic model cannot be stored"
            ) from None


def _type_name(value: Any) -> str:
    return f"{type(value).__module__}.{type(value).__qualname__}"


def _model_tree(value: BaseModel) -> dict[str, Any]:
    """Tagged tree of a pydantic model, built so that validation rebuilds it exactly.

    The model's python-mode data is walked like any value (so NaN floats, bytes,
    datetimes in ``Any`` fields and sets keep their types) and stored under
    ``t``. If that fails (custom serializers for JSON only), its JSON-mode data
    is stored under ``v``, checked now to validate back, never later in replay.
    """
    cls = type(value)
    ref = class_ref(cls)
    try:
        # Attribute values rather than model_dump: a model held in an ``Any``
        # field (a child's result in a BatchStepResult) must stay a model.
        if cls not in _model_keys:
            _model_keys[cls] = _keys_of(cls)
        keys = _model_keys[cls]
        if keys is not None and not value.__pydantic_extra__:
            tree: dict[str, Any] = {}
            for name, key in keys:
                v = getattr(value, name)
                tree[key] = v if type(v) in _LEAVES else to_tree(v, True)
            return {TAG: "model", "c": ref, "t": tree}
        data = {(f.alias or name): getattr(value, name) for name, f in cls.model_fields.items()}
        if value.model_extra:
            data.update(value.model_extra)
        return {TAG: "model", "c": ref, "t": to_tree(data, True)}
    except SerializationError:
        pass
    try:
        data = value.model_dump(mode="python", by_alias=True, round_trip=True, warnings=False)
        return {TAG: "model", "c": ref, "t": to_tree(data, True)}
    except Exception:
        pass
    try:
        data = value.model_dump(mode="json", by_alias=True, round_trip=True, warnings=False)
        cls.model_validate(data)
    except Exception as exc:
        raise SerializationError(
            f"pydantic model {cls.__module__}.{cls.__qualname__} cannot be stored and "
            f"rebuilt: {type(exc).__name__}: {exc}"
        ) from None
    return {TAG: "model", "c": ref, "v": data}


def _keys_of(cls: type[BaseModel]) -> tuple[tuple[str, str], ...] | None:
    keys = tuple((name, f.alias or name) for name, f in cls.model_fields.items())
    return None if any(key == TAG for _, key in keys) else keys


def _to_tagged(value: Any, lenient: bool = False) -> Any:
    if isinstance(value, BaseModel):
        return _model_tree(value)
    if isinstance(value, enum.Enum):
        return {TAG: "enum", "c": class_ref(type(value)), "v": to_tree(value.value, lenient)}
    if isinstance(value, bool | int | float | str):  # subclasses of the basics
        return to_tree(type(value).__mro__[-2](value), lenient)
    if isinstance(value, datetime):
        return {TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {TAG: "date", "v": value.isoformat()}
    if isinstance(value, time):
        return {TAG: "time", "v": value.isoformat()}
    if isinstance(value, timedelta):
        # Exact: total_seconds() loses microseconds beyond about 270 years.
        return {TAG: "timedelta", "v": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, uuid.UUID):
        return {TAG: "uuid", "v": str(value)}
    if isinstance(value, Decimal):
        return {TAG: "decimal", "v": str(value)}
    if isinstance(value, bytearray):
        return {TAG: "bytearray", "v": base64.b64encode(value).decode()}
    if isinstance(value, bytes | memoryview):
        return {TAG: "bytes", "v": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, tuple):
        items = [to_tree(v, lenient) for v in value]
        if hasattr(type(value), "_fields"):  # a NamedTuple keeps its class
            return {TAG: "namedtuple", "c": class_ref(type(value)), "v": items}
        return {TAG: "tuple", "v": items}
    if isinstance(value, frozenset):
        return {TAG: "frozenset", "v": [to_tree(v, lenient) for v in value]}
    if isinstance(value, set):
        return {TAG: "set", "v": [to_tree(v, lenient) for v in value]}
    if isinstance(value, PurePath):
        return {TAG: "path", "v": str(value)}
    if isinstance(value, list | dict):
        return to_tree(list(value) if isinstance(value, list) else dict(value), lenient)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {
            f.name: to_tree(getattr(value, f.name), lenient) for f in dataclasses.fields(value)
        }
        return {TAG: "dataclass", "c": class_ref(type(value)), "v": fields}
    raise SerializationError(
        f"a value of type {_type_name(value)} cannot be stored; "
        "return JSON data, a pydantic model, a dataclass, or a datetime/UUID/bytes/enum/set"
    )


def class_ref(cls: type) -> str:
    """``module:QualName`` for a class that can be imported back, checked once."""
    ref = _class_refs.get(cls)
    if ref is not None:
        return ref
    if "<locals>" in cls.__qualname__:
        raise SerializationError(
            f"class {cls.__qualname__} is defined inside a function, so it could not be "
            "rebuilt on replay; define it at module level"
        )
    ref = f"{cls.__module__}:{cls.__qualname__}"
    try:
        found: Any = _find_class(ref)
    except LookupError:
        found = None
    if found is not cls:
        raise SerializationError(
            f"class {cls.__qualname__} cannot be found again as {ref}; define it at module "
            "level under a unique name"
        )
    _class_refs[cls] = ref
    return ref


def _find_class(ref: str) -> type:
    """The class ``ref`` (``module:QualName``) names, without importing or calling anything.

    Raises ``LookupError`` saying why it is not there.
    """
    module_name, colon, qualname = ref.partition(":") if isinstance(ref, str) else ("", "", "")
    if not colon or not module_name or not qualname:
        raise LookupError(f"{ref!r} is not a 'module:Class' reference")
    module = sys.modules.get(module_name)
    if module is None:
        raise LookupError(
            f"module {module_name!r} is not imported in this process (Polos never imports a "
            "module because stored data names it: import it in the worker, e.g. from the "
            "module that defines the workflow)"
        )
    obj: Any = module
    for part in qualname.split("."):
        # The namespace itself, not getattr: no module __getattr__, no descriptor runs.
        obj = vars(obj).get(part)
        if not isinstance(obj, type):
            raise LookupError(f"{ref} is not a class defined at that path")
    cls: type = obj
    return cls


def from_tree(tree: Any, strict: bool = True) -> Any:
    t = type(tree)
    if t is list:
        return [from_tree(v, strict) if type(v) in _BRANCHES else v for v in tree]
    if t is not dict:
        return tree
    tag = tree.get(TAG)
    if tag is None:
        return {k: from_tree(v, strict) if type(v) in _BRANCHES else v for k, v in tree.items()}
    return _from_tagged(tag, tree, strict)


def _from_tagged(tag: str, tree: dict[str, Any], strict: bool) -> Any:
    v: Any = tree.get("v")
    simple = _SIMPLE_DECODERS.get(tag)
    if simple is not None:
        return simple(v)
    if tag == "dict":
        return {from_tree(k, strict): from_tree(val, strict) for k, val in v}
    if tag in ("tuple", "set", "frozenset"):
        items = [from_tree(x, strict) for x in v]
        return {"tuple": tuple, "set": set, "frozenset": frozenset}[tag](items)
    if tag == "model" and "t" in tree:
        return _decode_class(tag, tree["c"], from_tree(tree["t"], strict), strict)
    if tag in ("model", "enum", "dataclass", "namedtuple"):
        return _decode_class(tag, tree["c"], v, strict)
    raise SerializationError(f"unknown stored type tag {tag!r}; was it written by a newer Polos?")


#: What each class tag may build: (what it must be, the check).
_CLASS_KINDS: dict[str, tuple[str, Callable[[type], bool]]] = {
    "enum": ("an Enum subclass", lambda cls: issubclass(cls, enum.Enum)),
    "model": ("a pydantic model", lambda cls: issubclass(cls, BaseModel)),
    "dataclass": ("a dataclass", dataclasses.is_dataclass),
    "namedtuple": (
        "a namedtuple",
        lambda cls: issubclass(cls, tuple) and isinstance(vars(cls).get("_fields"), tuple),
    ),
}


def _decode_class(tag: str, ref: str, v: Any, strict: bool) -> Any:
    kind, is_kind = _CLASS_KINDS[tag]
    try:
        cls: Any = _find_class(ref)
        if not is_kind(cls):
            raise LookupError(f"{ref} is not {kind}, so a stored {tag!r} value cannot use it")
    except LookupError as exc:
        if strict:
            raise SerializationError(
                f"stored {tag} value names class {ref!r}, which cannot be used: {exc}"
            ) from None
        return from_tree(v, strict)  # a reader without the class sees the plain data
    if tag == "model":
        return cls.model_validate(v)
    if tag == "enum":
        return cls(from_tree(v, strict))
    if tag == "namedtuple":
        return cls(*(from_tree(x, strict) for x in v))
    fields = {k: from_tree(x, strict) for k, x in v.items()}
    init = {f.name for f in dataclasses.fields(cls) if f.init}
    obj = cls(**{k: x for k, x in fields.items() if k in init})
    for k, x in fields.items():
        if k not in init:
            object.__setattr__(obj, k, x)
    return obj


_SIMPLE_DECODERS: dict[str, Any] = {
    "int": int,
    "float": float,
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
    "time": time.fromisoformat,
    "timedelta": lambda v: timedelta(*v) if type(v) is list else timedelta(seconds=v),
    "uuid": uuid.UUID,
    "decimal": Decimal,
    "bytes": base64.b64decode,
    "bytearray": lambda v: bytearray(base64.b64decode(v)),
    "path": Path,
}
