"""The cryptography of the keystore: Argon2id key derivation and AES-256-GCM sealing.

Envelope scheme:
    passphrase --Argon2id(salt, params)--> KEK (32 bytes)
    KEK --AES-256-GCM(nonce, aad=WRAP_AAD)--> wraps the random 256-bit keystore key
    keystore key --AES-256-GCM(random nonce, aad=record header)--> each account's secret

Only `cryptography` primitives are used (`Argon2id`, `AESGCM`); nothing here is home-made crypto.
"""

from __future__ import annotations

import os
import unicodedata

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from keystore.errors import KeystoreError
from keystore.secret import Secret

KEY_LEN = 32  # AES-256
NONCE_LEN = 12  # 96-bit GCM nonce, random per encryption
SALT_LEN = 16
WRAP_AAD = b"copytrader-keystore-v1"

# Bounds on stored parameters: a tampered keystore.json must not make unlocking eat the machine.
MAX_MEMORY_KIB = 4 * 1024 * 1024  # 4 GiB
MAX_ITERATIONS = 64
MAX_LANES = 64
# OWASP's floor for Argon2id (19 MiB, t=2, p=1); below it the CLI warns.
WEAK_MEMORY_KIB = 19 * 1024
WEAK_ITERATIONS = 2


class InvalidParameters(KeystoreError):
    """KDF parameters outside what Argon2id accepts or what we allow."""


class KdfParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Argon2id parameters, stored beside the salt so they can be raised later."""

    salt: bytes  # random, SALT_LEN bytes (base64 in JSON)
    iterations: int = 3  # Argon2 time cost
    memory_kib: int = 64 * 1024  # Argon2 memory cost in KiB (64 MiB)
    lanes: int = 4  # Argon2 parallelism
    length: int = KEY_LEN  # derived key length in bytes
    algorithm: str = "argon2id"

    @classmethod
    def default(cls) -> "KdfParams":
        """Production parameters: 64 MiB, 3 passes, 4 lanes (about 0.3 s on one core)."""
        return cls(salt=os.urandom(SALT_LEN))

    @classmethod
    def cheap(cls) -> "KdfParams":
        """Minimal parameters for tests and demos only: unlocking costs microseconds."""
        return cls(salt=os.urandom(SALT_LEN), iterations=1, memory_kib=8, lanes=1)

    @classmethod
    def custom(cls, *, iterations: int, memory_kib: int, lanes: int) -> "KdfParams":
        params = cls(salt=os.urandom(SALT_LEN), iterations=iterations, memory_kib=memory_kib, lanes=lanes)
        params.check()
        return params

    @property
    def weak(self) -> bool:
        """True when weaker than OWASP's minimum recommendation for Argon2id."""
        return self.memory_kib < WEAK_MEMORY_KIB or self.iterations < WEAK_ITERATIONS

    def check(self) -> None:
        """Raise InvalidParameters when the parameters are unusable or out of bounds."""
        if self.algorithm != "argon2id":
            raise InvalidParameters(f"unsupported KDF {self.algorithm!r} (only argon2id)")
        if len(self.salt) < 8:
            raise InvalidParameters(f"KDF salt is {len(self.salt)} bytes; at least 8 are needed")
        if self.length != KEY_LEN:
            raise InvalidParameters(f"KDF length must be {KEY_LEN}, not {self.length}")
        if not 1 <= self.lanes <= MAX_LANES:
            raise InvalidParameters(f"KDF lanes must be 1..{MAX_LANES}, not {self.lanes}")
        if not 1 <= self.iterations <= MAX_ITERATIONS:
            raise InvalidParameters(f"KDF iterations must be 1..{MAX_ITERATIONS}, not {self.iterations}")
        if not 8 * self.lanes <= self.memory_kib <= MAX_MEMORY_KIB:
            raise InvalidParameters(
                f"KDF memory must be {8 * self.lanes}..{MAX_MEMORY_KIB} KiB for {self.lanes} lanes, not {self.memory_kib}"
            )


def normalise_passphrase(passphrase: str | bytes | Secret) -> bytes:
    """Passphrase bytes: text is NFC-normalised then UTF-8 encoded, so a prompt and a file agree."""
    if isinstance(passphrase, Secret):
        raw = passphrase.reveal()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw
        return unicodedata.normalize("NFC", text).encode("utf-8")
    if isinstance(passphrase, str):
        return unicodedata.normalize("NFC", passphrase).encode("utf-8")
    if isinstance(passphrase, (bytes, bytearray)):
        return bytes(passphrase)
    raise TypeError(f"passphrase must be str, bytes or Secret, not {type(passphrase).__name__}")


def derive_kek(passphrase: str | bytes | Secret, params: KdfParams) -> bytes:
    """The key-encryption key for `passphrase` under `params` (Argon2id)."""
    params.check()
    pw = normalise_passphrase(passphrase)
    if not pw:
        raise KeystoreError("the passphrase is empty")
    kdf = Argon2id(salt=params.salt, length=params.length, iterations=params.iterations, lanes=params.lanes, memory_cost=params.memory_kib)
    return kdf.derive(pw)


def new_key() -> bytes:
    """A fresh random 256-bit key."""
    return AESGCM.generate_key(bit_length=256)


def seal(key: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
    """AES-256-GCM encrypt with a fresh random nonce; returns (nonce, ciphertext+tag)."""
    nonce = os.urandom(NONCE_LEN)
    return nonce, AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM decrypt; raises cryptography's InvalidTag when anything was altered."""
    if len(nonce) != NONCE_LEN:
        raise InvalidTag()
    return AESGCM(key).decrypt(nonce, ciphertext, aad)


__all__ = [
    "InvalidTag",
    "KdfParams",
    "InvalidParameters",
    "KEY_LEN",
    "NONCE_LEN",
    "WRAP_AAD",
    "derive_kek",
    "new_key",
    "normalise_passphrase",
    "open_sealed",
    "seal",
]
