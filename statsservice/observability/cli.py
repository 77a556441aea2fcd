"""One log line per CLI run (``LOG_CLI_RUNS``): command, outcome, exit code and duration.

Arguments are never logged (``--token`` is one). The hub's commands are ``LoggedCommand``s
(click's ``cls=`` extension point, through :func:`command`): the line is written by the command's
own ``invoke``, whichever group runs it (``statsservice``, ``flask --app statsservice`` or a test
runner), and nothing rewrites a callback after the fact.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import click
from flask import Flask, current_app, has_app_context
from flask.cli import ScriptInfo
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

from statsservice.observability import logs


def _run_app(ctx: click.Context) -> Flask | None:
    """The app this run loaded (ScriptInfo caches it), else the current one."""
    info = ctx.find_object(ScriptInfo)
    if info is not None:
        return info.load_app()
    return current_app._get_current_object() if has_app_context() else None


def _outcome(exc: BaseException) -> tuple[int, str | None]:
    if isinstance(exc, click.exceptions.Exit):
        return exc.exit_code, None
    if isinstance(exc, click.ClickException):
        return exc.exit_code, exc.format_message()
    if isinstance(exc, click.Abort):
        return 1, "aborted"
    if isinstance(exc, SystemExit):
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return code, None
    return 1, exc.__class__.__name__  # the class only: a message could quote an argument


def _log(ctx: click.Context, command: str, started: float, code: int, error: str | None) -> None:
    app = _run_app(ctx)
    if app is None or not app.config.get("LOG_CLI_RUNS"):
        return
    fields: dict[str, Any] = {
        "command": command,
        "status": "ok" if code == 0 else "error",
        "exit_code": code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
    }
    if error:
        fields["error"] = error
    logs.event("cli", f"{command} {fields['status']}", **fields)


def _database_error(ctx: click.Context, exc: DBAPIError) -> click.ClickException:
    """A missing table or an unreachable server, said in one line with the command that helps
    (spelled for the program the operator ran: ``statsservice`` or ``flask --app statsservice``)."""
    url = _database_url()
    where = f" at {url}" if url else ""
    program = "statsservice" if ctx.find_root().info_name == "statsservice" else "flask --app statsservice"
    reason = str(exc.orig).splitlines()[0][:200] if str(exc.orig) else ""
    return click.ClickException(
        f"database error{where} ({exc.orig.__class__.__name__}: {reason}); is it reachable and migrated? "
        f"Migrate with: {program} db upgrade"
    )


def _database_url() -> str | None:
    if not has_app_context():
        return None
    from statsservice.extensions import db

    return db.engine.url.render_as_string(hide_password=True)


class LoggedCommand(click.Command):
    """A click command whose run (success or failure) is logged once by its own ``invoke``; a
    database that is missing its tables or unreachable is one line of error, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        started = time.perf_counter()
        name = self.name or "?"
        try:
            try:
                result = super().invoke(ctx)
            except (OperationalError, ProgrammingError) as exc:
                raise _database_error(ctx, exc) from None
        except BaseException as exc:
            code, error = _outcome(exc)
            _log(ctx, name, started, code, error)
            raise
        _log(ctx, name, started, 0, None)
        return result


def command(name: str, **kwargs: Any) -> Callable[[Callable[..., Any]], click.Command]:
    """``click.command`` for the hub's commands: each run is logged (``LOG_CLI_RUNS``)."""
    return click.command(name, cls=LoggedCommand, **kwargs)
