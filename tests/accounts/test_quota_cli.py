"""``flask portal quota ...`` for operators."""
from portal.accounts import quotas
from portal.accounts.access import personal_account
from portal.extensions import db
from portal.orgs import services as orgs
from portal.users.models import User


def test_show_set_usage_and_bonus(app, users, runner):
    user_id = users.create("alice")
    with app.app_context():
        orgs.create_organization(db.session.get(User, user_id), "acme", "Acme")

    result = runner.invoke(args=["portal", "quota", "show", "org:acme"])
    assert result.exit_code == 0, result.output
    assert "plan trial" in result.output and "projects" in result.output

    result = runner.invoke(args=["portal", "quota", "set-usage", "user:alice", "containers", "4"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["portal", "quota", "bonus", "user:Alice", "projects=2", "--reason", "support",
                                 "--key", "ticket-1"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        rows = {r.resource.key: r for r in quotas.quota_table(personal_account(db.session.get(User, user_id)))}
        assert rows["containers"].used == 4 and rows["projects"].limit == 5

    result = runner.invoke(args=["portal", "quota", "bonus", "user:alice", "projects=2", "--reason", "again",
                                 "--key", "ticket-1"])
    assert result.exit_code != 0 and "used before" in result.output


def test_bad_input_is_refused(app, users, runner):
    users.create("alice")
    for args, message in [
        (["show", "nobody"], "user:<username> or org:<slug>"),
        (["show", "user:ghost"], "no account"),
        (["show", "org:ghost"], "no account"),
        (["set-usage", "user:alice", "projects", "--", "-1"], "not a whole number"),
        (["set-usage", "user:alice", "projects", "1_000"], "not a whole number"),
        (["set-usage", "user:alice", "bitcoins", "1"], "Unknown resource"),
        (["bonus", "user:alice", "projects", "--reason", "r", "--key", "k"], "RESOURCE=AMOUNT"),
        (["bonus", "user:alice", "projects=0", "--reason", "r", "--key", "k"], "whole number above zero"),
    ]:
        result = runner.invoke(args=["portal", "quota", *args])
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)
