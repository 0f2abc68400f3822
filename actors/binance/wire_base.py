"""What every Binance wire struct shares: the base struct (lax, frozen, keyword-only), decoders built
once per type, and `decode` / `convert` with our own words for bad UTF-8 and bad shapes.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

T = TypeVar("T")


class _Wire(msgspec.Struct, kw_only=True, frozen=True):
    """Base of all wire structs (immutable, keyword-only)."""


_DECODERS: dict[Any, msgspec.json.Decoder[Any]] = {}


def decoder(type_: Any) -> msgspec.json.Decoder[Any]:
    """A lax JSON decoder for `type_`, built once and cached."""
    dec = _DECODERS.get(type_)
    if dec is None:
        dec = _DECODERS[type_] = msgspec.json.Decoder(type_, strict=False)
    return dec


def _utf8_error(raw: bytes | str | memoryview) -> str | None:
    """Where `raw` is not valid UTF-8, our own words for it, naming the first bad byte; else None.
    Only called once decoding failed: msgspec's own text for bad UTF-8 differs between releases
    (and older ones let it escape as UnicodeDecodeError), so our message does not depend on it."""
    if isinstance(raw, str):
        return None
    try:
        bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"invalid UTF-8 at byte {exc.start}: {exc.reason}"
    return None


def decode(raw: bytes | str | memoryview, type_: type[T]) -> T:
    """Decode raw JSON into `type_` (e.g. `list[BinanceFuturesPositionRisk]`). Bad input raises
    msgspec.DecodeError / ValidationError only; for invalid UTF-8 the DecodeError names the byte."""
    try:
        return decoder(type_).decode(raw)
    except (UnicodeDecodeError, msgspec.DecodeError) as exc:
        bad = _utf8_error(raw)
        if bad is None and isinstance(exc, msgspec.DecodeError):
            raise
        raise msgspec.DecodeError(f"{bad} in the JSON reply" if bad else str(exc)) from None


def convert(obj: Any, type_: type[T]) -> T:
    """Convert an already-parsed JSON value (dict/list from RestClient) into `type_`."""
    return msgspec.convert(obj, type_, strict=False)
