"""`copytrader keys ...`: manage the encrypted API keys.

    copytrader keys init               [--kdf-memory-kib N --kdf-iterations N --kdf-lanes N]
    copytrader keys add ACCOUNT        --type hmac|ed25519|rsa --api-key KEY [--markets usdm,spot,margin]
                                       [--role master|slave] [--secret-stdin | --secret-file PEM]
                                       [--exchange live|testnet|URL] [--init]
    copytrader keys list               [--json]
    copytrader keys verify [ACCOUNT..] [--exchange ...] [--offline]
    copytrader keys rotate ACCOUNT     --api-key KEY [--type ...] [--markets ...] [--secret-stdin | --secret-file PEM]
    copytrader keys remove ACCOUNT     [--yes]
    copytrader keys change-passphrase  [--new-passphrase-file PATH] [--kdf-...]

Common options (before or after the subcommand): --keystore DIR (default: config, else ./var/keystore),
--passphrase-file PATH (default: config; else $COPYTRADER_PASSPHRASE; else a no-echo prompt),
--config FILE (TOML; reads [keystore] dir / passphrase_file).

The secret is read from a no-echo prompt, from stdin (--secret-stdin) or, for a PEM private key, from a
file (--secret-file); never from the command line. `add` and `rotate` always validate the key against
the exchange (withdrawal rights refused) before anything is written.

Exit codes: 0 ok, 2 usage, 3 refused by validation, 4 keystore error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import sys
import time
import tomllib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import msgspec

from actors.keycheck import KeyCheckResult, Role, check_key_at, parse_markets
from keystore import crypto, redact
from keystore.errors import InvalidKey, KeystoreError, PassphraseUnavailable
from keystore.keytypes import KeyType, check_account_id, check_api_key, normalise_secret
from keystore.passphrase import PASSPHRASE_ENV, get_passphrase, prompt_passphrase, read_passphrase_file
from keystore.secret import Secret
from keystore.store import AccountKey, KeyPermissions, Keystore
from protocol.messages import Market

from .keys_text import NEW_PASSPHRASE_ENV, build_parser, format_table

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_KEYSTORE = 4
EXIT_INTERNAL = 1

DEFAULT_KEYSTORE_DIR = Path("var/keystore")

Validator = Callable[[str, KeyType, str, Secret, tuple[Market, ...], Role], Awaitable[KeyCheckResult]]


class UsageError(Exception):
    """Bad command-line input (exit 2)."""


@dataclass
class Io:
    """The CLI's outside world, replaceable in tests."""

    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    ask: Callable[[str], str] = getpass.getpass
    env: dict[str, str] | None = None
    interactive: bool | None = None  # None: stdin.isatty()

    def out(self, text: str) -> None:
        self.stdout.write(redact.redact(text) + "\n")

    def err(self, text: str) -> None:
        self.stderr.write(redact.redact(text) + "\n")

    @property
    def is_interactive(self) -> bool:
        if self.interactive is not None:
            return self.interactive
        try:
            return self.stdin.isatty()
        except (AttributeError, ValueError):
            return False

    @property
    def environ(self) -> dict[str, str]:
        return dict(os.environ) if self.env is None else self.env


# --- settings ---------------------------------------------------------------------------------------------
@dataclass
class Settings:
    keystore: Path
    passphrase_file: Path | None


def _settings(args: argparse.Namespace) -> Settings:
    config: dict[str, Any] = {}
    base = Path.cwd()
    config_path = getattr(args, "config", None)
    if config_path:
        path = Path(config_path)
        try:
            config = tomllib.loads(path.read_text(encoding="utf-8")).get("keystore", {})
        except FileNotFoundError:
            raise UsageError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"config file {path} is not valid TOML: {exc}") from None
        base = path.resolve().parent
    keystore = getattr(args, "keystore", None) or config.get("dir") or DEFAULT_KEYSTORE_DIR
    pfile = getattr(args, "passphrase_file", None) or config.get("passphrase_file")
    return Settings(keystore=base / Path(keystore), passphrase_file=(base / Path(pfile)) if pfile else None)


def _passphrase(settings: Settings, io: Io, *, confirm: bool = False) -> Secret:
    secret = get_passphrase(settings.passphrase_file, env=io.environ, interactive=io.is_interactive, confirm=confirm, ask=io.ask)
    redact.register_secret(secret)
    return secret


