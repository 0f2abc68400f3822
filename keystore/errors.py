"""Keystore errors. Messages name the account and the file, never key material."""

from __future__ import annotations


class KeystoreError(Exception):
    """Anything wrong with the keystore: its files, its passphrase or a record."""


class KeystoreNotFound(KeystoreError):
    """No keystore (keystore.json) in the given directory."""


class KeystoreExists(KeystoreError):
    """A keystore already exists where one was to be created."""


class WrongPassphrase(KeystoreError):
    """The passphrase does not unwrap the keystore key (or keystore.json was altered)."""


class CorruptFile(KeystoreError):
    """A keystore file is truncated, not JSON, or not shaped as expected."""


class TamperedRecord(KeystoreError):
    """A record failed authentication: altered, or moved from another account."""


class SwappedRecord(KeystoreError):
    """A record file holds another account's record."""


class AccountNotFound(KeystoreError):
    """No record for the account."""


class AccountExists(KeystoreError):
    """A record for the account exists already (use rotate to replace it)."""


class UnsafePermissions(KeystoreError):
    """A keystore file, directory or passphrase file is readable by others."""


class PassphraseUnavailable(KeystoreError):
    """No passphrase file, environment variable or terminal to ask."""


class InvalidKey(KeystoreError):
    """An API key or secret of the wrong shape for its key type."""
