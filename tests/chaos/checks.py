"""What the chaos run checks once the master has stopped and the system has settled.

- **out of sync**: every slave's positions (USD-M, per symbol and position side) and holdings
  (spot: base asset free + locked; margin: net base asset) read from the exchange, against
  `k x` the master's (read from the exchange too), with k the slave's own reported k. A slave
  is in sync on a position when the difference |actual - expected|
    * is at most one step size of the symbol, or
    * is worth less than the symbol's min notional (no order could correct it), or
    * balance_multiplier: is at most 5% of the expected size plus one step: k moves with equity, so
      a position built over many fills at earlier k's differs from today's k x master by the
      relative change of equity since; the slave itself corrects only beyond that (PERIODIC_TOLERANCE),
  and a slave with a position cap (max_position_notional) may hold less than k x master, never more
  than the cap. `reverse` swaps LONG/SHORT; symbols the slave filters out are expected flat, and
  so are, for an `on_start = "new_only"` slave, the master positions it found when it first
  synced, until the master's position went flat (from the master listener's published fills).
  A slave whose key was revoked is expected to stop: it is left out (but must have notified).
- **short of margin** (not out of sync): a position under k x master (never over, never on the
  wrong side) whose latest order at the exchange was refused for capital (USD-M -2019, a spot /
  margin BUY -2010) for the gap itself (or for a gap the slave does not retry yet: at most 2% larger
  or 10% smaller), with that slave paged about it. The copier did its part
  (tried, recorded the reason, told a person); the account cannot carry the copy. Listed apart
  (`short_of_margin`), with every rejection's code (`rejections`).
- **doubled**: an executed order per copied client id ("ct..." = slave, market, symbol, master
  order, master trade, leg) more than once at the exchange (/_sim/orders).
- **lost**: a master trade at the exchange (/_sim/trades) with no journal decision (mirrored,
  skipped, failed, or "covered" by the slave's reconciliation, see actors/control/coverage.py) for a slave
  that copies its market. A trade the master listener never published (it was dead, or its stream
  was down) is covered by the master's next start/reconnect snapshot once the slave reconciled after
  it. A trade whose copy is at the exchange (its "ct" id, leg 0) is decided too: its report was lost
  with the control actor or the slave (both killed before it reached the journal). A trade with no
  journal row at all (control was down) is covered by a later synchronisation of the slave to a
  snapshot published after it (lost.py). The revoked slave is not counted after its revocation.
  The check reads again for up to 30 s while it finds a trade undecided (`wait_lost`): a copy a
  fault delayed (a status-unknown order is sent again only recvWindow + 1 s after the answer) may
  be decided after trading stopped.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from decimal import Decimal
from typing import Any

import msgspec

from actors.slave import CAPITAL_RICHER, CAPITAL_SMALLER
from tests.chaos.deploy import Service
from tests.helpers.deploy import margin_assets, positions, spot_holdings

from .alerts import (
    _CATEGORIES as _CATEGORIES,
    CONVERGE_KINDS as CONVERGE_KINDS,
    FLAP_STARTS as FLAP_STARTS,  # re-exported: callers import them from here
    FLAP_WINDOW_S as FLAP_WINDOW_S,
    _category as _category,
    alert_lines as alert_lines,
    check_notifications as check_notifications,
    convergence as convergence,
    flapped as flapped,
    journal_rows as journal_rows,
)
from .lost import check_lost as check_lost, wait_lost as wait_lost  # the lost check (lost.py)

ZERO = Decimal(0)
BM_TOLERANCE = Decimal("0.05")
SIM_MARKET = {"usdm": "futures", "spot": "spot", "margin": "margin"}
SPOT_SYMBOLS = ("BTCUSDT", "ETHUSDT")


class Filters(msgspec.Struct):
    step: Decimal
    min_notional: Decimal


def exchange_filters(svc: Service, path: str) -> dict[str, Filters]:
    out = {}
    for s in _get(svc, path)["symbols"]:
        step, notional = ZERO, ZERO
        for f in s["filters"]:
            if f["filterType"] in ("LOT_SIZE", "MARKET_LOT_SIZE") and Decimal(f.get("stepSize", "0")) > step:
                step = Decimal(f["stepSize"])
            for key in ("minNotional", "notional"):
                if key in f:
                    notional = max(notional, Decimal(str(f[key])))
        out[s["symbol"]] = Filters(step, notional)
    return out


def _get(svc: Service, path: str) -> Any:
    import urllib.request

    import orjson

    with urllib.request.urlopen(svc.url + path, timeout=30) as resp:
        return orjson.loads(resp.read())


def prices(svc: Service) -> dict[str, Decimal]:
    raw = svc.admin("GET", "/_sim/prices")
    table = raw.get("prices", raw)
    return {s: Decimal(str(p)) for s, p in table.items() if isinstance(p, (str, int, float))}


def k_of(summary: Any, market: str) -> Decimal | None:
    if summary.status is None:
        return None
    for m in summary.status.markets:
        if m.market == market:
            return m.k
    return None


def in_sync(have: Decimal, want: Decimal, f: Filters | None, price: Decimal | None, cfg: Any) -> bool:
    diff = abs(have - want)
    step = f.step if f else ZERO
    if diff <= step:
        return True
    if f is not None and price is not None and diff * price < f.min_notional:
        return True
    if cfg.sizing == "balance_multiplier" and diff <= BM_TOLERANCE * abs(want) + step:
        return True
    cap = cfg.max_position_notional
    if cap is not None and price is not None and abs(want) * price > cap:
        return abs(have) <= abs(want) and abs(have) * price <= cap * Decimal("1.05")  # capped, never over
    if cfg.min_notional_policy == "round_up" and f is not None and price is not None and diff * price <= f.min_notional * 2:
        return True
    return False


def check_positions(svc: Service, summaries: dict[str, Any], revoked: set[str]) -> dict[str, Any]:
    """Independent check from the exchange; returns {"out_of_sync": [...], "checked": n,
    "short_of_margin": [...], "new_only_flat": [...], ...}."""
    orders = last_orders(journal_order_rows(svc))
    paged = margin_paged(svc)
    new_only = {
        (cfg.id, market): new_only_ignored(svc, cfg.id, market)
        for cfg in svc.slaves
        if cfg.on_start == "new_only"
        for market in cfg.markets
    }
    short: list[dict[str, Any]] = []
    flat_by_new_only: list[dict[str, Any]] = []
    px = prices(svc)
    fut = exchange_filters(svc, "/fapi/v1/exchangeInfo")
    spot = exchange_filters(svc, "/api/v3/exchangeInfo")
    master_fut = positions(svc, "master")
    master_spot = spot_holdings(svc, "master")
    master_margin = {a: v[0] for a, v in margin_assets(svc, "master").items()}
    bad: list[dict[str, Any]] = []
    self_bad: list[dict[str, Any]] = []
    checked = 0
    for cfg in svc.slaves:
        sid = cfg.id
        if sid in revoked:
            continue
        summary = summaries.get(sid)
        if summary is None or summary.status is None:
            bad.append({"slave": sid, "what": "no status report"})
            continue
        for m in summary.status.markets:
            for d in m.positions:
                if not d.in_sync:
                    self_bad.append(
                        {
                            "slave": sid,
                            "market": m.market,
                            "symbol": d.symbol,
                            "side": d.position_side,
                            "actual": str(d.actual),
                            "expected": str(d.expected),
                        }
                    )
        if "usdm" in cfg.markets:
            k = k_of(summary, "usdm")
            have = positions(svc, sid)
            want: dict[tuple[str, str], Decimal] = {}
            ignored = new_only.get((sid, "usdm"), set())
            for (symbol, ps), qty in master_fut.items():
                if cfg.symbols_allow and symbol not in cfg.symbols_allow or symbol in cfg.symbols_deny:
                    continue
                if (symbol, ps) in ignored:  # new_only: the master held it before the slave started
                    flat_by_new_only.append({"slave": sid, "market": "usdm", "symbol": symbol, "side": ps})
                    continue
                if cfg.reverse:
                    ps = {"LONG": "SHORT", "SHORT": "LONG"}.get(ps, ps)
                    qty = -qty if ps == "BOTH" else qty
                want[(symbol, ps)] = qty * (k or ZERO)
            for key in sorted(set(want) | set(have)):
                checked += 1
                h, w = have.get(key, ZERO), want.get(key, ZERO)
                if k is None or not in_sync(h, w, fut.get(key[0]), px.get(key[0]), cfg):
                    row = {
                        "slave": sid,
                        "market": "usdm",
                        "symbol": key[0],
                        "side": key[1],
                        "actual": str(h),
                        "expected": str(w),
                        "k": str(k),
                    }
                    why = short_of_margin(h, w, key[1], orders.get((sid, "usdm", key[0], key[1])), fut.get(key[0]), sid in paged)
                    (short if why else bad).append({**row, "rejection": why} if why else row)
        for market, master_hold, read in (("spot", master_spot, spot_holdings), ("margin", master_margin, None)):
            if market not in cfg.markets:
                continue
            k = k_of(summary, market)
            mine = spot_holdings(svc, sid) if read else {a: v[0] for a, v in margin_assets(svc, sid).items()}
            ignored = new_only.get((sid, market), set())
            for symbol in SPOT_SYMBOLS:
                base = symbol.removesuffix("USDT")
                checked += 1
                h, w = mine.get(base, ZERO), master_hold.get(base, ZERO) * (k or ZERO)
                if (symbol, "BOTH") in ignored:  # new_only: the master held it before the slave started
                    flat_by_new_only.append({"slave": sid, "market": market, "symbol": symbol, "side": "BOTH", "master_times_k": str(w)})
                    w = ZERO
                if k is None or not in_sync(h, w, spot.get(symbol), px.get(symbol), cfg):
                    row = {"slave": sid, "market": market, "symbol": symbol, "actual": str(h), "expected": str(w), "k": str(k)}
                    why = short_of_margin(h, w, "BOTH", orders.get((sid, market, symbol, "BOTH")), spot.get(symbol), sid in paged)
                    (short if why else bad).append({**row, "rejection": why} if why else row)
    return {
        "out_of_sync": bad,
        "checked": checked,
        "self_reported_out_of_sync": self_bad,
        "short_of_margin": short,
        "new_only_flat": flat_by_new_only,
    }


# ------------------------------------------------------------------ rejections, capital, new_only

# Refusals that mean "the account cannot carry this order" (capital), by market and order side.
# A SELL -2010 on spot/margin is NOT one: the slave holds (or borrows) what it sells; selling more
# than it has is a sizing bug, never the demo's capital.
CAPITAL_CODES = {("usdm", "BUY"): {-2019}, ("usdm", "SELL"): {-2019}, ("spot", "BUY"): {-2010}, ("margin", "BUY"): {-2010}}


class OrderRow(msgspec.Struct):
    """One order decision of a slave (journal `mirrored` / `failed`, copies and corrections)."""

    id: int
    ts_ms: int
    kind: str
    slave_id: str
    market: str
    symbol: str
    position_side: str
    side: str
    qty: Decimal
    client_order_id: str
    error_code: int | None = None
    error_msg: str = ""


def journal_order_rows(svc: Service) -> list[OrderRow]:
    return order_rows(
        journal_rows(
            svc,
            "SELECT id, ts_ms, kind, slave_id, market, symbol, client_order_id, body "
            "FROM journal WHERE kind IN ('mirrored', 'failed') ORDER BY id",
        )
    )


def order_rows(rows: list[tuple[Any, ...]]) -> list[OrderRow]:
    """Journal rows (id, ts_ms, kind, slave_id, market, symbol, client_order_id, body) -> OrderRow."""
    out = []
    for id_, ts, kind, sid, market, symbol, cid, body in rows:
        try:
            b = msgspec.msgpack.decode(body) if body else {}
        except msgspec.DecodeError:
            b = {}
        if kind == "mirrored" and not b.get("side"):
            continue
        out.append(
            OrderRow(
                id=id_,
                ts_ms=ts,
                kind=kind,
                slave_id=sid,
                market=market,
                symbol=symbol,
                position_side=str(b.get("position_side") or "BOTH"),
                side=str(b.get("side", "")),
                qty=Decimal(str(b.get("qty", "0"))),
                client_order_id=cid or "",
                error_code=b.get("error_code"),
                error_msg=str(b.get("error_msg", "")),
            )
        )
    return out


def last_orders(rows: list[OrderRow]) -> dict[tuple[str, str, str, str], OrderRow]:
    """The latest order decision per (slave, market, symbol, position side)."""
    out: dict[tuple[str, str, str, str], OrderRow] = {}
    for r in rows:
        out[(r.slave_id, r.market, r.symbol, r.position_side)] = r
    return out


def rejections(rows: list[OrderRow]) -> dict[str, Any]:
    """Every refused order by code (so a run keeps them without --keep), and the first 100."""
    failed = [r for r in rows if r.kind == "failed"]
    by_code = Counter(f"{r.market} {r.side} {r.error_code}" for r in failed)
    return {
        "by_code": dict(sorted(by_code.items())),
        "first": [
            {
                "slave": r.slave_id,
                "market": r.market,
                "symbol": r.symbol,
                "side": r.side,
                "position_side": r.position_side,
                "qty": str(r.qty),
                "code": r.error_code,
                "msg": r.error_msg[:120],
                "client_order_id": r.client_order_id,
                "ts_ms": r.ts_ms,
            }
            for r in failed[:100]
        ],
    }


def short_of_margin(have: Decimal, want: Decimal, position_side: str, last: OrderRow | None, f: Filters | None, paged: bool) -> str | None:
    """Why a position under k x master is the account's capital, not the copier (None: it is not).

    All of: the slave holds less than expected in the same direction (never more, never the other
    side); its latest order on that position was refused with a capital code for an order that
    would have grown it by the gap (within one step + 5 %: the slave was correcting exactly this
    drift); a person was paged about that slave's capital."""
    if last is None or last.kind != "failed" or not paged:
        return None
    if last.error_code not in CAPITAL_CODES.get((last.market, last.side), set()):
        return None
    sized = position_side in ("LONG", "SHORT")
    h, w = (abs(have), abs(want)) if sized else (have, want)
    grows = {"LONG": "BUY", "SHORT": "SELL"}.get(position_side) or ("BUY" if w > 0 else "SELL")
    if last.side != grows:
        return None
    if w == 0 or (h != 0 and _sign(h) != _sign(w)) or abs(h) >= abs(w):
        return None
    gap = abs(w - h)
    step = f.step if f else ZERO
    # The slave re-sends a correction refused for capital only once the gap grew by 2% or shrank by
    # 10% (CAPITAL_RICHER / CAPITAL_SMALLER in actors/slave/rules.py): a gap within that band of the last
    # refusal is the one refused.
    held = last.qty * CAPITAL_SMALLER - step <= gap <= last.qty * CAPITAL_RICHER + step
    if not held and abs(last.qty - gap) > step + BM_TOLERANCE * abs(w):
        return None
    return f"{last.side} {last.qty} refused {last.error_code} {last.error_msg} ({last.client_order_id})"


