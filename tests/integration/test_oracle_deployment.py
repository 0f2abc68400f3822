"""A fault-free deployment driven by 150 seeded random master actions, checked after every fill
against a reference model of the copy rule (tests/helpers/copy_model.py, from ARCHITECTURE.md's
"One target"), with the periodic check running.

Five slaves: fixed ratios 0.5 (the default min-notional policy), 0.37 (`round_up`), 0.5 (`skip`),
2 (default policy, USD-M and spot) and a balance multiplier (k about 2, USD-M and spot
for slave01 too). The master trades USD-M BTCUSDT and ETHUSDT one-way (opens, scale-ins, scale-outs,
closes, flips through zero, limit orders filled in parts), goes flat, switches to hedge mode (the
slaves follow), then trades LONG and SHORT together; spot buys and sells come in between.

After every master fill: each slave decided it; each slave's position at the exchange equals the
model's within one step (two for the balance multiplier; exactly zero where the master is flat); spot holdings are k x the
master's within one step; no slave position moved since the last check without a master fill;
and no slave sent a corrective order. The masters' periodic snapshots come every CHECK_S, so the
slaves' periodic checks run between actions, and at checkpoints every 25 actions the test waits
for two of them in quiet (then nothing may have moved, nothing been corrected): a check that
moves a slave away from the copy rule, or repairs a wrong copy, fails here.

    COPYTRADER_ORACLE_SEED=N    another seed (printed at the start)
    COPYTRADER_ORACLE_COLLECT=1 do not stop at the first failure: report each slave's first one
                                (positions, moves, corrections), and every correction by cause
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from decimal import Decimal as D
from typing import Any

import pytest
import zmq

from protocol import codec
from protocol.messages import AccountConfigChanged, MirrorSkipped, OrderFailed, OrderMirrored, PositionSnapshot, SlaveConfig
from tests.helpers.copy_model import Filters, Model
from tests.helpers.corrections import by_cause, deployment_corrections
from tests.helpers.deploy import Deployment, positions, signed, spot_holdings
from tests.helpers.sim import REPO
from tests.helpers.wait import eventually
from tests.integration.test_usdm_faults import fresh_sim

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]

SEED = int(os.environ.get("COPYTRADER_ORACLE_SEED", "21"))
COLLECT = os.environ.get("COPYTRADER_ORACLE_COLLECT") == "1"
ACTIONS = 150
CHECK_S = 2.0
CHECKPOINT_EVERY = 25
SLAVES = [
    SlaveConfig(id="slave01", markets=("usdm", "spot"), sizing="fixed_ratio", ratio=D("0.5")),
    SlaveConfig(id="slave02", sizing="fixed_ratio", ratio=D("0.37"), min_notional_policy="round_up"),
    SlaveConfig(id="slave03", sizing="fixed_ratio", ratio=D("0.5"), min_notional_policy="skip"),
    SlaveConfig(id="slave04", sizing="balance_multiplier", multiplier=D("1")),
    SlaveConfig(id="slave05", markets=("usdm", "spot"), sizing="fixed_ratio", ratio=D("2")),
]
FUTURES_USDT = {"master": "100000", "slave01": "100000", "slave02": "100000", "slave03": "100000", "slave04": "200000", "slave05": "400000"}
SPOT_USDT = {"master": "100000", "slave01": "100000", "slave05": "400000"}
PRICES = {"BTCUSDT": D("50000"), "ETHUSDT": D("3000")}
FILTERS = {
    "BTCUSDT": Filters(D("0.001"), D("0.001"), D("100")),  # simulator/futures.py DEFAULT_SYMBOLS
    "ETHUSDT": Filters(D("0.001"), D("0.001"), D("20")),
}
LIQUIDITY = {"BTCUSDT": D("0.004"), "ETHUSDT": D("0.05")}  # per price step: limit orders fill in parts
SIZES = {
    "BTCUSDT": ["0.002", "0.003", "0.005", "0.01", "0.02", "0.05"],  # the master's own min notional:
    "ETHUSDT": ["0.007", "0.01", "0.02", "0.05", "0.1", "0.3"],
}  # 100 / 20 USDT
SPOT_STEP = D("0.00001")
# Within one step of the model; a balance multiplier within two: the model takes its k from the
# slave's status (every second), not the k of the fill, so a k x q at a step boundary may round
# the other way, now and then twice.
TOLERANCE_STEPS = {"fixed_ratio": 1, "balance_multiplier": 2}
POLICY = {s.id: s.min_notional_policy for s in SLAVES}  # slave01/04/05: the default policy


class MasterTap:
    """SUB on the master listeners' PUB: counts periodic snapshots and position-mode changes."""

    def __init__(self, dep: Deployment, markets: tuple[str, ...]) -> None:
        self.sock = zmq.Context.instance().socket(zmq.SUB)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        for m in markets:
            self.sock.connect(dep.ends.master_pub(m))
        self.periodic: Counter[str] = Counter()
        self.modes: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.sock.poll(50):
                continue
            try:
                event = codec.unpack_master_event(self.sock.recv_multipart(zmq.NOBLOCK))
            except Exception:  # noqa: BLE001 - not ours to judge here
                continue
            if isinstance(event, PositionSnapshot) and event.reason == "periodic":
                self.periodic[event.market] += 1
            elif isinstance(event, AccountConfigChanged) and event.position_mode is not None:
                self.modes.append(event.position_mode)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close(0)


