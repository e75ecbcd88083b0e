"""Names and ID numbers never rest in clear: not in a dump of the whole database, not in the logs;
``portal realname rotate-key`` moves every row to the newest key."""
from __future__ import annotations

import logging
import sqlite3
import subprocess

import sqlalchemy as sa

from portal.crypto import new_key

from .conftest import ID_ONE, ID_TWO, NAME, attempts, invoke, start


def dump(database_url: str) -> str:
    url = sa.engine.make_url(database_url)
    if url.get_backend_name() == "sqlite":
        with sqlite3.connect(url.database) as conn:
            return "\n".join(conn.iterdump())
    env = {"PGPASSWORD": url.password or ""}
    return subprocess.run(
        ["pg_dump", "--data-only", "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432),
         "-U", url.username or "postgres", url.database],
        check=True, capture_output=True, text=True, env=env,
    ).stdout


def test_a_database_dump_holds_neither_name_nor_id_number(app, users, database_url, caplog):
    caplog.set_level(logging.DEBUG)
    client, user_id = users.signed_in_client()
    start(client)
    invoke(app, "approve", str(attempts(app, user_id)[0][0]))
    other, _ = users.signed_in_client()
    start(other, name="李四", cert_no=ID_TWO)
    client.get("/user/realname/")
    text = dump(database_url)
    assert "realname_verifications" in text and "v1.k2." in text  # the rows are there, sealed
    for secret in (NAME, ID_ONE, "李四", ID_TWO, ID_ONE[:14], ID_ONE[6:]):
        assert secret not in text
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (NAME, ID_ONE, "李四", ID_TWO):
        assert secret not in logged


def sealed_key_ids(app) -> set[str]:
    from portal.crypto import keyring
    from portal.extensions import db
    from portal.realname.models import Verification

    with app.app_context():
        ring = keyring()
        return {ring.key_id_of(value) for row in db.session.scalars(db.select(Verification))
                for value in (row.name_sealed, row.cert_no_sealed)}


def test_rotate_key_reseals_every_row_with_the_newest_key(app, users, portal_config, tmp_path):
    from portal import create_app

    client, user_id = users.signed_in_client("erin")
    start(client)
    invoke(app, "approve", str(attempts(app, user_id)[0][0]))
    assert sealed_key_ids(app) == {"k2"}

    newer = new_key("k3")
    rotated = create_app({**portal_config, "PERSONAL_DATA_KEYS": [newer, *portal_config["PERSONAL_DATA_KEYS"]]},
                         instance_path=str(tmp_path / "rotated"))
    result = rotated.test_cli_runner().invoke(args=["portal", "realname", "rotate-key"])
    assert result.exit_code == 0 and "1 verification(s) re-encrypted with key 'k3'" in result.output
    assert sealed_key_ids(rotated) == {"k3"}
    again = rotated.test_cli_runner().invoke(args=["portal", "realname", "rotate-key"])
    assert "0 verification(s)" in again.output

    # The old keys can now be dropped: the newest alone opens everything, and uniqueness still holds.
    only_new = create_app({**portal_config, "PERSONAL_DATA_KEYS": [newer]}, instance_path=str(tmp_path / "new"))
    only_new.test_client_class = type(client)
    listed = only_new.test_cli_runner().invoke(args=["portal", "realname", "pending"])
    assert listed.exit_code == 0
    other = only_new.test_client()
    users.sign_in(other, "erin")
    assert "1101**********1233" in other.get("/user/realname/").get_data(as_text=True)
    with only_new.app_context():
        from portal.extensions import db

        db.engine.dispose()
