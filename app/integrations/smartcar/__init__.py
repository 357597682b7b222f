"""Smartcar integration: async client, Connect/OAuth helpers, typed errors, local simulator.

No Qt here: the views drive these classes through asyncio (qasync in the app).
"""

from app.integrations.smartcar.auth import TokenSet, parse_connect_redirect
from app.integrations.smartcar.client import SNAPSHOT_KINDS, SmartcarClient
from app.integrations.smartcar.config import SmartcarCredentials, SmartcarOrigins
from app.integrations.smartcar.models import DataKind, VehicleSnapshot
from app.integrations.smartcar.oauth_state import OAuthStateManager
from app.integrations.smartcar.scopes import connect_scope_param
from app.integrations.smartcar.token_manager import TokenManager

__all__ = [
    "SNAPSHOT_KINDS",
    "DataKind",
    "OAuthStateManager",
    "SmartcarClient",
    "SmartcarCredentials",
    "SmartcarOrigins",
    "TokenManager",
    "TokenSet",
    "VehicleSnapshot",
    "connect_scope_param",
    "parse_connect_redirect",
]
