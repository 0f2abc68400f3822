"""Every decoder fed garbage, truncated and oversized input (hypothesis): a clear, typed error
(or a counted drop), never another exception that would take an actor down.

Covered: ZeroMQ messages (every protocol union), user-data events, REST/WS-API replies and their
error classification, exchange filters, the deployment config, keystore files.
"""

from __future__ import annotations

import json
import pathlib

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from actors.binance import wire
from actors.binance.errors import BinanceAPIError, classify
from actors.binance.filters import parse_futures_exchange_info, parse_spot_exchange_info
from actors.config import ConfigError, parse_config
from protocol import codec
from protocol.errors import ProtocolError

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

BYTE_DECODERS = [
    codec.decode_master_event,
    codec.decode_snapshot_request,
    codec.decode_snapshot_reply,
    codec.decode_slave_report,
    codec.decode_control_request,
    codec.decode_control_server_msg,
    codec.decode_control_event,
]


def _samples() -> list[bytes]:
    """Real payloads (fixtures) to truncate and mutate."""
    return [p.read_bytes() for p in sorted(FIXTURES.glob("userdata_*.json"))]


SAMPLES = _samples()
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=20,
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A real payload truncated, or with a byte flipped, or with a field's value replaced."""
    raw = draw(st.sampled_from(SAMPLES))
    how = draw(st.sampled_from(["truncate", "flip", "replace"]))
    if how == "truncate":
        return raw[: draw(st.integers(0, max(0, len(raw) - 1)))]
    if how == "flip":
        i = draw(st.integers(0, len(raw) - 1))
        return raw[:i] + bytes([raw[i] ^ draw(st.integers(1, 255))]) + raw[i + 1 :]
    doc = json.loads(raw)
    target = doc.get("event", doc) if isinstance(doc, dict) else doc
    if isinstance(target, dict) and target:
        key = draw(st.sampled_from(sorted(target)))
        target[key] = draw(json_values)
    return json.dumps(doc).encode()


@pytest.mark.parametrize("decode", BYTE_DECODERS, ids=lambda f: f.__name__)
@SETTINGS
@given(body=st.binary(max_size=512))
def test_protocol_decoders_raise_only_protocol_error_on_garbage(decode, body):
    try:
        decode(body)
    except ProtocolError as exc:
        assert exc.reason  # says what is wrong


@SETTINGS
@given(obj=json_values)
def test_protocol_decoders_refuse_well_formed_msgpack_of_the_wrong_shape(obj):
    try:
        body = msgspec.msgpack.encode(obj)
    except OverflowError:  # an int msgpack cannot carry: nothing to feed
        return
    for decode in BYTE_DECODERS:
        try:
            decode(body)
        except ProtocolError:
            pass


def test_protocol_decoders_refuse_oversized_input():
    huge = msgspec.msgpack.encode({"t": "fill", "symbol": "A" * 5_000_000})
    for decode in BYTE_DECODERS:
        with pytest.raises(ProtocolError):
            decode(huge)


@SETTINGS
@given(frames=st.lists(st.binary(max_size=64), max_size=4))
def test_multipart_unpackers_raise_only_protocol_error(frames):
    for unpack in (codec.unpack_master_event, codec.unpack_control_event):
        try:
            unpack(frames)
        except ProtocolError:
            pass


@SETTINGS
@given(raw=st.one_of(st.binary(max_size=400), mutated()))
def test_user_data_events_raise_only_malformed_event(raw):
    before = wire.decode_stats.malformed
    try:
        wire.decode_user_event(raw)
    except wire.MalformedEvent as exc:
        assert str(exc)
        assert wire.decode_stats.malformed == before + 1  # counted


def test_oversized_user_data_event_is_a_clear_error():
    raw = b'{"e":"ORDER_TRADE_UPDATE","o":{"s":"' + b"X" * 2_000_000 + b'"'
    with pytest.raises(wire.MalformedEvent):
        wire.decode_user_event(raw)


REPLY_TYPES = [
    t
    for t in (getattr(wire, n) for n in dir(wire))
    if isinstance(t, type) and issubclass(t, msgspec.Struct) and t.__name__.startswith("Binance")
]


