"""The JSON Schema side of data points (spec §1.3): checking, compiling and explaining.

Validation has two speeds. ``compile_schema`` turns a data point's schema into a fastjsonschema validator,
once per plan version; data that passes it is valid and costs microseconds. Only data that fails is walked
by ``explain``, which reports every violation (fastjsonschema stops at the first) and applies mParticle's
type leniency: ``42`` and ``"42"``, ``true`` and ``"true"`` are the same value, and nulls never violate.
When ``explain`` finds nothing, the strict failure was only a leniency difference and the data is valid.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import fastjsonschema

from fermion.errors import BadRequest

# Keywords mParticle's validator does not support (spec §1.3); a plan that uses them is refused.
UNSUPPORTED: Final = frozenset(
    {
        "$ref",
        "$recursiveRef",
        "$recursiveAnchor",
        "patternProperties",
        "allOf",
        "anyOf",
        "oneOf",
        "if",
        "not",
        "else",
        "then",
        "dependencies",
        "dependentRequired",
        "dependentSchemas",
    }
)
TYPES: Final = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][+\-]?\d+)?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S*$")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*$"
)
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

UNPLANNED_KEYWORDS: Final = frozenset({"additionalProperties", "additionalItems"})
MISSING_KEYWORDS: Final = frozenset({"required", "dependencies"})
INVALID_KEYWORDS: Final = frozenset(
    {
        "type",
        "const",
        "enum",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "patternProperties",
    }
)


def error_type_of(keyword: str) -> str:
    """The validation error type of a failing keyword (the reference validator's mapping, spec §1.4)."""
    if keyword in UNPLANNED_KEYWORDS:
        return "unplanned"
    if keyword in MISSING_KEYWORDS:
        return "missing_required"
    if keyword in INVALID_KEYWORDS:
        return "invalid_value"
    return "unknown"


@dataclass(frozen=True)
class Violation:
    """One failing keyword at one place in the validated data."""

    keyword: str
    pointer: str
    key: str
    expected: Any
    actual: Any

    def to_json(self) -> dict[str, Any]:
        """The ``validation_errors[]`` item of mParticle's validation result."""
        return {
            "validation_error_type": error_type_of(self.keyword),
            "key": self.key,
            "error_pointer": self.pointer,
            "expected": self.expected,
            "actual": self.actual,
            "schema_keyword": self.keyword,
        }


def _fail(path: str, message: str) -> BadRequest:
    return BadRequest(f"{path}: {message}")


def check_schema(schema: dict[str, Any], path: str) -> None:
    """Refuse a malformed schema or one using unsupported keywords, naming the path of the problem."""
    _check_node(schema, path)
    try:
        compile_schema(schema)
    except fastjsonschema.JsonSchemaDefinitionException as exc:
        raise _fail(path, f"not a valid JSON Schema ({exc})") from None


def _check_node(node: object, path: str) -> None:
    if isinstance(node, bool):
        return
    if not isinstance(node, dict):
        raise _fail(path, "a schema must be an object (or true/false)")
    for keyword in node:
        if keyword in UNSUPPORTED:
            raise _fail(f"{path}.{keyword}", "this JSON Schema keyword is not supported in data plans")
    kind = node.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        for k in kinds:
            if k not in TYPES:
                raise _fail(
                    f"{path}.type", f"{k!r} is not a JSON Schema type; use one of {', '.join(sorted(TYPES))}"
                )
    properties = node.get("properties")
    if properties is not None:
        if not isinstance(properties, dict):
            raise _fail(f"{path}.properties", "must be an object of schemas")
        for name, child in properties.items():
            _check_node(child, f"{path}.properties.{name}")
    for key in ("additionalProperties", "additionalItems", "contains", "propertyNames"):
        if key in node:
            _check_node(node[key], f"{path}.{key}")
    for key in ("definitions", "$defs"):
        for name, child in (node.get(key) or {}).items():
            _check_node(child, f"{path}.{key}.{name}")
    items = node.get("items")
    if isinstance(items, list):
        for index, child in enumerate(items):
            _check_node(child, f"{path}.items[{index}]")
    elif items is not None:
        _check_node(items, f"{path}.items")
    required = node.get("required")
    if required is not None and (
        not isinstance(required, list) or not all(isinstance(r, str) for r in required)
    ):
        raise _fail(f"{path}.required", "must be an array of property names")
    if "enum" in node and not isinstance(node["enum"], list):
        raise _fail(f"{path}.enum", "must be an array")
    pattern = node.get("pattern")
    if pattern is not None:
        if not isinstance(pattern, str):
            raise _fail(f"{path}.pattern", "must be a string")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise _fail(f"{path}.pattern", f"not a valid regular expression ({exc})") from None
    for key in ("minimum", "maximum", "multipleOf"):
        value = node.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise _fail(f"{path}.{key}", "must be a number")
    for key in ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"):
        value = node.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise _fail(f"{path}.{key}", "must be a non-negative integer")


def _format_check(check: Callable[[str], bool]) -> Callable[[str], bool]:
    def run(value: str) -> bool:
        try:
            return check(value)
        except ValueError:
            return False

    return run


@functools.lru_cache(maxsize=4096)
def _js_pattern(pattern: str) -> re.Pattern[str]:
    """A plan's regular expression with JavaScript's ``$``: the end of the text, not before a last newline."""
    return re.compile(re.sub(r"(?<!\\)\$", r"\\Z", pattern))


def _date(value: str) -> bool:
    dt.date.fromisoformat(value)
    return len(value) == 10


def _date_time(value: str) -> bool:
    dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    return "T" in value.upper()


def _time(value: str) -> bool:
    dt.time.fromisoformat(value.replace("Z", "+00:00"))
    return True


def _ip(version: int) -> Callable[[str], bool]:
    return lambda value: ipaddress.ip_address(value).version == version


FORMATS: Final[dict[str, Callable[[str], bool]]] = {
    "email": _format_check(lambda v: bool(_EMAIL.match(v))),
    "idn-email": _format_check(lambda v: bool(_EMAIL.match(v))),
    "uri": _format_check(lambda v: bool(_URI.match(v))),
    "uri-reference": _format_check(lambda v: " " not in v),
    "iri": _format_check(lambda v: bool(_URI.match(v))),
    "date": _format_check(_date),
    "date-time": _format_check(_date_time),
    "time": _format_check(_time),
    "ipv4": _format_check(_ip(4)),
    "ipv6": _format_check(_ip(6)),
    "hostname": _format_check(lambda v: bool(_HOSTNAME.match(v))),
    "uuid": _format_check(lambda v: bool(_UUID.match(v))),
}


def compile_schema(schema: dict[str, Any]) -> Callable[[Any], Any]:
    """A fastjsonschema validator for ``schema`` (strict; see the module docstring).

    Compiling costs about a millisecond per schema, validating microseconds: validators are cached by the
    schema's text, so a plan is compiled once per process however often it is loaded or checked.
    """
    return _compile_text(json.dumps(schema, sort_keys=True))


@functools.lru_cache(maxsize=8192)
def _compile_text(text: str) -> Callable[[Any], Any]:
    return fastjsonschema.compile(json.loads(text), formats=FORMATS, use_default=False)


# ---- explain: every violation, leniently ----


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _NUMBER.match(value):
        return float(value)
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value) if not isinstance(value, float) or not value.is_integer() else str(int(value))
    return None