def _kdf_from(args: argparse.Namespace, io: Io, current: crypto.KdfParams | None = None) -> crypto.KdfParams | None:
    """New KDF parameters when any --kdf-* option is given (unset ones from `current` or defaults)."""
    if args.kdf_memory_kib is None and args.kdf_iterations is None and args.kdf_lanes is None:
        return None
    base = current or crypto.KdfParams.default()
    params = crypto.KdfParams.custom(
        memory_kib=args.kdf_memory_kib if args.kdf_memory_kib is not None else base.memory_kib,
        iterations=args.kdf_iterations if args.kdf_iterations is not None else base.iterations,
        lanes=args.kdf_lanes if args.kdf_lanes is not None else base.lanes,
    )
    if params.weak:
        io.err(
            f"warning: Argon2id parameters (memory {params.memory_kib} KiB, {params.iterations} passes) are below"
            " OWASP's minimum (19456 KiB, 2 passes); use them for tests only"
        )
    return params


# --- secrets input ------------------------------------------------------------------------------------------
def _read_secret(args: argparse.Namespace, key_type: KeyType, io: Io) -> Secret:
    if args.secret_file:
        path = Path(args.secret_file)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    elif args.secret_stdin:
        data = io.stdin.read()
        raw = data.encode("utf-8") if isinstance(data, str) else data
    elif io.is_interactive:
        raw = _prompt_secret(key_type, io, args.account).encode("utf-8")
    else:
        raise UsageError("no secret: use --secret-stdin or --secret-file, or run at a terminal to be prompted")
    secret = Secret(raw)
    redact.register_secret(secret)
    try:
        return normalise_secret(key_type, secret)
    finally:
        secret.wipe()


def _prompt_secret(key_type: KeyType, io: Io, account: str) -> str:
    if key_type is KeyType.HMAC:
        return io.ask(f"API secret for {account} (input hidden): ")
    io.err(f"Paste the {key_type.value} PEM private key for {account} (input hidden), ending with its -----END line")
    lines: list[str] = []
    while len(lines) < 200:
        line = io.ask("")
        lines.append(line)
        if line.strip().startswith("-----END"):
            break
    return "\n".join(lines) + "\n"


# --- exchange validation --------------------------------------------------------------------------------
def endpoints_for(exchange: str) -> tuple[Any, bool]:
    """(Endpoints, is_testnet) for `live`, `testnet` or a URL."""
    from actors.binance.endpoints import Endpoints

    if exchange == "live":
        return Endpoints.live(), False
    if exchange == "testnet":
        return Endpoints.testnet(), True
    if exchange.startswith(("http://", "https://")):
        return Endpoints.local(exchange), False
    raise UsageError(f"--exchange must be live, testnet or an http(s):// URL, not {exchange!r}")


def exchange_validator(exchange: str) -> Validator:
    endpoints, testnet = endpoints_for(exchange)

    async def validate(
        account: str, key_type: KeyType, api_key: str, secret: Secret, markets: tuple[Market, ...], role: Role
    ) -> KeyCheckResult:
        return await check_key_at(endpoints, key_type.value, api_key, secret, markets, role, testnet=testnet)

    return validate


def _role_for(account: str, given: str | None) -> Role:
    if given:
        return Role(given)
    return Role.MASTER if account.startswith("master") else Role.SLAVE


def _markets(value: str) -> tuple[Market, ...]:
    try:
        return parse_markets(value)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _report(result: KeyCheckResult, account: str, io: Io) -> None:
    for warning in result.warnings:
        io.err(f"warning: {account}: {warning}")
    for error in result.errors:
        io.err(f"refused: {account}: {error}")


def _snapshot(result: KeyCheckResult, exchange: str) -> KeyPermissions:
    r = result.restrictions
    return KeyPermissions(
        markets=result.markets,
        role=result.role,
        exchange=exchange,
        checked_at=time.time_ns() // 1_000_000,
        enableReading=r.enableReading if r else None,
        enableSpotAndMarginTrading=r.enableSpotAndMarginTrading if r else None,
        enableMargin=r.enableMargin if r else None,
        enableFutures=r.enableFutures if r else None,
        enableWithdrawals=r.enableWithdrawals if r else None,
        ipRestrict=r.ipRestrict if r else None,
        enableInternalTransfer=r.enableInternalTransfer if r else None,
        permitsUniversalTransfer=r.permitsUniversalTransfer if r else None,
    )


