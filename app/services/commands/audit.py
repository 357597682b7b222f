"""The audit trail of every command, as the Audit view reads it (awaitable, newest first).

The rows are written by :class:`app.models.command_audit.CommandAudit`.
"""

from __future__ import annotations

from app.models.audit_queries import AuditRow, audit_rows
from app.models.database import Database


class AuditTrail:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def rows(self, *, search: str = "") -> list[AuditRow]:
        """``search`` matches fleet number, vehicle, action, user or result."""
        return await self._db.run(lambda: audit_rows(self._db, search=search))