def _is_type(value: Any, kind: str) -> bool:
    if kind == "string":
        return _text(value) is not None
    if kind == "number":
        return _number(value) is not None
    if kind == "integer":
        n = _number(value)
        return n is not None and math.isfinite(n) and n.is_integer()
    if kind == "boolean":
        return isinstance(value, bool) or (isinstance(value, str) and value.lower() in ("true", "false"))
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    return value is None


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _same(a: Any, b: Any) -> bool:
    if a == b and type(a) is type(b):
        return True
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return bool(a == b)
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None:
        return na == nb
    ta, tb = _text(a), _text(b)
    return (
        ta is not None and tb is not None and ta.lower() == tb.lower()
        if isinstance(a, bool) or isinstance(b, bool)
        else ta == tb
    )


def explain(schema: Any, value: Any, pointer: str = "#", key: str = "") -> list[Violation]:
    """Every violation of ``schema`` by ``value``, with mParticle's leniency; nulls never violate."""
    if value is None or schema is True or not isinstance(schema, dict):
        return []
    if schema is False:
        return [Violation("false", pointer, key, None, _type_name(value))]
    kind = schema.get("type")
    kinds: list[str] = [] if kind is None else (kind if isinstance(kind, list) else [kind])
    if kinds and not any(_is_type(value, k) for k in kinds):
        return [Violation("type", pointer, key, "|".join(kinds), _type_name(value))]
    found: list[Violation] = []
    if "const" in schema and not _same(value, schema["const"]):
        found.append(Violation("const", pointer, key, schema["const"], value))
    if "enum" in schema and not any(_same(value, option) for option in schema["enum"]):
        found.append(Violation("enum", pointer, key, schema["enum"], value))
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if numeric or (kinds and {"number", "integer"} & set(kinds)):
        found.extend(_numeric(schema, _number(value), value, pointer, key))
    if isinstance(value, str) or (kinds and "string" in kinds):
        text = _text(value)
        if text is not None:
            found.extend(_textual(schema, text, value, pointer, key))
    if isinstance(value, dict):
        found.extend(_object(schema, value, pointer))
    elif isinstance(value, list):
        found.extend(_array(schema, value, pointer, key))
    return found


