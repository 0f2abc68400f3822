"""copytrader: keystore. API keys encrypted at rest (Argon2id + AES-256-GCM envelope encryption).

Public API:
    unlock_own_key(dir, account_id, passphrase_file=None)     # a slave at start: redaction on, own key only
    load_account(dir, account_id, passphrase) -> AccountKey    # decrypts only that account's record
    list_public(dir) -> [RecordInfo]                           # public headers, no passphrase (unverified)
    Keystore.create / Keystore.open(dir, passphrase)           # unlock once, then put/get/list/remove
    Secret                                                     # masked in repr/str/format, not picklable
    get_passphrase / read_passphrase_file / take_from_env, PASSPHRASE_ENV
"""

from keystore.crypto import KdfParams
from keystore.errors import (
    AccountExists,
    AccountNotFound,
    CorruptFile,
    InvalidKey,
    KeystoreError,
    KeystoreExists,
    KeystoreNotFound,
    PassphraseUnavailable,
    SwappedRecord,
    TamperedRecord,
    UnsafePermissions,
    WrongPassphrase,
)
from keystore.keytypes import KeyType, fingerprint, mask_api_key
from keystore.passphrase import PASSPHRASE_ENV, get_passphrase, read_passphrase_file, take_from_env
from keystore.process import list_public, unlock_own_key
from keystore.secret import Secret
from keystore.store import AccountKey, KeyPermissions, Keystore, RecordInfo, load_account

__all__ = [
    "AccountExists",
    "AccountKey",
    "AccountNotFound",
    "CorruptFile",
    "InvalidKey",
    "KdfParams",
    "KeyPermissions",
    "KeyType",
    "Keystore",
    "KeystoreError",
    "KeystoreExists",
    "KeystoreNotFound",
    "PASSPHRASE_ENV",
    "PassphraseUnavailable",
    "RecordInfo",
    "Secret",
    "SwappedRecord",
    "TamperedRecord",
    "UnsafePermissions",
    "WrongPassphrase",
    "fingerprint",
    "get_passphrase",
    "load_account",
    "mask_api_key",
    "read_passphrase_file",
    "list_public",
    "take_from_env",
    "unlock_own_key",
]
