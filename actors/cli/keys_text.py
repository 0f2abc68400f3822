"""The keys CLI's text: its argument parser (every subcommand and option) and the tables and
permission lines it prints (never a secret: only what the keystore's records say in clear).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable

from actors.keycheck import Role
from keystore.keytypes import KeyType
from keystore.store import KeyPermissions, RecordInfo

NEW_PASSPHRASE_ENV = "COPYTRADER_NEW_PASSPHRASE"


# --- argument parsing ---------------------------------------------------------------------------------
def _common(parser: argparse.ArgumentParser) -> None:
    s = argparse.SUPPRESS
    parser.add_argument("--keystore", metavar="DIR", default=s, help="keystore directory (default ./var/keystore)")
    parser.add_argument("--passphrase-file", metavar="PATH", default=s, help="file holding the passphrase (mode 0400/0600)")
    parser.add_argument("--config", metavar="FILE", default=s, help="copytrader TOML config ([keystore] dir, passphrase_file)")


def _kdf_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kdf-memory-kib", type=int, metavar="N", help="Argon2id memory in KiB (default 65536)")
    parser.add_argument("--kdf-iterations", type=int, metavar="N", help="Argon2id passes (default 3)")
    parser.add_argument("--kdf-lanes", type=int, metavar="N", help="Argon2id lanes (default 4)")


def _exchange_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--exchange",
        default="live",
        metavar="live|testnet|URL",
        help="where to validate the key: live Binance, the testnet, or a simulator URL http://127.0.0.1:PORT",
    )


def _secret_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--secret-stdin", action="store_true", help="read the secret (or PEM key) from stdin")
    group.add_argument("--secret-file", metavar="PEM", help="read the PEM private key from this file")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="copytrader keys", description="Manage the encrypted API keys.")
    _common(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("init", help="create an empty keystore")
    _common(p)
    _kdf_options(p)

    p = sub.add_parser("add", help="validate a key with the exchange and store it")
    _common(p)
    p.add_argument("account", help="account id: master-<market> or the slave id")
    p.add_argument("--type", required=True, choices=[t.value for t in KeyType], dest="key_type")
    p.add_argument("--api-key", required=True)
    p.add_argument("--markets", default="usdm", help="comma-separated: usdm, spot, margin (default usdm)")
    p.add_argument("--role", choices=[r.value for r in Role], help="master or slave (default: from the account id)")
    _secret_options(p)
    _exchange_option(p)
    p.add_argument("--init", action="store_true", help="create the keystore if it does not exist")
    _kdf_options(p)

    p = sub.add_parser("list", help="list keys: ids, types, fingerprints, permissions (never secrets)")
    _common(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("verify", help="decrypt keys and re-check them with the exchange")
    _common(p)
    p.add_argument("accounts", nargs="*", help="accounts to verify (default: all)")
    p.add_argument("--markets", help="override the stored markets")
    p.add_argument("--offline", action="store_true", help="only check that each record decrypts")
    _exchange_option(p)

    p = sub.add_parser("rotate", help="replace an account's key (validated first)")
    _common(p)
    p.add_argument("account")
    p.add_argument("--type", choices=[t.value for t in KeyType], dest="key_type", help="default: the current type")
    p.add_argument("--api-key", required=True)
    p.add_argument("--markets", help="default: the stored markets")
    p.add_argument("--role", choices=[r.value for r in Role])
    _secret_options(p)
    _exchange_option(p)

    p = sub.add_parser("remove", help="delete an account's key")
    _common(p)
    p.add_argument("account")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    p = sub.add_parser("change-passphrase", help="rewrap the keystore key under a new passphrase")
    _common(p)
    p.add_argument("--new-passphrase-file", metavar="PATH", help=f"new passphrase file (else ${NEW_PASSPHRASE_ENV}, else prompt)")
    _kdf_options(p)
    return parser


# --- output -----------------------------------------------------------------------------------------------------
def _flag(value: bool | None, name: str) -> str:
    return {True: f"+{name}", False: f"-{name}", None: f"?{name}"}[value]


def permissions_text(p: KeyPermissions) -> str:
    if p.checked_at is None:
        return "not validated"
    return " ".join(
        [
            _flag(p.enableReading, "read"),
            _flag(p.enableSpotAndMarginTrading, "trade"),
            _flag(p.enableMargin, "margin"),
            _flag(p.enableFutures, "futures"),
            _flag(p.enableWithdrawals, "withdraw"),
            _flag(p.ipRestrict, "ip-restrict"),
        ]
    )


def _when(ms: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ms / 1000)) if ms else "-"


def format_table(infos: Iterable[RecordInfo]) -> str:
    rows = [("ACCOUNT", "TYPE", "API KEY", "FINGERPRINT", "MARKETS", "PERMISSIONS", "CHECKED (UTC)", "STATUS")]
    for i in infos:
        rows.append(
            (
                i.account_id,
                i.key_type,
                i.api_key_masked,
                i.fingerprint,
                ",".join(i.permissions.markets) or "-",
                permissions_text(i.permissions),
                _when(i.permissions.checked_at),
                "ok" if i.error is None else f"ERROR: {i.error}",
            )
        )
    if len(rows) == 1:
        return "no keys in the keystore"
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]) - 1)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=False)) + "  " + r[-1] for r in rows)
