"""Sign in with WeChat (微信开放平台 "网站应用": scan a QR code with the phone). Settings:
PLUGINS["wechat"] = {"client_id": <AppID>, "client_secret": {"$env": "WECHAT_APP_SECRET"}, optional
"open_url", "api_url", "allow_sign_up"}."""
import json

from authlib.common.urls import add_params_to_uri

from portal.i18n import gettext as _
from portal.identities.providers import OAuthProvider, ProviderError, ProviderIdentity
from portal.plugins import hookimpl


def decode(response) -> dict:
    # WeChat labels raw UTF-8 JSON as text/plain, which requests' .json() reads as ISO-8859-1.
    return json.loads(response.content)


def credentials_in_query(client, method, uri, headers, body):
    """WeChat takes the AppID and AppSecret as ``appid`` and ``secret`` in the token URL."""
    params = [("appid", client.client_id), ("secret", client.client_secret)]
    return add_params_to_uri(uri, params), headers, body


def standard_token_response(response):
    """Turn ``{"errcode": ...}`` into an OAuth error (authlib then raises) and add a token type."""
    token = decode(response)
    if token.get("errcode"):
        token = {"error": str(token["errcode"]), "error_description": token.get("errmsg")}
    else:
        token.setdefault("token_type", "bearer")
    response._content = json.dumps(token).encode()
    return response


class WeChat(OAuthProvider):
    name = "wechat"
    label = {"zh_CN": "微信", "en": "WeChat"}
    icon = "wechat"
    defaults = {"open_url": "https://open.weixin.qq.com", "api_url": "https://api.weixin.qq.com"}
    authorize_url = "{open_url}/connect/qrconnect"
    access_token_url = "{api_url}/sns/oauth2/access_token"
    api_base_url = "{api_url}/"
    client_kwargs = {"scope": "snsapi_login", "token_endpoint_auth_method": credentials_in_query,
                     "token_placement": "uri"}
    access_token_params = {"method": "GET"}

    def authorize_params_for(self, settings):
        return {"appid": settings.get("client_id")}

    def compliance_fix(self, session):
        session.register_compliance_hook("access_token_response", standard_token_response)

    def authorization_url(self, url):
        return url + "#wechat_redirect"

    def fetch_identity(self, client, token):
        user = decode(client.get("sns/userinfo", params={"openid": token["openid"], "lang": "zh_CN"}))
        if user.get("errcode") or not user.get("openid") or user["openid"] != token["openid"]:
            raise ProviderError(_("WeChat did not return your profile (error %(code)s).",
                                  code=user.get("errcode", "-")))
        # unionid is the same across all of the company's WeChat apps; openid is per app.
        return ProviderIdentity(subject=user.get("unionid") or user["openid"],
                                name=user.get("nickname") or None, avatar_url=user.get("headimgurl") or None)


@hookimpl
def portal_oauth_providers():
    return [WeChat()]


@hookimpl
def portal_settings():
    return WeChat.declared_settings()
