"""`copytrader keys ...` end to end against a tiny fake Binance (aiohttp, 127.0.0.1:0) that checks
signatures (HMAC and Ed25519) and serves apiRestrictions and the account endpoints.

The simulator (simulator/) is tested against the same CLI in test_keys_cli_sim.py when available."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import os
import stat
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from actors.cli.keys import EXIT_KEYSTORE, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, Io, main_keys
from keystore import load_account
from tests.helpers.secrets import scan_blobs, scan_for_secrets, secret_needles

ROOT = Path(__file__).resolve().parents[2]
PASS = "a long keystore passphrase"
HMAC_KEY = "hmacKEY" + "a" * 57
HMAC_SECRET = "hmacSECRET" + "b" * 54
ED_KEY = "edKEY" + "c" * 59
CHEAP = ["--kdf-memory-kib", "8", "--kdf-iterations", "1", "--kdf-lanes", "1"]
GOOD_RESTRICTIONS = {
    "ipRestrict": True,
    "createTime": 1623840271000,
    "enableReading": True,
    "enableWithdrawals": False,
    "enableInternalTransfer": False,
    "enableMargin": True,
    "enableFutures": True,
    "permitsUniversalTransfer": False,
    "enableVanillaOptions": False,
    "enableSpotAndMarginTrading": True,
    "enablePortfolioMarginTrading": False,
    "tradingAuthorityExpirationTime": 0,
}


@dataclass
class FakeKey:
    verify: Any  # (payload bytes, signature str) -> bool
    restrictions: dict = field(default_factory=lambda: dict(GOOD_RESTRICTIONS))


class FakeBinance:
    """A fake exchange on a background thread: enough of Binance for key validation."""

    def __init__(self) -> None:
        self.keys: dict[str, FakeKey] = {}
        self.requests: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.url = ""

    def add_hmac(self, api_key: str, secret: str) -> FakeKey:
        def verify(payload: bytes, signature: str) -> bool:
            expected = hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()
            return hmac.compare_digest(expected, signature)

        self.keys[api_key] = FakeKey(verify)
        return self.keys[api_key]

    def add_ed25519(self, api_key: str, public: ed25519.Ed25519PublicKey) -> FakeKey:
        def verify(payload: bytes, signature: str) -> bool:
            try:
                public.verify(base64.b64decode(signature), payload)
                return True
            except Exception:  # noqa: BLE001 - InvalidSignature or bad base64
                return False

        self.keys[api_key] = FakeKey(verify)
        return self.keys[api_key]

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append(f"{request.method} {request.path}")
        key = self.keys.get(request.headers.get("X-MBX-APIKEY", ""))
        query = request.query_string
        payload, _, signature = query.rpartition("&signature=")
        from urllib.parse import unquote

        if key is None or not signature or not key.verify(payload.encode(), unquote(signature)):
            return web.json_response({"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}, status=401)
        if request.path == "/sapi/v1/account/apiRestrictions":
            return web.json_response(key.restrictions)
        if request.path == "/sapi/v1/margin/account":
            return web.json_response({"tradeEnabled": True, "userAssets": []})
        return web.json_response({"canTrade": True, "balances": [], "assets": []})

    def start(self) -> "FakeBinance":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture(scope="module")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def ed_pem(ed_key: ed25519.Ed25519PrivateKey) -> str:
    return ed_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


@pytest.fixture
def exchange(ed_key: ed25519.Ed25519PrivateKey):
    fake = FakeBinance().start()
    fake.add_hmac(HMAC_KEY, HMAC_SECRET)
    fake.add_ed25519(ED_KEY, ed_key.public_key())
    yield fake
    fake.stop()


@pytest.fixture
def passfile(tmp_path: Path) -> Path:
    path = tmp_path / "passphrase"
    path.write_text(PASS + "\n")
    os.chmod(path, 0o400)
    return path


@pytest.fixture
def ksdir(tmp_path: Path) -> Path:
    return tmp_path / "var" / "keystore"


@dataclass
class Run:
    code: int
    out: str
    err: str


def run(*argv: str, stdin: str = "", env: dict[str, str] | None = None, interactive: bool = False, answers=()) -> Run:
    out, err = io.StringIO(), io.StringIO()
    replies = iter(answers)
    console = Io(stdin=io.StringIO(stdin), stdout=out, stderr=err, env=env or {}, interactive=interactive, ask=lambda prompt: next(replies))
    code = main_keys(list(argv), io=console)
    return Run(code, out.getvalue(), err.getvalue())


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file() and p.name != ".lock"}


def add_hmac(ksdir: Path, passfile: Path, exchange: FakeBinance, account: str = "slave01", *extra: str) -> Run:
    return run(
        "add",
        account,
        "--type",
        "hmac",
        "--api-key",
        HMAC_KEY,
        "--markets",
        "usdm,spot",
        "--secret-stdin",
        "--exchange",
        exchange.url,
        "--keystore",
        str(ksdir),
        "--passphrase-file",
        str(passfile),
        "--init",
        *CHEAP,
        *extra,
        stdin=HMAC_SECRET + "\n",
    )


# --- add / list ---------------------------------------------------------------------------------------------
def test_add_validates_saves_and_lists_without_showing_secrets(ksdir: Path, passfile: Path, exchange: FakeBinance) -> None:
    added = add_hmac(ksdir, passfile, exchange)
    listed = run("list", "--keystore", str(ksdir), "--passphrase-file", str(passfile))

    assert added.code == EXIT_OK, added.err
    assert "saved slave01: hmac key hmac…aaaa" in added.out
    assert "GET /sapi/v1/account/apiRestrictions" in exchange.requests
    assert {"GET /fapi/v2/account", "GET /api/v3/account"} <= set(exchange.requests)
    assert listed.code == EXIT_OK
    line = next(ln for ln in listed.out.splitlines() if ln.startswith("slave01"))
    assert "hmac…aaaa" in line and "usdm,spot" in line and "-withdraw" in line and "+futures" in line
    assert load_account(ksdir, "slave01", PASS).secret.reveal_str() == HMAC_SECRET
    outputs = {"add": added.out + added.err, "list": listed.out + listed.err}
    assert not scan_blobs(outputs, secret_needles(HMAC_SECRET) + secret_needles(PASS))
    assert HMAC_KEY not in listed.out


def test_list_json(ksdir: Path, passfile: Path, exchange: FakeBinance) -> None:
    add_hmac(ksdir, passfile, exchange)

    listed = run("list", "--json", "--keystore", str(ksdir), "--passphrase-file", str(passfile))

    [entry] = orjson.loads(listed.out)
    assert entry["account_id"] == "slave01" and entry["permissions"]["enableWithdrawals"] is False
    assert entry["fingerprint"] and "api_key" not in entry


def test_a_key_with_withdrawal_rights_is_refused_and_nothing_is_saved(ksdir: Path, passfile: Path, exchange: FakeBinance) -> None:
    assert run("init", "--keystore", str(ksdir), "--passphrase-file", str(passfile), *CHEAP).code == EXIT_OK
    exchange.keys[HMAC_KEY].restrictions["enableWithdrawals"] = True
    before = snapshot(ksdir)

    result = add_hmac(ksdir, passfile, exchange)

    assert result.code == EXIT_REFUSED
    assert "withdrawal rights (enableWithdrawals: true): refused" in result.err
    assert "NOT saved" in result.err
    assert snapshot(ksdir) == before


def test_ip_restriction_missing_is_a_warning(ksdir: Path, passfile: Path, exchange: FakeBinance) -> None:
    exchange.keys[HMAC_KEY].restrictions["ipRestrict"] = False

    result = add_hmac(ksdir, passfile, exchange)

    assert result.code == EXIT_OK and "warning: slave01: the key is not restricted to trusted IPs" in result.err


def test_missing_market_permission_is_refused(ksdir: Path, passfile: Path, exchange: FakeBinance) -> None:
    exchange.keys[HMAC_KEY].restrictions["enableFutures"] = False

    result = add_hmac(ksdir, passfile, exchange)

    assert result.code == EXIT_REFUSED and "futures are off" in result.err


def test_a_key_the_exchange_does_not_know_is_refused(ksdir: Path, passfile: Path, exchange: FakeBinance) -> None:
    del exchange.keys[HMAC_KEY]

    result = add_hmac(ksdir, passfile, exchange)

    assert result.code == EXIT_REFUSED and "AuthError" in result.err and "-2015" in result.err
    assert HMAC_SECRET not in result.err


def test_add_ed25519_from_a_pem_file(ksdir: Path, passfile: Path, exchange: FakeBinance, ed_pem: str, tmp_path: Path) -> None:
    pem_file = tmp_path / "key.pem"
    pem_file.write_text(ed_pem)

    result = run(
        "add",
        "slave02",
        "--type",
        "ed25519",
        "--api-key",
        ED_KEY,
        "--secret-file",
        str(pem_file),
        "--exchange",
        exchange.url,
        "--keystore",
        str(ksdir),
        "--passphrase-file",
        str(passfile),
        "--init",
        *CHEAP,
    )

    assert result.code == EXIT_OK, result.err
    assert load_account(ksdir, "slave02", PASS).secret.reveal_str() == ed_pem
    assert not scan_blobs({"cli": result.out + result.err}, secret_needles(ed_pem))


def test_interactive_prompts_for_new_passphrase_and_pem(ksdir: Path, exchange: FakeBinance, ed_pem: str) -> None:
    answers = [PASS, PASS, *ed_pem.splitlines()]

    result = run(
        "add",
        "slave02",
        "--type",
        "ed25519",
        "--api-key",
        ED_KEY,
        "--exchange",
        exchange.url,
        "--keystore",
        str(ksdir),
        "--init",
        *CHEAP,
        interactive=True,
        answers=answers,
    )

    assert result.code == EXIT_OK, result.err
    assert load_account(ksdir, "slave02", PASS).secret.reveal_str() == ed_pem


def test_interactive_init_refuses_differing_passphrases(ksdir: Path) -> None:
    result = run("init", "--keystore", str(ksdir), *CHEAP, interactive=True, answers=[PASS, PASS + "x"])
    assert result.code == EXIT_KEYSTORE and "differ" in result.err
    assert not ksdir.exists() or not (ksdir / "keystore.json").exists()


def test_add_existing_account_points_to_rotate(ksdir: Path, passfile: Path, exchange: FakeBinance) -> None:
    add_hmac(ksdir, passfile, exchange)
    again = add_hmac(ksdir, passfile, exchange)
    assert again.code == EXIT_USAGE and "keys rotate slave01" in again.err


# --- passphrase sources -----------------------------------------------------------------------------------
def test_wrong_passphrase_is_exit_4_and_changes_nothing(ksdir: Path, passfile: Path, exchange: FakeBinance, tmp_path: Path) -> None:
    add_hmac(ksdir, passfile, exchange)
    wrong = tmp_path / "wrong"
    wrong.write_text("not it")
    os.chmod(wrong, 0o600)
    before = snapshot(ksdir)

    results = [
        run("list", "--keystore", str(ksdir), "--passphrase-file", str(wrong)),
        add_hmac(ksdir, wrong, exchange, "slave05"),
        run("remove", "slave01", "--yes", "--keystore", str(ksdir), "--passphrase-file", str(wrong)),
    ]

    assert [r.code for r in results] == [EXIT_KEYSTORE] * 3
    assert all("wrong passphrase" in r.err for r in results)
    assert snapshot(ksdir) == before


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o700])
def test_passphrase_file_readable_by_others_is_refused(ksdir: Path, passfile: Path, mode: int) -> None:
    os.chmod(passfile, mode)
    result = run("init", "--keystore", str(ksdir), "--passphrase-file", str(passfile), *CHEAP)
    assert result.code == EXIT_KEYSTORE and "must be 0400 or 0600" in result.err
    assert not (ksdir / "keystore.json").exists()


def test_passphrase_from_the_environment(ksdir: Path, passfile: Path, exchange: FakeBinance) -> None:
    add_hmac(ksdir, passfile, exchange)
    result = run("list", "--keystore", str(ksdir), env={"COPYTRADER_PASSPHRASE": PASS})
    assert result.code == EXIT_OK and "slave01" in result.out


def test_no_passphrase_source_is_a_clear_error(ksdir: Path) -> None:
    result = run("init", "--keystore", str(ksdir), *CHEAP)
    assert result.code == EXIT_KEYSTORE and "COPYTRADER_PASSPHRASE" in result.err


def test_config_file_names_the_keystore_and_passphrase_file(tmp_path: Path, passfile: Path, exchange: FakeBinance) -> None:
    config = tmp_path / "copytrader.toml"
    config.write_text(f'[keystore]\ndir = "var/ks"\npassphrase_file = "{passfile.name}"\n')

    result = run("--config", str(config), "init", *CHEAP)

    assert result.code == EXIT_OK, result.err
    assert (tmp_path / "var" / "ks" / "keystore.json").exists()
    assert stat.S_IMODE((tmp_path / "var" / "ks").stat().st_mode) == 0o700


# --- usage -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv",
    [
        ["add", "slave01", "--api-key", HMAC_KEY],  # no --type
        ["frobnicate"],
        ["add", "../x", "--type", "hmac", "--api-key", HMAC_KEY, "--secret-stdin"],
        ["add", "s1", "--type", "hmac", "--api-key", HMAC_KEY, "--markets", "coinm", "--secret-stdin"],
        ["add", "s1", "--type", "hmac", "--api-key", HMAC_KEY, "--exchange", "ftp://x", "--secret-stdin"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], ksdir: Path, passfile: Path) -> None:
    run("init", "--keystore", str(ksdir), "--passphrase-file", str(passfile), *CHEAP)
    result = run(*argv, "--keystore", str(ksdir), "--passphrase-file", str(passfile))
    assert result.code == EXIT_USAGE
    assert "error" in result.err  # argparse's usage text goes to the CLI's stderr too


# --- verify / rotate / remove / change-passphrase --------------------------------------------------------------
def test_verify_rechecks_and_refuses_a_key_that_gained_withdrawal_rights(ksdir: Path, passfile: Path, exchange: FakeBinance) -> None:
    add_hmac(ksdir, passfile, exchange)
    common = ["--keystore", str(ksdir), "--passphrase-file", str(passfile), "--exchange", exchange.url]

    fine = run("verify", *common)
    exchange.keys[HMAC_KEY].restrictions["enableWithdrawals"] = True
    bad = run("verify", "slave01", *common)
    offline = run("verify", "--offline", *common)

    assert fine.code == EXIT_OK and "slave01: ok (usdm, spot)" in fine.out
    assert bad.code == EXIT_REFUSED and "slave01: REFUSED" in bad.out
    assert offline.code == EXIT_OK and "slave01: decrypts ok" in offline.out


def test_rotate_replaces_only_after_validation(ksdir: Path, passfile: Path, exchange: FakeBinance) -> None:
    add_hmac(ksdir, passfile, exchange)
    new_key, new_secret = "rotKEY" + "d" * 58, "rotSECRET" + "e" * 55
    common = ["--keystore", str(ksdir), "--passphrase-file", str(passfile), "--exchange", exchange.url]

    refused = run("rotate", "slave01", "--api-key", new_key, "--secret-stdin", *common, stdin=new_secret)
    assert refused.code == EXIT_REFUSED and "old key stays" in refused.err
    assert load_account(ksdir, "slave01", PASS).api_key == HMAC_KEY

    exchange.add_hmac(new_key, new_secret)
    rotated = run("rotate", "slave01", "--api-key", new_key, "--secret-stdin", *common, stdin=new_secret)
    assert rotated.code == EXIT_OK, rotated.err
    key = load_account(ksdir, "slave01", PASS)
    assert key.api_key == new_key and key.secret.reveal_str() == new_secret
    assert key.permissions.markets == ("usdm", "spot")


def test_remove_needs_yes_without_a_terminal(ksdir: Path, passfile: Path, exchange: FakeBinance) -> None:
    add_hmac(ksdir, passfile, exchange)
    common = ["--keystore", str(ksdir), "--passphrase-file", str(passfile)]

    assert run("remove", "slave01", *common).code == EXIT_USAGE
    assert run("remove", "slave01", "--yes", *common).code == EXIT_OK
    assert run("remove", "slave01", "--yes", *common).code == EXIT_KEYSTORE
    assert "no keys" in run("list", *common).out


def test_change_passphrase(ksdir: Path, passfile: Path, exchange: FakeBinance, tmp_path: Path) -> None:
    add_hmac(ksdir, passfile, exchange)
    newfile = tmp_path / "new-passphrase"
    newfile.write_text("the new passphrase")
    os.chmod(newfile, 0o600)

    result = run(
        "change-passphrase", "--new-passphrase-file", str(newfile), "--keystore", str(ksdir), "--passphrase-file", str(passfile), *CHEAP
    )

    assert result.code == EXIT_OK, result.err
    assert run("list", "--keystore", str(ksdir), "--passphrase-file", str(passfile)).code == EXIT_KEYSTORE
    assert run("list", "--keystore", str(ksdir), "--passphrase-file", str(newfile)).code == EXIT_OK
    assert not scan_blobs({"cli": result.out + result.err}, secret_needles("the new passphrase") + secret_needles(PASS))


# --- the real entry point, as a process ------------------------------------------------------------------------
def test_cli_process_reads_the_secret_from_stdin_and_leaks_nothing(
    ksdir: Path, passfile: Path, exchange: FakeBinance, tmp_path: Path
) -> None:
    argv = [
        sys.executable,
        "-m",
        "actors.cli.keys",
        "add",
        "slave01",
        "--type",
        "hmac",
        "--api-key",
        HMAC_KEY,
        "--secret-stdin",
        "--exchange",
        exchange.url,
        "--keystore",
        str(ksdir),
        "--init",
        *CHEAP,
    ]
    env = {**os.environ, "COPYTRADER_PASSPHRASE": PASS, "PYTHONPATH": str(ROOT)}

    proc = subprocess.run(argv, input=HMAC_SECRET.encode(), capture_output=True, timeout=60, cwd=tmp_path, env=env)

    assert proc.returncode == EXIT_OK, proc.stderr.decode()
    assert HMAC_SECRET not in " ".join(argv)
    needles = secret_needles(HMAC_SECRET)
    assert not scan_blobs({"stdout": proc.stdout, "stderr": proc.stderr}, needles)
    assert not scan_for_secrets([ksdir], needles)  # encrypted at rest


def test_the_copytrader_console_script_dispatches_keys(ksdir: Path, passfile: Path, capsys) -> None:
    from actors.cli import main

    code = main(["keys", "init", "--keystore", str(ksdir), "--passphrase-file", str(passfile), *CHEAP])

    assert code == EXIT_OK and "created keystore" in capsys.readouterr().out
    assert (ksdir / "keystore.json").exists()
