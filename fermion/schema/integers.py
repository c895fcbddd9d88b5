"""Integer types with the range the spec gives them.

JSON allows integers of any size; mParticle's integer fields are int64, and anything larger would
only fail later, in storage. msgspec checks these bounds while decoding, in C. (The spec's two
uint64 fields, iOS image address and size, are int64 here too: msgspec cannot bound an int beyond
int64, and user-space addresses fit.)
"""

from __future__ import annotations

from typing import Annotated, Final, TypeAlias

import msgspec

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1

Int64: TypeAlias = Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)]
"""A signed 64-bit integer: timestamps, ids, counts, and integer attribute values."""
