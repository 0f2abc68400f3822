"""Key loading for long-running processes (a slave at start), and public views for everyone else.

`unlock_own_key` is what a slave calls first thing: it switches on redaction for the whole process
(log records, uncaught exceptions, stdout/stderr),
takes the passphrase from its file or from COPYTRADER_PASSPHRASE (and removes the variable from the
environment so no child inherits it), decrypts only this account's record, and returns it. The secret
then lives only in this process's memory (a `Secret`), registered for redaction.

`list_public` reads the records' public headers WITHOUT the passphrase (nothing is decrypted, so the
values are unverified): for the control actor and the TUI, which must never hold a slave's secret.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from keystore.errors import KeystoreError, PassphraseUnavailable
from keystore.keytypes import mask_api_key
from keystore.passphrase import PASSPHRASE_ENV, read_passphrase_file, take_from_env
from keystore.store import ACCOUNTS_DIR, AccountKey, KeyPermissions, RecordFile, RecordInfo, load_account


def unlock_own_key(directory: str | Path, account_id: str, passphrase_file: str | Path | None = None) -> AccountKey:
    """Redaction on, passphrase from file or (removed) env var, then decrypt this account's key only."""
    from keystore import redact

    redact.install()
    redact.install_excepthook()
    redact.wrap_std_streams()
    passphrase = read_passphrase_file(passphrase_file) if passphrase_file else take_from_env()
    if passphrase is None:
        raise PassphraseUnavailable(f"no passphrase: configure a passphrase file or set {PASSPHRASE_ENV}")
    redact.register_secret(passphrase)
    try:
        return load_account(directory, account_id, passphrase, register_redaction=True)
    finally:
        passphrase.wipe()


_header_decoder = msgspec.json.Decoder(RecordFile)


def list_public(directory: str | Path) -> list[RecordInfo]:
    """Every record's public facts, read without the passphrase (UNVERIFIED: nothing is decrypted)."""
    accounts = Path(directory) / ACCOUNTS_DIR
    infos: list[RecordInfo] = []
    if not accounts.exists():
        return infos
    for path in sorted(p for p in accounts.glob("*.json") if not p.name.startswith(".")):
        try:
            record = _header_decoder.decode(path.read_bytes())
        except (msgspec.DecodeError, OSError) as exc:
            infos.append(RecordInfo(path.stem, "?", "?", "?", KeyPermissions(), 0, None, error=_why(path, exc)))
            continue
        error = None if record.account_id == path.stem else f"record {path.name} names account '{record.account_id}'"
        infos.append(
            RecordInfo(
                account_id=path.stem,
                key_type=record.key_type,
                api_key_masked=mask_api_key(record.api_key),
                fingerprint=record.fingerprint,
                permissions=record.permissions,
                created_at=record.created_at,
                rotated_at=record.rotated_at,
                error=error,
            )
        )
    return infos


def _why(path: Path, exc: Exception) -> str:
    if isinstance(exc, OSError):
        return f"cannot read {path}: {exc.strerror}"
    return f"record {path.name} is truncated or not a keystore record"


__all__ = ["KeystoreError", "list_public", "unlock_own_key"]
