"""The WeChat bonus: linking WeChat for the first time grants the user's personal account 2 projects,
1 container instance and 1 service instance on top of its plan.

Once per portal user and once per WeChat account, ever: unlinking and relinking, or moving the WeChat
account to another user, grants nothing more. Turn it off with PLUGINS_DISABLED = ["wechat_bonus"]."""
import hashlib

from portal.accounts.access import personal_account
from portal.accounts.models import QuotaBonus
from portal.accounts.quotas import grant_bonus
from portal.extensions import db
from portal.identities.perks import Perk
from portal.plugins import hookimpl

# grant_bonus records one key per grant, and the bonus must be new for both the user and the WeChat
# account. So it is granted in two parts, one under each key, inside a savepoint: either both keys
# are new and the whole bonus lands, or the savepoint is rolled back and nothing does. A concurrent
# link racing for either key waits on its unique index and then finds it taken.
PER_USER_PART = {"projects": 2}
PER_WECHAT_PART = {"containers": 1, "services": 1}
REASON = "WeChat bonus: linked WeChat account"
# What 第三方账户 says the bonus is (PER_USER_PART and PER_WECHAT_PART together).
GIFT = {
    "zh_CN": "两个项目、一个容器实例和一个服务实例",
    "en": "2 projects, 1 container instance and 1 service instance",
}


def user_key(user_id) -> str:
    return f"wechat-bonus:user:{user_id}"


def wechat_key(subject: str) -> str:
    # Hashed: keys hold at most 128 characters, and the table need not list WeChat ids.
    return f"wechat-bonus:wechat:{hashlib.sha256(subject.encode()).hexdigest()}"


def grant_wechat_bonus(user, subject: str) -> bool:
    """Grant the bonus to ``user``'s personal account unless this user or this WeChat account (its
    stable subject) ever had it. Runs in the caller's transaction; returns whether it was granted."""
    account = personal_account(user)
    if account is None:
        return False
    with db.session.begin_nested() as attempt:
        for part, key in ((PER_USER_PART, user_key(user.id)), (PER_WECHAT_PART, wechat_key(subject))):
            if not grant_bonus(account.id, part, reason=REASON, key=key):
                attempt.rollback()
                return False
    return True


@hookimpl
def portal_identity_linked(user, identity):
    if identity.provider == "wechat":
        grant_wechat_bonus(user, identity.subject)


def has_bonus(user) -> bool:
    """Whether ``user`` ever got the bonus (both parts land together, so the user's key says it)."""
    return db.session.scalar(db.select(QuotaBonus.id).filter_by(key=user_key(user.id))) is not None


@hookimpl
def portal_identity_perks(user, provider):
    if provider != "wechat":
        return []
    return [Perk(GIFT, granted=has_bonus(user))]
