"""Sign in with CODING (coding.net; no PKCE). Settings: PLUGINS["coding"] = {"client_id": ...,
"client_secret": {"$env": "CODING_CLIENT_SECRET"}, "base_url": "https://<team>.coding.net",
optional "allow_sign_up"}."""
from portal.i18n import gettext as _
from portal.identities.providers import OAuthProvider, ProviderError, ProviderIdentity
from portal.plugins import hookimpl


class Coding(OAuthProvider):
    name = "coding"
    label = "CODING"
    icon = "code-square"
    defaults = {"base_url": "https://coding.net"}
    authorize_url = "{base_url}/oauth_authorize.html"
    access_token_url = "{base_url}/api/oauth/access_token"
    api_base_url = "{base_url}/"
    # Scopes are comma-separated: give one string, a list would be joined with spaces.
    client_kwargs = {"scope": "user:profile:ro", "token_endpoint_auth_method": "client_secret_post"}

    def fetch_identity(self, client, token):
        response = client.post("open-api", json={"Action": "DescribeCodingCurrentUser"})
        response.raise_for_status()
        answer = response.json().get("Response") or {}
        if answer.get("Error"):
            raise ProviderError(_("CODING refused the request (%(code)s).", code=answer['Error'].get('Code')))
        user = answer.get("User") or {}
        if not user.get("Id"):
            raise ProviderError(_("CODING did not return a user id."))
        # User ids are per team (each team is its own host), so the team is part of the subject.
        return ProviderIdentity(
            subject=f"{token.get('team', '')}:{user['Id']}",
            name=user.get("Name") or user.get("GlobalKey"),
            avatar_url=user.get("Avatar"),
            email=user.get("Email") if user.get("EmailValidation") == 1 else None,
        )


@hookimpl
def portal_oauth_providers():
    return [Coding()]


@hookimpl
def portal_settings():
    return Coding.declared_settings()
