"""Client registry commands through the real `flask` CLI runner."""

import re
from datetime import date

from sqlalchemy import select, text

from statsservice.domain.tokens import hash_token
from statsservice.extensions import db
from statsservice.storage.models import Client, Stats

UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def create(cli, *args):
    return cli.invoke(args=["client_create", *args])


def test_client_create_prints_five_lines(cli):
    result = create(cli, "--name", "NC3")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split(":")[0] for line in lines] == ["UUID", "Name", "Role", "Token", "Created at"]
    assert re.fullmatch(f"UUID: {UUID_RE}", lines[0])
    assert lines[1] == "Name: NC3" and lines[2] == "Role: 1"
    token = lines[3].removeprefix("Token: ")
    assert len(token) >= 64 and re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert re.fullmatch(r"Created at: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+", lines[4])


def test_duplicate_name_fails_with_one_line(cli):
    assert create(cli, "--name", "NC3").exit_code == 0
    result = create(cli, "--name", "NC3")
    assert result.exit_code != 0
    assert result.output.strip().splitlines() == ["Error: a client named 'NC3' already exists"]
    assert db.session.scalar(select(db.func.count(Client.id))) == 1


def test_no_plaintext_token_in_database(cli, app):
    token = "provisioned-token-" + "x" * 50
    result = create(cli, "--name", "prov", "--token", token, "--role", "admin")
    assert result.exit_code == 0
    assert f"Token: {token}" in result.output and "Role: 2" in result.output
    client = db.session.scalar(select(Client).where(Client.name == "prov"))
    assert client.token_hash == hash_token(token)
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(table.select()):
            assert all(token not in str(value) for value in row), table.name


def test_supplied_uuid_and_bad_inputs(cli):
    uid = "c08e380f-7ec0-43ff-bca2-4505856739e0"
    result = create(cli, "--name", "A", "--uuid", uid)
    assert result.exit_code == 0 and f"UUID: {uid}" in result.output
    for args, message in [
        (["--name", "B", "--uuid", uid], "already exists"),
        (["--name", "B", "--uuid", "not-a-uuid"], "not a valid UUID"),
        (["--name", "B", "--token", "short"], "token must be"),
        (["--name", "   "], "name must be"),
        (["--name", "B", "--role", "root"], "Invalid value for '--role'"),
    ]:
        result = create(cli, *args)
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)


def test_list_sharing_coordinates_and_delete(cli, app):
    uid = create(cli, "--name", "A").output.splitlines()[0].removeprefix("UUID: ")
    client = db.session.scalar(select(Client).where(Client.uuid == uid))
    db.session.add(Stats(client_id=client.id, anr=uid, type="risk", date=date(2026, 1, 1), data={}))
    db.session.commit()

    assert uid in cli.invoke(args=["client_list"]).output
    assert cli.invoke(args=["client_is_sharing_enabled", "--uuid", uid]).output.strip() == "True"
    assert cli.invoke(args=["client_sharing_deactivate", "--uuid", uid]).exit_code == 0
    assert cli.invoke(args=["client_is_sharing_enabled", "--uuid", uid]).output.strip() == "False"
    assert cli.invoke(args=["client_sharing_activate", "--uuid", uid]).exit_code == 0
    assert cli.invoke(args=["client_is_sharing_enabled", "--uuid", uid]).output.strip() == "True"

    ok = cli.invoke(
        args=["client_coordinates_set", "--uuid", uid, "--latitude", "49.6", "--longitude", "6.1"]
    )
    assert ok.exit_code == 0
    bad = cli.invoke(args=["client_coordinates_set", "--uuid", uid, "--latitude", "95", "--longitude", "6"])
    assert bad.exit_code != 0 and "latitude must be between -90 and 90" in bad.output
    db.session.expire_all()
    assert (client.latitude, client.longitude) == (49.6, 6.1)
    assert cli.invoke(args=["client_coordinates_unset", "--uuid", uid]).exit_code == 0
    db.session.expire_all()
    assert client.latitude is None

    refused = cli.invoke(args=["client_delete", "--uuid", uid], input="n\n")
    assert refused.exit_code != 0
    assert db.session.scalar(text("SELECT count(*) FROM stats")) == 1
    deleted = cli.invoke(args=["client_delete", "--uuid", uid, "-y"])
    assert deleted.exit_code == 0 and "1 stats record." in deleted.output
    assert db.session.scalar(text("SELECT count(*) FROM stats")) == 0
    assert db.session.scalar(text("SELECT count(*) FROM client")) == 0


def test_unknown_uuid_is_an_error_everywhere(cli):
    missing = "00000000-0000-4000-8000-000000000000"
    for command in (
        ["client_delete", "--uuid", missing, "-y"],
        ["client_sharing_activate", "--uuid", missing],
        ["client_sharing_deactivate", "--uuid", missing],
        ["client_is_sharing_enabled", "--uuid", missing],
        ["client_coordinates_unset", "--uuid", missing],
        ["client_coordinates_set", "--uuid", missing, "--latitude", "1", "--longitude", "1"],
    ):
        result = cli.invoke(args=command)
        assert result.exit_code != 0, command
        assert result.output.strip() == f"Error: no client with uuid {missing}", command


def test_remote_client_on_a_local_hub_is_refused_unless_forced(app, make_app):
    local = make_app(MODE="local")
    with local.app_context():
        refused = local.test_cli_runner().invoke(args=["client_create", "--name", "hub-lu", "--remote"])
        assert refused.exit_code == 1
        (line,) = refused.output.strip().splitlines()  # one line that says why and what to do
        assert line.startswith("Error: this hub is in local mode: --remote clients belong on the global hub")
        assert "--force" in line
        assert db.session.scalar(select(db.func.count(Client.id))) == 0  # nothing was created

        forced = local.test_cli_runner().invoke(
            args=["client_create", "--name", "hub-lu", "--remote", "--force"]
        )
        assert forced.exit_code == 0, forced.output
        assert db.session.scalar(select(Client.local).where(Client.name == "hub-lu")) is False


def test_remote_client_on_a_global_hub(app, make_app):
    world = make_app(MODE="global")
    with world.app_context():
        result = world.test_cli_runner().invoke(args=["client_create", "--name", "hub-fr", "--remote"])
        assert result.exit_code == 0, result.output
        assert db.session.scalar(select(Client.local).where(Client.name == "hub-fr")) is False
