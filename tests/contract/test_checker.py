"""The contract checker itself: which requests count as the actors', what it flags, how it reads
the docs, and that the session hook fails the run. Synthetic records and specs, except where the
real reference files are read (skipped where ../shared/binance-reference is absent)."""

from __future__ import annotations

import tomllib
from types import SimpleNamespace

import orjson
import pytest

from actors.binance import agent
from tests.contract import allowlist, check, plugin, replies, specs
from tests.contract.specs import Spec
from tests.helpers.sim import REPO

ORDER = ("rest", "POST", "/fapi/v1/order")
WS_ORDER = ("wsapi", "order.place", "/ws-api/v3")
SPECS = {
    ORDER: Spec(
        ORDER,
        {"symbol", "side", "type", "quantity", "timestamp", "signature"},
        {"symbol", "side", "type", "timestamp"},
        {"side": {"BUY", "SELL"}},
    ),
    WS_ORDER: Spec(WS_ORDER, {"symbol", "side", "apiKey", "signature", "timestamp"}, {"symbol", "apiKey", "signature", "timestamp"}, {}),
}


def rec(params, *, agent_="copytrader/0.1.0 (slave-s1)", transport="rest", method="POST", path="/fapi/v1/order", status=200, reply=None):
    return {
        "transport": transport,
        "method": method,
        "path": path,
        "params": [list(p) for p in params],
        "agent": agent_,
        "account": "s1",
        "status": status,
        "reply": reply,
    }


GOOD = [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "MARKET"), ("quantity", "1"), ("timestamp", "1"), ("signature", "<redacted>")]


def test_only_actor_tagged_agents_are_checked():
    bad = [("symbol", "BTCUSDT"), ("sied", "BUY")]
    records = [
        rec(bad, agent_=a)
        for a in ("copytrader/0.1.0", "binance-connector/3.13.0", "Python-urllib/3.11", "copytrader/0.1.0 (slave-s1) extra", "")
    ]
    assert check.check(records, SPECS) == ([], 0)
    findings, checked = check.check([rec(bad, agent_="copytrader/0.1.0 (master-usdm)")], SPECS)
    assert checked == 1 and findings and all(f.actors == {"master-usdm"} for f in findings)


def test_a_good_request_passes_and_each_kind_of_fault_is_named():
    assert check.check([rec(GOOD)], SPECS) == ([], 1)
    records = [
        rec([*GOOD, ("quantty", "1")]),
        rec([p for p in GOOD if p[0] != "side"]),
        rec([("side", "BUYY") if p[0] == "side" else p for p in GOOD]),
        rec(GOOD, path="/fapi/v1/orderz"),
        rec(GOOD, method="PUT"),
    ]
    findings, checked = check.check(records, SPECS)
    assert checked == 5
    assert [str(f) for f in findings] == [
        "POST /fapi/v1/order: mandatory parameter 'side' missing (sent by slave-s1; 1x)",
        "POST /fapi/v1/order: side='BUYY' not one of ['BUY', 'SELL'] (sent by slave-s1; 1x)",
        "POST /fapi/v1/order: unknown parameter 'quantty' (sent by slave-s1; 1x)",
        "POST /fapi/v1/orderz: unknown endpoint (in no spec) (sent by slave-s1; 1x)",
        "PUT /fapi/v1/order: unknown endpoint (in no spec) (sent by slave-s1; 1x)",
    ]


def test_findings_are_counted_per_endpoint_and_problem_with_every_actor_named():
    bad = [*GOOD, ("x", "1")]
    findings, _ = check.check([rec(bad), rec(bad, agent_="copytrader/0.1.0 (slave-s2)"), rec(bad)], SPECS)
    assert len(findings) == 1 and findings[0].count == 3 and findings[0].actors == {"slave-s1", "slave-s2"}


def test_websocket_api_requests_may_omit_apikey_and_signature_on_a_logged_on_session():
    logged_on = rec([("symbol", "BTCUSDT"), ("timestamp", "1")], transport="wsapi", method="order.place", path="/ws-api/v3")
    assert check.check([logged_on], SPECS) == ([], 1)
    prefixed = dict(logged_on, method="v3/order.place")  # "v3/order.place" names the same method
    assert check.check([prefixed], SPECS) == ([], 1)
    missing = rec([("timestamp", "1")], transport="wsapi", method="order.place", path="/ws-api/v3")
    assert [f.problem for f in check.check([missing], SPECS)[0]] == ["mandatory parameter 'symbol' missing"]


def test_allowlisted_mandatory_parameter_is_not_required(monkeypatch):
    monkeypatch.setitem(allowlist.NOT_MANDATORY, ORDER, {"type": "a doc"})
    assert check.check([rec([p for p in GOOD if p[0] != "type"])], SPECS) == ([], 1)


def test_read_records_skips_a_torn_last_line(tmp_path):
    (tmp_path / "sim-1-0.jsonl").write_bytes(orjson.dumps(rec(GOOD)) + b"\n" + b'{"transport": "re')
    (tmp_path / "sim-2-0.jsonl").write_bytes(orjson.dumps(rec(GOOD)) + b"\n")
    assert len(check.read_records(tmp_path)) == 2


