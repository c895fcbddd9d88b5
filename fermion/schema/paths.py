"""JSON paths in error messages: ``$.events[0].data.custom_attributes.color``."""

from __future__ import annotations

import re

import msgspec

_PLAIN_KEY = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


def child_path(base: str, key: str) -> str:
    """Return the path of ``key`` inside the object at ``base``; odd keys are quoted: ``$.a["b c"]``."""
    if _PLAIN_KEY.fullmatch(key):
        return f"{base}.{key}"
    return f"{base}[{msgspec.json.encode(key).decode()}]"


def rebase(msgspec_path: str, prefix: str) -> str:
    """Replace the leading ``$`` of a msgspec path with ``prefix`` (``$[3]`` for bulk element 3)."""
    return prefix + msgspec_path[1:]