# --- commands -------------------------------------------------------------------------------------------------
def cmd_init(args: argparse.Namespace, settings: Settings, io: Io, validator: Validator | None) -> int:
    kdf = _kdf_from(args, io)
    passphrase = _passphrase(settings, io, confirm=True)
    Keystore.create(settings.keystore, passphrase, kdf=kdf).close()
    io.out(f"created keystore {settings.keystore}")
    return EXIT_OK


def _open_or_init(args: argparse.Namespace, settings: Settings, io: Io) -> Keystore:
    if Keystore.exists(settings.keystore) or not getattr(args, "init", False):
        return Keystore.open(settings.keystore, _passphrase(settings, io))
    kdf = _kdf_from(args, io)
    ks = Keystore.create(settings.keystore, _passphrase(settings, io, confirm=True), kdf=kdf)
    io.out(f"created keystore {settings.keystore}")
    return ks


def cmd_add(args: argparse.Namespace, settings: Settings, io: Io, validator: Validator | None) -> int:
    account = check_account_id(args.account)
    key_type = KeyType(args.key_type)
    api_key = check_api_key(args.api_key)
    redact.register_secret(api_key, keep_ends=True)
    markets = _markets(args.markets)
    role = _role_for(account, args.role)
    validate = validator or exchange_validator(args.exchange)
    with _open_or_init(args, settings, io) as ks:
        if account in ks:
            raise UsageError(f"account '{account}' has a key already: use `copytrader keys rotate {account}`")
        secret = _read_secret(args, key_type, io)
        try:
            result = asyncio.run(validate(account, key_type, api_key, secret, markets, role))
            _report(result, account, io)
            if not result.ok:
                io.err(f"the key for {account} was NOT saved")
                return EXIT_REFUSED
            info = ks.put(account, key_type, api_key, secret, _snapshot(result, args.exchange))
        finally:
            secret.wipe()
    io.out(f"saved {info.account_id}: {info.key_type} key {info.api_key_masked} fingerprint {info.fingerprint}")
    return EXIT_OK


def cmd_rotate(args: argparse.Namespace, settings: Settings, io: Io, validator: Validator | None) -> int:
    account = check_account_id(args.account)
    api_key = check_api_key(args.api_key)
    redact.register_secret(api_key, keep_ends=True)
    validate = validator or exchange_validator(args.exchange)
    with Keystore.open(settings.keystore, _passphrase(settings, io)) as ks:
        current = ks.get(account)  # the old record must be readable with this passphrase
        current.wipe()
        key_type = KeyType(args.key_type) if args.key_type else current.key_type
        markets = _markets(args.markets) if args.markets else _markets(",".join(current.permissions.markets) or "usdm")
        role = _role_for(account, args.role or current.permissions.role)
        secret = _read_secret(args, key_type, io)
        try:
            result = asyncio.run(validate(account, key_type, api_key, secret, markets, role))
            _report(result, account, io)
            if not result.ok:
                io.err(f"the new key for {account} was NOT saved; the old key stays in place")
                return EXIT_REFUSED
            info = ks.put(account, key_type, api_key, secret, _snapshot(result, args.exchange), replace=True)
        finally:
            secret.wipe()
    io.out(f"rotated {info.account_id}: now {info.key_type} key {info.api_key_masked} fingerprint {info.fingerprint}")
    return EXIT_OK


def cmd_list(args: argparse.Namespace, settings: Settings, io: Io, validator: Validator | None) -> int:
    with Keystore.open(settings.keystore, _passphrase(settings, io)) as ks:
        infos = ks.list_records()
    if args.json:
        io.out(msgspec.json.encode(infos).decode())
    else:
        io.out(format_table(infos))
    return EXIT_KEYSTORE if any(i.error for i in infos) else EXIT_OK


def cmd_verify(args: argparse.Namespace, settings: Settings, io: Io, validator: Validator | None) -> int:
    validate = None if args.offline else (validator or exchange_validator(args.exchange))
    worst = EXIT_OK
    with Keystore.open(settings.keystore, _passphrase(settings, io)) as ks:
        accounts = args.accounts or ks.account_ids()
        if not accounts:
            io.out("no keys in the keystore")
        for account in accounts:
            try:
                key = ks.get(account)
            except KeystoreError as exc:
                io.err(f"error: {account}: {exc}")
                worst = max(worst, EXIT_KEYSTORE)
                continue
            try:
                if validate is None:
                    io.out(f"{account}: decrypts ok")
                    continue
                code = _verify_one(ks, key, args, validate, io)
                worst = max(worst, code)
            finally:
                key.wipe()
    return worst


