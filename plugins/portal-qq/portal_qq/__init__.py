"""Sign in with QQ (QQ互联 website login). Settings: PLUGINS["qq"] = {"client_id": <APP ID>,
"client_secret": {"$env": "QQ_APP_KEY"}, optional "graph_url", "allow_sign_up", and "unionid": true
once QQ approved the app for unionid (decide before the first sign-in: it changes every subject)}."""
import json
import re

from authlib.common.urls import add_params_to_uri

from portal.i18n import gettext as _
from portal.identities.providers import OAuthProvider, ProviderError, ProviderIdentity
from portal.plugins import hookimpl

JSONP = re.compile(rb"^\s*callback\(\s*(.*?)\s*\);?\s*$", re.S)


def decode(response) -> dict:
    """QQ answers JSON, or JSONP ``callback( {...} );`` when it ignores ``fmt=json``, in raw UTF-8."""
    match = JSONP.match(response.content)
    return json.loads(match.group(1) if match else response.content)


def credentials_in_query(client, method, uri, headers, body):
    """The token endpoint is a GET: the app id and key go into its query string."""
    params = [("client_id", client.client_id), ("client_secret", client.client_secret)]
    return add_params_to_uri(uri, params), headers, body


def standard_token_response(response):
    """QQ's numeric error codes as OAuth error strings, whatever the content type says."""
    token = decode(response)
    if "error" in token:
        token = {"error": str(token["error"]), "error_description": token.get("error_description")}
    response._content = json.dumps(token).encode()
    return response


class QQ(OAuthProvider):
    name = "qq"
    label = "QQ"
    icon = "tencent-qq"
    defaults = {"graph_url": "https://graph.qq.com", "unionid": False}
    authorize_url = "{graph_url}/oauth2.0/authorize"
    access_token_url = "{graph_url}/oauth2.0/token"
    api_base_url = "{graph_url}/"
    client_kwargs = {"scope": "get_user_info", "token_endpoint_auth_method": credentials_in_query,
                     "token_placement": "uri"}
    access_token_params = {"method": "GET", "fmt": "json", "need_openid": "1"}

    def compliance_fix(self, session):
        session.register_compliance_hook("access_token_response", standard_token_response)

    def fetch_identity(self, client, token):
        unionid = {"unionid": "1"} if self.settings().get("unionid") else {}
        me = decode(client.get("oauth2.0/me", params={"fmt": "json", **unionid}))
        if "error" in me or not me.get("openid"):
            raise ProviderError(_("QQ did not say who signed in (error %(code)s).",
                                  code=me.get("error", "-")))
        info = decode(client.get("user/get_user_info",
                                 params={"oauth_consumer_key": client.client_id, "openid": me["openid"]}))
        if info.get("ret") != 0:
            raise ProviderError(_("QQ did not return your profile (error %(code)s).", code=info.get("ret")))
        # figureurl_qq_2 (100 px) may be empty; figureurl_qq_1 (40 px) is always there.
        return ProviderIdentity(subject=me.get("unionid") or me["openid"], name=info.get("nickname") or None,
                                avatar_url=info.get("figureurl_qq_2") or info.get("figureurl_qq_1") or None)


@hookimpl
def portal_oauth_providers():
    return [QQ()]


@hookimpl
def portal_settings():
    return QQ.declared_settings()
