"""Sign in with Bitbucket Cloud (OAuth 2 consumer; no PKCE). Settings: PLUGINS["bitbucket"] =
{"client_id": <key>, "client_secret": {"$env": "BITBUCKET_CLIENT_SECRET"}, optional "web_url",
"api_url", "allow_sign_up"}. The consumer's scopes (account, email) are set at Bitbucket."""
from portal.i18n import gettext as _
from portal.identities.providers import OAuthProvider, ProviderError, ProviderIdentity
from portal.plugins import hookimpl


class Bitbucket(OAuthProvider):
    name = "bitbucket"
    label = "Bitbucket"
    # Bootstrap Icons has no Bitbucket mark.
    icon = "git"
    defaults = {"web_url": "https://bitbucket.org", "api_url": "https://api.bitbucket.org"}
    authorize_url = "{web_url}/site/oauth2/authorize"
    access_token_url = "{web_url}/site/oauth2/access_token"
    api_base_url = "{api_url}/2.0/"

    def fetch_identity(self, client, token):
        response = client.get("user")
        response.raise_for_status()
        user = response.json()
        # The uuid is stable; the username was removed in 2019 and the nickname can change.
        subject = user.get("uuid") or user.get("account_id")
        if not subject:
            raise ProviderError(_("Bitbucket did not return an account id."))
        return ProviderIdentity(
            subject=subject,
            name=user.get("display_name") or user.get("nickname"),
            avatar_url=((user.get("links") or {}).get("avatar") or {}).get("href"),
            email=self._primary_email(client),
        )

    def _primary_email(self, client):
        response = client.get("user/emails")
        if not response.ok:
            return None
        values = response.json().get("values") or []
        return next((e["email"] for e in values if e.get("is_primary") and e.get("is_confirmed")), None)


@hookimpl
def portal_oauth_providers():
    return [Bitbucket()]


@hookimpl
def portal_settings():
    return Bitbucket.declared_settings()
