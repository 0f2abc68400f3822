"""The add-slave wizard's key handoff: the API secret goes to `copytrader keys add` on its stdin.

Secrets never travel on our sockets and the TUI never imports `keystore`. The TUI runs on the
server (over SSH), beside the keystore, so the wizard runs, as a child process of its own,

    copytrader keys add <id> --type hmac|ed25519|rsa --api-key KEY --markets usdm,...
        --config <deployment TOML> --exchange <live|testnet|simulator URL> --secret-stdin
        (or --secret-file PEM for an Ed25519/RSA private key already on the server)

writes the secret to the child's stdin, closes it, and waits. The keys command validates the key
with the exchange (withdrawal rights refused), encrypts and stores it, and prints only masked
values; the TUI shows its last output line. The secret lives in one Python string for the length
of the handoff: never logged, never put on a command line (visible in `ps`), never shown (masked
input field, cleared after the handoff). Only then does the wizard send `AddSlave` (which the
control actor refuses when the keystore has no record for the id).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from .settings import TuiSettings

KeyType = Literal["hmac", "ed25519", "rsa"]
KEY_TYPES: Final[tuple[KeyType, ...]] = ("hmac", "ed25519", "rsa")
HANDOFF_TIMEOUT_S: Final = 120.0
REPO_ROOT: Final = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class KeyRequest:
    account: str
    key_type: KeyType
    api_key: str
    markets: tuple[str, ...]
    secret_file: str = ""  # Ed25519/RSA: a PEM file on the server instead of a typed secret

    def __repr__(self) -> str:
        return f"KeyRequest({self.account!r}, {self.key_type}, markets={self.markets})"


@dataclass(frozen=True)
class KeyOutcome:
    ok: bool
    message: str


def keys_command() -> list[str]:
    """`copytrader` if it is on PATH, else this interpreter running the same entry point."""
    found = shutil.which("copytrader")
    return [found] if found else [sys.executable, "-m", "actors.cli"]


def keys_argv(settings: TuiSettings, req: KeyRequest, command: Sequence[str] | None = None) -> list[str]:
    argv = [
        *(command or settings.keys_command or keys_command()),
        "keys",
        "add",
        req.account,
        "--config",
        str(settings.config_path),
        "--type",
        req.key_type,
        "--api-key",
        req.api_key,
        "--markets",
        ",".join(req.markets),
    ]
    if settings.exchange:
        argv += ["--exchange", settings.exchange]
    argv += ["--secret-file", req.secret_file] if req.secret_file else ["--secret-stdin"]
    return argv


def _scrub(text: str, secret: str) -> str:
    """Belt and braces: the keys command redacts its own output; never echo the secret anyway."""
    for part in {secret, secret.strip(), *secret.strip().splitlines()}:
        if len(part) >= 6:
            text = text.replace(part, "***")
    return text


async def hand_off_key(
    settings: TuiSettings, req: KeyRequest, secret: str, *, command: Sequence[str] | None = None, timeout: float = HANDOFF_TIMEOUT_S
) -> KeyOutcome:
    """Run `copytrader keys add ...` with `secret` on its stdin; its verdict and last output line."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    try:
        proc = await asyncio.create_subprocess_exec(
            *keys_argv(settings, req, command),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            cwd=str(settings.config_path.parent),
        )
    except OSError as exc:
        return KeyOutcome(False, f"cannot run the keys command: {exc.strerror}")
    data = b"" if req.secret_file else secret.encode("utf-8")
    try:
        out, _ = await asyncio.wait_for(proc.communicate(data), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return KeyOutcome(False, f"the keys command did not finish within {timeout:g}s")
    lines = [line for line in _scrub(out.decode("utf-8", errors="replace"), secret).splitlines() if line.strip()]
    if proc.returncode == 0:
        return KeyOutcome(True, lines[-1] if lines else "key saved")
    detail = " / ".join(lines[-3:]) if lines else f"exit code {proc.returncode}"
    return KeyOutcome(False, f"key refused: {detail}")