def _numeric(schema: dict[str, Any], n: float | None, value: Any, pointer: str, key: str) -> list[Violation]:
    if n is None:
        return []
    found = []
    if "minimum" in schema and n < schema["minimum"]:
        found.append(Violation("minimum", pointer, key, schema["minimum"], value))
    if "maximum" in schema and n > schema["maximum"]:
        found.append(Violation("maximum", pointer, key, schema["maximum"], value))
    low, high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if low is True and "minimum" in schema and n <= schema["minimum"]:
        found.append(Violation("exclusiveMinimum", pointer, key, schema["minimum"], value))
    elif isinstance(low, int | float) and not isinstance(low, bool) and n <= low:
        found.append(Violation("exclusiveMinimum", pointer, key, low, value))
    if high is True and "maximum" in schema and n >= schema["maximum"]:
        found.append(Violation("exclusiveMaximum", pointer, key, schema["maximum"], value))
    elif isinstance(high, int | float) and not isinstance(high, bool) and n >= high:
        found.append(Violation("exclusiveMaximum", pointer, key, high, value))
    step = schema.get("multipleOf")
    if step and (not math.isfinite(n) or not math.isclose(n / step, round(n / step), abs_tol=1e-9)):
        found.append(Violation("multipleOf", pointer, key, step, value))
    return found


def _textual(schema: dict[str, Any], text: str, value: Any, pointer: str, key: str) -> list[Violation]:
    found = []
    if "minLength" in schema and len(text) < schema["minLength"]:
        found.append(Violation("minLength", pointer, key, schema["minLength"], value))
    if "maxLength" in schema and len(text) > schema["maxLength"]:
        found.append(Violation("maxLength", pointer, key, schema["maxLength"], value))
    pattern = schema.get("pattern")
    if pattern is not None and _js_pattern(pattern).search(text) is None:
        found.append(Violation("pattern", pointer, key, pattern, value))
    check = FORMATS.get(schema.get("format", ""))
    if check is not None and not check(text):
        found.append(Violation("format", pointer, key, schema["format"], value))
    return found


def _object(schema: dict[str, Any], value: dict[str, Any], pointer: str) -> list[Violation]:
    found = []
    properties = schema.get("properties") or {}
    for name in schema.get("required") or ():
        if value.get(name) is None:
            found.append(Violation("required", pointer, name, name, None))
    extra = schema.get("additionalProperties", True)
    for name, child in value.items():
        if child is None:
            continue
        where = f"{pointer}/{name}"
        if name in properties:
            found.extend(explain(properties[name], child, where, name))
        elif extra is False:
            found.append(Violation("additionalProperties", where, name, None, name))
        elif isinstance(extra, dict):
            found.extend(explain(extra, child, where, name))
    present = sum(1 for v in value.values() if v is not None)
    if "minProperties" in schema and present < schema["minProperties"]:
        found.append(
            Violation("minProperties", pointer, pointer.rsplit("/", 1)[-1], schema["minProperties"], present)
        )
    if "maxProperties" in schema and present > schema["maxProperties"]:
        found.append(
            Violation("maxProperties", pointer, pointer.rsplit("/", 1)[-1], schema["maxProperties"], present)
        )
    return found


def _array(schema: dict[str, Any], value: list[Any], pointer: str, key: str) -> list[Violation]:
    found = []
    items = schema.get("items")
    if isinstance(items, dict):
        for index, child in enumerate(value):
            found.extend(explain(items, child, f"{pointer}/{index}", key))
    elif isinstance(items, list):
        for index, child in enumerate(value):
            where = f"{pointer}/{index}"
            if index < len(items):
                found.extend(explain(items[index], child, where, key))
            elif schema.get("additionalItems") is False:
                found.append(Violation("additionalItems", where, key, None, child))
    if "minItems" in schema and len(value) < schema["minItems"]:
        found.append(Violation("minItems", pointer, key, schema["minItems"], len(value)))
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        found.append(Violation("maxItems", pointer, key, schema["maxItems"], len(value)))
    if schema.get("uniqueItems") and len({repr(v) for v in value}) != len(value):
        found.append(Violation("uniqueItems", pointer, key, True, None))
    return found
