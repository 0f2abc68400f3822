"""Request signatures for Binance API keys: HMAC-SHA256, Ed25519, RSA (PKCS#1 v1.5, SHA-256).

The secret (HMAC secret or private key) lives only inside a closure: it is not an attribute of
`Signer`, so neither `repr()`, tracebacks with locals, nor `vars()` show it.

`cryptography` is imported only for Ed25519 / RSA keys, keeping HMAC-only processes light.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import Literal

__all__ = ["KeyType", "Signer", "make_signer"]

KeyType = Literal["HMAC", "ED25519", "RSA"]
_KEY_TYPES = ("HMAC", "ED25519", "RSA")


class Signer:
    """Signs Binance payloads for one API key.

    `sign(payload)` returns the `signature` parameter value: lowercase hex for HMAC, base64 for
    Ed25519 and RSA. The payload is the exact string the server will see (REST: the query string;
    WebSocket API: the sorted `key=value&...` string).
    """

    __slots__ = ("api_key", "key_type", "_k")

    api_key: str
    key_type: KeyType
    _k: Callable[[bytes], str]

    def __init__(self, api_key: str, key_type: KeyType, sign_bytes: Callable[[bytes], str]) -> None:
        object.__setattr__(self, "api_key", api_key)
        object.__setattr__(self, "key_type", key_type)
        object.__setattr__(self, "_k", sign_bytes)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Signer is immutable")

    def sign(self, payload: str) -> str:
        return self._k(payload.encode())

    def sign_bytes(self, payload: bytes) -> str:
        return self._k(payload)

    @property
    def supports_logon(self) -> bool:
        """WebSocket API `session.logon` accepts only Ed25519 keys."""
        return self.key_type == "ED25519"

    def __repr__(self) -> str:
        shown = self.api_key[:6] + "..." if len(self.api_key) > 6 else "***"
        return f"Signer(api_key={shown!r}, key_type={self.key_type!r})"

    __str__ = __repr__

    def __reduce__(self) -> object:
        raise TypeError("Signer cannot be pickled (it holds a secret)")


def _hmac_signer(secret: str) -> Callable[[bytes], str]:
    if not secret:
        raise ValueError("HMAC secret is empty")
    base = hmac.new(secret.encode(), digestmod=hashlib.sha256)

    def sign(payload: bytes) -> str:
        h = base.copy()
        h.update(payload)
        return h.hexdigest()

    return sign


def _load_private_key(pem: str, password: bytes | None) -> object:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        return load_pem_private_key(pem.encode(), password=password)
    except (ValueError, TypeError) as exc:
        # cryptography's messages do not contain the key, but drop the chain anyway.
        raise ValueError(f"private key could not be loaded: {type(exc).__name__}") from None


def _ed25519_signer(pem: str, password: bytes | None) -> Callable[[bytes], str]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = _load_private_key(pem, password)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"key_type ED25519 needs an Ed25519 private key, got {type(key).__name__}")
    raw_sign = key.sign
    b64 = base64.b64encode

    def sign(payload: bytes) -> str:
        return b64(raw_sign(payload)).decode()

    return sign


def _rsa_signer(pem: str, password: bytes | None) -> Callable[[bytes], str]:
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from cryptography.hazmat.primitives.hashes import SHA256

    key = _load_private_key(pem, password)
    if not isinstance(key, RSAPrivateKey):
        raise ValueError(f"key_type RSA needs an RSA private key, got {type(key).__name__}")
    raw_sign = key.sign
    padding = PKCS1v15()
    algo = SHA256()
    b64 = base64.b64encode

    def sign(payload: bytes) -> str:
        return b64(raw_sign(payload, padding, algo)).decode()

    return sign


def make_signer(key_type: str, api_key: str, secret: str, *, password: bytes | None = None) -> Signer:
    """Build a `Signer`. `secret` is the HMAC secret key, or the PEM private key for ED25519 / RSA
    (`password` if the PEM is encrypted)."""
    kt = key_type.upper()
    if kt not in _KEY_TYPES:
        raise ValueError(f"unknown key_type {key_type!r}; expected one of {', '.join(_KEY_TYPES)}")
    if not api_key:
        raise ValueError("api_key is empty")
    if kt == "HMAC":
        fn = _hmac_signer(secret)
    elif kt == "ED25519":
        fn = _ed25519_signer(secret, password)
    else:
        fn = _rsa_signer(secret, password)
    del secret
    return Signer(api_key, kt, fn)  # type: ignore[arg-type]
