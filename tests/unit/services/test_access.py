"""What a role may do in the console's eyes (the database enforces it; see test_roles)."""

from __future__ import annotations

import pytest

from app.models.roles import SignedIn
from app.services.access import READ_ONLY, Access, Capability


def test_single_user_consoles_may_do_everything_and_show_no_sign_in() -> None:
    access = Access(None)
    assert access.label == ""
    assert all(access.refusal(c) is None for c in Capability)


@pytest.mark.parametrize("role", ["owner", "collector"])
def test_the_owner_and_the_collector_are_not_held_back_by_people_roles(role: str) -> None:
    assert all(Access(SignedIn("fleet", role)).refusal(c) is None for c in Capability)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("viewer", set()),
        (
            "dispatcher",
            {
                Capability.COMMAND,
                Capability.CONNECT,
                Capability.RENTAL,
                Capability.ACKNOWLEDGE,
                Capability.TASKS,
            },
        ),
        (
            "manager",
            {
                Capability.COMMAND,
                Capability.CONNECT,
                Capability.RENTAL,
                Capability.ACKNOWLEDGE,
                Capability.TASKS,
                Capability.VEHICLES,
                Capability.DEVICES,
                Capability.ZONES,
                Capability.NOTIFICATIONS,
            },
        ),
        ("admin", set(Capability)),
    ],
)
def test_each_role_holds_the_rights_of_the_roles_before_it(role: str, allowed: set) -> None:
    access = Access(SignedIn("bob", role))
    assert {c for c in Capability if access.refusal(c) is None} == allowed


def test_a_refusal_names_the_person_their_role_and_the_role_needed() -> None:
    access = Access(SignedIn("bob", "dispatcher"))
    assert access.label == "Signed in: bob (Dispatcher)"
    assert access.refusal(Capability.VEHICLES) == (
        "bob is signed in as Dispatcher: adding, editing and archiving vehicles needs the "
        "Fleet manager role"
    )


@pytest.mark.parametrize("signed_in", [None, SignedIn("ada", "admin"), SignedIn("fleet", "owner")])
def test_offline_review_refuses_every_change_whoever_is_signed_in(signed_in) -> None:
    access = Access(signed_in, read_only=True)
    assert {access.refusal(c) for c in Capability} == {READ_ONLY}