def _verify_one(ks: Keystore, key: AccountKey, args: argparse.Namespace, validate: Validator, io: Io) -> int:
    markets = _markets(args.markets or ",".join(key.permissions.markets) or "usdm")
    role = _role_for(key.account_id, key.permissions.role)
    result = asyncio.run(validate(key.account_id, key.key_type, key.api_key, key.secret, markets, role))
    _report(result, key.account_id, io)
    if not result.ok:
        io.out(f"{key.account_id}: REFUSED")
        return EXIT_REFUSED
    ks.update_permissions(key.account_id, _snapshot(result, args.exchange))
    io.out(f"{key.account_id}: ok ({', '.join(result.accounts_checked)})")
    return EXIT_OK


def cmd_remove(args: argparse.Namespace, settings: Settings, io: Io, validator: Validator | None) -> int:
    account = check_account_id(args.account)
    with Keystore.open(settings.keystore, _passphrase(settings, io)) as ks:
        if account not in ks:
            ks.remove(account)  # raises AccountNotFound with the usual message
        if not args.yes:
            if not io.is_interactive:
                raise UsageError("removing a key needs --yes when not at a terminal")
            io.stdout.write(f"Remove the key of '{account}'? This cannot be undone [y/N] ")
            io.stdout.flush()
            answer = io.stdin.readline()
            if answer.strip().lower() not in ("y", "yes"):
                io.out("not removed")
                return EXIT_OK
        ks.remove(account)
    io.out(f"removed the key of {account}")
    return EXIT_OK


def cmd_change_passphrase(args: argparse.Namespace, settings: Settings, io: Io, validator: Validator | None) -> int:
    with Keystore.open(settings.keystore, _passphrase(settings, io)) as ks:
        kdf = _kdf_from(args, io, current=ks.kdf)
        new = _new_passphrase(args, io)
        redact.register_secret(new)
        ks.change_passphrase(new, kdf=kdf)
        count = len(ks.account_ids())
    io.out(f"passphrase changed; {count} key record(s) unchanged on disk")
    if settings.passphrase_file or PASSPHRASE_ENV in io.environ:
        io.err(f"remember to update the passphrase file / {PASSPHRASE_ENV} used by supervisord")
    return EXIT_OK


def _new_passphrase(args: argparse.Namespace, io: Io) -> Secret:
    if args.new_passphrase_file:
        return read_passphrase_file(args.new_passphrase_file)
    value = io.environ.get(NEW_PASSPHRASE_ENV)
    if value:
        return Secret(value)
    if not io.is_interactive:
        raise PassphraseUnavailable(f"no new passphrase: give --new-passphrase-file or set {NEW_PASSPHRASE_ENV}")
    return prompt_passphrase(confirm=True, label="New keystore passphrase", ask=io.ask)


COMMANDS = {
    "init": cmd_init,
    "add": cmd_add,
    "list": cmd_list,
    "verify": cmd_verify,
    "rotate": cmd_rotate,
    "remove": cmd_remove,
    "change-passphrase": cmd_change_passphrase,
}


# --- entry point --------------------------------------------------------------------------------------------
def main_keys(argv: Sequence[str] | None = None, *, io: Io | None = None, validator: Validator | None = None) -> int:
    """Run `copytrader keys ARGV`; returns the exit code (never raises for expected errors)."""
    io = io or Io()
    installed_here = not redact.is_installed()
    redact.install()
    try:
        return _main(argv, io, validator)
    finally:
        if installed_here:
            redact.uninstall()  # in-process callers (tests) get their logging back as it was


def _main(argv: Sequence[str] | None, io: Io, validator: Validator | None) -> int:
    parser = build_parser()
    try:
        with contextlib.redirect_stdout(io.stdout), contextlib.redirect_stderr(io.stderr):
            args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    try:
        settings = _settings(args)
        return COMMANDS[args.command](args, settings, io, validator)
    except (UsageError, InvalidKey) as exc:
        io.err(f"error: {exc}")
        return EXIT_USAGE
    except (KeystoreError, crypto.InvalidParameters) as exc:
        io.err(f"error: {exc}")
        return EXIT_KEYSTORE
    except KeyboardInterrupt:
        io.err("interrupted")
        return 130
    except (EOFError, OSError) as exc:
        io.err(f"error: {redact.describe_exception(exc)}")
        return EXIT_KEYSTORE


if __name__ == "__main__":
    sys.exit(main_keys())
