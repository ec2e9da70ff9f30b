"""The local stack: real PostgreSQL, Kafka (KRaft) and Apicurio Registry on loopback.

Provisioned from Debian packages and Maven Central into `settings.nmc_home`, started detached,
stopped via pid files. Services whose URL is set in the environment are external: only checked.
"""

from nmc.stack.core import down, ensure_up, status
from nmc.stack.errors import StackError
from nmc.stack.model import ServiceStatus

__all__ = ["ServiceStatus", "StackError", "down", "ensure_up", "status"]