class Oracle:
    def __init__(self, dep: Deployment, tap: MasterTap, rng: random.Random) -> None:
        self.dep, self.sim, self.tap, self.rng = dep, dep.sim, tap, rng
        self.model = Model()
        self.master: dict[tuple[str, str], D] = {}  # the test's own account of the master's positions
        self.seen: dict[str, set[int]] = {"futures": set(), "spot": set()}
        self.fills: dict[str, list[tuple[int, int]]] = {"futures": [], "spot": []}
        self.last: dict[str, dict[tuple[str, str], D]] = {s.id: {} for s in SLAVES}
        self.problems: list[str] = []
        self.kinds: Counter[str] = Counter()
        self.corrections_seen = 0
        self.broken: set[str] = set()  # collect mode: slaves that failed once
        self.trace: dict[tuple[str, str, str], list[str]] = {}  # per (slave, symbol, side): the model's last steps
        self.hedge = False

    # -- failures ---------------------------------------------------------------------------------
    def fail(self, text: str, slave: str | None = None) -> None:
        """Strict: raise. Collect: note it; a slave that failed is not judged again (its state has
        left the model's), so each slave's first failure is what the run reports."""
        if not COLLECT:
            raise AssertionError(f"seed {SEED}: {text}")
        if slave is not None:
            if slave in self.broken:
                return
            self.broken.add(slave)
        self.problems.append(text)
        print(f"oracle FAILURE {len(self.problems)}: {text}", flush=True)

    # -- master actions ---------------------------------------------------------------------------
    def order(self, **params: Any) -> Any:
        return signed(self.sim, "master", "POST", "/fapi/v1/order", params)

    def act(self, n: int) -> None:
        self.unmoved(f"action {n}")
        rng = self.rng
        r = rng.random()
        if r < 0.12:
            return self.spot_action()
        symbol = rng.choice(list(SIZES))
        ps = rng.choice(["LONG", "SHORT"]) if self.hedge else "BOTH"
        pos = self.master.get((symbol, ps), D(0))
        size = abs(pos)
        if self.hedge:
            grow = "BUY" if ps == "LONG" else "SELL"
        else:
            grow = "BUY" if pos > 0 else "SELL" if pos < 0 else rng.choice(["BUY", "SELL"])
        shrink = "SELL" if grow == "BUY" else "BUY"
        extra = {"positionSide": ps} if self.hedge else {}
        reduce = {} if self.hedge else {"reduceOnly": "true"}
        qty = D(rng.choice(SIZES[symbol]))
        if r < 0.30:
            self.kinds["limit_partial"] += 1
            return self.limit_in_parts(symbol, grow, extra)
        if size == 0 or r < 0.50:
            self.kinds["open_or_scale_in"] += 1
            self.order(symbol=symbol, side=grow, type="MARKET", quantity=str(qty), **extra)
        elif r < 0.68:
            self.kinds["scale_out"] += 1
            part = (size * D(rng.choice(["0.2", "0.25", "0.33", "0.5", "0.75"]))).quantize(FILTERS[symbol].step)
            if part <= 0:
                part = size
            self.order(symbol=symbol, side=shrink, type="MARKET", quantity=str(min(part, size)), **extra, **reduce)
        elif r < 0.80 or self.hedge:
            self.kinds["close"] += 1
            self.order(symbol=symbol, side=shrink, type="MARKET", quantity=str(size), **extra, **reduce)
        else:
            self.kinds["flip"] += 1
            self.order(symbol=symbol, side=shrink, type="MARKET", quantity=str(size + qty))
        self.after_fills(f"action {n}")

    def limit_in_parts(self, symbol: str, side: str, extra: dict[str, str]) -> None:
        """A limit order priced through the market, filled LIQUIDITY per price step."""
        parts = self.rng.choice([2, 3, 4])
        qty = LIQUIDITY[symbol] * parts - (FILTERS[symbol].step if self.rng.random() < 0.5 else 0)
        price = PRICES[symbol] * (D("1.0004") if side == "BUY" else D("0.9996"))
        self.order(
            symbol=symbol, side=side, type="LIMIT", timeInForce="GTC", quantity=str(qty), price=str(price.quantize(D("0.1"))), **extra
        )
        self.after_fills(f"limit {side} {qty} {symbol}: first part")
        for i in range(parts):
            if not [o for o in self.sim.orders("master", "futures") if o.get("status") in ("NEW", "PARTIALLY_FILLED")]:
                break
            self.unmoved(f"limit {side} {qty} {symbol}: part {i + 2}")
            self.sim.admin("POST", "/_sim/step", {})
            self.after_fills(f"limit {side} {qty} {symbol}: part {i + 2}")

    def spot_action(self) -> None:
        held = spot_holdings(self.sim, "master").get("BTC", D(0))
        r = self.rng.random()
        if held < D("0.02") or r < 0.5:
            self.kinds["spot_buy"] += 1
            params = {"side": "BUY", "quantity": self.rng.choice(["0.01", "0.02", "0.05"])}
        elif r < 0.8:
            self.kinds["spot_sell_part"] += 1
            params = {"side": "SELL", "quantity": str((held * D(self.rng.choice(["0.25", "0.5"]))).quantize(SPOT_STEP))}
        else:
            self.kinds["spot_sell_all"] += 1
            params = {"side": "SELL", "quantity": str(held.quantize(SPOT_STEP))}
        signed(self.sim, "master", "POST", "/api/v3/order", {"symbol": "BTCUSDT", "type": "MARKET", **params})
        self.after_fills(f"spot {params['side']} {params['quantity']}")

    # -- after each fill --------------------------------------------------------------------------
    def k(self, slave: SlaveConfig) -> D:
        if slave.sizing == "fixed_ratio":
            return slave.ratio
        status = self.dep.collector.latest_status(slave.id)
        k = next((m.k for m in status.markets if m.market == "usdm"), None) if status else None
        assert k is not None, f"{slave.id} reports no k"
        return k

    def new_trades(self, market: str) -> list[dict[str, Any]]:
        rows = [t for t in self.sim.trades("master", market) if int(t["id"]) not in self.seen[market]]
        rows.sort(key=lambda t: int(t["id"]))
        for t in rows:
            self.seen[market].add(int(t["id"]))
            self.fills[market].append((int(t["orderId"]), int(t["id"])))
        return rows

    def after_fills(self, what: str) -> None:
        trades = self.new_trades("futures")
        for t in trades:
            symbol, ps, qty = t["symbol"], t.get("positionSide") or "BOTH", D(str(t["qty"]))
            before = self.master.get((symbol, ps), D(0))
            grows = t["side"] == "BUY" if ps in ("BOTH", "LONG") else t["side"] == "SELL"
            after = before + qty if grows else before - qty
            if ps == "BOTH":
                after = before + (qty if t["side"] == "BUY" else -qty)
            self.master[(symbol, ps)] = after
            for s in SLAVES:
                k = self.k(s)
                sent = self.model.fill(s.id, symbol, ps, before, after, k, D(str(t["price"])), FILTERS[symbol], POLICY[s.id])
                book = self.model.book(s.id, symbol, ps)
                steps = self.trace.setdefault((s.id, symbol, ps), [])
                steps.append(
                    f"master {before} -> {after} @ {t['price']} (k {k}): model orders {sent}, "
                    f"intended {book.intended}, actual {book.actual}"
                )
                del steps[:-5]
        spot = self.new_trades("spot")
        self.decided(what)
        self.at_model(what, spot=bool(spot))
        self.no_corrections(what)

    def decided(self, what: str) -> None:
        def check() -> bool:
            for s in SLAVES:
                got = {
                    (r.master_order_id, r.master_trade_id)
                    for kind in (OrderMirrored, MirrorSkipped, OrderFailed)
                    for r in self.dep.collector.of(kind, slave_id=s.id)
                    if r.master_trade_id
                }
                for market, name in (("usdm", "futures"), ("spot", "spot")):
                    if market in s.markets:
                        missing = [f for f in self.fills[name] if f not in got]
                        assert not missing, f"{s.id}: no decision for {name} master fills {missing}"
            return True

        eventually(check, timeout=30, interval=0.05, what=f"every slave decided every fill ({what})")

    def at_model(self, what: str, spot: bool) -> None:
        want_master = {k: v for k, v in self.master.items() if v}
        bad: dict[str, str] = {}

        def check() -> bool:
            got = positions(self.sim, "master")
            assert got == want_master, f"the master holds {got}, the test counted {want_master}"
            bad.clear()
            for s in SLAVES:
                if s.id in self.broken:
                    continue
                have = positions(self.sim, s.id)
                want = self.model.positions(s.id)
                for key in sorted(set(have) | set(want) | set(self.master)):
                    h, w = have.get(key, D(0)), want.get(key, D(0))
                    tol = D(0) if self.master.get(key, D(0)) == 0 else FILTERS[key[0]].step * TOLERANCE_STEPS[s.sizing]
                    if abs(h - w) > tol:
                        bad[s.id] = (
                            f"{s.id} {key}: holds {h}, the copy rule says {w} (±{tol}; the master holds "
                            f"{self.master.get(key, D(0))}); {self.history(s.id, key)}"
                        )
                        break
            assert not bad, "; ".join(bad.values())
            return True

        try:
            eventually(check, timeout=10, interval=0.05, what=f"every slave at the model ({what})")
        except AssertionError as exc:
            if not bad:
                raise
            for sid, text in bad.items():
                self.fail(f"{what}: {text}", sid)
            if not COLLECT:
                raise AssertionError(str(exc)) from None
        if spot:
            self.spot_at_k(what)
        for s in SLAVES:
            self.last[s.id] = positions(self.sim, s.id)

    def history(self, slave: str, key: tuple[str, str]) -> str:
        """The model's last steps on `key` and the slave's last decisions on its symbol."""
        mine = [
            r
            for kind in (OrderMirrored, MirrorSkipped, OrderFailed)
            for r in self.dep.collector.of(kind, slave_id=slave)
            if r.symbol == key[0] and r.position_side == key[1] and r.market == "usdm"
        ]
        mine.sort(key=lambda r: (r.master_seq, r.leg))
        said = [f"{type(r).__name__} {r.side} {r.qty}" + (f" ({r.reason})" if isinstance(r, MirrorSkipped) else "") for r in mine[-5:]]
        return f"model: {self.trace.get((slave, *key), [])}; slave: {said}"

    def spot_at_k(self, what: str) -> None:
        def check() -> bool:
            master = spot_holdings(self.sim, "master").get("BTC", D(0))
            for s in SLAVES:
                if "spot" in s.markets:
                    have = spot_holdings(self.sim, s.id).get("BTC", D(0))
                    assert abs(have - s.ratio * master) <= SPOT_STEP, f"{s.id} spot BTC {have}, want {s.ratio} x {master}"
            return True

        try:
            eventually(check, timeout=10, interval=0.05, what=f"spot at k x master ({what})")
        except AssertionError as exc:
            self.fail(f"{what}: {exc}", "spot")

    def unmoved(self, what: str) -> None:
        """No slave position moved since the last check: nothing but a master fill moves one."""
        for s in SLAVES:
            now = positions(self.sim, s.id)
            if now != self.last[s.id] and s.id not in self.broken:
                self.fail(f"before {what}: {s.id} moved without a master fill: {self.last[s.id]} -> {now}", s.id)
            self.last[s.id] = now

    def no_corrections(self, what: str) -> None:
        found = deployment_corrections(self.dep)
        new = found[self.corrections_seen :]
        if new:
            self.corrections_seen = len(found)
            for sid in sorted({c.slave_id for c in new}):
                mine = [c for c in new if c.slave_id == sid]
                self.fail(
                    f"{what}: {len(mine)} corrective order(s) in a fault-free run, by cause "
                    f"{by_cause(mine)}:\n" + "\n".join(c.describe() for c in mine[:10]),
                    f"{sid} corrections",
                )
            for s in SLAVES:
                self.last[s.id] = positions(self.sim, s.id)

    def checkpoint(self, what: str) -> None:
        """Quiet: two periodic snapshots per market (every slave's periodic check ran on the first,
        and had finished by the second); nothing may have moved or been corrected."""
        start = dict(self.tap.periodic)
        eventually(
            lambda: all(self.tap.periodic[m] >= start.get(m, 0) + 2 for m in ("usdm", "spot")),
            timeout=6 * CHECK_S + 10,
            interval=0.1,
            what=f"two periodic snapshots per market ({what})",
        )
        self.unmoved(f"checkpoint {what}")
        self.no_corrections(f"checkpoint {what}")

    def to_hedge(self) -> None:
        for (symbol, _ps), pos in list(self.master.items()):
            if pos:
                self.unmoved(f"flat before hedge mode: {symbol}")
                self.order(symbol=symbol, side="SELL" if pos > 0 else "BUY", type="MARKET", quantity=str(abs(pos)), reduceOnly="true")
                self.after_fills(f"flat before hedge mode: {symbol}")
        signed(self.sim, "master", "POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "true"})

        def followed() -> bool:
            for s in SLAVES:
                assert signed(self.sim, s.id, "GET", "/fapi/v1/positionSide/dual")["dualSidePosition"], f"{s.id} still one-way"
            return True

        eventually(followed, timeout=30, interval=0.2, what="every (flat) slave followed the master to hedge mode")
        self.hedge = True


@pytest.fixture
def oracle_dep(tmp_path):
    process = fresh_sim(REPO / "simulator" / "example.toml", tmp_path)
    text = process.config.read_text()
    process.config.write_text(text + "".join(f'\n[[symbols]]\nsymbol = "{s}"\nliquidity = "{q}"\n' for s, q in LIQUIDITY.items()))
    with process as sim:
        for symbol, price in PRICES.items():
            sim.set_price(symbol, str(price), pause=True)
        for account, usdt in FUTURES_USDT.items():
            sim.admin("POST", "/_sim/balances", {"account": account, "market": "futures", "asset": "USDT", "free": usdt})
            if signed(sim, account, "GET", "/fapi/v1/positionSide/dual")["dualSidePosition"]:
                signed(sim, account, "POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "false"})
        for account in FUTURES_USDT:  # spot: USDT only (the example gives the master SOL, ...)
            for asset in set(spot_holdings(sim, account)) | {"BTC", "ETH"}:
                sim.admin("POST", "/_sim/balances", {"account": account, "market": "spot", "asset": asset, "free": "0"})
            sim.admin(
                "POST", "/_sim/balances", {"account": account, "market": "spot", "asset": "USDT", "free": SPOT_USDT.get(account, "1000")}
            )
        dep = Deployment(tmp_path / "deploy", sim, SLAVES, markets=("usdm", "spot"), snapshot_interval_s=CHECK_S)
        tap = MasterTap(dep, ("usdm", "spot"))
        dep.start_all()
        try:
            dep.wait_running(timeout=90)
            yield dep, tap
        finally:
            tap.close()
            dep.stop()


def test_fault_free_deployment_copies_every_fill_right_with_no_correction(oracle_dep):
    dep, tap = oracle_dep
    print(f"\noracle: seed {SEED} (COPYTRADER_ORACLE_SEED), {ACTIONS} master actions, policies {POLICY}")
    oracle = Oracle(dep, tap, random.Random(SEED))
    t0 = time.monotonic()
    for s in SLAVES:
        oracle.last[s.id] = positions(dep.sim, s.id)
    oracle.checkpoint("at the start")
    for n in range(1, ACTIONS + 1):
        if n == ACTIONS // 2 + 1:
            oracle.to_hedge()
        oracle.act(n)
        if n % CHECKPOINT_EVERY == 0:
            oracle.checkpoint(f"after action {n}")
            print(
                f"oracle: {n} actions, {len(oracle.fills['futures'])} futures fills, {time.monotonic() - t0:.0f} s, "
                f"{len(oracle.problems)} failure(s) so far",
                flush=True,
            )
    held_back = sum(b.held_back for b in oracle.model.books.values())
    print(
        f"oracle: seed {SEED}: {dict(oracle.kinds)}; {len(oracle.fills['futures'])} futures and "
        f"{len(oracle.fills['spot'])} spot master fills; {held_back} copies held back by a min-notional policy"
    )
    print(f"oracle: corrections by slave and cause: {by_cause(deployment_corrections(dep))}")
    failed = [r for r in dep.collector.of(OrderFailed) if r.master_order_id]
    assert not failed, f"seed {SEED}: copies refused in a fault-free run: {failed[:5]}"
    assert not oracle.problems, f"seed {SEED}: {len(oracle.problems)} failure(s):\n" + "\n\n".join(oracle.problems[:40])
    assert len(oracle.fills["futures"]) >= ACTIONS // 2, oracle.kinds
    assert oracle.kinds["flip"] and oracle.kinds["limit_partial"], oracle.kinds
