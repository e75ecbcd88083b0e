"""``flask portal users ...``: what support does for a user who can no longer change a contact
themselves (the ``support`` contact-change policy, or a lost phone or mailbox)."""
from __future__ import annotations

import click
from flask.cli import AppGroup
from flask_babel import force_locale

from portal.cli import portal_group

users_group = AppGroup("users", help="Look up users and change their contacts.")
portal_group.add_command(users_group)


def _find_user(login: str):
    """By user ID, username, verified email or bound phone."""
    from portal.extensions import db
    from portal.users.models import User
    from portal.users.services import find_user_by_login

    from portal.ids import parse_id

    user_id = parse_id(login)
    user = db.session.get(User, user_id) if user_id is not None else None
    user = user or find_user_by_login(login)
    if user is None:
        raise click.ClickException(f"no user {login!r} (give a user ID, username, verified email or phone)")
    return user


def _describe(user) -> None:
    click.echo(f"user ID:     {user.id}")
    click.echo(f"username:    {user.username}")
    click.echo(f"active:      {'yes' if user.is_active else 'no'}")
    click.echo(f"registered:  {user.created_at:%Y-%m-%d %H:%M:%S} UTC")
    phone = f"{user.phone} (verified {user.phone_verified_at:%Y-%m-%d %H:%M} UTC)" if user.phone else "-"
    click.echo(f"phone:       {phone}")
    if not user.emails:
        click.echo("emails:      -")
    for index, email in enumerate(user.emails):
        flags = ["primary"] if email.is_primary else []
        flags.append("verified" if email.is_verified else "unverified")
        click.echo(f"{'emails:' if index == 0 else '':<13}{email.address} ({', '.join(flags)}) "
                   f"added {email.created_at:%Y-%m-%d %H:%M} UTC")
    _describe_sign_in_methods(user)


def _describe_sign_in_methods(user) -> None:
    from portal.identities.services import identities_of

    click.echo(f"password:    {'set' if user.password_hash else '-'}")
    linked = identities_of(user.id)
    if not linked:
        click.echo("linked:      -")
    for index, (provider, identity) in enumerate(linked.items()):
        click.echo(f"{'linked:' if index == 0 else '':<13}{provider} {identity.name or identity.subject} "
                   f"(linked {identity.linked_at:%Y-%m-%d %H:%M} UTC)")


@users_group.command("show")
@click.argument("user")
def show_command(user):
    """Show USER (ID, username, verified email or phone): contacts and state."""
    _describe(_find_user(user))


@users_group.command("set-contact")
@click.argument("user")
@click.option("--email", help="Make this address USER's verified primary email (the old primary is removed).")
@click.option("--phone", help="Bind this phone to USER as verified (+86 assumed without a country code).")
@click.option("--remove-phone", is_flag=True, help="Unbind USER's phone.")
def set_contact_command(user, email, phone, remove_phone):
    """Change USER's primary email and/or phone on the user's behalf, after support checked who they are."""
    from portal.users.contacts import ContactError, set_contact_by_operator

    if not (email or phone or remove_phone):
        raise click.UsageError("give --email, --phone or --remove-phone")
    target = _find_user(user)
    with force_locale("en"):
        try:
            set_contact_by_operator(target, email=email, phone=phone, remove_phone=remove_phone)
        except ContactError as exc:
            raise click.ClickException(exc.message) from None
    # Whoever held the old contact may hold a session too.
    from portal.users.recovery import end_sessions

    end_sessions(target)
    click.echo(f"Contacts of user {target.id} changed; every session of the user was ended.")
    _describe(target)


@users_group.command("recover")
@click.argument("user")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 3650),
              help="Remove what was added in this many days.")
@click.option("--yes", is_flag=True, help="Do it without asking.")
def recover_command(user, days, yes):
    """Take back a hijacked USER: end every session, remove the secondary emails, phone and linked
    accounts added in the last DAYS days, record it and tell the user."""
    from portal.users.recovery import recent_ways_in, recover

    target = _find_user(user)
    ways = recent_ways_in(target, days)
    click.echo(f"Added to user {target.id} in the last {days} days:")
    for way in ways:
        click.echo(f"  {way.kind:<9} {way.label} (added {way.added_at:%Y-%m-%d %H:%M} UTC)")
    if not ways:
        click.echo("  nothing")
    if not yes:
        click.confirm("End every session and remove these?", abort=True)
    with force_locale("en"):
        removed = recover(target, days)
    click.echo(f"Ended every session; removed {len(removed)} of {len(ways)}. What remains:")
    _describe(target)
