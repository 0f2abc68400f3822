"""The keystore: envelope encryption, record binding, errors that change nothing, file modes."""

from __future__ import annotations

import base64
import copy
import json
import os
import pickle
import stat
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from keystore import (
    AccountExists,
    AccountNotFound,
    CorruptFile,
    InvalidKey,
    KdfParams,
    KeyPermissions,
    Keystore,
    KeystoreExists,
    KeystoreNotFound,
    Secret,
    SwappedRecord,
    TamperedRecord,
    UnsafePermissions,
    WrongPassphrase,
    load_account,
)
from keystore.keytypes import KeyType, fingerprint

PASS = "correct horse battery staple"
HMAC_SECRET = "hS3cr3t" + "x" * 57
API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"


def _pem(key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


@pytest.fixture(scope="module")
def ed_pem() -> str:
    return _pem(ed25519.Ed25519PrivateKey.generate())


@pytest.fixture(scope="module")
def rsa_pem() -> str:
    return _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture
def ksdir(tmp_path: Path) -> Path:
    return tmp_path / "keystore"


@pytest.fixture
def store(ksdir: Path, ed_pem: str, rsa_pem: str) -> Path:
    """A keystore with three accounts, one per key type."""
    with Keystore.create(ksdir, PASS, kdf=KdfParams.cheap()) as ks:
        ks.put("slave01", "hmac", API_KEY, HMAC_SECRET, KeyPermissions(markets=("usdm",), role="slave"))
        ks.put("slave02", "ed25519", "ed" + API_KEY[2:], ed_pem)
        ks.put("master-usdm", "rsa", "rs" + API_KEY[2:], rsa_pem)
    return ksdir


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `directory` with its bytes and mode (the lock file aside)."""
    return {
        str(p.relative_to(directory)): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def record_file(ksdir: Path, account: str) -> Path:
    return ksdir / "accounts" / f"{account}.json"


# --- round trips ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("account", "key_type", "secret_fixture"),
    [("slave01", KeyType.HMAC, None), ("slave02", KeyType.ED25519, "ed_pem"), ("master-usdm", KeyType.RSA, "rsa_pem")],
)
def test_round_trip_for_each_key_type(store: Path, account, key_type, secret_fixture, request) -> None:
    expected = HMAC_SECRET if secret_fixture is None else request.getfixturevalue(secret_fixture)

    key = load_account(store, account, PASS, register_redaction=False)

    assert key.account_id == account
    assert key.key_type is key_type
    assert key.secret.reveal_str() == expected
    assert key.fingerprint == fingerprint(key.api_key)


def test_keystore_get_matches_load_account(store: Path) -> None:
    with Keystore.open(store, PASS, register_redaction=False) as ks:
        via_open = ks.get("slave01")
    via_load = load_account(store, "slave01", PASS, register_redaction=False)
    assert via_open.secret.equals(via_load.secret)
    assert via_open.permissions == via_load.permissions == KeyPermissions(markets=("usdm",), role="slave")


def test_the_secret_is_not_stored_in_clear(store: Path, ed_pem: str) -> None:
    everything = b"".join(data for data, _ in snapshot(store).values())
    assert HMAC_SECRET.encode() not in everything
    for line in ed_pem.splitlines()[1:-1]:
        assert line.encode() not in everything


def test_each_record_has_its_own_nonce(ksdir: Path) -> None:
    with Keystore.create(ksdir, PASS, kdf=KdfParams.cheap()) as ks:
        ks.put("a1", "hmac", API_KEY, HMAC_SECRET)
        ks.put("a2", "hmac", API_KEY, HMAC_SECRET)
    nonces = {orjson.loads(record_file(ksdir, a).read_bytes())["nonce"] for a in ("a1", "a2")}
    assert len(nonces) == 2


def test_kdf_parameters_are_stored_beside_the_salt(store: Path) -> None:
    kdf = orjson.loads((store / "keystore.json").read_bytes())["kdf"]
    assert kdf == {"algorithm": "argon2id", "iterations": 1, "memory_kib": 8, "lanes": 1, "length": 32, "salt": kdf["salt"]}
    assert len(base64.b64decode(kdf["salt"])) == 16


def test_default_kdf_is_strong() -> None:
    params = KdfParams.default()
    assert (params.memory_kib, params.iterations, params.lanes) == (65536, 3, 4)
    assert not params.weak


# --- errors change nothing -------------------------------------------------------------------------
def test_wrong_passphrase_is_a_clear_error_and_changes_nothing(store: Path) -> None:
    before = snapshot(store)
    with pytest.raises(WrongPassphrase, match="wrong passphrase"):
        load_account(store, "slave01", "not the passphrase")
    with pytest.raises(WrongPassphrase):
        Keystore.open(store, "not the passphrase")
    assert snapshot(store) == before


def test_tampered_ciphertext_is_detected_and_changes_nothing(store: Path) -> None:
    path = record_file(store, "slave01")
    doc = orjson.loads(path.read_bytes())
    raw = bytearray(base64.b64decode(doc["ciphertext"]))
    raw[3] ^= 0x01
    doc["ciphertext"] = base64.b64encode(bytes(raw)).decode()
    path.write_bytes(orjson.dumps(doc))
    before = snapshot(store)

    with pytest.raises(TamperedRecord, match="'slave01' failed authentication"):
        load_account(store, "slave01", PASS)
    assert snapshot(store) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [("permissions", {"enableWithdrawals": False, "markets": ["usdm", "spot"]}), ("key_type", "ed25519"), ("created_at", 1)],
)
def test_tampered_header_is_detected(store: Path, field: str, value: object) -> None:
    path = record_file(store, "slave01")
    doc = orjson.loads(path.read_bytes())
    doc[field] = value
    path.write_bytes(orjson.dumps(doc))

    with pytest.raises(TamperedRecord):
        load_account(store, "slave01", PASS)


def test_tampered_api_key_is_detected(store: Path) -> None:
    path = record_file(store, "slave01")
    doc = orjson.loads(path.read_bytes())
    doc["api_key"] = "Z" + doc["api_key"][1:]
    path.write_bytes(orjson.dumps(doc))

    with pytest.raises(TamperedRecord, match="fingerprint"):
        load_account(store, "slave01", PASS)


def test_swapped_record_is_refused_and_changes_nothing(store: Path) -> None:
    record_file(store, "slave02").write_bytes(record_file(store, "slave01").read_bytes())
    before = snapshot(store)

    with pytest.raises(SwappedRecord, match="record slave02.json was made for account 'slave01'"):
        load_account(store, "slave02", PASS)
    assert snapshot(store) == before


def test_swapped_record_with_edited_account_id_fails_authentication(store: Path) -> None:
    doc = orjson.loads(record_file(store, "slave01").read_bytes())
    doc["account_id"] = "slave02"
    record_file(store, "slave02").write_bytes(orjson.dumps(doc))

    with pytest.raises(TamperedRecord, match="moved from another"):
        load_account(store, "slave02", PASS)


def test_record_from_another_keystore_fails_authentication(store: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    with Keystore.create(other, PASS, kdf=KdfParams.cheap()) as ks:
        ks.put("slave01", "hmac", API_KEY, HMAC_SECRET)
    record_file(store, "slave01").write_bytes(record_file(other, "slave01").read_bytes())

    with pytest.raises(TamperedRecord):
        load_account(store, "slave01", PASS)


@pytest.mark.parametrize("keep", [0, 1, 40, -2])
def test_truncated_record_is_a_clear_error_and_changes_nothing(store: Path, keep: int) -> None:
    path = record_file(store, "slave01")
    path.write_bytes(path.read_bytes()[:keep])
    before = snapshot(store)

    with pytest.raises(CorruptFile, match="keystore record for 'slave01' .* is truncated or not JSON"):
        load_account(store, "slave01", PASS)
    assert snapshot(store) == before


def test_truncated_keystore_file_is_a_clear_error(store: Path) -> None:
    path = store / "keystore.json"
    path.write_bytes(path.read_bytes()[:50])
    before = snapshot(store)

    with pytest.raises(CorruptFile, match="keystore.json is truncated or not JSON"):
        Keystore.open(store, PASS)
    assert snapshot(store) == before


def test_malformed_record_names_the_bad_field(store: Path) -> None:
    path = record_file(store, "slave01")
    doc = orjson.loads(path.read_bytes())
    doc["nonce"] = 12
    path.write_bytes(orjson.dumps(doc))

    with pytest.raises(CorruptFile, match=r"malformed.*nonce"):
        load_account(store, "slave01", PASS)


def test_absurd_kdf_parameters_are_refused_before_deriving(store: Path) -> None:
    path = store / "keystore.json"
    doc = orjson.loads(path.read_bytes())
    doc["kdf"]["memory_kib"] = 1 << 40
    path.write_bytes(orjson.dumps(doc))

    with pytest.raises(CorruptFile, match="KDF memory"):
        Keystore.open(store, PASS)


def test_missing_keystore_and_missing_account(tmp_path: Path, store: Path) -> None:
    with pytest.raises(KeystoreNotFound, match="no keystore"):
        load_account(tmp_path / "nowhere", "slave01", PASS)
    with pytest.raises(AccountNotFound, match="no key for account 'slave09'"):
        load_account(store, "slave09", PASS)


def test_load_account_reads_only_its_own_record(store: Path) -> None:
    record_file(store, "slave02").write_bytes(b"garbage")
    record_file(store, "master-usdm").unlink()

    key = load_account(store, "slave01", PASS, register_redaction=False)

    assert key.secret.reveal_str() == HMAC_SECRET


def test_list_reports_a_bad_record_without_hiding_the_others(store: Path) -> None:
    record_file(store, "slave02").write_bytes(b"{")
    with Keystore.open(store, PASS) as ks:
        infos = {i.account_id: i for i in ks.list_records()}
    assert infos["slave01"].error is None
    assert infos["master-usdm"].error is None
    assert "truncated" in (infos["slave02"].error or "")


# --- modes ---------------------------------------------------------------------------------------------
def test_files_are_0600_and_directories_0700(store: Path) -> None:
    assert stat.S_IMODE(store.stat().st_mode) == 0o700
    assert stat.S_IMODE((store / "accounts").stat().st_mode) == 0o700
    modes = {name: mode for name, (_, mode) in snapshot(store).items()}
    assert modes and set(modes.values()) == {0o600}, modes


def test_modes_hold_under_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        with Keystore.create(tmp_path / "ks", PASS, kdf=KdfParams.cheap()) as ks:
            ks.put("a1", "hmac", API_KEY, HMAC_SECRET)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "ks").stat().st_mode) == 0o700
    assert stat.S_IMODE(record_file(tmp_path / "ks", "a1").stat().st_mode) == 0o600


def test_readable_record_is_refused(store: Path) -> None:
    os.chmod(record_file(store, "slave01"), 0o644)
    with pytest.raises(UnsafePermissions, match="mode 0644; it must be 0600"):
        load_account(store, "slave01", PASS)


def test_open_directory_is_refused(store: Path) -> None:
    os.chmod(store, 0o755)
    with pytest.raises(UnsafePermissions, match="mode 0755; it must be 0700"):
        Keystore.open(store, PASS)


# --- writes ----------------------------------------------------------------------------------------------
def test_create_refuses_an_existing_keystore(store: Path) -> None:
    with pytest.raises(KeystoreExists):
        Keystore.create(store, PASS, kdf=KdfParams.cheap())


def test_put_refuses_to_overwrite_unless_replacing(store: Path) -> None:
    with Keystore.open(store, PASS) as ks:
        created = ks.info("slave01").created_at
        with pytest.raises(AccountExists, match="keys rotate"):
            ks.put("slave01", "hmac", API_KEY, "another-secret-0123")
        info = ks.put("slave01", "hmac", "N" + API_KEY[1:], "another-secret-0123", replace=True)
    assert info.created_at == created and info.rotated_at is not None
    assert load_account(store, "slave01", PASS).secret.reveal_str() == "another-secret-0123"


def test_remove(store: Path) -> None:
    with Keystore.open(store, PASS) as ks:
        ks.remove("slave02")
        assert ks.account_ids() == ["master-usdm", "slave01"]
        with pytest.raises(AccountNotFound):
            ks.remove("slave02")


def test_update_permissions_keeps_the_secret(store: Path) -> None:
    perms = KeyPermissions(markets=("usdm", "spot"), role="slave", enableWithdrawals=False, checked_at=5)
    with Keystore.open(store, PASS) as ks:
        ks.update_permissions("slave01", perms)
    key = load_account(store, "slave01", PASS)
    assert key.permissions == perms and key.secret.reveal_str() == HMAC_SECRET


def test_change_passphrase_rewraps_only_the_keystore_key(store: Path) -> None:
    records_before = {k: v for k, v in snapshot(store).items() if k.startswith("accounts")}
    with Keystore.open(store, PASS) as ks:
        ks.change_passphrase("new passphrase", kdf=KdfParams.custom(iterations=2, memory_kib=16, lanes=2))

    assert {k: v for k, v in snapshot(store).items() if k.startswith("accounts")} == records_before
    assert load_account(store, "slave01", "new passphrase").secret.reveal_str() == HMAC_SECRET
    with pytest.raises(WrongPassphrase):
        load_account(store, "slave01", PASS)
    kdf = orjson.loads((store / "keystore.json").read_bytes())["kdf"]
    assert (kdf["iterations"], kdf["memory_kib"], kdf["lanes"]) == (2, 16, 2)


def test_left_over_temp_files_are_ignored_and_swept(store: Path) -> None:
    stray = store / "accounts" / ".slave01.json.abc.tmp"
    stray.write_bytes(b"half")
    os.chmod(stray, 0o600)
    with Keystore.open(store, PASS) as ks:
        assert "slave01" in ks.account_ids() and len(ks.account_ids()) == 3
        ks.put("slave03", "hmac", API_KEY, HMAC_SECRET)
    assert not stray.exists()


# --- inputs -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("account", ["../evil", "", "a/b", ".hidden", "x" * 65, "sp ace"])
def test_bad_account_ids_are_refused(store: Path, account: str) -> None:
    with Keystore.open(store, PASS) as ks, pytest.raises(InvalidKey, match="invalid account id"):
        ks.put(account, "hmac", API_KEY, HMAC_SECRET)


def test_secret_shapes_are_checked(store: Path, ed_pem: str, rsa_pem: str) -> None:
    encrypted = serialization.load_pem_private_key(ed_pem.encode(), None).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")
    )
    with Keystore.open(store, PASS) as ks:
        with pytest.raises(InvalidKey, match="password-protected"):
            ks.put("x1", "ed25519", API_KEY, encrypted)
        with pytest.raises(InvalidKey, match="not an rsa key"):
            ks.put("x1", "rsa", API_KEY, ed_pem)
        with pytest.raises(InvalidKey, match="PEM private key"):
            ks.put("x1", "ed25519", API_KEY, HMAC_SECRET)
        with pytest.raises(InvalidKey, match="HMAC secret"):
            ks.put("x1", "hmac", API_KEY, "short")
        with pytest.raises(InvalidKey, match="unknown key type"):
            ks.put("x1", "dsa", API_KEY, HMAC_SECRET)
        with pytest.raises(InvalidKey, match="API key"):
            ks.put("x1", "hmac", "has space in it", HMAC_SECRET)


def test_errors_never_quote_the_secret(store: Path, ed_pem: str) -> None:
    broken_pem = ed_pem.replace("MC4CAQAw", "MC4CAQAx")
    messages = []
    with Keystore.open(store, PASS) as ks:
        for key_type, secret in (("rsa", broken_pem), ("hmac", HMAC_SECRET + " with space")):
            with pytest.raises(InvalidKey) as info:
                ks.put("x1", key_type, API_KEY, secret)
            messages.append(str(info.value) + repr(info.value))
    for text in messages:
        assert HMAC_SECRET not in text and ed_pem.splitlines()[1] not in text


# --- Secret and AccountKey never show the value ----------------------------------------------------------
def test_secret_masks_itself() -> None:
    s = Secret(HMAC_SECRET)
    shown = [repr(s), str(s), f"{s}", f"{s!r}", "%s" % s, format(s, ">80"), json.dumps({"k": str(s)})]  # noqa: UP031
    assert all(HMAC_SECRET not in text for text in shown)
    assert s.reveal_str() == HMAC_SECRET
    with pytest.raises(TypeError):
        pickle.dumps(s)
    with pytest.raises(TypeError):
        orjson.dumps(s)
    assert copy.deepcopy(s).equals(s) and s.equals(HMAC_SECRET) and not s.equals("other")


def test_secret_wipe() -> None:
    s = Secret(HMAC_SECRET)
    s.wipe()
    assert s.wiped and len(s) == 0
    with pytest.raises(ValueError, match="wiped"):
        s.reveal()


def test_account_key_repr_hides_secret_and_full_api_key(store: Path) -> None:
    key = load_account(store, "slave01", PASS)
    text = repr(key) + str(key)
    assert HMAC_SECRET not in text and API_KEY not in text and API_KEY[:4] in text
    with pytest.raises(TypeError):
        pickle.dumps(key)
    with Keystore.open(store, PASS) as ks:
        assert "unlocked" in repr(ks)