def _sign(x: Decimal) -> int:
    return (x > 0) - (x < 0)


def margin_paged(svc: Service) -> set[str]:
    """Slaves a person was told about an insufficient-margin / -balance refusal."""
    out = set()
    for (summary,) in journal_rows(svc, "SELECT summary FROM journal WHERE kind = 'notify'"):
        for line in alert_lines(summary):
            if _category(line) == "insufficient_margin":
                m = re.search(r"\b(slave\d+)\b", line)
                if m:
                    out.add(m.group(1))
    return out


def new_only_ignored(svc: Service, slave_id: str, market: str) -> set[tuple[str, str]]:
    """(symbol, position side) the master held when `slave_id` first synced `market`, the slave
    did not (its opening balances in the simulator's configuration), and the master has not been
    flat on since (from the master listener's published fills): an `on_start = "new_only"` slave
    leaves those alone (actors/slave/target_view.py `ignored`). Not modelled: a restart of that slave
    recomputes `ignored` from what it holds then (a demo new_only slave holds what it copied)."""
    first = journal_rows(
        svc, "SELECT MIN(ts_ms) FROM journal WHERE kind = 'reconciled' AND slave_id = ? AND market = ?", (slave_id, market)
    )
    start = first[0][0] if first and first[0][0] is not None else None
    fills = journal_rows(svc, "SELECT ts_ms, body FROM journal WHERE kind = 'master.fill' AND market = ? ORDER BY id", (market,))
    if start is None:
        return set()
    if market == "usdm":
        current = dict(positions(svc, "master"))
    elif market == "spot":
        current = {(f"{a}USDT", "BOTH"): v for a, v in spot_holdings(svc, "master").items()}
    else:
        current = {(f"{a}USDT", "BOTH"): v[0] for a, v in margin_assets(svc, "master").items()}
    with open(svc.sim_config, "rb") as fh:
        account = next((a for a in tomllib.load(fh)["accounts"] if a["id"] == slave_id), {})
    opening = {} if market == "usdm" else account.get(SIM_MARKET[market], {})
    slave_held = {(f"{asset}USDT", "BOTH") for asset, qty in opening.items() if Decimal(str(qty))}
    return ignored_at_start(start, [(ts, msgspec.msgpack.decode(b)) for ts, b in fills if b], current) - slave_held


