"""The Fernet key: OS keyring when there is one, else a user-only key file."""

from __future__ import annotations

import stat

import keyring.backends.fail
import keyring.errors
import pytest
from keyring.backend import KeyringBackend

from app.services.connections.token_cipher import (
    KEY_FILE_NAME,
    TokenCipher,
    TokenDecryptError,
    keyring_usable,
    load_key,
)


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self, broken: bool = False) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}
        self.broken = broken

    def get_password(self, service: str, username: str) -> str | None:
        if self.broken:
            raise keyring.errors.KeyringLocked("locked")
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


def test_without_a_keyring_the_key_lives_in_a_user_only_file(tmp_path) -> None:
    fail = keyring.backends.fail.Keyring()
    assert not keyring_usable(fail)
    key = load_key(tmp_path, fail)
    path = tmp_path / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(tmp_path, fail) == key


@pytest.mark.expect_log(
    "app.services.connections.token_cipher",
    r"token key file was readable by others; restricting it to",
)
def test_a_key_file_readable_by_others_is_restricted(tmp_path) -> None:
    fail = keyring.backends.fail.Keyring()
    key = load_key(tmp_path, fail)
    path = tmp_path / KEY_FILE_NAME
    path.chmod(0o644)
    assert load_key(tmp_path, fail) == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_working_keyring_holds_the_key_and_no_file_is_written(tmp_path) -> None:
    ring = MemoryKeyring()
    key = load_key(tmp_path, ring)
    assert list(ring.items.values()) == [key.decode()]
    assert load_key(tmp_path, ring) == key
    assert not (tmp_path / KEY_FILE_NAME).exists()
    assert load_key(tmp_path / "other", ring) != key  # one key per installation


@pytest.mark.expect_log(
    "app.services.connections.token_cipher",
    r"OS keyring unusable \(KeyringLocked\); using a key file",
)
def test_a_broken_keyring_falls_back_to_the_file(tmp_path) -> None:
    key = load_key(tmp_path, MemoryKeyring(broken=True))
    assert (tmp_path / KEY_FILE_NAME).read_bytes() == key


def test_ciphertext_round_trips_and_another_key_cannot_open_it(tmp_path) -> None:
    cipher = TokenCipher(tmp_path / "a", keyring.backends.fail.Keyring())
    blob = cipher.encrypt("secret-token")
    assert b"secret-token" not in blob and cipher.decrypt(blob) == "secret-token"
    other = TokenCipher(tmp_path / "b", keyring.backends.fail.Keyring())
    with pytest.raises(TokenDecryptError, match="reconnect"):
        other.decrypt(blob)
    assert "secret" not in repr(cipher)
