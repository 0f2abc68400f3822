"""The keystore's on-disk structures (the keystore header with its wrapped key, one record per
account) and what callers get back (RecordInfo: what a record says in clear; AccountKey: a
decrypted key that wipes itself and never prints its secret).
"""

from __future__ import annotations

import msgspec

from keystore import crypto
from keystore.keytypes import KeyType, mask_api_key
from keystore.secret import Secret

FORMAT_VERSION = 1


KEYSTORE_FILE = "keystore.json"


ACCOUNTS_DIR = "accounts"


RECORD_AAD_PREFIX = b"copytrader-record-v1\n"


# --- on-disk structures -------------------------------------------------------------------------
class WrappedKey(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    nonce: bytes  # AES-GCM nonce (base64 in JSON)
    ciphertext: bytes  # the 32-byte keystore key sealed under the KEK, with its 16-byte tag


class KeystoreFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    version: int
    kdf: crypto.KdfParams
    wrapped_key: WrappedKey
    created_at: int  # ms since the epoch
    changed_at: int  # ms since the epoch, last passphrase change


class KeyPermissions(msgspec.Struct, frozen=True, omit_defaults=True):
    """What the exchange said about a key when it was last validated (apiRestrictions field names)."""

    markets: tuple[str, ...] = ()  # markets the key was validated for: spot, margin, usdm
    role: str | None = None  # "master" or "slave"
    exchange: str | None = None  # where it was validated: live, testnet or a base URL
    checked_at: int | None = None  # ms since the epoch
    enableReading: bool | None = None  # may read account data
    enableSpotAndMarginTrading: bool | None = None  # may trade spot and margin
    enableMargin: bool | None = None  # cross margin enabled for the key
    enableFutures: bool | None = None  # futures API enabled for the key
    enableWithdrawals: bool | None = None  # may withdraw (we refuse such keys)
    ipRestrict: bool | None = None  # restricted to trusted IPs
    enableInternalTransfer: bool | None = None  # may transfer between master and sub accounts
    permitsUniversalTransfer: bool | None = None  # may use the universal transfer API


class RecordFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    version: int
    account_id: str
    key_type: str
    api_key: str
    fingerprint: str
    permissions: KeyPermissions
    created_at: int  # ms since the epoch
    rotated_at: int | None  # ms since the epoch, last rotation
    nonce: bytes  # AES-GCM nonce, random per record write
    ciphertext: bytes  # the secret sealed under the keystore key, AAD = the header above


# --- what callers get ----------------------------------------------------------------------------
class RecordInfo(msgspec.Struct, frozen=True):
    """A record's public facts (never the secret; the API key only masked)."""

    account_id: str
    key_type: str
    api_key_masked: str
    fingerprint: str
    permissions: KeyPermissions
    created_at: int
    rotated_at: int | None
    error: str | None = None  # set by Keystore.list_records() for a record that failed its checks


class AccountKey:
    """One account's decrypted key. `secret` is a `Secret` (masked in repr, not picklable)."""

    __slots__ = ("account_id", "key_type", "api_key", "secret", "fingerprint", "permissions")

    def __init__(
        self, account_id: str, key_type: KeyType, api_key: str, secret: Secret, fingerprint: str, permissions: KeyPermissions
    ) -> None:
        self.account_id = account_id
        self.key_type = key_type
        self.api_key = api_key
        self.secret = secret
        self.fingerprint = fingerprint
        self.permissions = permissions

    def wipe(self) -> None:
        self.secret.wipe()

    def __repr__(self) -> str:
        return (
            f"AccountKey(account_id={self.account_id!r}, key_type={self.key_type.value!r},"
            f" api_key={mask_api_key(self.api_key)!r}, fingerprint={self.fingerprint!r}, secret=***)"
        )

    __str__ = __repr__

    def __reduce__(self) -> None:  # type: ignore[override]
        raise TypeError("an AccountKey cannot be pickled")
