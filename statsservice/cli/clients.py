"""Client registry commands (SPEC §2)."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from statsservice.observability.cli import command
from statsservice.storage import clients as registry
from statsservice.storage.clients import ROLES, ClientError
from statsservice.text import plural


def _fail(exc: Exception) -> None:
    raise click.ClickException(str(exc))


def _print_client(client, token: str | None = None) -> None:
    click.echo(f"UUID: {client.uuid}")
    click.echo(f"Name: {client.name}")
    click.echo(f"Role: {client.role}")
    if token is not None:
        click.echo(f"Token: {token}")
    click.echo(f"Created at: {client.created_at}")


@command("client_create")
@click.option("--name", required=True, help="Unique name of the client.")
@click.option("--uuid", default=None, help="Use this UUID instead of a random one.")
@click.option("--token", default=None, help="Use this token (provisioning) instead of a generated one.")
@click.option("--role", type=click.Choice(sorted(ROLES)), default="user", show_default=True)
@click.option(
    "--remote",
    is_flag=True,
    help="A local hub pushing aggregates to this global hub (not a MONARC instance).",
)
@click.option("--force", is_flag=True, help="Create a --remote client even though this hub is in local mode.")
@with_appcontext
def client_create(
    name: str, uuid: str | None, token: str | None, role: str, remote: bool, force: bool
) -> None:
    """Create a client and print its token (shown only once)."""
    mode = current_app.config.get("MODE")
    if remote and mode != "global" and not force:
        # the usual mistake: the command ran without the global hub's configuration
        raise click.ClickException(
            f"this hub is in {mode} mode: --remote clients belong on the global hub "
            "(run with its configuration, e.g. STATSSERVICE_MODE=global or STATS_CONFIG=...), "
            "or add --force"
        )
    try:
        client, clear = registry.create_client(
            name, token=token, uuid=uuid, role=ROLES[role], local=not remote
        )
    except ClientError as exc:
        _fail(exc)
    _print_client(client, clear)


@command("client_token_rotate")
@click.option("--uuid", required=True)
@click.option("--token", default=None, help="Use this token (provisioning) instead of a generated one.")
@with_appcontext
def client_token_rotate(uuid: str, token: str | None) -> None:
    """Give a client a new token and print it (shown only once); the old token stops working."""
    try:
        client, clear = registry.rotate_token(uuid, token)
    except ClientError as exc:
        _fail(exc)
    _print_client(client, clear)


@command("client_list")
@with_appcontext
def client_list() -> None:
    """List the registered clients."""
    for client in registry.list_clients():
        click.echo(
            f"{client.uuid}  {client.name}  role={client.role} sharing={client.is_sharing_enabled} "
            f"active={client.is_active} local={client.local} "
            f"coordinates={client.latitude},{client.longitude} last_seen={client.last_seen}"
        )


@command("client_delete")
@click.option("--uuid", required=True)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def client_delete(uuid: str, yes: bool) -> None:
    """Delete a client and all of its stats."""
    try:
        client = registry.require_by_uuid(uuid)
        if not yes:
            click.confirm(f"Delete client {client.name!r} and all its stats?", abort=True)
        removed = registry.delete_client(uuid)
    except ClientError as exc:
        _fail(exc)
    click.echo(f"Deleted client {uuid} and {plural(removed, 'stats record')}.")


@command("client_coordinates_set")
@click.option("--uuid", required=True)
@click.option("--latitude", type=float, required=True)
@click.option("--longitude", type=float, required=True)
@with_appcontext
def client_coordinates_set(uuid: str, latitude: float, longitude: float) -> None:
    """Set the map coordinates of a client."""
    try:
        client = registry.set_coordinates(uuid, latitude, longitude)
    except ClientError as exc:
        _fail(exc)
    click.echo(f"Coordinates of {client.name}: {client.latitude}, {client.longitude}")


@command("client_coordinates_unset")
@click.option("--uuid", required=True)
@with_appcontext
def client_coordinates_unset(uuid: str) -> None:
    """Remove the map coordinates of a client."""
    try:
        client = registry.set_coordinates(uuid, None, None)
    except ClientError as exc:
        _fail(exc)
    click.echo(f"Coordinates of {client.name} removed.")


def _sharing_command(name: str, enabled: bool) -> click.Command:
    @command(name, help=f"{'Enable' if enabled else 'Disable'} federation sharing for a client.")
    @click.option("--uuid", required=True)
    @with_appcontext
    def sharing(uuid: str) -> None:
        try:
            client = registry.set_sharing(uuid, enabled)
        except ClientError as exc:
            _fail(exc)
        click.echo(f"Sharing for {client.name}: {client.is_sharing_enabled}")

    return sharing


@command("client_is_sharing_enabled")
@click.option("--uuid", required=True)
@with_appcontext
def client_is_sharing_enabled(uuid: str) -> None:
    """Print whether a client shares its stats with the global hub."""
    try:
        client = registry.require_by_uuid(uuid)
    except ClientError as exc:
        _fail(exc)
    click.echo(str(client.is_sharing_enabled))


def register(app: Flask) -> None:
    for cmd in (
        client_create,
        client_token_rotate,
        client_list,
        client_delete,
        client_coordinates_set,
        client_coordinates_unset,
        _sharing_command("client_sharing_activate", True),
        _sharing_command("client_sharing_deactivate", False),
        client_is_sharing_enabled,
    ):
        app.cli.add_command(cmd)
