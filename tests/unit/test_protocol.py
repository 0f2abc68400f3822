"""protocol/: every struct round-trips, every decoder survives garbage (topics and SeqTracker:
test_protocol_topics_seq.py)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import codec, topics
from protocol import control_api as api
from protocol import messages as m
from protocol.errors import ErrorCode, ProtocolError

# --------------------------------------------------------------------------- samples


def fill(**over: Any) -> m.MasterFill:
    fields: dict[str, Any] = dict(
        market="usdm",
        epoch=77,
        seq=5,
        symbol="BTCUSDT",
        position_side="BOTH",
        side="BUY",
        order_id=8886774,
        trade_id=1234,
        client_order_id="web_x1",
        order_type="MARKET",
        price=D("67250.10"),
        qty=D("0.015"),
        cum_qty=D("0.015"),
        status="FILLED",
        position_before=D("0.010"),
        position_after=D("0.025"),
        equity=D("10234.55"),
        leverage=20,
        margin_type="CROSSED",
        trade_time_ms=1_700_000_000_000,
        t_exchange_ms=1_700_000_000_001,
        t_master_recv_ns=111,
        t_master_pub_ns=222,
    )
    fields.update(over)
    return m.MasterFill(**fields)


CONFIG = m.SlaveConfig(
    id="alice-1",
    name="Alice",
    markets=("usdm", "margin"),
    sizing="fixed_ratio",
    ratio=D("0.5"),
    symbols_allow=("BTCUSDT", "ETHUSDT"),
    symbols_deny=("DOGEUSDT",),
    max_leverage=10,
    max_position_notional=D("5000"),
    symbol_max_notional={"ETHUSDT": D("1000")},
    reverse=True,
    min_notional_policy="round_up",
    on_start="new_only",
    margin_level_min=D("1.5"),
)
SNAP = m.PositionSnapshot(
    market="usdm",
    epoch=77,
    seq=9,
    equity=D("1000.5"),
    positions=(
        m.PositionEntry(symbol="BTCUSDT", position_side="LONG", qty=D("0.5"), entry_price=D("60000"), leverage=5, margin_type="ISOLATED"),
    ),
    holdings=(m.AssetHolding(asset="BTC", free=D("1"), locked=D("0.1"), borrowed=D("0.2"), interest=D("0.0001")),),
    position_mode="hedge",
    reason="reconnect",
    t_ns=5,
)
MIRROR_KEYS: dict[str, Any] = dict(
    slave_id="alice-1",
    market="usdm",
    symbol="BTCUSDT",
    position_side="SHORT",
    side="SELL",
    master_order_id=1,
    master_trade_id=2,
    master_epoch=77,
    master_seq=5,
    client_order_id="ctABC",
    leg=1,
    qty=D("0.007"),
    t_master_recv_ns=1,
    t_master_pub_ns=2,
    t_slave_recv_ns=3,
)
DRIFT = m.PositionDrift(symbol="BTCUSDT", position_side="BOTH", actual=D("0.1"), expected=D("0.2"))
STATUS = m.SlaveStatusReport(
    slave_id="alice-1",
    state="running",
    last_latency_ns=1_500_000,
    errors=("ws reconnect",),
    markets=(m.MarketStatus(market="usdm", connected=True, equity=D("500"), k=D("0.05"), positions=(DRIFT,)),),
    t_ns=9,
)
MIRRORED = m.OrderMirrored(
    **MIRROR_KEYS,
    reduce_only=True,
    exchange_order_id=99,
    status="FILLED",
    executed_qty=D("0.007"),
    avg_price=D("67000.1"),
    summary="filled",
    t_order_sent_ns=4,
    t_order_acked_ns=5,
)
SKIPPED = m.MirrorSkipped(**MIRROR_KEYS, reason="below_min_notional", text="3.2 < 5 USDT")
SUMMARY = api.SlaveSummary(config=CONFIG, process_state="RUNNING", status=STATUS, state="running", last_error="ws reconnect")

MASTER_EVENTS: list[Any] = [
    fill(),
    fill(
        market="margin",
        position_side="BOTH",
        side="SELL",
        reduce_only=False,
        position_before=D("-1"),
        position_after=D("-1.5"),
        borrowed_before=D("1"),
        borrowed_after=D("1.5"),
        side_effect="MARGIN_BUY",
        leverage=None,
        margin_type=None,
    ),
    SNAP,
    m.PositionSnapshot(market="spot", epoch=1, seq=0, equity=D("0"), reason="start", t_ns=1),
    m.AccountConfigChanged(
        market="usdm", epoch=77, seq=6, symbol="BTCUSDT", leverage=25, margin_type="CROSSED", t_exchange_ms=1, t_master_recv_ns=2
    ),
    m.AccountConfigChanged(market="usdm", epoch=77, seq=7, position_mode="one_way"),
    m.Heartbeat(market="spot", epoch=77, seq=0, t_ns=3, connected=False),
    m.Heartbeat(market="usdm", epoch=77, seq=7, t_ns=3, connected=True, last_event_ms=10),
]
SLAVE_REPORTS: list[Any] = [
    MIRRORED,
    SKIPPED,
    m.OrderFailed(
        **MIRROR_KEYS, error_code=-2019, error_msg="Margin is insufficient.", status_unknown=False, t_order_sent_ns=4, t_failed_ns=6
    ),
    STATUS,
    m.DesyncDetected(slave_id="alice-1", market="usdm", cause="gap", detail="5..7", drifts=(DRIFT,), t_ns=1),
    m.Reconciled(slave_id="alice-1", market="spot", orders=2, t_ns=1),
    m.SlaveError(slave_id="alice-1", code="key_invalid", message="-2015", market="usdm", fatal=True, t_ns=1),
]
CONTROL_REQUESTS: list[Any] = [
    api.GetStatus(id=1),
    api.ListSlaves(id=2),
    api.GetSlave(id=3, slave_id="alice-1"),
    api.SetSlaveConfig(id=4, config=CONFIG),
    api.AddSlave(id=5, config=m.SlaveConfig(id="bob")),
    api.RemoveSlave(id=6, slave_id="bob"),
    api.PauseSlave(id=7, slave_id="bob"),
    api.ResumeSlave(id=8, slave_id="bob"),
    api.PauseAll(id=9),
    api.ResumeAll(id=10),
    api.RestartActor(id=11, name="master-usdm"),
    api.FlattenSlave(id=12, slave_id="bob", market="usdm", symbol="BTCUSDT"),
    api.QueryJournal(id=13, limit=50, slave_id="bob", symbol="ETHUSDT", kind="skipped", before_id=9),
    api.AckError(id=14, error_id=3),
    api.AckError(id=15),
    api.Subscribe(id=16, kinds=("mirrored",)),
    api.Unsubscribe(id=17),
    api.GetLogTail(id=18, name="slave-bob", lines=20),
]
CONTROL_SERVER_MSGS: list[Any] = [
    api.Ok(id=1, result=api.Done(detail="paused")),
    api.Ok(
        id=2,
        result=api.StatusResult(
            actors=(api.ActorInfo(name="master-usdm", state="RUNNING", pid=42, uptime_s=9, heartbeat_age_ms=300),),
            slaves_total=3,
            slaves_running=2,
            paused_all=True,
            unacked_errors=1,
            t_ns=5,
            masters=(api.MasterStatus(market="usdm", connected=True, heartbeat_age_ms=300, equity=D("1000.5"), positions=SNAP.positions),),
        ),
    ),
    api.Ok(id=3, result=api.SlaveListResult(slaves=(SUMMARY,))),
    api.Ok(id=4, result=api.SlaveResult(slave=api.SlaveSummary(config=CONFIG))),
    api.Ok(
        id=5,
        result=api.JournalResult(
            entries=(
                api.JournalEntry(
                    id=1,
                    ts_ms=5,
                    slave_id="alice-1",
                    market="usdm",
                    symbol="BTCUSDT",
                    kind="skipped",
                    summary="below min notional",
                    report=SKIPPED,
                    acked=False,
                ),
                api.JournalEntry(id=2, ts_ms=6, kind="pause_all"),
            )
        ),
    ),
    api.Ok(id=6, result=api.SubscribedResult(kinds=("mirrored", "failed"))),
    api.Ok(id=8, result=api.LogTailResult(name="slave-bob", lines=("started", "running"))),
    m.Error(id=7, code=ErrorCode.NOT_FOUND, reason="no slave 'zed'"),
    api.Push(event=MIRRORED),
    api.Push(event=STATUS),
    api.Push(event=api.ActorStateChanged(name="slave-bob", state="FATAL", t_ns=1)),
    api.Push(event=m.SlaveConfigChanged(slave_id="bob", config=None, version=3)),
]
CONTROL_EVENTS: list[Any] = [
    m.SlaveConfigChanged(slave_id="alice-1", config=CONFIG, version=2),
    m.SlaveConfigChanged(slave_id="bob", config=None, version=3),
    m.PauseAllChanged(paused=True, version=1),
    m.FlattenCommand(request_id=12, slave_id="bob", market="usdm", symbol="BTCUSDT"),
]
SNAPSHOT_REQUESTS: list[Any] = [m.SnapshotRequest(id=1, market="usdm")]
SNAPSHOT_REPLIES: list[Any] = [
    m.SnapshotReply(id=1, snapshot=SNAP),
    m.ErrorReply(id=1, code=ErrorCode.WRONG_MARKET, reason="this is master-usdm"),
]

DECODERS: list[tuple[str, Callable[[bytes], Any], list[Any]]] = [
    ("master_event", codec.decode_master_event, MASTER_EVENTS),
    ("slave_report", codec.decode_slave_report, SLAVE_REPORTS),
    ("control_request", codec.decode_control_request, CONTROL_REQUESTS),
    ("control_server_msg", codec.decode_control_server_msg, CONTROL_SERVER_MSGS),
    ("control_event", codec.decode_control_event, CONTROL_EVENTS),
    ("snapshot_request", codec.decode_snapshot_request, SNAPSHOT_REQUESTS),
    ("snapshot_reply", codec.decode_snapshot_reply, SNAPSHOT_REPLIES),
]
ALL_SAMPLES = [(name, dec, msg) for name, dec, msgs in DECODERS for msg in msgs]

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


def test_topic_for_event_follows_type_and_market() -> None:
    assert topics.topic_for_master_event(fill(market="spot")) == b"master.spot.fill"
    assert topics.topic_for_master_event(SNAP) == b"master.usdm.snapshot"
    assert topics.topic_for_master_event(MASTER_EVENTS[4]) == b"master.usdm.config"
    assert topics.topic_for_master_event(MASTER_EVENTS[6]) == b"master.spot.hb"
