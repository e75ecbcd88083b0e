"""The security log (安全日志). Others record events with ``portal.security_log.record``."""
from portal.security_log.events import OPERATOR, SYSTEM  # noqa: F401
from portal.security_log.services import record, record_operator_action  # noqa: F401
