"""`copytrader keys` against the simulator: it refuses a withdrawal-enabled key, accepts a good one
(HMAC and Ed25519, every market) and lists it. The simulator runs in the test's loop; the CLI (which
runs its own event loop) in a worker thread."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path

import pytest

from actors.cli.keys import EXIT_OK, EXIT_REFUSED, Io, main_keys
from keystore import load_account
from tests.helpers.secrets import scan_blobs, secret_needles
from tests.helpers.sim import InProcessSim

PASS = "simulator test passphrase"
CHEAP = ["--kdf-memory-kib", "8", "--kdf-iterations", "1", "--kdf-lanes", "1"]


@pytest.fixture
async def sim():
    async with InProcessSim() as running:
        yield running


@pytest.fixture
def passfile(tmp_path: Path) -> Path:
    path = tmp_path / "passphrase"
    path.write_text(PASS)
    os.chmod(path, 0o600)
    return path


async def keys(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    console = Io(stdin=io.StringIO(stdin), stdout=out, stderr=err, env={}, interactive=False)
    code = await asyncio.to_thread(main_keys, list(argv), io=console)
    return code, out.getvalue(), err.getvalue()


async def test_a_withdrawal_enabled_key_is_refused(sim: InProcessSim, tmp_path: Path, passfile: Path) -> None:
    key = sim.key("slave01", "HMAC")
    await sim.aadmin("POST", "/_sim/keys/permissions", {"api_key": key.api_key, "permissions": {"enableWithdrawals": True}})
    ksdir = tmp_path / "ks"

    code, out, err = await keys(
        "add",
        "slave01",
        "--type",
        "hmac",
        "--api-key",
        key.api_key,
        "--secret-stdin",
        "--exchange",
        sim.http_url,
        "--keystore",
        str(ksdir),
        "--passphrase-file",
        str(passfile),
        "--init",
        *CHEAP,
        stdin=key.secret or "",
    )

    assert code == EXIT_REFUSED
    assert "withdrawal rights (enableWithdrawals: true): refused" in err
    assert not list((ksdir / "accounts").glob("*.json"))
    assert not scan_blobs({"cli": out + err}, secret_needles(key.secret or ""))


async def test_good_keys_are_accepted_and_listed(sim: InProcessSim, tmp_path: Path, passfile: Path) -> None:
    hmac_key, ed_key = sim.key("slave01", "HMAC"), sim.key("slave02", "ED25519")
    pem_file = tmp_path / "slave02.pem"
    pem_file.write_text(ed_key.private_key or "")
    common = ["--keystore", str(tmp_path / "ks"), "--passphrase-file", str(passfile)]

    added_hmac = await keys(
        "add",
        "slave01",
        "--type",
        "hmac",
        "--api-key",
        hmac_key.api_key,
        "--markets",
        "usdm,spot,margin",
        "--secret-stdin",
        "--exchange",
        sim.http_url,
        "--init",
        *CHEAP,
        *common,
        stdin=hmac_key.secret or "",
    )
    added_ed = await keys(
        "add",
        "slave02",
        "--type",
        "ed25519",
        "--api-key",
        ed_key.api_key,
        "--markets",
        "usdm,spot,margin",
        "--secret-file",
        str(pem_file),
        "--exchange",
        sim.http_url,
        *common,
    )
    code, listing, _ = await keys("list", *common)

    assert added_hmac[0] == EXIT_OK, added_hmac[2]
    assert added_ed[0] == EXIT_OK, added_ed[2]
    assert "not restricted to trusted IPs" in added_hmac[2]  # the simulator's default ipRestrict is false
    assert code == EXIT_OK
    rows = {line.split()[0]: line for line in listing.splitlines()[1:]}
    assert set(rows) == {"slave01", "slave02"}
    assert "usdm,spot,margin" in rows["slave01"] and "-withdraw" in rows["slave02"]
    loaded = load_account(tmp_path / "ks", "slave02", PASS, register_redaction=False)
    assert loaded.secret.reveal_str().strip() == (ed_key.private_key or "").strip()
    needles = secret_needles(hmac_key.secret or "") + secret_needles(ed_key.private_key or "")
    assert not scan_blobs({"add": added_hmac[1] + added_hmac[2] + added_ed[1] + added_ed[2], "list": listing}, needles)


async def test_a_revoked_key_is_refused(sim: InProcessSim, tmp_path: Path, passfile: Path) -> None:
    key = sim.key("slave01", "HMAC")
    await sim.aadmin("POST", "/_sim/keys/revoke", {"api_key": key.api_key})

    code, _, err = await keys(
        "add",
        "slave01",
        "--type",
        "hmac",
        "--api-key",
        key.api_key,
        "--secret-stdin",
        "--exchange",
        sim.http_url,
        "--keystore",
        str(tmp_path / "ks"),
        "--passphrase-file",
        str(passfile),
        "--init",
        *CHEAP,
        stdin=key.secret or "",
    )

    assert code == EXIT_REFUSED and "AuthError" in err
