"""SQL written once, rendered per dialect: DuckDB (embedded) and PostgreSQL.

Queries are built as text with bound parameters; the few spellings that differ between the two engines
(JSON property access, numeric casts, regular expressions, placeholders) come from here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fermion.analytics.definitions import BUILTIN_PROPERTIES, Condition, FilterGroup
from fermion.errors import BadRequest

DIALECTS = ("duckdb", "postgres")


class Sql:
    """Bound parameters of one statement, and the dialect's spellings."""

    def __init__(self, dialect: str, user_values: Callable[[str], dict[int, Any]] | None = None) -> None:
        if dialect not in DIALECTS:
            raise BadRequest(f"Unsupported event store dialect {dialect!r}")
        self.dialect = dialect
        self.params: dict[str, Any] = {}
        self._user_values = user_values
        self._user_tables: dict[str, str] = {}

    def bind(self, value: Any) -> str:
        """A named placeholder bound to ``value`` (named, so that SQL text may repeat it in any order)."""
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"${name}" if self.dialect == "duckdb" else f"%({name})s"

    def text(self, value: str) -> str:
        """A bound string typed as text (PostgreSQL cannot infer the type of a bare parameter everywhere)."""
        return (
            f"CAST({self.bind(value)} AS VARCHAR)"
            if self.dialect == "duckdb"
            else f"{self.bind(value)}::text"
        )

    def user_prop(self, name: str, alias: str = "") -> str:
        """SQL: the current user's attribute ``name`` as text (NULL when missing), from the profile store.

        The profiles live in the state store, not beside the events: their values are bound as two arrays
        (MPIDs, values) and looked up per event by its user.
        """
        if self._user_values is None:
            raise BadRequest(f"where.{name}: user properties need the profile store")
        if name not in self._user_tables:
            values = self._user_values(name)
            ids = self.bind(list(values))
            texts = self.bind(
                [_as_text(v) if not isinstance(v, list) else json.dumps(v) for v in values.values()]
            )
            if self.dialect == "duckdb":
                table = f"(SELECT unnest(CAST({ids} AS BIGINT[])), unnest(CAST({texts} AS VARCHAR[])))"
            else:
                table = f"unnest(CAST({ids} AS BIGINT[]), CAST({texts} AS TEXT[]))"
            self._user_tables[name] = table
        column = (
            f"{alias}.uid" if alias else "uid"
        )  # unqualified: the events row in scope, as for event properties
        return (
            f"(SELECT up.up_v FROM {self._user_tables[name]} AS up (up_uid, up_v) WHERE up.up_uid = {column})"
        )

    def prop(self, name: str, alias: str = "", scope: str = "event") -> str:
        """SQL: an event property as text (NULL when missing): a built-in column or a custom attribute."""
        if scope == "user":
            return self.user_prop(name, alias)
        column = f"{alias}." if alias else ""
        if name in BUILTIN_PROPERTIES:  # the events CTE calls event_name "name"
            return f"CAST({column}{'name' if name == 'event_name' else name} AS VARCHAR)"
        if self.dialect == "duckdb":
            return (
                f"json_extract_string({column}body, {self.bind('$.data.custom_attributes.' + _quoted(name))})"
            )
        return f"({column}body -> 'data' -> 'custom_attributes' ->> {self.bind(name)})"

    def number(self, text_sql: str) -> str:
        """SQL: text as a double, NULL when it is not a number."""
        if self.dialect == "duckdb":
            return f"TRY_CAST({text_sql} AS DOUBLE)"
        pattern = r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"
        return f"(CASE WHEN {text_sql} ~ {self.text(pattern)} THEN CAST({text_sql} AS DOUBLE PRECISION) END)"

    def regex(self, text_sql: str, pattern: str) -> str:
        if self.dialect == "duckdb":
            return f"regexp_matches({text_sql}, {self.text(pattern)})"
        return f"({text_sql} ~ {self.text(pattern)})"

    def median(self, expression: str, fraction: float = 0.5) -> str:
        """SQL: the continuous (interpolated) quantile of ``expression``."""
        if self.dialect == "duckdb":
            return f"quantile_cont({expression}, {fraction})"
        return f"percentile_cont({fraction}) WITHIN GROUP (ORDER BY {expression})"

    def condition(self, condition: Condition) -> str:
        """SQL: one where-condition on the current event row."""
        value_sql = self.prop(condition.property, scope=condition.scope)
        op, value = condition.operator, condition.value
        if op == "is_set":
            return f"({value_sql} IS NOT NULL)"
        if op == "is_not_set":
            return f"({value_sql} IS NULL)"
        if op in ("exact", "is_not", "in", "not_in"):
            values = value if isinstance(value, list) else [value]
            listed = ", ".join(self.text(_as_text(v)) for v in values)
            test = f"{value_sql} IN ({listed})"
            return f"coalesce({test}, FALSE)" if op in ("exact", "in") else f"NOT coalesce({test}, FALSE)"
        if op in ("icontains", "not_icontains"):
            test = f"strpos(lower({value_sql}), lower({self.text(_as_text(value))})) > 0"
            return f"coalesce({test}, FALSE)" if op == "icontains" else f"NOT coalesce({test}, FALSE)"
        if op in ("regex", "not_regex"):
            test = self.regex(value_sql, str(value))
            return f"coalesce({test}, FALSE)" if op == "regex" else f"NOT coalesce({test}, FALSE)"
        number = self.number(value_sql)
        if op in ("between", "not_between"):
            low, high = (_as_number(v, condition.property) for v in value)
            test = f"{number} BETWEEN {self.bind(low)} AND {self.bind(high)}"
            return f"coalesce({test}, FALSE)" if op == "between" else f"NOT coalesce({test}, FALSE)"
        symbol = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
        return f"coalesce({number} {symbol} {self.bind(_as_number(value, condition.property))}, FALSE)"

    def where(self, group: FilterGroup | None) -> str:
        """SQL: a filter tree (TRUE when absent)."""
        if group is None:
            return "TRUE"
        parts = [self.where(c) if isinstance(c, FilterGroup) else self.condition(c) for c in group.conditions]
        return "(" + f" {group.op.upper()} ".join(parts) + ")"


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _as_number(value: Any, field: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise BadRequest(f"where.{field}: {value!r} is not a number") from None
