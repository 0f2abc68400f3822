"""protocol/: every struct round-trips, every decoder survives garbage (topics and SeqTracker:
test_protocol_topics_seq.py)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from protocol import codec, control_api as api, messages as m, topics
from protocol.errors import ErrorCode, ProtocolError
from tests.helpers.protocol_samples import ALL_SAMPLES, CONTROL_EVENTS, CONTROL_SERVER_MSGS, DECODERS, MASTER_EVENTS, RESTING, SNAP, fill

# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize(
    ("name", "decode", "msg"), ALL_SAMPLES, ids=[f"{n}-{type(x).__name__}-{i}" for i, (n, _, x) in enumerate(ALL_SAMPLES)]
)
def test_every_message_round_trips_through_its_socket_decoder(name: str, decode: Any, msg: Any) -> None:
    body = codec.encode(msg)

    decoded = decode(body)

    assert decoded == msg
    assert type(decoded) is type(msg)


def test_every_tagged_message_class_has_a_round_trip_sample() -> None:
    tagged = {
        cls
        for _, cls in inspect.getmembers(m, inspect.isclass)
        if issubclass(cls, m.Msg) and cls is not m.Msg and not cls.__name__.startswith("_")
    }
    sampled = {type(x) for _, _, x in ALL_SAMPLES}
    sampled |= {type(x.result) for x in CONTROL_SERVER_MSGS if isinstance(x, api.Ok)}
    sampled |= {type(x.event) for x in CONTROL_SERVER_MSGS if isinstance(x, api.Push)}

    assert tagged - sampled == set()


def test_tags_are_unique_within_each_socket_union() -> None:
    for union in (
        m.MasterEvent,
        m.SlaveReport,
        api.ControlRequest,
        api.ControlServerMsg,
        m.ControlEvent,
        m.SnapshotReplyMsg,
        api.ControlResult,
    ):
        tags = [cls.__struct_config__.tag for cls in union.__args__]
        assert len(tags) == len(set(tags)), union


def test_decimals_travel_as_plain_strings_and_keep_their_exact_value() -> None:
    msg = fill(qty=D("0.00001"), price=D("1E-5"), position_after=D("123456789.123456789"))

    raw = msgspec.msgpack.decode(codec.encode(msg))
    back = codec.decode_master_event(codec.encode(msg))

    assert raw["qty"] == "0.00001" and raw["price"] == "0.00001"
    assert back.position_after == D("123456789.123456789")


def test_messages_are_frozen() -> None:
    with pytest.raises(AttributeError):
        fill().qty = D(1)  # type: ignore[misc]


def test_master_pub_frames_round_trip_and_topic_matches() -> None:
    for event in MASTER_EVENTS:
        frames = codec.pack_master_event(event)

        assert codec.unpack_master_event(list(frames)) == event
        assert frames[0].startswith(topics.master_prefix(event.market))


def test_control_pub_frames_round_trip() -> None:
    for event in CONTROL_EVENTS:
        frames = codec.pack_control_event(event)

        assert codec.unpack_control_event(frames) == event


def test_master_frames_with_a_lying_topic_are_refused() -> None:
    body = codec.encode(fill())

    with pytest.raises(ProtocolError) as exc:
        codec.unpack_master_event([b"master.spot.fill", body])

    assert exc.value.code is ErrorCode.BAD_FRAMES


@pytest.mark.parametrize("frames", [[], [b"master.usdm.fill"], [b"a", b"b", b"c"]])
def test_wrong_frame_count_is_refused(frames: list[bytes]) -> None:
    with pytest.raises(ProtocolError) as exc:
        codec.unpack_master_event(frames)
    assert exc.value.code is ErrorCode.BAD_FRAMES
    with pytest.raises(ProtocolError):
        codec.unpack_control_event(frames)


# --------------------------------------------------------------------------- garbage in


def _expect_protocol_error(decode: Callable[[bytes], Any], body: bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as exc:
        decode(body)
    return exc.value


ALL_DECODERS = [dec for _, dec, _ in DECODERS]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=600), which=st.sampled_from(ALL_DECODERS))
def test_random_bytes_never_escape_as_anything_but_protocol_error(body: bytes, which: Any) -> None:
    try:
        which(body)
    except ProtocolError as exc:
        assert exc.code in (ErrorCode.BAD_MESSAGE, ErrorCode.MESSAGE_TOO_LARGE)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_truncated_messages_are_refused(data: st.DataObject) -> None:
    name, decode, msg = data.draw(st.sampled_from(ALL_SAMPLES))
    body = codec.encode(msg)
    cut = data.draw(st.integers(min_value=0, max_value=len(body) - 1))

    err = _expect_protocol_error(decode, body[:cut])

    assert err.code is ErrorCode.BAD_MESSAGE


_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8) | st.floats(allow_nan=True) | st.binary(max_size=8),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_a_field_replaced_by_a_wrong_value_is_refused_or_still_valid(data: st.DataObject) -> None:
    """Mutate one field of a real message to an arbitrary value: either the decoder accepts it
    (the value happens to be valid) or it raises ProtocolError; nothing else."""
    name, decode, msg = data.draw(st.sampled_from(ALL_SAMPLES))
    raw = msgspec.msgpack.decode(codec.encode(msg))
    key = data.draw(st.sampled_from(sorted(raw)))
    raw[key] = data.draw(_JSONISH)

    try:
        result = decode(msgspec.msgpack.encode(raw))
    except ProtocolError as exc:
        assert exc.code is ErrorCode.BAD_MESSAGE
    else:
        assert isinstance(result, msgspec.Struct)


@pytest.mark.parametrize(("name", "decode", "msg"), ALL_SAMPLES[::3])
def test_wrong_tag_is_refused(name: str, decode: Any, msg: Any) -> None:
    raw = msgspec.msgpack.decode(codec.encode(msg))
    raw["t"] = "no-such-tag"

    err = _expect_protocol_error(decode, msgspec.msgpack.encode(raw))

    assert err.code is ErrorCode.BAD_MESSAGE
    assert "no-such-tag" in err.reason


def test_message_of_another_socket_is_refused() -> None:
    err = _expect_protocol_error(codec.decode_control_request, codec.encode(fill()))
    assert err.code is ErrorCode.BAD_MESSAGE


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity", "sNaN", "1e999999999", "abc", "0", "-1"])
def test_absurd_decimals_in_a_fill_are_refused(bad: str) -> None:
    raw = msgspec.msgpack.decode(codec.encode(fill()))
    raw["qty"] = bad

    err = _expect_protocol_error(codec.decode_master_event, msgspec.msgpack.encode(raw))

    assert "qty" in err.reason


def test_wrong_type_names_the_field() -> None:
    raw = msgspec.msgpack.decode(codec.encode(fill()))
    raw["symbol"] = 12

    err = _expect_protocol_error(codec.decode_master_event, msgspec.msgpack.encode(raw))

    assert "symbol" in err.reason


@pytest.mark.parametrize(
    ("decode", "limit"),
    [
        (codec.decode_master_event, codec.MAX_MASTER_EVENT),
        (codec.decode_control_request, codec.MAX_CONTROL_REQUEST),
        (codec.decode_snapshot_request, codec.MAX_SNAPSHOT_REQUEST),
        (codec.decode_slave_report, codec.MAX_SLAVE_REPORT),
        (codec.decode_control_event, codec.MAX_CONTROL_EVENT),
    ],
)
def test_oversized_bodies_are_refused_before_decoding(decode: Any, limit: int) -> None:
    err = _expect_protocol_error(decode, b"\x00" * (limit + 1))
    assert err.code is ErrorCode.MESSAGE_TOO_LARGE


def test_deeply_nested_garbage_is_refused() -> None:
    body = b"\x91" * 50_000 + b"\xc0"  # 50,000 nested one-element arrays
    err = _expect_protocol_error(codec.decode_control_server_msg, body)
    assert err.code is ErrorCode.BAD_MESSAGE


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "over",
    [
        dict(ratio=D(0)),
        dict(multiplier=D("-1")),
        dict(max_position_notional=D(0)),
        dict(markets=()),
        dict(markets=("usdm", "usdm")),
        dict(max_leverage=0),
        dict(max_leverage=126),
        dict(symbols_allow=("BTCUSDT",), symbols_deny=("BTCUSDT",)),
        dict(id="Bad.Id"),
        dict(symbols_allow=("btcusdt",)),
        dict(margin_level_min=D("1")),
        dict(symbol_max_notional={"BTCUSDT": D("-5")}),
        dict(ratio=D("NaN")),
    ],
)
def test_invalid_slave_config_is_refused_on_decode(over: dict[str, Any]) -> None:
    raw = msgspec.to_builtins(m.SlaveConfig(id="ok"))
    raw.update(msgspec.to_builtins(over))

    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(raw, m.SlaveConfig)
    err = _expect_protocol_error(codec.decode_control_request, msgspec.msgpack.encode({"t": "setslave", "id": 1, "config": raw}))
    assert err.code is ErrorCode.BAD_MESSAGE


def test_slave_config_from_toml_like_dict_uses_defaults_and_exact_decimals() -> None:
    cfg = msgspec.convert({"id": "carol", "sizing": "fixed_ratio", "ratio": "0.1"}, m.SlaveConfig)

    assert cfg.ratio == D("0.1")
    assert cfg.markets == ("usdm",) and cfg.enabled and not cfg.paused
    assert cfg.min_notional_policy == "defer" and cfg.on_start == "sync"
    assert cfg.orders == "fills" and cfg.settle_after_ms == 0
    with pytest.raises(msgspec.ValidationError, match="reverse"):
        msgspec.convert({"id": "carol", "orders": "mirror", "reverse": True}, m.SlaveConfig)


def test_a_resting_order_names_its_bad_field() -> None:
    fields = msgspec.to_builtins(RESTING)
    for name, value in (("price", "0"), ("orig_qty", "-1"), ("cum_qty", "-0.1"), ("position_at_place", "NaN")):
        with pytest.raises(msgspec.ValidationError, match=name):
            msgspec.convert(fields | {name: value}, m.RestingOrder, strict=False)
    with pytest.raises(msgspec.ValidationError, match="order_type"):
        msgspec.convert(fields | {"order_type": "STOP_MARKET"}, m.RestingOrder, strict=False)


def test_topic_for_event_follows_type_and_market() -> None:
    assert topics.topic_for_master_event(fill(market="spot")) == b"master.spot.fill"
    assert topics.topic_for_master_event(SNAP) == b"master.usdm.snapshot"
    assert topics.topic_for_master_event(MASTER_EVENTS[4]) == b"master.usdm.order"
    assert topics.topic_for_master_event(MASTER_EVENTS[5]) == b"master.usdm.config"
    assert topics.topic_for_master_event(MASTER_EVENTS[7]) == b"master.spot.hb"
