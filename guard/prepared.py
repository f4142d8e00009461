"""Statements compiled once per dialect by SQLAlchemy and run on the driver's own cursor.

For the few statements every access decision runs (the bearer lookup, the decision's facts, the quota
counter, the request row). SQLAlchemy still writes the SQL for each dialect and converts every value with
the column's own type, as it would itself; what is skipped is its per-execution machinery (statement
cache lookup, execution context, result object), which costs several times what SQLite takes to run
these statements. Driver errors are raised as SQLAlchemy's (`guard.db.driver_cursor`), so a database
outage is told apart from a bug the same way as everywhere else.

Statements with expanding (IN list) parameters are not supported: give each list item a parameter of
its own instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import Executable

from guard.db import driver_cursor

Convert = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Plan:
    sql: str
    compiled: Any  # sqlalchemy.sql.compiler.Compiled
    positional: tuple[str, ...] | None  # bind names in order for positional paramstyles (SQLite)
    binds: dict[str, Convert]
    results: tuple[Convert, ...]

    def arguments(self, params: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        # construct_params adds the statement's own literal values (such as `used = 1`) to the caller's.
        values: dict[str, Any] = self.compiled.construct_params(params)
        for name, convert in self.binds.items():
            if convert is not None:  # None too: a JSON column stores None as JSON null, as SQLAlchemy does
                values[name] = convert(values[name])
        if self.positional is None:
            return values  # construct_params built a fresh dict
        return tuple(values[name] for name in self.positional)

    def convert(self, rows: list[Any]) -> list[tuple[Any, ...]]:
        if not any(self.results):
            return [tuple(row) for row in rows]
        return [tuple(_converted(self.results, row)) for row in rows]


def _converted(results: tuple[Convert, ...], row: Sequence[Any]) -> list[Any]:
    return [value if c is None else c(value) for c, value in zip(results, row, strict=True)]


class PreparedStatement:
    def __init__(self, statement: Executable, *, what: str) -> None:
        self._statement: Any = statement
        self._what = what
        self._plans: dict[str, _Plan] = {}

    def rows(self, connection: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run in `connection`'s current transaction; every row returned (none for plain DML)."""
        plan = self._plans.get(connection.dialect.name) or self._plan(connection.dialect)
        arguments = plan.arguments(params)
        with driver_cursor(connection, self._what) as cursor:
            cursor.execute(plan.sql, arguments)
            rows = cursor.fetchall() if cursor.description is not None else []
        return plan.convert(rows)

    def first(self, connection: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        rows = self.rows(connection, params)
        return rows[0] if rows else None

    def _plan(self, dialect: Dialect) -> _Plan:
        compiled = self._statement.compile(dialect=dialect)
        if any(bind.expanding for bind in compiled.binds.values()):
            raise TypeError(f"{self._what}: expanding parameters cannot be prepared")
        binds = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for name, bind in compiled.binds.items()
        }
        results = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in self._statement.exported_columns
        )
        positional = tuple(compiled.positiontup) if compiled.positional else None
        plan = _Plan(compiled.string, compiled, positional, binds, results)
        self._plans[dialect.name] = plan
        return plan
