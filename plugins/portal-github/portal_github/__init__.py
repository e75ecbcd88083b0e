"""Sign in with GitHub (OAuth app, PKCE S256). Settings: PLUGINS["github"] = {"client_id": ...,
"client_secret": {"$env": "GITHUB_CLIENT_SECRET"}, optional "web_url", "api_url", "allow_sign_up"}."""
from portal.i18n import gettext as _
from portal.identities.providers import OAuthProvider, ProviderError, ProviderIdentity
from portal.plugins import hookimpl


class GitHub(OAuthProvider):
    name = "github"
    label = "GitHub"
    icon = "github"
    defaults = {"web_url": "https://github.com", "api_url": "https://api.github.com"}
    authorize_url = "{web_url}/login/oauth/authorize"
    access_token_url = "{web_url}/login/oauth/access_token"
    api_base_url = "{api_url}/"
    client_kwargs = {"scope": "read:user user:email", "token_endpoint_auth_method": "client_secret_post"}
    pkce = True

    def fetch_identity(self, client, token):
        response = client.get("user")
        response.raise_for_status()
        user = response.json()
        if not user.get("id"):
            # The login can be renamed and then taken by someone else; only the id is stable.
            raise ProviderError(_("GitHub did not return a user id."))
        return ProviderIdentity(
            subject=str(user["id"]),
            name=user.get("name") or user.get("login"),
            avatar_url=user.get("avatar_url"),
            email=user.get("email") or self._primary_email(client),
        )

    def _primary_email(self, client):
        response = client.get("user/emails")
        if not response.ok:
            return None
        return next((e["email"] for e in response.json() if e.get("primary") and e.get("verified")), None)


@hookimpl
def portal_oauth_providers():
    return [GitHub()]


@hookimpl
def portal_settings():
    return GitHub.declared_settings()
