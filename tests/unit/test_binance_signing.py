"""Signatures against the examples of Binance's docs (rest-api.md, web-socket-api.md "SIGNED ... examples")."""

from __future__ import annotations

import base64
import pickle

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from actors.binance.params import encode_query, ws_payload
from actors.binance.signing import Signer, make_signer

# The documented example key (rest-api.md / web-socket-api.md, "for illustrative purposes").
DOC_API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"

REST_ASCII_PARAMS = [
    ("symbol", "LTCBTC"),
    ("side", "BUY"),
    ("type", "LIMIT"),
    ("timeInForce", "GTC"),
    ("quantity", "1"),
    ("price", "0.1"),
    ("recvWindow", 5000),
    ("timestamp", 1499827319559),
]
REST_ASCII_QUERY = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
REST_ASCII_SIG = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
REST_UNICODE_QUERY = (
    "symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY&type=LIMIT&timeInForce=GTC"
    "&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
)
REST_UNICODE_SIG = "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"

WS_ASCII_PARAMS = {
    "symbol": "BTCUSDT",
    "side": "SELL",
    "type": "LIMIT",
    "timeInForce": "GTC",
    "quantity": "0.01000000",
    "price": "52000.00",
    "recvWindow": 100,
    "timestamp": 1645423376532,
    "apiKey": DOC_API_KEY,
}
WS_ASCII_PAYLOAD = (
    f"apiKey={DOC_API_KEY}&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL&symbol=BTCUSDT"
    "&timeInForce=GTC&timestamp=1645423376532&type=LIMIT"
)
WS_ASCII_SIG = "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
WS_UNICODE_PARAMS = {
    "symbol": "１２３４５６",
    "side": "BUY",
    "type": "LIMIT",
    "timeInForce": "GTC",
    "quantity": "1.00000000",
    "price": "0.10000000",
    "recvWindow": 5000,
    "timestamp": 1645423376532,
    "apiKey": DOC_API_KEY,
}
WS_UNICODE_SIG = "b33892ae8e687c939f4468c6268ddd4c40ac1af18ad19a064864c47bae0752cd"


def test_rest_hmac_example_ascii() -> None:
    signer = make_signer("HMAC", DOC_API_KEY, DOC_SECRET)
    query = encode_query(REST_ASCII_PARAMS)
    assert query == REST_ASCII_QUERY
    assert signer.sign(query) == REST_ASCII_SIG


def test_rest_hmac_example_non_ascii_is_percent_encoded_before_signing() -> None:
    signer = make_signer("HMAC", DOC_API_KEY, DOC_SECRET)
    params = [("symbol", "１２３４５６")] + REST_ASCII_PARAMS[1:]
    query = encode_query(params)
    assert query == REST_UNICODE_QUERY
    assert signer.sign(query) == REST_UNICODE_SIG


def test_ws_api_hmac_example_ascii() -> None:
    signer = make_signer("hmac", DOC_API_KEY, DOC_SECRET)
    payload = ws_payload(WS_ASCII_PARAMS)
    assert payload == WS_ASCII_PAYLOAD
    assert signer.sign(payload) == WS_ASCII_SIG


def test_ws_api_hmac_example_non_ascii_is_not_percent_encoded() -> None:
    signer = make_signer("HMAC", DOC_API_KEY, DOC_SECRET)
    payload = ws_payload(WS_UNICODE_PARAMS)
    assert "symbol=１２３４５６" in payload
    assert signer.sign(payload) == WS_UNICODE_SIG


def test_ws_payload_ignores_signature_param() -> None:
    assert ws_payload({**WS_ASCII_PARAMS, "signature": "x"}) == WS_ASCII_PAYLOAD


def _ed25519_pem() -> tuple[str, ed25519.Ed25519PrivateKey]:
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    return pem, key


def test_ed25519_signature_is_base64_of_the_raw_signature_and_verifies() -> None:
    pem, key = _ed25519_pem()
    signer = make_signer("ED25519", "k" * 64, pem)
    sig = signer.sign(WS_ASCII_PAYLOAD)
    assert sig == base64.b64encode(key.sign(WS_ASCII_PAYLOAD.encode())).decode()  # Ed25519 is deterministic
    key.public_key().verify(base64.b64decode(sig), WS_ASCII_PAYLOAD.encode())
    assert signer.supports_logon


def test_encrypted_ed25519_pem_needs_its_password() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pass-phrase")
    ).decode()
    with pytest.raises(ValueError, match="could not be loaded"):
        make_signer("ED25519", "key", pem)
    signer = make_signer("ED25519", "key", pem, password=b"pass-phrase")
    key.public_key().verify(base64.b64decode(signer.sign("a=1")), b"a=1")


def test_rsa_signature_is_pkcs1v15_sha256_base64() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    signer = make_signer("RSA", "key", pem)
    sig = signer.sign(REST_ASCII_QUERY)
    key.public_key().verify(base64.b64decode(sig), REST_ASCII_QUERY.encode(), padding.PKCS1v15(), hashes.SHA256())
    assert not signer.supports_logon


def test_key_type_must_match_the_private_key() -> None:
    pem, _ = _ed25519_pem()
    with pytest.raises(ValueError, match="RSA"):
        make_signer("RSA", "key", pem)


@pytest.mark.parametrize(
    ("key_type", "secret", "match"),
    [("DSA", "s3cr3tZ", "unknown key_type"), ("HMAC", "", "empty"), ("ED25519", "not a pem s3cr3tZ", "could not be loaded")],
)
def test_bad_signer_input_is_a_clear_error(key_type: str, secret: str, match: str) -> None:
    with pytest.raises(ValueError, match=match) as info:
        make_signer(key_type, "key", secret)
    if secret:
        assert secret not in str(info.value)


def test_secret_is_not_reachable_through_repr_or_attributes() -> None:
    signer = make_signer("HMAC", DOC_API_KEY, DOC_SECRET)
    shown = [repr(signer), str(signer)] + [repr(getattr(signer, name)) for name in Signer.__slots__]
    assert all(DOC_SECRET not in text for text in shown)
    assert DOC_API_KEY not in repr(signer)  # only a prefix of the api key is shown
    with pytest.raises(TypeError):
        pickle.dumps(signer)
    with pytest.raises(AttributeError):
        signer.api_key = "other"  # type: ignore[misc]


def test_pem_secret_is_not_in_repr() -> None:
    pem, _ = _ed25519_pem()
    signer = make_signer("ED25519", "key", pem)
    body = pem.splitlines()[1]
    assert body not in repr(signer)
    assert all(body not in repr(getattr(signer, name)) for name in Signer.__slots__)
