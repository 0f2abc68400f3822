"""Bad answers from the exchange: a key revoked while a slave resyncs, and clock skew (-1021)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actors.binance.rest import RestClient
from actors.binance.signing import make_signer
from protocol.messages import SlaveConfig, SlaveError
from tests.helpers.deploy import Deployment, key_secret, signed
from tests.helpers.sim import TEST_CONFIG, InProcessSim
from tests.helpers.wait import eventually
from tests.integration.test_usdm_faults import fresh_sim, prepare


def test_key_revoked_while_resyncing_is_one_fatal_key_error_not_endless_resync_failures(tmp_path):
    """Regression: a resync that met -2015 (key revoked) was retried every second, each time
    reporting (and paging) "resync failed", and the slave never said its key was refused. (A resync
    after a master restart no longer reads REST when nothing needs correcting: the refused key shows
    at the slave's next exchange call, here the copy of the master's next fill.)"""
    with fresh_sim(TEST_CONFIG, tmp_path) as sim:
        prepare(sim, ["master", "slave01"], usdt="100000")
        dep = Deployment(tmp_path / "deploy", sim, [SlaveConfig(id="slave01", sizing="fixed_ratio", ratio=Decimal("1"))])
        dep.start_all()
        try:
            dep.wait_running(timeout=60)
            sim.admin("POST", "/_sim/keys/revoke", {"api_key": sim.key("slave01", "HMAC").api_key, "revoked": True})
            dep.kill("master-usdm")  # the restarted master is a new epoch: the slave resyncs
            dep.start_master("usdm")
            # its next exchange call (the copy of this fill) meets -2015
            signed(sim, "master", "POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01"})
            fatal = eventually(
                lambda: [r for r in dep.collector.of(SlaveError, slave_id="slave01") if r.code == "key_invalid" and r.fatal],
                timeout=60,
                interval=0.2,
                what="slave01 reports its key refused",
            )
            assert len(fatal) == 1
            failures = [r for r in dep.collector.of(SlaveError, slave_id="slave01") if r.code == "resync_failed"]
            assert failures == [], failures
            assert dep.procs["slave-slave01"].poll() is None  # still serving (status, control)
        finally:
            dep.stop()


async def test_clock_skew_on_an_order_resyncs_and_places_it_exactly_once():
    """-1021 (our clock an hour off): the client resyncs its offset from the server's time and
    sends again; -1021 means the first request was rejected, so there is exactly one order."""
    async with InProcessSim(TEST_CONFIG) as sim:
        key = sim.key("slave01", "HMAC")
        client = RestClient(sim.http_url, make_signer("hmac", key.api_key, key_secret(key)))
        try:
            client.time_offset_ms = -3_600_000
            ack = await client.signed(
                "POST",
                "/fapi/v1/order",
                {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01", "newClientOrderId": "skew1"},
            )
            assert ack["clientOrderId"] == "skew1"
            assert abs(client.time_offset_ms) < 60_000  # resynced
        finally:
            await client.close()
        orders = [o for o in await sim.aadmin("GET", "/_sim/orders?account=slave01&market=futures") if o["clientOrderId"] == "skew1"]
        assert len(orders) == 1


@pytest.mark.parametrize("offset_ms", [3_600_000, -3_600_000])
async def test_clock_skew_either_way_is_a_clear_error_without_resync(offset_ms):
    """Without the resync (a second -1021), the error names the problem: it never passes silently."""
    from actors.binance.errors import ClockSkew

    async with InProcessSim(TEST_CONFIG) as sim:
        key = sim.key("slave01", "HMAC")
        client = RestClient(sim.http_url, make_signer("hmac", key.api_key, key_secret(key)))
        try:
            client.time_offset_ms = offset_ms

            async def no_sync(path: str = "") -> int:  # a time source that stays wrong
                return client.time_offset_ms

            client.sync_time = no_sync  # type: ignore[method-assign]
            with pytest.raises(ClockSkew) as info:
                await client.signed("GET", "/fapi/v2/account")
            assert info.value.code == -1021
        finally:
            await client.close()


def test_exchange_filters_changed_under_a_running_slave(tmp_path):
    """Binance changes BTCUSDT's step from 0.001 to 0.01 while the slave runs: its next copy is
    refused (-1111, precision), it reloads exchangeInfo, resyncs, and goes on with the new step."""
    from decimal import Decimal as D

    from protocol.messages import OrderFailed
    from tests.helpers.deploy import positions
    from tests.helpers.wait import eventually as ev

    with fresh_sim(TEST_CONFIG, tmp_path) as sim:
        prepare(sim, ["master", "slave01"], usdt="100000")
        dep = Deployment(tmp_path / "deploy", sim, [SlaveConfig(id="slave01", sizing="fixed_ratio", ratio=D("0.5"))])
        dep.start_all()
        order = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET"}
        try:
            dep.wait_running(timeout=60)
            signed(sim, "master", "POST", "/fapi/v1/order", {**order, "quantity": "0.1"})
            ev(lambda: positions(sim, "slave01").get(("BTCUSDT", "BOTH")) == D("0.05"), timeout=20)
            sim.admin("POST", "/_sim/futures/symbol", {"symbol": "BTCUSDT", "step_size": "0.01"})
            signed(sim, "master", "POST", "/fapi/v1/order", {**order, "quantity": "0.03"})  # copy 0.015: too fine now
            ev(
                lambda: [r for r in dep.collector.of(OrderFailed, slave_id="slave01") if r.error_code == -1111],
                timeout=20,
                what="the copy refused for precision",
            )

            def tracks(master_qty: D) -> bool:
                have = positions(sim, "slave01").get(("BTCUSDT", "BOTH"), D(0))
                assert abs(have - master_qty / 2) <= D("0.01"), (have, master_qty / 2)
                return True

            ev(lambda: tracks(D("0.13")), timeout=30, what="resynced with the new step")
            signed(sim, "master", "POST", "/fapi/v1/order", {**order, "quantity": "0.04"})  # copy 0.02: fine
            ev(lambda: tracks(D("0.17")), timeout=20, what="later copies use the new step")
            assert dep.procs["slave-slave01"].poll() is None
        finally:
            dep.stop()


def test_alignment_rate_limited_is_retried_not_paged(tmp_path):
    """A 429 while following the master's leverage is transient: no "align" error reaches the
    operator, and the leverage is aligned at the next opening."""
    from decimal import Decimal as D

    from protocol.messages import SlaveError
    from tests.helpers.wait import eventually as ev

    with fresh_sim(TEST_CONFIG, tmp_path) as sim:
        prepare(sim, ["master", "slave01"], usdt="100000")
        dep = Deployment(tmp_path / "deploy", sim, [SlaveConfig(id="slave01", sizing="fixed_ratio", ratio=D("1"))])
        dep.start_all()
        order = {"symbol": "ETHUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"}
        try:
            dep.wait_running(timeout=60)
            signed(sim, "master", "POST", "/fapi/v1/leverage", {"symbol": "ETHUSDT", "leverage": 4})
            key = sim.key("slave01", "HMAC").api_key
            sim.admin("POST", "/_sim/faults/rate", {"count": 1, "status": 429, "retry_after": 1, "api_key": key})
            signed(sim, "master", "POST", "/fapi/v1/order", order)  # the slave's leverage call meets the 429

            def leverage() -> int:
                return int(signed(sim, "slave01", "GET", "/fapi/v2/positionRisk", {"symbol": "ETHUSDT"})[0]["leverage"])

            signed(sim, "master", "POST", "/fapi/v1/order", order)  # next opening: aligned now
            ev(lambda: leverage() == 4, timeout=20, what="leverage aligned on a later opening")
            aligns = [r for r in dep.collector.of(SlaveError, slave_id="slave01") if r.code == "align"]
            assert aligns == [], aligns
        finally:
            dep.stop()