def ignored_at_start(
    start_ms: int, fills: list[tuple[int, dict[str, Any]]], current: dict[tuple[str, str], Decimal]
) -> set[tuple[str, str]]:
    """Pure part of new_only_ignored: `fills` (journal ts, master fill body) in order; `current`
    the master's positions now (a key with no fill at all held now what it held at the start)."""
    held: dict[tuple[str, str], Decimal] = {}
    flat_since: set[tuple[str, str]] = set()
    seen: set[tuple[str, str]] = set()
    for ts, b in fills:
        key = (str(b["symbol"]), str(b.get("position_side") or "BOTH"))
        before, after = Decimal(str(b["position_before"])), Decimal(str(b["position_after"]))
        if ts < start_ms:
            held[key] = after
        else:
            if key not in seen and key not in held:
                held[key] = before
            if after == 0:
                flat_since.add(key)
        seen.add(key)
    for key, qty in current.items():
        if key not in seen:
            held[key] = qty
    return {key for key, qty in held.items() if qty != 0 and key not in flat_since}


def check_doubled(svc: Service) -> dict[str, Any]:
    doubled: list[dict[str, Any]] = []
    executed = 0
    for cfg in svc.slaves:
        for market in cfg.markets:
            rows = svc.admin("GET", f"/_sim/orders?account={cfg.id}&market={SIM_MARKET[market]}")
            n = Counter(  # copies of fills, settles of mirrored orders, copies of resting orders
                o["clientOrderId"]
                for o in rows
                if str(o.get("clientOrderId", "")).startswith(("ct", "cs", "cm")) and Decimal(str(o["executedQty"])) > 0
            )
            executed += sum(n.values())
            doubled += [{"slave": cfg.id, "market": market, "client_order_id": c, "executed": k} for c, k in n.items() if k > 1]
    return {"doubled": doubled, "executed_copies": executed}
