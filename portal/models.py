"""Imports every core model, so the metadata (create_all, Alembic) is complete."""
from portal.accounts.models import *  # noqa: F401,F403
from portal.orgs.models import *  # noqa: F401,F403
from portal.users.models import *  # noqa: F401,F403
from portal.billing.models import *  # noqa: F401,F403
from portal.billing.refunds import Refund  # noqa: F401
from portal.verification.models import *  # noqa: F401,F403
from portal.identities.models import *  # noqa: F401,F403
from portal.apikeys.models import *  # noqa: F401,F403
from portal.api.models import *  # noqa: F401,F403
from portal.mfa.models import *  # noqa: F401,F403
from portal.security_log.models import *  # noqa: F401,F403
from portal.devices.models import *  # noqa: F401,F403
from portal.realname.models import *  # noqa: F401,F403
from portal.withdrawals.models import *  # noqa: F401,F403