@pytest.mark.parametrize("raw, at", [(b'{"d":"\x80"}', 6), (b'{"d":"ok","e":"a\xc3"}', 16), (b"[\xff]", 1)])
def test_invalid_utf8_in_a_reply_is_a_decode_error_naming_the_byte(raw, at):
    # found by the fuzz test below: msgspec (before 0.23) let it escape as UnicodeDecodeError, and
    # its own wording changed between releases: the message is ours and names the offset
    with pytest.raises(msgspec.DecodeError) as info:
        wire.decode(raw, REPLY_TYPES[2])
    assert str(info.value).startswith(f"invalid UTF-8 at byte {at}:"), str(info.value)
    assert str(info.value).endswith("in the JSON reply")


@pytest.mark.parametrize(
    "raw, words",
    [
        (b'{"e":"\x80"}', "could not be decoded: invalid UTF-8 at byte 6:"),
        (b'{"e":"ORDER_TRADE_UPDATE","o":{"s":"\x80"}}', "malformed ORDER_TRADE_UPDATE event: invalid UTF-8 at byte 36:"),
    ],
)
def test_invalid_utf8_in_a_user_event_is_malformed_naming_the_byte(raw, words):
    with pytest.raises(wire.MalformedEvent) as info:
        wire.decode_user_event(raw)
    assert words in str(info.value), str(info.value)


def test_other_decode_errors_keep_their_text():
    with pytest.raises(msgspec.DecodeError) as info:
        wire.decode(b'{"d":', REPLY_TYPES[2])
    assert "UTF-8" not in str(info.value)


@SETTINGS
@given(raw=st.one_of(st.binary(max_size=300), mutated()), idx=st.integers(0, max(0, len(REPLY_TYPES) - 1)))
def test_rest_reply_decoders_raise_only_msgspec_errors(raw, idx):
    try:
        wire.decode(raw, REPLY_TYPES[idx])
    except (msgspec.DecodeError, msgspec.ValidationError):
        pass


@SETTINGS
@given(
    status=st.integers(100, 599),
    body=st.one_of(st.none(), st.binary(max_size=200), st.text(max_size=200), json_values),
    retry_after=st.one_of(st.none(), st.text(max_size=8), st.floats(allow_nan=True)),
)
def test_error_classification_never_raises(status, body, retry_after):
    err = classify(status, body if not isinstance(body, (list, int, float, bool)) else json.dumps(body), retry_after=retry_after)
    assert isinstance(err, BinanceAPIError)


@SETTINGS
@given(obj=json_values)
def test_exchange_info_parsers_give_a_clear_error_on_garbage(obj):
    for parse in (parse_spot_exchange_info, parse_futures_exchange_info):
        try:
            parse(obj if isinstance(obj, dict) else {"symbols": obj})
        except (ValueError, TypeError, KeyError, ArithmeticError, msgspec.ValidationError) as exc:
            assert str(exc) or isinstance(exc, KeyError)


@SETTINGS
@given(text=st.one_of(st.text(max_size=400), st.binary(max_size=400)))
def test_config_parser_raises_only_config_error(text):
    try:
        parse_config(text)
    except ConfigError as exc:
        assert str(exc)


@SETTINGS
@given(cut=st.integers(0, 2000), junk=st.binary(max_size=40))
def test_truncated_or_mangled_config_is_a_config_error(cut, junk):
    good = pathlib.Path(__file__).resolve().parents[2] / "copytrader.example.toml"
    text = good.read_bytes() if good.exists() else b'[exchange]\nnetwork = "simulator"\nurl = "http://127.0.0.1:1"\n'
    try:
        parse_config(text[:cut] + junk)
    except ConfigError:
        pass


@pytest.mark.parametrize("raw", [b'{"e":"\x80"', b'{"e":"TRADE_LITE","c":"\x80"}'])
def test_invalid_utf8_in_a_user_data_event_is_a_malformed_event(raw):
    """Regression: invalid UTF-8 raised UnicodeDecodeError, which the stream handlers (that catch
    MalformedEvent) did not expect: the master rebuilt from REST instead of counting a drop."""
    with pytest.raises(wire.MalformedEvent):
        wire.decode_user_event(raw)
