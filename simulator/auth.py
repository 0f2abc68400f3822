"""API keys and signature checks: HMAC-SHA256 (hex), RSA PKCS#1 v1.5 SHA-256 and Ed25519 (base64).

The signed payload is built by the transport (REST: query string + body exactly as sent, minus
`signature`; WebSocket API: params sorted by name, `k=v` joined with `&`). Verifiers are built once
per key (the HMAC object is precomputed and copied per request).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from simulator import errors

KEY_TYPES = ("HMAC", "RSA", "ED25519")
MAX_RECV_WINDOW_MS = 60_000.0
DEFAULT_RECV_WINDOW_MS = 5_000.0


class Verifier(Protocol):
    def verify(self, payload: bytes, signature: str) -> bool: ...


class HmacVerifier:
    __slots__ = ("_base",)

    def __init__(self, secret: str) -> None:
        self._base = hmac.new(secret.encode(), digestmod=hashlib.sha256)

    def verify(self, payload: bytes, signature: str) -> bool:
        mac = self._base.copy()
        mac.update(payload)
        return hmac.compare_digest(mac.hexdigest(), signature.lower())

    def __repr__(self) -> str:  # never show the secret
        return "HmacVerifier(<secret>)"


def _b64(signature: str) -> bytes | None:
    try:
        return base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return None


class RsaVerifier:
    __slots__ = ("_key",)

    def __init__(self, public_pem: str) -> None:
        key = serialization.load_pem_public_key(public_pem.encode())
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError("not an RSA public key")
        self._key = key

    def verify(self, payload: bytes, signature: str) -> bool:
        raw = _b64(signature)
        if raw is None:
            return False
        try:
            self._key.verify(raw, payload, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return False
        return True


class Ed25519Verifier:
    __slots__ = ("_key",)

    def __init__(self, public_pem: str) -> None:
        key = serialization.load_pem_public_key(public_pem.encode())
        if not isinstance(key, ed25519.Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        self._key = key

    def verify(self, payload: bytes, signature: str) -> bool:
        raw = _b64(signature)
        if raw is None:
            return False
        try:
            self._key.verify(raw, payload)
        except InvalidSignature:
            return False
        return True


def make_verifier(key_type: str, secret: str | None, public_key: str | None) -> Verifier:
    """Build the verifier for a key; raises ValueError naming what is missing or wrong."""
    if key_type == "HMAC":
        if not secret:
            raise ValueError("HMAC key needs a secret")
        return HmacVerifier(secret)
    if key_type == "RSA":
        if not public_key:
            raise ValueError("RSA key needs public_key (PEM)")
        return RsaVerifier(public_key)
    if key_type == "ED25519":
        if not public_key:
            raise ValueError("Ed25519 key needs public_key (PEM)")
        return Ed25519Verifier(public_key)
    raise ValueError(f"unknown key type {key_type!r}; expected one of {KEY_TYPES}")


def check_timestamp(timestamp: str | None, recv_window: str | None) -> None:
    """Binance's timing security: -1102 without timestamp, -1021 outside the window."""
    if not timestamp:
        raise errors.mandatory("timestamp")
    try:
        ts = int(timestamp)
    except ValueError:
        raise errors.illegal_chars("timestamp", r"^[0-9]{1,20}$") from None
    if ts > 10**14:  # microseconds
        ts_ms = ts / 1000.0
    else:
        ts_ms = float(ts)
    window = DEFAULT_RECV_WINDOW_MS
    if recv_window:
        try:
            window = float(recv_window)
        except ValueError:
            raise errors.illegal_chars("recvWindow") from None
        if window > MAX_RECV_WINDOW_MS:
            raise errors.BinanceError(errors.INVALID_PARAMETER, "Param 'recvWindow' cannot be greater than 60000.")
        if window <= 0:
            raise errors.invalid_param("recvWindow")
    now = time.time_ns() / 1_000_000
    if ts_ms >= now + 1000:
        raise errors.ahead_of_server()
    if now - ts_ms > window:
        raise errors.outside_recv_window()
