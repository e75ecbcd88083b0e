"""The organization pages' forms: fields only; the rules live in portal.orgs.services."""
from __future__ import annotations

from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from portal.forms import PortalForm, ServiceErrorsMixin
from portal.i18n import lazy_gettext as _l
from portal.ids import IdField


class CreateOrgForm(ServiceErrorsMixin, PortalForm):
    slug = StringField(
        _l("Slug"),
        description=_l("2-39 characters: lowercase letters a-z, digits and hyphens. Appears in links."),
        render_kw={"maxlength": 39, "autocomplete": "off", "autocapitalize": "none"},
    )
    name = StringField(_l("Display name"), render_kw={"maxlength": 64})


class OrgProfileForm(ServiceErrorsMixin, PortalForm):
    name = StringField(_l("Display name"), render_kw={"maxlength": 64})
    description = TextAreaField(_l("Description"), render_kw={"maxlength": 200, "rows": 3})
    avatar_url = StringField(
        _l("Avatar link"),
        description=_l("A direct https link to an image, e.g. https://example.com/me.png. Leave empty for none."),
        render_kw={"maxlength": 2048, "inputmode": "url", "autocomplete": "off", "data-avatar-input": ""},
    )


def role_choices():
    return [SelectChoice("member", _l("Member")), SelectChoice("admin", _l("Admin")),
            SelectChoice("owner", _l("Owner"))]


class InviteForm(ServiceErrorsMixin, PortalForm):
    login = StringField(_l("Username or email"), render_kw={"maxlength": 254, "autocomplete": "off"})
    role = SelectField(_l("Role"), choices=role_choices(), validate_choice=False)


class DeleteOrgForm(ServiceErrorsMixin, PortalForm):
    confirm = StringField(_l("Type the slug to confirm"), render_kw={"autocomplete": "off"})


class MemberForm(PortalForm):
    """Which member a role change or a removal is about."""

    user_id = IdField(message=_l("Choose a member."))
