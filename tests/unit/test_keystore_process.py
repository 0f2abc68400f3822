"""A slave-like process unlocks only its own key and leaks it nowhere; public listing needs no passphrase."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from keystore import KdfParams, Keystore, list_public
from tests.helpers.secrets import scan_blobs, scan_for_secrets, secret_needles

ROOT = Path(__file__).resolve().parents[2]
PASS = "slave process passphrase"
API_KEY = "edKEY" + "q" * 59
OTHER_SECRET = "otherSECRET" + "z" * 53


@pytest.fixture(scope="module")
def pem() -> str:
    return (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )


@pytest.fixture
def ksdir(tmp_path: Path, pem: str) -> Path:
    directory = tmp_path / "ks"
    with Keystore.create(directory, PASS, kdf=KdfParams.cheap()) as ks:
        ks.put("slave07", "ed25519", API_KEY, pem)
        ks.put("slave08", "hmac", "hmKEY" + "w" * 59, OTHER_SECRET)
    return directory


# A stand-in for a slave: unlock its key, then do every careless thing with it.
SLAVE = textwrap.dedent(
    """
    import logging, os, sys
    sys.path.insert(0, {root!r})
    from keystore import unlock_own_key

    logging.basicConfig(filename=sys.argv[2], level=logging.DEBUG)
    log = logging.getLogger("slave")
    key = unlock_own_key(sys.argv[1], "slave07")
    assert "COPYTRADER_PASSPHRASE" not in os.environ, "passphrase left in the environment"
    pem = key.secret.reveal_str()
    log.info("loaded %r %s", key, key.secret)
    log.debug("careless: %s", pem)
    log.warning("careless line: " + pem.splitlines()[1])
    print("careless print", pem, flush=True)
    try:
        raise ValueError("signing failed for " + pem)
    except ValueError:
        log.exception("oops")
    sys.stdout.write("ok " + key.api_key[:5] + "\\n")
    raise RuntimeError("dying with " + pem)
    """
)


def test_a_slave_process_leaks_its_key_nowhere(ksdir: Path, tmp_path: Path, pem: str) -> None:
    log_file = tmp_path / "logs" / "slave-slave07.log"
    log_file.parent.mkdir()
    env = {**os.environ, "COPYTRADER_PASSPHRASE": PASS}
    script = SLAVE.format(root=str(ROOT))

    proc = subprocess.run([sys.executable, "-c", script, str(ksdir), str(log_file)], capture_output=True, timeout=60, env=env)

    assert b"ok edKEY" in proc.stdout, proc.stderr.decode()[-2000:]
    assert proc.returncode == 1 and b"RuntimeError: dying with" in proc.stderr  # the crash was reported
    log_text = log_file.read_text()
    assert "loaded AccountKey(account_id='slave07'" in log_text and "careless: " in log_text
    needles = secret_needles(pem, "private key") + secret_needles(PASS, "passphrase")
    hits = scan_for_secrets([log_file.parent], needles) + scan_blobs({"stdout": proc.stdout, "stderr": proc.stderr}, needles)
    assert not hits, hits


def test_unlock_without_a_passphrase_is_a_clear_error(ksdir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "COPYTRADER_PASSPHRASE"}
    script = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\nfrom keystore import unlock_own_key\nunlock_own_key({str(ksdir)!r}, 'slave07')"
    )

    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60, env=env)

    assert proc.returncode == 1 and b"PassphraseUnavailable: no passphrase" in proc.stderr


def test_list_public_needs_no_passphrase_and_decrypts_nothing(ksdir: Path, pem: str) -> None:
    (ksdir / "accounts" / "slave09.json").write_bytes(b"{broken")

    infos = {i.account_id: i for i in list_public(ksdir)}

    assert infos["slave07"].key_type == "ed25519" and infos["slave07"].api_key_masked == "edKE…qqqq"
    assert infos["slave08"].error is None
    assert "truncated" in (infos["slave09"].error or "")
    assert pem.splitlines()[1] not in repr(infos) and OTHER_SECRET not in repr(infos)
