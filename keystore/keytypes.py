"""Key types and the shape checks of API keys and secrets (no key material in any message)."""

from __future__ import annotations

import enum
import hashlib
import re

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from keystore.errors import InvalidKey
from keystore.secret import Secret

ACCOUNT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_API_KEY_RE = re.compile(r"^[\x21-\x7e]{8,256}$")  # printable ASCII, no spaces
_HMAC_SECRET_RE = re.compile(rb"^[\x21-\x7e]{8,512}$")
MIN_RSA_BITS = 2048


class KeyType(enum.StrEnum):
    """Binance API key types (see binance-spot-api-docs/faqs/api_key_types.md)."""

    HMAC = "hmac"  # API key + shared secret string
    ED25519 = "ed25519"  # API key + Ed25519 PEM private key
    RSA = "rsa"  # API key + RSA PEM private key

    @classmethod
    def parse(cls, value: str) -> "KeyType":
        try:
            return cls(value.lower())
        except ValueError:
            raise InvalidKey(f"unknown key type {value!r}: use hmac, ed25519 or rsa") from None


def check_account_id(account_id: str) -> str:
    """An account id is also a file name: letters, digits, '_', '.', '-', at most 64 characters."""
    if not isinstance(account_id, str) or not ACCOUNT_ID_RE.match(account_id):
        raise InvalidKey(f"invalid account id {account_id!r}: use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit")
    return account_id


def check_api_key(api_key: str) -> str:
    """The public API key: printable ASCII without spaces, 8-256 characters."""
    if not isinstance(api_key, str) or not _API_KEY_RE.match(api_key):
        raise InvalidKey("the API key must be 8-256 printable ASCII characters without spaces")
    return api_key


def fingerprint(api_key: str) -> str:
    """A short, stable identifier of an API key (first 16 hex digits of its SHA-256)."""
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()[:16]


def mask_api_key(api_key: str) -> str:
    """`abcd…wxyz`: enough to recognise a key, not enough to use it."""
    if len(api_key) <= 12:
        return "…"
    return f"{api_key[:4]}…{api_key[-4:]}"


def normalise_secret(key_type: KeyType, secret: Secret | bytes | str) -> Secret:
    """Check the secret's shape for its key type; return it normalised as a new Secret.

    HMAC: the secret string, surrounding whitespace removed. Ed25519/RSA: an unencrypted PEM private key
    of that algorithm (PKCS#8 or traditional), surrounding whitespace removed, one trailing newline.
    """
    raw = secret.reveal() if isinstance(secret, Secret) else (secret.encode() if isinstance(secret, str) else bytes(secret))
    raw = raw.strip()
    if key_type is KeyType.HMAC:
        if not _HMAC_SECRET_RE.match(raw):
            raise InvalidKey("an HMAC secret must be 8-512 printable ASCII characters without spaces")
        return Secret(raw)
    pem = raw + b"\n"
    if b"-----BEGIN" not in pem or b"PRIVATE KEY-----" not in pem:
        raise InvalidKey(f"a {key_type.value} secret must be a PEM private key (-----BEGIN PRIVATE KEY-----)")
    key = load_private_key(key_type, pem)
    if key_type is KeyType.RSA and key.key_size < MIN_RSA_BITS:  # type: ignore[union-attr]
        raise InvalidKey(f"the RSA key has {key.key_size} bits; at least {MIN_RSA_BITS} are needed")  # type: ignore[union-attr]
    return Secret(pem)


def load_private_key(key_type: KeyType, pem: bytes) -> ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey:
    """Parse a PEM private key of `key_type`; errors never quote the key."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError:
        raise InvalidKey("the PEM private key is password-protected: give it unencrypted (the keystore encrypts it)") from None
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidKey(f"the {key_type.value} secret is not a readable PEM private key") from None
    expected = ed25519.Ed25519PrivateKey if key_type is KeyType.ED25519 else rsa.RSAPrivateKey
    if not isinstance(key, expected):
        raise InvalidKey(f"the PEM private key is not an {key_type.value} key")
    return key
