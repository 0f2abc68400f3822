"""Redaction: key material never reaches a log line, an exception text or a report.

Two layers, applied together by `redact(text)`:
1. a process-wide registry of known secrets (`register_secret`): the API secret, each base64 line of a
   PEM private key, their JSON-, URL- and repr-escaped forms, and (masked to `abcd…wxyz`) the API key;
2. generic patterns that need no registration: whole PEM private-key blocks, `secret=...`,
   `"apiSecret": "..."`, `passphrase: ...`, and `X-MBX-APIKEY` header values.

Wiring for a process (a slave calls this once at start, before it loads its key):
    redact.install()              # every log record, from every logger, is redacted when created
    redact.install_excepthook()   # uncaught exceptions are printed redacted
    redact.wrap_std_streams()     # print()/warnings on stdout/stderr are redacted line by line

`keystore.load_account` registers the loaded key itself.
"""

from __future__ import annotations

import atexit
import base64
import io
import json
import logging
import re
import sys
import threading
import traceback
import urllib.parse
from collections.abc import Iterable
from typing import Any, Protocol, TextIO

import msgspec

MASK = "***"
MIN_SECRET_LEN = 6  # shorter values are not registered (they would mask ordinary words)
MIN_PEM_LINE_LEN = 16


class _Revealable(Protocol):
    def reveal_str(self) -> str: ...


SecretLike = str | bytes | bytearray | _Revealable

# --- generic patterns (no registration needed) ----------------------------------------------------
_PEM_BLOCK = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----.*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|\Z)", re.S)
_NAMED_VALUE = re.compile(
    r"(?i)(\b(?:api[_-]?secret|secret[_-]?key|private[_-]?key|secret|passphrase|password)"
    r"[\"']?\s*[:=]\s*[\"']?)([^\s\"',;&})\]]{4,})"
)
_APIKEY_HEADER = re.compile(r"(?i)(x-mbx-apikey[\"']?\s*[:=]\s*[\"']?)([A-Za-z0-9]{8,})")


def _mask_ends(value: str) -> str:
    return f"{value[:4]}…{value[-4:]}" if len(value) > 12 else MASK


# --- the registry -----------------------------------------------------------------------------------
class _Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._needles: dict[str, str] = {}  # needle -> replacement
        self._pattern: re.Pattern[str] | None = None

    def add(self, needles: dict[str, str]) -> None:
        with self._lock:
            changed = False
            for needle, replacement in needles.items():
                # a full mask wins over a keep-ends mask for the same text
                if self._needles.get(needle) != MASK:
                    changed |= self._needles.get(needle) != replacement
                    self._needles[needle] = replacement
            if changed:
                ordered = sorted(self._needles, key=len, reverse=True)  # longest first
                self._pattern = re.compile("|".join(re.escape(n) for n in ordered))

    def clear(self) -> None:
        with self._lock:
            self._needles.clear()
            self._pattern = None

    def __len__(self) -> int:
        return len(self._needles)

    def apply(self, text: str) -> str:
        pattern, needles = self._pattern, self._needles
        if pattern is None:
            return text
        return pattern.sub(lambda m: needles.get(m.group(0), MASK), text)


_registry = _Registry()


def _as_text(value: SecretLike) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    if hasattr(value, "reveal_str"):
        return value.reveal_str()
    raise TypeError(f"cannot register a {type(value).__name__} as a secret")


def derived_forms(value: str) -> set[str]:
    """The forms in which `value` could appear in text: itself, escaped forms, PEM body lines."""
    forms = {value, value.strip()}
    forms.add(json.dumps(value)[1:-1])
    forms.add(urllib.parse.quote(value, safe=""))
    forms.add(urllib.parse.quote_plus(value, safe=""))
    forms.add(repr(value)[1:-1])
    if "-----BEGIN" in value:
        body = [line.strip() for line in value.splitlines() if line.strip() and not line.strip().startswith("-----")]
        forms.update(line for line in body if len(line) >= MIN_PEM_LINE_LEN)
        if body:
            forms.add("".join(body))
        forms.update(_private_key_forms(value))
    return {f for f in forms if len(f) >= MIN_SECRET_LEN}


def _private_key_forms(pem: str) -> set[str]:
    """Raw private bytes of an Ed25519 key (hex, base64), as code may print them."""
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519

        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except Exception:  # noqa: BLE001 - unparsable PEM: the textual forms are registered anyway
        return set()
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        return set()
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return {raw.hex(), raw.hex().upper(), base64.b64encode(raw).decode()}


def register_secret(value: SecretLike, *, keep_ends: bool = False) -> None:
    """Mask `value` (and its derived forms) in everything this process redacts from now on.

    `keep_ends=True` masks as `abcd…wxyz` (for API keys: recognisable, not usable).
    """
    text = _as_text(value)
    if len(text.strip()) < MIN_SECRET_LEN:
        return
    replacement = _mask_ends(text.strip()) if keep_ends else MASK
    _registry.add({form: replacement for form in derived_forms(text)})


def clear_registry() -> None:
    """Forget every registered secret (tests)."""
    _registry.clear()


def registered_count() -> int:
    return len(_registry)


