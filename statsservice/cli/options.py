"""Parameter types shared by the commands."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click


class Day(click.DateTime):
    """A calendar day written ``YYYY-MM-DD``; a bad value names the expected format in that form
    (click's own message quotes ``%Y-%m-%d``, which operators do not type)."""

    name = "day"

    def __init__(self) -> None:
        super().__init__(["%Y-%m-%d"])

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            self.fail(f"{value!r} is not a date in the YYYY-MM-DD format (e.g. 2026-01-31).", param, ctx)


DAY = Day()
