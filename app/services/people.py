"""People and their roles for the Administration window (shared mode, administrators).

Thin on purpose: the database decides who may change whom (``app/models/roles.py``);
this only moves the blocking work to the database thread and tells the window to reload.
"""

from __future__ import annotations

from app.listeners import Listeners
from app.models import people
from app.models.database import Database
from app.models.people import Person


class PeopleService:
    def __init__(self, database: Database) -> None:
        self._db = database
        #: Heard after a change, so an open Administration window lists it.
        self.changes: Listeners[[]] = Listeners("people")

    @property
    def available(self) -> bool:
        """People exist only on a shared PostgreSQL database."""
        return not self._db.is_sqlite

    async def list(self) -> list[Person]:
        return await self._db.run(people.list_people, self._db)

    async def add(self, login: str, role: str, password: str) -> None:
        await self._db.run(people.add_person, self._db, login, role, password)
        self.changes.notify()

    async def set_role(self, login: str, role: str) -> None:
        await self._db.run(people.set_role, self._db, login, role)
        self.changes.notify()

    async def revoke(self, login: str) -> None:
        await self._db.run(people.revoke_person, self._db, login)
        self.changes.notify()
