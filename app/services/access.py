"""What the signed-in person may do, so the UI can disable an action and say why.

The database enforces every rule (``app/models/roles.py``); this only spares a
dispatcher a refusal after they filled in a form. Standalone (SQLite) and demo consoles
are single-user and may do everything; so may the schema owner and a superuser. Offline
review opens its file read-only, so there nobody may change anything, and the refusal
says that rather than naming a role.
"""

from __future__ import annotations

from enum import Enum

from app.models.roles import PEOPLE_ROLES, SignedIn, title_of


class Capability(Enum):
    """An action a role may lack; the value is the least role that holds it and what the
    refusal calls the action."""

    COMMAND = ("dispatcher", "sending commands")
    CONNECT = ("dispatcher", "connecting and disconnecting cars")
    RENTAL = ("dispatcher", "running rentals")
    ACKNOWLEDGE = ("dispatcher", "acknowledging alerts")
    TASKS = ("dispatcher", "working on field tasks")
    VEHICLES = ("manager", "adding, editing and archiving vehicles")
    DEVICES = ("manager", "claiming and editing IoT devices")
    ZONES = ("manager", "drawing and editing zones")
    PEOPLE = ("admin", "managing people")
    NOTIFICATIONS = ("manager", "sending test e-mails")

    @property
    def least_role(self) -> str:
        return self.value[0]

    @property
    def action(self) -> str:
        return self.value[1]


_RANK = {role: rank for rank, role in enumerate(PEOPLE_ROLES)}


#: Why nothing can be changed in offline review (whatever the role).
READ_ONLY = "Offline review: the database is read-only"


class Access:
    """The rights of one console's sign-in (None: single-user, every right), and whether
    its database is read-only (offline review: no right at all)."""

    def __init__(self, signed_in: SignedIn | None, *, read_only: bool = False) -> None:
        self.signed_in = signed_in
        self.read_only = read_only

    @property
    def label(self) -> str:
        """For the status bar: "Signed in: bob (Dispatcher)", or "" when single-user."""
        if self.signed_in is None:
            return ""
        return f"Signed in: {self.signed_in.login} ({title_of(self.signed_in.role)})"

    def refusal(self, capability: Capability) -> str | None:
        """Why this person may not take the action (for a disabled button's tooltip and
        text), or None if they may."""
        if self.read_only:
            return READ_ONLY
        signed_in = self.signed_in
        if signed_in is None or signed_in.role not in _RANK:  # owner, superuser, collector
            return None
        if _RANK[signed_in.role] >= _RANK[capability.least_role]:
            return None
        return (
            f"{signed_in.login} is signed in as {title_of(signed_in.role)}: "
            f"{capability.action} needs the {title_of(capability.least_role)} role"
        )
