"""Who may call what (spec §2.4): the API-key header and the permission each call needs."""

from __future__ import annotations

from mosaico.protocol.actions import ActionName

API_KEY_HEADER = "mosaico-api-key-token"
"""The gRPC header that carries the API key on every call (§2.4)."""

READ, WRITE, DELETE = "read", "write", "delete"
PERMISSIONS = (READ, WRITE, DELETE)
"""The permissions an API key can hold."""

# None: any valid key may call it.
ACTION_PERMISSION: dict[ActionName, str | None] = {
    ActionName.INFO: None,
    ActionName.QUERY: READ,
    ActionName.TOPIC_FILTER_CLUSTERIZE: READ,
    ActionName.TOPIC_FILTER_INTERSECT: READ,
    ActionName.SEQUENCE_NOTIFICATION_LIST: READ,
    ActionName.TOPIC_NOTIFICATION_LIST: READ,
    ActionName.SEQUENCE_CREATE: WRITE,
    ActionName.SESSION_CREATE: WRITE,
    ActionName.TOPIC_CREATE: WRITE,
    ActionName.SESSION_FINALIZE: WRITE,
    ActionName.SEQUENCE_NOTIFICATION_CREATE: WRITE,
    ActionName.TOPIC_NOTIFICATION_CREATE: WRITE,
    ActionName.SEQUENCE_DELETE: DELETE,
    ActionName.SESSION_DELETE: DELETE,
    ActionName.TOPIC_DELETE: DELETE,
    ActionName.SEQUENCE_NOTIFICATION_PURGE: DELETE,
    ActionName.TOPIC_NOTIFICATION_PURGE: DELETE,
}

# The Flight RPCs other than DoAction, by their pyarrow handler name.
RPC_PERMISSION: dict[str, str] = {
    "get_flight_info": READ,
    "get_schema": READ,
    "do_get": READ,
    "list_flights": READ,
    "do_put": WRITE,
}
