"""Searching files and captured output for key material that must never appear there.

    needles = secret_needles(hmac_secret, "api secret") + secret_needles(pem, "private key")
    hits = scan_for_secrets([logs_dir, journal_path], needles)
    hits += scan_blobs({"control replies": b"".join(replies)}, needles)
    assert not hits, hits            # a Hit's repr names the file and the needle's label, never the value

`secret_needles` derives every form a secret could leak in: the raw text, JSON/URL/repr escapes,
each PEM body line, the PEM body joined, the DER in hex, and an Ed25519 key's raw bytes (hex, base64).
"""

from __future__ import annotations

import base64
import json
import os
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

MIN_NEEDLE = 8


@dataclass(frozen=True)
class Needle:
    label: str  # shown in reports
    value: bytes  # never shown

    def __repr__(self) -> str:
        return f"Needle({self.label!r}, {len(self.value)} bytes)"


@dataclass(frozen=True)
class Hit:
    where: str  # file path or blob name
    label: str  # which needle
    offset: int

    def __repr__(self) -> str:
        return f"Hit({self.where} @ {self.offset}: {self.label})"


def secret_needles(secret: str | bytes, label: str = "secret") -> list[Needle]:
    """All forms of `secret` worth searching for (each at least MIN_NEEDLE bytes)."""
    text = secret.decode("utf-8") if isinstance(secret, bytes) else secret
    forms: dict[str, str] = {
        "raw": text,
        "stripped": text.strip(),
        "json-escaped": json.dumps(text)[1:-1],
        "url-encoded": urllib.parse.quote(text, safe=""),
        "url-plus-encoded": urllib.parse.quote_plus(text, safe=""),
        "repr-escaped": repr(text)[1:-1],
    }
    if "-----BEGIN" in text:
        body = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("-----")]
        for i, line in enumerate(body):
            forms[f"pem line {i}"] = line
        forms["pem body"] = "".join(body)
        try:
            der = base64.b64decode("".join(body))
            forms["der hex"] = der.hex()
        except ValueError:
            pass
        forms.update(_raw_private_forms(text))
    needles: list[Needle] = []
    seen: set[bytes] = set()
    for name, form in forms.items():
        value = form.encode("utf-8")
        if len(value) >= MIN_NEEDLE and value not in seen:
            seen.add(value)
            needles.append(Needle(f"{label} ({name})", value))
    return needles


def _raw_private_forms(pem: str) -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        return {}
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        return {}
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return {"raw hex": raw.hex(), "raw HEX": raw.hex().upper(), "raw base64": base64.b64encode(raw).decode()}


def _files(paths: Iterable[str | os.PathLike[str]]) -> Iterable[Path]:
    for p in paths:
        path = Path(p)
        if path.is_dir():
            yield from sorted(f for f in path.rglob("*") if f.is_file())
        elif path.is_file():
            yield path


def scan_blobs(blobs: Mapping[str, bytes | str], needles: Iterable[Needle]) -> list[Hit]:
    """Hits of `needles` in named in-memory blobs (e.g. everything a socket returned)."""
    needles = list(needles)
    hits: list[Hit] = []
    for where, blob in blobs.items():
        data = blob.encode("utf-8") if isinstance(blob, str) else bytes(blob)
        for needle in needles:
            offset = data.find(needle.value)
            if offset >= 0:
                hits.append(Hit(where, needle.label, offset))
    return hits


def scan_for_secrets(paths: Iterable[str | os.PathLike[str]], needles: Iterable[Needle]) -> list[Hit]:
    """Hits of `needles` in every file under `paths` (files or directories, searched recursively).

    Files are read as bytes, so logs, SQLite journals (and their -wal files) and binary dumps are all
    searched; `paths` that do not exist are skipped.
    """
    needles = list(needles)
    hits: list[Hit] = []
    for path in _files(paths):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        hits += scan_blobs({str(path): data}, needles)
    return hits
