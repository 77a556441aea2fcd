"""One log line per CLI run (``LOG_CLI_RUNS``): command, outcome, exit code and duration.

Arguments are never logged (``--token`` is one). Each command's callback is wrapped once, after
every command is registered; the wrapper reads the configuration of the app the run loaded.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import click
from flask import Flask, current_app, has_app_context
from flask.cli import ScriptInfo

from statsservice.observability import logs

_WRAPPED = "_statsservice_logged"


def _run_app() -> Flask | None:
    """The app this run loaded (ScriptInfo caches it), else the current one."""
    ctx = click.get_current_context(silent=True)
    info = ctx.find_object(ScriptInfo) if ctx else None
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


def _log(command: str, started: float, code: int, error: str | None) -> None:
    app = _run_app()
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


def _wrap(command: click.Command, name: str) -> None:
    callback = command.callback
    if callback is None or getattr(callback, _WRAPPED, False):
        return

    @functools.wraps(callback)
    def logged(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            result = callback(*args, **kwargs)
        except BaseException as exc:
            code, error = _outcome(exc)
            _log(name, started, code, error)
            raise
        _log(name, started, 0, None)
        return result

    setattr(logged, _WRAPPED, True)
    command.callback = logged


def _walk(command: click.Command, name: str) -> None:
    if isinstance(command, click.Group):
        for sub_name, sub in command.commands.items():
            _walk(sub, f"{name} {sub_name}")
    else:
        _wrap(command, name)


def register(app: Flask) -> None:
    """Wrap every command registered on ``app.cli`` (groups such as ``db``: each subcommand)."""
    for name, command in app.cli.commands.items():
        _walk(command, name)
