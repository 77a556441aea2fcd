"""Wording shared by the API and the command line: counts with the right noun form."""

from __future__ import annotations


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 record``, ``2 records``, ``0 records`` (``plural_form`` for nouns that do not take an s)."""
    return f"{count} {singular if count == 1 else (plural_form or singular + 's')}"
