"""A stats type's ``explode`` written in SQL, so a selection of analyses is summed where its
records are stored and only the sums cross the wire (decoding a 22 kB compliance record in Python
costs more than the database takes to explode it).

``JsonSql`` spells the few JSON operations a type needs in one dialect's functions: PostgreSQL's
``jsonb_*`` or SQLite's ``json_each``/``json_extract``. A type's ``explode_sql`` builds, from them,
one SELECT over the CTE ``rec(id, date, data, n)`` (the selected records) that yields the columns
of ``EXPLODED``: the same rows as its Python ``explode``, one per element key, record and day.
Field and path names are the type's own constants, never user input.
"""

from __future__ import annotations

from dataclasses import dataclass

#: the columns a type's exploded SELECT yields, in this order: the record's day, key parts, the
#: row's weight and its numbers (``RollupRow``: ``n`` is ``w`` here)
EXPLODED = ("date", "k1", "k2", "k3", "k4", "w", "m1", "m2", "m3")


@dataclass(frozen=True, slots=True)
class JsonSql:
    """SQL fragments over JSON documents for one dialect (``postgresql`` or ``sqlite``).

    Set-returning fragments (``elements``, ``entries``) go in a FROM list with an alias; their rows
    have ``value`` (and ``key`` for an object's entries) in both dialects.
    """

    dialect: str

    @property
    def postgres(self) -> bool:
        return self.dialect == "postgresql"

    def elements(self, doc: str, path: str | None = None) -> str:
        """The items of the array ``doc`` (or of its member ``path``); none if it is absent."""
        if self.postgres:
            return f"jsonb_array_elements({doc}->'{path}')" if path else f"jsonb_array_elements({doc})"
        return f"json_each({doc}, '$.{path}')" if path else f"json_each({doc})"

    def elements_at(self, doc: str, name: str) -> str:
        """The items of ``doc``'s member whose name is the SQL text expression ``name`` (a column of
        the query): one pass over a document visits several of its arrays."""
        if self.postgres:
            return f"jsonb_array_elements({doc}->{name})"
        return f"json_each({doc}, '$.' || {name})"

    def entries(self, doc: str, path: str | None = None) -> str:
        """The (key, value) entries of the object ``doc`` (or of its member ``path``)."""
        if self.postgres:
            return f"jsonb_each({doc}->'{path}')" if path else f"jsonb_each({doc})"
        return f"json_each({doc}, '$.{path}')" if path else f"json_each({doc})"

    @property
    def materialized(self) -> str:
        """The CTE keyword that makes PostgreSQL compute a CTE once, as written (SQLite's planner
        needs no such hint)."""
        return "MATERIALIZED " if self.postgres else ""

    def member(self, doc: str, name: str) -> str:
        """Member ``name`` of ``doc`` as a JSON document (NULL when absent)."""
        if self.postgres:
            return f"({doc}->'{name}')"
        return f"json_extract({doc}, '$.{name}')"

    def text(self, doc: str, name: str) -> str:
        """Member ``name`` of ``doc`` as text."""
        if self.postgres:
            return f"({doc}->>'{name}')"
        return f"json_extract({doc}, '$.{name}')"

    def number(self, doc: str, name: str) -> str:
        """Member ``name`` of ``doc`` as a float (NULL when absent)."""
        if self.postgres:
            return f"({doc}->>'{name}')::float8"
        return f"CAST(json_extract({doc}, '$.{name}') AS REAL)"

    def scalar(self, value: str) -> str:
        """The ``value`` of an ``entries`` row that holds a number, as a float."""
        if self.postgres:
            return f"({value}#>>'{{}}')::float8"
        return f"CAST({value} AS REAL)"

    def weight(self, doc: str, fallback: str) -> str:
        """``doc``'s own weight ``n`` if it has a non-zero one, else ``fallback`` (Python's
        ``item.get("n") or fallback``)."""
        return f"COALESCE(NULLIF({self.number(doc, 'n')}, 0), {fallback})"


__all__ = ["EXPLODED", "JsonSql"]
