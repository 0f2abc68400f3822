"""The keystore on disk: one wrapped keystore key, one encrypted record per account.

Layout (directory mode 0700, files mode 0600, every write atomic):
    <dir>/keystore.json           version, Argon2id parameters + salt, the wrapped 256-bit keystore key
    <dir>/accounts/<account>.json one record per account: public header + AES-256-GCM ciphertext

A record's associated data is its whole public header (account id, key type, API key, fingerprint,
permission snapshot, times), so a record cannot be moved to another account or have its header edited.
Changing the passphrase rewrites keystore.json only (one atomic rename), so an interrupted change leaves
every record readable with either the old passphrase or the new one.

`Keystore.put` stores a key WITHOUT asking the exchange: it is for tests and the demo set-up. The CLI
(`copytrader keys add/rotate`) always validates a key against the exchange before it calls `put`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec

from keystore import crypto
from keystore.errors import (
    AccountExists,
    AccountNotFound,
    CorruptFile,
    KeystoreError,
    KeystoreExists,
    KeystoreNotFound,
    SwappedRecord,
    TamperedRecord,
    WrongPassphrase,
)
from keystore.files import (
    check_private_dir,
    ensure_private_dir,
    exclusive_lock,
    read_private,
    remove_durably,
    sweep_temp_files,
    write_atomic,
)
from keystore.keytypes import KeyType, check_account_id, check_api_key, fingerprint, mask_api_key, normalise_secret
from keystore.secret import Secret

from .records import (
    ACCOUNTS_DIR as ACCOUNTS_DIR,  # re-exported: callers import them from here
    FORMAT_VERSION as FORMAT_VERSION,
    KEYSTORE_FILE as KEYSTORE_FILE,
    RECORD_AAD_PREFIX as RECORD_AAD_PREFIX,
    AccountKey as AccountKey,
    KeyPermissions as KeyPermissions,
    KeystoreFile as KeystoreFile,
    RecordFile as RecordFile,
    RecordInfo as RecordInfo,
    WrappedKey as WrappedKey,
)


# --- helpers ---------------------------------------------------------------------------------------
def _now_ms() -> int:
    return time.time_ns() // 1_000_000


_keystore_decoder = msgspec.json.Decoder(KeystoreFile)
_record_decoder = msgspec.json.Decoder(RecordFile)


def _encode(obj: msgspec.Struct) -> bytes:
    return msgspec.json.format(msgspec.json.encode(obj, order="sorted"), indent=2) + b"\n"


def record_aad(record: RecordFile) -> bytes:
    """The associated data of a record: its public header, canonically encoded."""
    header = msgspec.to_builtins(record)
    del header["nonce"], header["ciphertext"]
    return RECORD_AAD_PREFIX + msgspec.json.encode(header, order="sorted")


def keystore_path(directory: Path) -> Path:
    return Path(directory) / KEYSTORE_FILE


def record_path(directory: Path, account_id: str) -> Path:
    return Path(directory) / ACCOUNTS_DIR / f"{check_account_id(account_id)}.json"


def _read_keystore_file(directory: Path) -> KeystoreFile:
    directory = Path(directory)
    path = keystore_path(directory)
    if not path.exists():
        raise KeystoreNotFound(f"no keystore at {directory} (create one with `copytrader keys init` or `keys add ... --init`)")
    check_private_dir(directory)
    raw = read_private(path)
    try:
        header = _keystore_decoder.decode(raw)
    except msgspec.DecodeError as exc:
        if isinstance(exc, msgspec.ValidationError):
            raise CorruptFile(f"keystore file {path} is not a valid keystore: {exc}") from None
        raise CorruptFile(f"keystore file {path} is truncated or not JSON") from None
    if header.version != FORMAT_VERSION:
        raise CorruptFile(f"keystore file {path} has version {header.version}; this program reads {FORMAT_VERSION}")
    try:
        header.kdf.check()
    except crypto.InvalidParameters as exc:
        raise CorruptFile(f"keystore file {path}: {exc}") from None
    return header


def _unwrap(header: KeystoreFile, passphrase: str | bytes | Secret) -> bytearray:
    kek = crypto.derive_kek(passphrase, header.kdf)
    try:
        key = crypto.open_sealed(kek, header.wrapped_key.nonce, header.wrapped_key.ciphertext, crypto.WRAP_AAD)
    except crypto.InvalidTag:
        raise WrongPassphrase("wrong passphrase, or keystore.json was altered") from None
    if len(key) != crypto.KEY_LEN:
        raise CorruptFile("keystore.json holds a key of the wrong length")
    return bytearray(key)


def _wrap(key: bytes, passphrase: str | bytes | Secret, kdf: crypto.KdfParams, created_at: int) -> KeystoreFile:
    kek = crypto.derive_kek(passphrase, kdf)
    nonce, ciphertext = crypto.seal(kek, key, crypto.WRAP_AAD)
    return KeystoreFile(
        version=FORMAT_VERSION,
        kdf=kdf,
        wrapped_key=WrappedKey(nonce=nonce, ciphertext=ciphertext),
        created_at=created_at,
        changed_at=_now_ms(),
    )


def _read_record(directory: Path, account_id: str) -> RecordFile:
    path = record_path(directory, account_id)
    if not path.exists():
        raise AccountNotFound(f"no key for account '{account_id}' in the keystore at {directory}")
    check_private_dir(path.parent)
    raw = read_private(path)
    try:
        record = _record_decoder.decode(raw)
    except msgspec.DecodeError as exc:
        if isinstance(exc, msgspec.ValidationError):
            raise CorruptFile(f"keystore record for '{account_id}' ({path}) is malformed: {exc}") from None
        raise CorruptFile(f"keystore record for '{account_id}' ({path}) is truncated or not JSON") from None
    if record.version != FORMAT_VERSION:
        raise CorruptFile(f"keystore record for '{account_id}' has version {record.version}; expected {FORMAT_VERSION}")
    if record.account_id != account_id:
        raise SwappedRecord(
            f"record {path.name} was made for account '{record.account_id}', not '{account_id}' (a record file was copied or renamed)"
        )
    if record.fingerprint != fingerprint(record.api_key):
        raise TamperedRecord(f"record for '{account_id}': the API key does not match its fingerprint (altered)")
    try:
        KeyType(record.key_type)
    except ValueError:
        raise CorruptFile(f"record for '{account_id}' has unknown key type {record.key_type!r}") from None
    return record


def _decrypt_record(key: bytes | bytearray, record: RecordFile) -> Secret:
    try:
        plaintext = crypto.open_sealed(bytes(key), record.nonce, record.ciphertext, record_aad(record))
    except crypto.InvalidTag:
        raise TamperedRecord(
            f"record for '{record.account_id}' failed authentication: it was altered, moved from another"
            " account, or belongs to another keystore"
        ) from None
    return Secret(plaintext)


def _account_key(record: RecordFile, secret: Secret, register: bool) -> AccountKey:
    if register:
        _register_for_redaction(record.api_key, secret)
    return AccountKey(
        account_id=record.account_id,
        key_type=KeyType(record.key_type),
        api_key=record.api_key,
        secret=secret,
        fingerprint=record.fingerprint,
        permissions=record.permissions,
    )


def _register_for_redaction(api_key: str, secret: Secret) -> None:
    """Teach this process's log redaction the key's material (imported late: keystore stays light)."""
    from keystore import redact

    redact.register_secret(secret)
    redact.register_secret(api_key, keep_ends=True)


def _info(record: RecordFile, error: str | None = None) -> RecordInfo:
    return RecordInfo(
        account_id=record.account_id,
        key_type=record.key_type,
        api_key_masked=mask_api_key(record.api_key),
        fingerprint=record.fingerprint,
        permissions=record.permissions,
        created_at=record.created_at,
        rotated_at=record.rotated_at,
        error=error,
    )


# --- public API ----------------------------------------------------------------------------------
def load_account(
    directory: str | Path, account_id: str, passphrase: str | bytes | Secret, *, register_redaction: bool = True
) -> AccountKey:
    """Decrypt ONE account's key (the slave's own) without reading any other record.

    With `register_redaction` (the default) the secret and the API key are registered with
    `keystore.redact` so this process's logs, exceptions and reports mask them.
    """
    directory = Path(directory)
    check_account_id(account_id)
    header = _read_keystore_file(directory)
    record = _read_record(directory, account_id)
    key = _unwrap(header, passphrase)
    try:
        secret = _decrypt_record(key, record)
    finally:
        _wipe(key)
    return _account_key(record, secret, register_redaction)


def _wipe(buf: bytearray) -> None:
    for i in range(len(buf)):
        buf[i] = 0


class Keystore:
    """An unlocked keystore: holds the keystore key in memory until `close()`.

    Use `Keystore.create` / `Keystore.open` (also as a context manager). Reads need no lock; every
    write holds an exclusive lock on the directory and is atomic.
    """

    def __init__(self, directory: Path, key: bytearray, header: KeystoreFile, register_redaction: bool) -> None:
        self.directory = directory
        self._key = key
        self._header = header
        self._register = register_redaction

    # --- lifecycle ---
    @staticmethod
    def exists(directory: str | Path) -> bool:
        return keystore_path(Path(directory)).exists()

    @classmethod
    def create(
        cls,
        directory: str | Path,
        passphrase: str | bytes | Secret,
        *,
        kdf: crypto.KdfParams | None = None,
        register_redaction: bool = True,
    ) -> "Keystore":
        """Create an empty keystore with a fresh random keystore key."""
        directory = Path(directory)
        kdf = kdf or crypto.KdfParams.default()
        kdf.check()
        ensure_private_dir(directory)
        with exclusive_lock(directory):
            if keystore_path(directory).exists():
                raise KeystoreExists(f"a keystore exists already at {directory}")
            ensure_private_dir(directory / ACCOUNTS_DIR)
            key = bytearray(crypto.new_key())
            now = _now_ms()
            header = _wrap(bytes(key), passphrase, kdf, created_at=now)
            write_atomic(keystore_path(directory), _encode(header))
        return cls(directory, key, header, register_redaction)

    @classmethod
    def open(cls, directory: str | Path, passphrase: str | bytes | Secret, *, register_redaction: bool = True) -> "Keystore":
        """Unlock an existing keystore (one Argon2id derivation)."""
        directory = Path(directory)
        header = _read_keystore_file(directory)
        key = _unwrap(header, passphrase)
        accounts = directory / ACCOUNTS_DIR
        if accounts.exists():
            check_private_dir(accounts)
        return cls(directory, key, header, register_redaction)

    def close(self) -> None:
        """Forget the keystore key (overwritten with zeros)."""
        _wipe(self._key)
        self._key = bytearray()

    def __enter__(self) -> "Keystore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Keystore({str(self.directory)!r}, {'locked' if not self._key else 'unlocked'})"

    def __reduce__(self) -> None:  # type: ignore[override]
        raise TypeError("a Keystore cannot be pickled")

    @property
    def kdf(self) -> crypto.KdfParams:
        return self._header.kdf

    def _live_key(self) -> bytes:
        if not self._key:
            raise KeystoreError("the keystore is closed")
        return bytes(self._key)

    # --- records ---
    def account_ids(self) -> list[str]:
        """Ids of all stored records, sorted (hidden and temp files ignored)."""
        accounts = self.directory / ACCOUNTS_DIR
        if not accounts.exists():
            return []
        return sorted(p.stem for p in accounts.glob("*.json") if not p.name.startswith("."))

    def __contains__(self, account_id: str) -> bool:
        return record_path(self.directory, account_id).exists()

    def get(self, account_id: str) -> AccountKey:
        """Decrypt one account's key."""
        record = _read_record(self.directory, account_id)
        return _account_key(record, _decrypt_record(self._live_key(), record), self._register)

    def info(self, account_id: str) -> RecordInfo:
        """A record's public facts, after checking it decrypts (the secret is wiped at once)."""
        record = _read_record(self.directory, account_id)
        _decrypt_record(self._live_key(), record).wipe()
        return _info(record)

    def list_records(self) -> list[RecordInfo]:
        """Every record, each checked; a record that fails carries `error` instead of raising."""
        infos = []
        for account_id in self.account_ids():
            try:
                infos.append(self.info(account_id))
            except KeystoreError as exc:
                infos.append(RecordInfo(account_id, "?", "?", "?", KeyPermissions(), 0, None, error=str(exc)))
        return infos

    def iter_keys(self) -> Iterator[AccountKey]:
        for account_id in self.account_ids():
            yield self.get(account_id)

    def put(
        self,
        account_id: str,
        key_type: KeyType | str,
        api_key: str,
        secret: Secret | bytes | str,
        permissions: KeyPermissions | None = None,
        *,
        replace: bool = False,
    ) -> RecordInfo:
        """Store (or with `replace`, rotate) an account's key. Does NOT validate it with the exchange."""
        check_account_id(account_id)
        key_type = KeyType.parse(key_type) if isinstance(key_type, str) else key_type
        check_api_key(api_key)
        normalised = normalise_secret(key_type, secret)
        path = record_path(self.directory, account_id)
        try:
            with exclusive_lock(self.directory):
                accounts = self.directory / ACCOUNTS_DIR
                ensure_private_dir(accounts)
                self._sweep()
                created_at, rotated_at = _now_ms(), None
                if path.exists():
                    if not replace:
                        raise AccountExists(f"account '{account_id}' has a key already (use `keys rotate` to replace it)")
                    try:
                        created_at = _read_record(self.directory, account_id).created_at
                    except KeystoreError:
                        pass  # replacing a damaged record: keep the new creation time
                    rotated_at = _now_ms()
                record = self._seal(account_id, key_type, api_key, normalised, permissions or KeyPermissions(), created_at, rotated_at)
                write_atomic(path, _encode(record))
        finally:
            normalised.wipe()
        return _info(record)

    def update_permissions(self, account_id: str, permissions: KeyPermissions) -> RecordInfo:
        """Replace a record's permission snapshot (re-encrypted, as the snapshot is authenticated)."""
        with exclusive_lock(self.directory):
            self._sweep()
            record = _read_record(self.directory, account_id)
            secret = _decrypt_record(self._live_key(), record)
            try:
                new = self._seal(
                    account_id, KeyType(record.key_type), record.api_key, secret, permissions, record.created_at, record.rotated_at
                )
            finally:
                secret.wipe()
            write_atomic(record_path(self.directory, account_id), _encode(new))
        return _info(new)

    def remove(self, account_id: str) -> None:
        """Delete an account's record."""
        path = record_path(self.directory, account_id)
        with exclusive_lock(self.directory):
            if not path.exists():
                raise AccountNotFound(f"no key for account '{account_id}' in the keystore at {self.directory}")
            remove_durably(path)

    def change_passphrase(self, new_passphrase: str | bytes | Secret, *, kdf: crypto.KdfParams | None = None) -> None:
        """Rewrap the keystore key under a new passphrase (and optionally new KDF parameters).

        Only keystore.json is rewritten, by one atomic rename: the records are untouched.
        """
        params = kdf or crypto.KdfParams(
            salt=os.urandom(crypto.SALT_LEN),
            iterations=self._header.kdf.iterations,
            memory_kib=self._header.kdf.memory_kib,
            lanes=self._header.kdf.lanes,
        )
        params.check()
        with exclusive_lock(self.directory):
            current = _read_keystore_file(self.directory)
            if current.wrapped_key != self._header.wrapped_key:
                raise KeystoreError("keystore.json changed since it was opened (another passphrase change?); retry")
            self._sweep()
            header = _wrap(self._live_key(), new_passphrase, params, created_at=current.created_at)
            write_atomic(keystore_path(self.directory), _encode(header))
        self._header = header

    def _sweep(self) -> None:
        """Remove temp files of interrupted writes (called with the lock held)."""
        sweep_temp_files(self.directory)
        if (self.directory / ACCOUNTS_DIR).exists():
            sweep_temp_files(self.directory / ACCOUNTS_DIR)

    def _seal(
        self,
        account_id: str,
        key_type: KeyType,
        api_key: str,
        secret: Secret,
        permissions: KeyPermissions,
        created_at: int,
        rotated_at: int | None,
    ) -> RecordFile:
        unsealed = RecordFile(
            version=FORMAT_VERSION,
            account_id=account_id,
            key_type=key_type.value,
            api_key=api_key,
            fingerprint=fingerprint(api_key),
            permissions=permissions,
            created_at=created_at,
            rotated_at=rotated_at,
            nonce=b"",
            ciphertext=b"",
        )
        nonce, ciphertext = crypto.seal(self._live_key(), secret.reveal(), record_aad(unsealed))
        return msgspec.structs.replace(unsealed, nonce=nonce, ciphertext=ciphertext)