def test_reply_shapes_compare_recursively_and_name_the_field():
    doc = {"a": None, "b": [{"c": None, "d": None}], "e": {"f": None}}
    assert replies.compare(doc, doc, frozenset()) == []
    ours = {"a": None, "b": [{"c": None, "x": None}], "e": [], "y": None}
    assert sorted(replies.compare(ours, doc, frozenset())) == [
        "e is a list, the docs show an object",
        "field b[].d missing",
        "field b[].x not in the docs' example",
        "field y not in the docs' example",
    ]
    assert replies.compare(ours, doc, frozenset({"y", "b[].x", "d", "e"})) == []
    assert replies.compare({"r": [{"k": None}]}, {"r": [{}]}, frozenset()) == []  # `[{}]`: described elsewhere


def test_lenient_json_reads_the_docs_javascript_examples():
    text = '{\n  "a": "x // not a comment", // a comment\n  "b": 1\n  "c": [1, 2,],\xa0\n}'
    assert replies.lenient_json(text) == {"a": "x // not a comment", "b": 1, "c": [1, 2]}
    assert replies.lenient_json("GET /api/v3/order") is None


def test_agent_version_matches_the_package_and_names_are_sanitised():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert agent.VERSION == project["version"]
    try:
        agent.set_actor("slave-a b\r\nX: y")
        assert agent.USER_AGENT == f"copytrader/{agent.VERSION} (slave-a_b__X__y)"
        assert check.ACTOR_AGENT.match(agent.USER_AGENT)
    finally:
        agent.set_actor(None)
    assert agent.USER_AGENT == f"copytrader/{agent.VERSION}"


def test_the_session_hook_fails_the_run_and_keeps_the_records(tmp_path, monkeypatch):
    if specs.available() is not None:
        pytest.skip(str(specs.available()))
    (tmp_path / "sim-1-0.jsonl").write_bytes(orjson.dumps(rec(GOOD, path="/fapi/v1/orderz")) + b"\n")
    monkeypatch.setitem(plugin._state, "dir", tmp_path)
    monkeypatch.setitem(plugin._state, "report", None)
    session = SimpleNamespace(exitstatus=pytest.ExitCode.OK)
    plugin.finish(session, pytest.ExitCode.OK)  # type: ignore[arg-type]
    assert session.exitstatus == pytest.ExitCode.TESTS_FAILED
    failures, summary = plugin._state["report"]  # type: ignore[misc]
    assert failures == ["request  POST /fapi/v1/orderz: unknown endpoint (in no spec) (sent by slave-s1; 1x)"]
    assert tmp_path.exists()


@pytest.mark.skipif(specs.available() is not None, reason=str(specs.available()))
def test_the_reference_files_are_read_as_binance_documents_them():
    loaded = specs.load()
    order = loaded[("rest", "POST", "/api/v3/order")]
    assert {"openapi:spot_api.yaml"} <= order.sources and order.enums["side"] == {"BUY", "SELL"}
    assert {"symbol", "side", "type", "timestamp", "signature"} <= order.mandatory
    futures = loaded[("rest", "POST", "/fapi/v1/order")]
    assert {"positionSide", "reduceOnly", "newClientOrderId"} <= futures.params
    assert futures.mandatory == {"symbol", "side", "type", "timestamp"}  # usdm post_fapi_v1_order.md
    logon = loaded[("wsapi", "session.logon", "/ws-fapi/v1")]
    assert logon.params == {"apiKey", "recvWindow", "signature", "timestamp"}
    ws_futures_order = loaded[("wsapi", "order.place", "/ws-fapi/v1")]  # lent by REST: no doc section
    assert ws_futures_order.params == futures.params | specs.WS_AUTH
    subscribe = loaded[("wsapi", "userDataStream.subscribe", "/ws-api/v3")]
    assert subscribe.params == set() and subscribe.sources == {"docs:web-socket-api.md"}
    assert ws_futures_order.enums["positionSide"] == {"BOTH", "LONG", "SHORT"}  # from the official SDK
    assert ws_futures_order.enums["type"] == {"LIMIT", "MARKET"}  # conditional types moved to algoOrder
    status = loaded[("wsapi", "order.status", "/ws-fapi/v1")]  # table without, example with apiKey/signature
    assert {"apiKey", "signature", "symbol", "orderId", "origClientOrderId"} <= status.params
    assert "icebergQty" in replies.spot_conditional()
    assert {"activatePrice", "priceRate"} <= replies.CONDITIONAL[("wsapi", "order.status", "/ws-fapi/v1")]
    assert len(replies.examples()[("rest", "POST", "/api/v3/order")]) == 3  # ACK, RESULT, FULL


def test_without_the_reference_folder_the_check_skips_saying_why(tmp_path, monkeypatch):
    (tmp_path / "sim-1-0.jsonl").write_bytes(orjson.dumps(rec(GOOD, path="/fapi/v1/orderz")) + b"\n")
    monkeypatch.setattr(specs, "available", lambda: "/nowhere/binance-reference not present")
    assert plugin.run_check(tmp_path) == ([], "contract check skipped: /nowhere/binance-reference not present")
