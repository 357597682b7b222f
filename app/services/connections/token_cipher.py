"""Encryption at rest for Smartcar tokens, and where its key lives.

A token pair lets anyone read and unlock a customer's car, so the database only ever holds
Fernet ciphertext. The key must not sit next to the database (a copied database file alone
must be useless): it goes to the OS keyring. Where no keyring backend exists (headless Linux
boxes, CI: keyring then reports its ``fail`` backend) it falls back to a key file readable by
the current user only (0600) in the data directory, which is still apart from a database
that lives on a server or gets copied for review.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Protocol

import keyring
import keyring.backends.fail
import keyring.errors
from cryptography.fernet import Fernet, InvalidToken

logger = logging.getLogger(__name__)

KEYRING_SERVICE = "FleetConsole"
KEY_FILE_NAME = "token.key"


class TokenKeyError(Exception):
    """The encryption key cannot be read or created; the message is for the operator."""


class TokenDecryptError(Exception):
    """Stored ciphertext does not open with this installation's key (other machine, new key)."""


class KeyringLike(Protocol):
    """The two keyring calls used; any ``keyring`` backend satisfies it."""

    def get_password(self, service: str, username: str) -> str | None: ...

    def set_password(self, service: str, username: str, password: str) -> None: ...


def keyring_usable(backend: object) -> bool:
    """False for keyring's ``fail`` backend, which raises on every call (no backend found)."""
    return not isinstance(backend, keyring.backends.fail.Keyring)


def _key_file(path: Path) -> bytes:
    """Read, or create with mode 0600, the fallback key file."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            logger.warning("token key file was readable by others; restricting it to 0600")
            path.chmod(0o600)
        return path.read_bytes().strip()
    key = Fernet.generate_key()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    logger.info("created token key file %s (user-only)", path)
    return key


def load_key(data_dir: Path, backend: KeyringLike | None = None) -> bytes:
    """This installation's Fernet key: from the keyring, else from ``data_dir/token.key``.

    The keyring entry is named after the data directory so two installations (or a test's
    temporary one) never share or overwrite each other's key.
    """
    backend = backend if backend is not None else keyring.get_keyring()
    if keyring_usable(backend):
        username = f"token-key:{data_dir.resolve()}"
        try:
            stored = backend.get_password(KEYRING_SERVICE, username)
            if stored:
                return stored.encode()
            key = Fernet.generate_key()
            backend.set_password(KEYRING_SERVICE, username, key.decode())
            logger.info("created the token key in the OS keyring")
            return key
        except keyring.errors.KeyringError as exc:
            logger.warning("OS keyring unusable (%s); using a key file", type(exc).__name__)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        return _key_file(data_dir / KEY_FILE_NAME)
    except OSError as exc:
        raise TokenKeyError(f"cannot read or create the token key file: {exc}") from exc


class TokenCipher:
    """Encrypts/decrypts token strings; the key is loaded on first use, not at start-up."""

    def __init__(self, data_dir: Path, backend: KeyringLike | None = None) -> None:
        self._data_dir = data_dir
        self._backend = backend
        self._fernet: Fernet | None = None

    def __repr__(self) -> str:
        return f"TokenCipher({self._data_dir})"

    def _get(self) -> Fernet:
        if self._fernet is None:
            try:
                self._fernet = Fernet(load_key(self._data_dir, self._backend))
            except ValueError as exc:
                raise TokenKeyError("the stored token key is malformed") from exc
        return self._fernet

    def encrypt(self, secret: str) -> bytes:
        return self._get().encrypt(secret.encode())

    def decrypt(self, blob: bytes) -> str:
        try:
            return self._get().decrypt(blob).decode()
        except InvalidToken as exc:
            raise TokenDecryptError(
                "stored Smartcar tokens cannot be opened with this computer's key; reconnect"
            ) from exc


class NoTokenKey(TokenCipher):
    """The cipher of a process that must never hold the token key: a console on a shared
    database, where only the collector stores and uses tokens. It never looks for a key
    (no keyring entry, no key file is read or made); every use is refused."""

    def __init__(self) -> None:
        super().__init__(Path())

    def __repr__(self) -> str:
        return "NoTokenKey()"

    def _get(self) -> Fernet:
        raise TokenKeyError(
            "this console holds no token key: on a shared database the collector keeps the "
            "Smartcar tokens"
        )
