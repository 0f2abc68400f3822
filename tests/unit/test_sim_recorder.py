"""The simulator's request recorder: one file per instance, shapes not values, secrets redacted."""

from __future__ import annotations

from types import SimpleNamespace

import orjson

from simulator.recorder import Recorder, merge, shape


def fake_sim(directory):
    keys = {"k1": SimpleNamespace(account_id="slave01")}
    return SimpleNamespace(config=SimpleNamespace(record_dir=str(directory)), store=SimpleNamespace(keys=keys))


def test_shape_keeps_field_names_only_and_merges_list_elements():
    reply = {"a": 1, "b": [{"x": "1"}, {"y": "2", "z": {"q": 3}}], "c": [], "d": None}
    assert shape(reply) == {"a": None, "b": [{"x": None, "y": None, "z": {"q": None}}], "c": [], "d": None}
    assert merge({"a": None}, {"b": [None]}) == {"a": None, "b": [None]}


def test_each_instance_writes_its_own_file_with_secrets_redacted(tmp_path):
    sim = fake_sim(tmp_path)
    one, two = Recorder.from_config(sim), Recorder.from_config(sim)  # type: ignore[arg-type]
    assert one is not None and two is not None and one.path != two.path
    one.write(
        "rest",
        "POST",
        "/fapi/v1/order",
        [("symbol", "BTCUSDT"), ("signature", "abc"), ("apiKey", "k1")],
        "copytrader/0.1.0 (slave-slave01)",
        one.account_of("k1"),
        200,
        {"orderId": 1},
    )
    one.write("wsapi", "order.place", "/ws-fapi/v1", [("listenKey", "L"), ("listenToken", "T")], "", None, 400, {"code": -1102})
    one.close()
    one.write("rest", "GET", "/late", [], "", None, 200, None)  # after close: dropped, never raises
    lines = [orjson.loads(line) for line in one.path.read_bytes().splitlines()]
    assert lines[0] == {
        "transport": "rest",
        "method": "POST",
        "path": "/fapi/v1/order",
        "params": [["symbol", "BTCUSDT"], ["signature", "<redacted>"], ["apiKey", "<redacted>"]],
        "agent": "copytrader/0.1.0 (slave-slave01)",
        "account": "slave01",
        "status": 200,
        "reply": {"orderId": None},
    }
    assert lines[1]["params"] == [["listenKey", "<redacted>"], ["listenToken", "<redacted>"]]
    assert lines[1]["reply"] is None  # an error reply's shape is not kept
    assert len(lines) == 2 and two.path.read_bytes() == b""
    two.close()


def test_off_without_a_directory(monkeypatch):
    monkeypatch.delenv("SIMULATOR_RECORD_DIR", raising=False)
    sim = SimpleNamespace(config=SimpleNamespace(record_dir=None))
    assert Recorder.from_config(sim) is None  # type: ignore[arg-type]


def test_a_listen_key_in_a_stream_path_is_redacted():
    from simulator.recorder import _LONG_TOKEN

    key = "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6saf9as16d"  # a listenKey-like token
    assert _LONG_TOKEN.sub("/<redacted>", f"/private/ws/{key}") == "/private/ws/<redacted>"
    assert _LONG_TOKEN.sub("/<redacted>", "/private/ws") == "/private/ws"
