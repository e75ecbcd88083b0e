"""Imports every core model, so the metadata (create_all, Alembic) is complete."""
from portal.accounts.models import *  # noqa: F401,F403
from portal.orgs.models import *  # noqa: F401,F403
from portal.users.models import *  # noqa: F401,F403
from portal.billing.models import *  # noqa: F401,F403
from portal.verification.models import *  # noqa: F401,F403
from portal.identities.models import *  # noqa: F401,F403