# --- redaction -----------------------------------------------------------------------------------------
def redact(text: str, secrets: Iterable[SecretLike] | None = None) -> str:
    """`text` with registered secrets, the given `secrets` and generic key-material patterns masked."""
    if not isinstance(text, str):
        text = str(text)
    if secrets:
        extra = _Registry()
        for value in secrets:
            extra.add({form: MASK for form in derived_forms(_as_text(value))})
        text = extra.apply(text)
    text = _registry.apply(text)
    if "PRIVATE KEY" in text:
        text = _PEM_BLOCK.sub("[REDACTED PRIVATE KEY]", text)
    text = _NAMED_VALUE.sub(lambda m: m.group(1) + MASK, text)
    text = _APIKEY_HEADER.sub(lambda m: m.group(1) + _mask_ends(m.group(2)), text)
    return text


def redact_data(obj: Any) -> Any:
    """Redact every string inside builtins containers and msgspec Structs (for reports)."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {redact_data(k): redact_data(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [redact_data(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(redact_data(v) for v in obj)
    if isinstance(obj, msgspec.Struct):
        changes = {
            name: redact_data(getattr(obj, name))
            for name in obj.__struct_fields__
            if isinstance(getattr(obj, name), (str, dict, list, tuple, msgspec.Struct))
        }
        return msgspec.structs.replace(obj, **changes) if changes else obj
    return obj


def format_exception(exc: BaseException) -> str:
    """The full traceback of `exc`, redacted."""
    return redact("".join(traceback.format_exception(exc)))


def describe_exception(exc: BaseException) -> str:
    """`Type: message`, redacted: for error fields in reports and replies."""
    text, name = str(exc), type(exc).__name__
    return redact(text if text.startswith(name) else f"{name}: {text}")


# --- logging -----------------------------------------------------------------------------------------------
def _redact_record(record: logging.LogRecord) -> logging.LogRecord:
    if getattr(record, "_redacted", False):
        return record
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string must not kill the caller
        message = f"{record.msg!r} (unformattable args)"
    record.msg = redact(message)
    record.args = None
    if record.exc_info:
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        record.exc_info = None
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    record._redacted = True  # type: ignore[attr-defined]
    return record


class RedactingFilter(logging.Filter):
    """A handler/logger filter that redacts the record in place (message, args, exception, stack)."""

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record)
        return True


class RedactingFormatter(logging.Formatter):
    """Wraps another formatter and redacts its output (belt and braces for custom formatters)."""

    def __init__(self, inner: logging.Formatter | None = None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(_redact_record(record)))


_installed_lock = threading.Lock()
_installed = False
_previous_factory: Any = None


def install() -> None:
    """Redact every log record of this process when it is created (all loggers, all handlers).

    Also adds a RedactingFilter to the root logger's current handlers. Idempotent.
    """
    global _installed, _previous_factory
    with _installed_lock:
        if _installed:
            return
        previous = _previous_factory = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return _redact_record(previous(*args, **kwargs))

        logging.setLogRecordFactory(factory)
        for handler in logging.getLogger().handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())
        _installed = True


def is_installed() -> bool:
    return _installed


def uninstall() -> None:
    """Undo `install()` (tests): restore the record factory and drop the handler filters."""
    global _installed, _previous_factory
    with _installed_lock:
        if not _installed:
            return
        if _previous_factory is not None:
            logging.setLogRecordFactory(_previous_factory)
        for handler in logging.getLogger().handlers:
            for f in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
                handler.removeFilter(f)
        _previous_factory = None
        _installed = False


def install_excepthook() -> None:
    """Print uncaught exceptions (main thread and other threads) redacted on stderr."""

    def hook(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
        sys.stderr.write(redact("".join(traceback.format_exception(exc_type, exc, tb))))
        sys.stderr.flush()

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            hook(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = hook
    threading.excepthook = thread_hook


class RedactingStream(io.TextIOBase):
    """A text stream that redacts whole lines before passing them on.

    A partial line is held until its newline (or close), so a secret split across writes is still
    caught; `flush()` passes on complete lines only.
    """

    def __init__(self, inner: TextIO) -> None:
        super().__init__()
        self.inner = inner
        self._pending = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            if "\n" in self._pending:
                complete, _, self._pending = self._pending.rpartition("\n")
                self.inner.write(redact(complete + "\n"))
        return len(text)

    def flush(self) -> None:
        self.inner.flush()

    def close(self) -> None:
        with self._lock:
            if self._pending:
                self.inner.write(redact(self._pending))
                self._pending = ""
        self.inner.flush()

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.inner.fileno()

    def isatty(self) -> bool:
        return self.inner.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.inner, "encoding", "utf-8")


def wrap_std_streams() -> None:
    """Replace sys.stdout and sys.stderr with RedactingStreams (idempotent)."""
    if not isinstance(sys.stdout, RedactingStream):
        sys.stdout = RedactingStream(sys.stdout)  # type: ignore[assignment]
        atexit.register(sys.stdout.close)
    if not isinstance(sys.stderr, RedactingStream):
        sys.stderr = RedactingStream(sys.stderr)  # type: ignore[assignment]
        atexit.register(sys.stderr.close)
