"""The oracle (issue 21): a model-based test of the USD-M copy engine against a reference model.

Hypothesis drives random master action sequences (opens, increases, partial fills of every size,
decreases by any fraction, closes, one-way flips, hedge LONG and SHORT together, leverage and
margin-type changes, live edits of every slave setting, the slave's own liquidation and ADL,
`new_only` starts, steps and min-notional edges, `reverse`) through three real `MarketMirror`s on
simulated accounts (tests/helpers/mirror.py). After every master fill, for each slave:
- every order it sent for the fill goes the fill's way (the side the copy rule gives it);
- its position equals the reference model's target within one step, or differs by what its
  policy deliberately leaves (an increase under the exchange's minimum, deferred or skipped; an
  over-copy of round_up, under one minimum order);
- the engine's own intended position equals the model's, and a periodic check would send no
  corrective order.
The reference model (`Model`, below) is written from ARCHITECTURE.md "Copy semantics" / "One
target", not from actors/; faults (the slave's liquidation / ADL) and edits that let a slave trade
again are followed by one check, whose corrections are then allowed.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import msgspec
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from actors.binance.filters import SymbolFilters
from protocol.messages import AccountConfigChanged, SlaveConfig
from tests.helpers.mirror import Harness, futures_filters, run_sync

ZERO = Decimal(0)
FILTERS = {
    "BTCUSDT": futures_filters("BTCUSDT", "0.001", "100"),
    "SOLUSDT": futures_filters("SOLUSDT", "0.01", "5"),
    "ETHUSDT": futures_filters("ETHUSDT", "0.001", "20"),
}
KEYS = [("BTCUSDT", "BOTH"), ("SOLUSDT", "BOTH"), ("ETHUSDT", "LONG"), ("ETHUSDT", "SHORT")]  # ETH: hedge mode
PRICES = {"BTCUSDT": ["50000", "20000", "99999.9"], "SOLUSDT": ["125", "12.5", "300"], "ETHUSDT": ["3000", "1000", "4800"]}
SWAP = {"BOTH": "BOTH", "LONG": "SHORT", "SHORT": "LONG"}


# --------------------------------------------------------------------------- the reference model (< 200 lines)


def sgn(x: Decimal) -> int:
    return (x > 0) - (x < 0)


def down(x: Decimal, step: Decimal) -> Decimal:
    return (x / step).to_integral_value(ROUND_FLOOR) * step


def up(x: Decimal, step: Decimal) -> Decimal:
    return (x / step).to_integral_value(ROUND_CEILING) * step


def copyable(f: SymbolFilters, qty: Decimal, price: Decimal) -> bool:
    """The exact quantity passes the exchange's minimum (minQty, min notional at `price`)."""
    return qty >= f.min_qty and qty * price >= f.min_notional


def smallest(f: SymbolFilters, price: Decimal) -> Decimal:
    """The smallest opening order: one step, minQty, and min notional at `price`."""
    by_notional = (f.min_notional / price / f.step_size).to_integral_value(ROUND_CEILING) * f.step_size
    return max(f.step_size, f.min_qty, by_notional)


class Model:
    """One slave's intended positions by the copy rules, signed (LONG > 0, SHORT < 0), keyed by
    the slave's (symbol, position side)."""

    def __init__(self) -> None:
        self.intended: dict[tuple[str, str], Decimal] = {}
        self.ignored: set[tuple[str, str]] = set()
        self.over: dict[tuple[str, str], Decimal] = {}  # round_up: the over-copy its minimum order allows

    @staticmethod
    def rule(intended: Decimal, before: Decimal, after: Decimal, k: Decimal, flip: int) -> Decimal:
        if after == 0:
            return ZERO  # the master is flat: so is the slave
        if before == 0 or sgn(before) != sgn(after):
            return flip * k * after  # a new position (or a flip's new side): k x it
        if abs(after) > abs(before):
            return intended + flip * k * (abs(after) - abs(before)) * sgn(after)  # + k x q
        # the same fraction f of ours: intended x (1 - f), multiplied before dividing so that a
        # whole-step result stays exact in 28 digits (else a one-step edge comes out under a step)
        return intended * abs(after) / abs(before)

    def on_fill(
        self,
        cfg: SlaveConfig,
        mkey: tuple[str, str],
        before: Decimal,
        after: Decimal,
        k: Decimal,
        actual: Decimal,
        f: SymbolFilters,
        price: Decimal,
        trading: bool,
    ) -> None:
        """`actual`: the slave's signed position before the fill; `trading`: not paused / filtered."""
        flip = -1 if cfg.reverse else 1
        skey = (mkey[0], SWAP[mkey[1]] if cfg.reverse else mkey[1])
        sign_ = -1 if mkey[1] == "SHORT" else 1
        before, after = sign_ * before, sign_ * after
        if skey in self.ignored:
            if after == 0 or sgn(before) * sgn(after) < 0:
                self.ignored.discard(skey)
            if sgn(before) * sgn(after) >= 0:
                return
            ib = ZERO
        else:
            ib = self.intended.get(skey, ZERO)
        ia = self.rule(ib, before, after, k, flip)
        opens = after != 0 and (before == 0 or sgn(before) != sgn(after) or abs(after) > abs(before))
        if trading and opens:
            d = sgn(ia)
            flipped = before != 0 and sgn(before) != sgn(after)
            held = ZERO if (flipped and sgn(actual) == -d) else max(d * actual, ZERO)
            want = abs(ia) - held
            q = down(want, f.step_size) if want > 0 else ZERO
            if q > 0:
                cap = cfg.symbol_max_notional.get(mkey[0], cfg.max_position_notional)
                room = None if cap is None else down(max(ZERO, cap - held * price) / price, f.step_size)
                capped = room is not None and q > room
                q = min(q, room) if room is not None else q
                small = smallest(f, price)
                if not capped and q < small and copyable(f, want, price) and (room is None or up(want, f.step_size) <= room):
                    q = up(want, f.step_size)  # the exact amount is copyable: one step up, not held back
                if room is not None and room <= 0:
                    ia = d * held  # the cap leaves no room: intended is what is held
                elif q < small and cfg.min_notional_policy == "round_up":
                    if room is not None and small > room:
                        ia = d * held
                    else:  # the minimum is sent: over the target by less than it
                        self.over[skey] = max(self.over.get(skey, ZERO), small)
                elif q < small and capped:
                    ia = d * held
                elif q < small and cfg.min_notional_policy == "skip":
                    ia = ZERO if (before == 0 or flipped) else ib  # the fill's move is forgotten
                elif capped:
                    ia = d * (held + q)
        if not opens:
            self.over.pop(skey, None)
        if ia:
            self.intended[skey] = ia
        else:
            self.intended.pop(skey, None)

    def acceptable(
        self, cfg: SlaveConfig, skey: tuple[str, str], intended: Decimal, actual: Decimal, f: SymbolFilters, price: Decimal
    ) -> bool:
        """The slave's position is on target: within one step, or short of it by an increase the
        exchange refuses (deferred / skipped) or the cap leaves no room for, or over it by less
        than one minimum (round_up)."""
        diff = abs(intended - actual)
        if diff <= f.step_size:
            return True
        same_side = actual == 0 or sgn(actual) == sgn(intended)
        small = smallest(f, price)
        if same_side and abs(actual) < abs(intended):
            cap = cfg.symbol_max_notional.get(f.symbol, cfg.max_position_notional)
            room = None if cap is None else down(max(ZERO, cap - abs(actual) * price) / price, f.step_size)
            return not copyable(f, diff, price) or (room is not None and room < small)
        return same_side and diff < max(small, self.over.get(skey, ZERO))


# --------------------------------------------------------------------------- the machine

CONFIGS = st.builds(
    dict,
    ratio=st.sampled_from(["0.37", "0.5", "1", "2", "0.013", "1.9999"]),
    sizing=st.sampled_from(["fixed_ratio", "fixed_ratio", "balance_multiplier"]),
    multiplier=st.sampled_from(["1", "0.25", "3"]),
    min_notional_policy=st.sampled_from(["defer", "round_up", "skip"]),
    reverse=st.booleans(),
    max_position_notional=st.sampled_from([None, None, "500", "5000"]),
    on_start=st.sampled_from(["sync", "new_only"]),
)


def signed_pos(key: tuple[str, str], qty: Decimal) -> Decimal:
    return -abs(qty) if key[1] == "SHORT" else qty


class CopyMachine(RuleBasedStateMachine):
    @initialize(configs=st.lists(CONFIGS, min_size=3, max_size=3), pre=st.lists(st.integers(-300, 300), min_size=4, max_size=4))
    def start(self, configs: list[dict], pre: list[int]) -> None:
        self.master: dict[tuple[str, str], Decimal] = {}
        self.price: dict[str, Decimal] = {s: Decimal(p[0]) for s, p in PRICES.items()}
        self.equity = Decimal("10000")
        self.slaves: list[tuple[Harness, Model]] = []
        self.accepted: dict[tuple[str, tuple[str, str]], Decimal] = {}  # where the last fill / check left it
        for key, n in zip(KEYS, pre, strict=False):  # positions the master held before the slaves started
            q = abs(n) * FILTERS[key[0]].step_size if key[1] != "BOTH" else n * FILTERS[key[0]].step_size
            if q:
                self.master[key] = q
        for i, raw in enumerate(configs):
            cfg = SlaveConfig(
                id=f"s{i}",
                markets=("usdm",),
                **{
                    k: (Decimal(v) if k in ("ratio", "multiplier", "max_position_notional") and v is not None else v)
                    for k, v in raw.items()
                },
            )
            h = Harness(cfg, FILTERS)
            h.master, h.price = self.master, self.price  # one master for all
            h.account.equity = Decimal(10000 + 1000 * i)
            model = Model()
            if cfg.on_start == "new_only":
                h.mirror.ignored = {(s, SWAP[ps] if cfg.reverse else ps) for (s, ps) in self.master}
                model.ignored = set(h.mirror.ignored)
            snap = h.snapshot(reason="start")
            h.mirror._move_target(snap)
            if cfg.on_start == "sync":
                h.correct()
                for skey, qty in h.account.positions.items():
                    self.accepted[(cfg.id, skey)] = signed_pos(skey, qty)
                for mkey, qty in self.master.items():
                    k = self.k(h)
                    skey = (mkey[0], SWAP[mkey[1]] if cfg.reverse else mkey[1])
                    value = (-1 if cfg.reverse else 1) * k * signed_pos(mkey, qty)
                    cap = cfg.symbol_max_notional.get(mkey[0], cfg.max_position_notional)
                    if cap is not None and abs(value) > cap / self.price[mkey[0]]:  # a cap clips an opening
                        value = sgn(value) * cap / self.price[mkey[0]]
                    model.intended[skey] = value
            self.slaves.append((h, model))

    def k(self, h: Harness, master_equity: Decimal | None = None) -> Decimal:
        cfg = h.slave.config
        if cfg.sizing == "fixed_ratio":
            return cfg.ratio
        assert h.account.equity is not None
        return cfg.multiplier * h.account.equity / (master_equity or self.equity)

    def _fill(self, key: tuple[str, str], after: Decimal, price: Decimal) -> None:
        before = self.master.get(key, ZERO)
        if after == before:
            return
        h0 = self.slaves[0][0]
        self.price[key[0]] = price
        fill = h0.make_fill(key[0], after, ps=key[1], price=price, equity=self.equity)
        for h, model in self.slaves:
            h.seq, h.trade = h0.seq, h0.trade
            cfg = h.slave.config
            skey = (key[0], SWAP[key[1]] if cfg.reverse else key[1])
            actual = signed_pos(skey, h.account.positions.get(skey, ZERO))
            trading = cfg.enabled and not cfg.paused and key[0] not in cfg.symbols_deny
            model.on_fill(cfg, key, before, after, self.k(h, fill.equity), actual, FILTERS[key[0]], price, trading)
            sent = h.apply(fill)
            way = fill.side if not cfg.reverse else ("SELL" if fill.side == "BUY" else "BUY")
            assert all(o.side == way for o in sent), (cfg, fill, sent)
            reduces = after != 0 and sgn(after) == sgn(before) and abs(after) < abs(before)
            if trading and reduces:  # a reduction: down to the target if above it, else nothing
                now = signed_pos(skey, h.account.positions.get(skey, ZERO))
                want = model.intended.get(skey, ZERO)
                if abs(actual) > abs(want) and sgn(actual) == sgn(want):
                    assert abs(now - want) <= FILTERS[key[0]].step_size / 2 + Decimal("1e-18"), (skey, "reduced to", now, "not", want)
                else:
                    assert now == actual, (skey, "moved to", now, "on a reduction, from", actual, "target", want)
                self.accepted[(cfg.id, skey)] = now
            self.check(h, model, skey if trading and not reduces else None)

    def check(self, h: Harness, model: Model, touched: tuple[str, str] | None = None) -> None:
        """The engine's intended positions are the model's; the position a fill (or a check)
        just moved is on the model's target at the price of the moment; no check would correct."""
        cfg = h.slave.config
        for skey in set(model.intended) | set(h.mirror.book.intended):
            want = model.intended.get(skey, ZERO)
            got = signed_pos(skey, h.mirror.book.intended.get(skey, ZERO))
            assert abs(got - want) < Decimal("1e-12"), (skey, "engine intended", got, "model", want)
        if not cfg.enabled or cfg.paused:
            return
        for skey in [touched] if touched else []:
            actual = signed_pos(skey, h.account.positions.get(skey, ZERO))
            want = model.intended.get(skey, ZERO)
            assert model.acceptable(cfg, skey, want, actual, FILTERS[skey[0]], self.price[skey[0]]), (
                skey,
                "position",
                actual,
                "target",
                want,
                cfg.min_notional_policy,
            )
            self.accepted[(h.slave.config.id, skey)] = actual
        assert h.corrections() == [], h.corrections()

    # -- the master's actions
    @rule(key=st.sampled_from(KEYS), steps=st.integers(1, 400), parts=st.integers(1, 4), p=st.integers(0, 2))
    def increase(self, key: tuple[str, str], steps: int, parts: int, p: int) -> None:
        step = FILTERS[key[0]].step_size
        now = self.master.get(key, ZERO)
        direction = sgn(now) or (1 if key[1] != "BOTH" or steps % 2 else -1)
        for i in range(1, parts + 1):  # a limit order filling in parts
            self._fill(key, now + direction * down(Decimal(steps) * step * i / parts, step), Decimal(PRICES[key[0]][p]))

    @rule(key=st.sampled_from(KEYS), fraction=st.fractions(0, 1), p=st.integers(0, 2))
    def decrease(self, key: tuple[str, str], fraction: object, p: int) -> None:
        now = self.master.get(key, ZERO)
        step = FILTERS[key[0]].step_size
        cut = down(abs(now) * Decimal(fraction.numerator) / Decimal(fraction.denominator), step)  # type: ignore[attr-defined]
        self._fill(key, now - sgn(now) * cut, Decimal(PRICES[key[0]][p]))

    @rule(key=st.sampled_from(KEYS), p=st.integers(0, 2))
    def close(self, key: tuple[str, str], p: int) -> None:
        self._fill(key, ZERO, Decimal(PRICES[key[0]][p]))

    @rule(symbol=st.sampled_from(["BTCUSDT", "SOLUSDT"]), steps=st.integers(1, 400), p=st.integers(0, 2))
    def flip(self, symbol: str, steps: int, p: int) -> None:
        key = (symbol, "BOTH")
        now = self.master.get(key, ZERO)
        if now:
            self._fill(key, -sgn(now) * steps * FILTERS[symbol].step_size, Decimal(PRICES[symbol][p]))

    @rule(symbol=st.sampled_from(sorted(FILTERS)), leverage=st.integers(1, 125), isolated=st.booleans())
    def leverage(self, symbol: str, leverage: int, isolated: bool) -> None:
        for h, _ in self.slaves:
            run_sync(
                h.mirror._follow_config(
                    AccountConfigChanged(
                        market="usdm",
                        epoch=5,
                        seq=max(h.seq, 1),
                        symbol=symbol,
                        leverage=leverage,
                        margin_type="ISOLATED" if isolated else "CROSSED",
                    )
                )
            )

    @rule(equity=st.sampled_from(["10000", "5000", "25000"]))
    def master_equity(self, equity: str) -> None:
        self.equity = Decimal(equity)

    # -- the slaves: live edits, faults
    @rule(
        i=st.integers(0, 2),
        edit=st.sampled_from(
            [
                ("ratio", Decimal("0.37")),
                ("ratio", Decimal("2")),
                ("multiplier", Decimal("0.5")),
                ("sizing", "fixed_ratio"),
                ("sizing", "balance_multiplier"),
                ("min_notional_policy", "defer"),
                ("min_notional_policy", "round_up"),
                ("min_notional_policy", "skip"),
                ("paused", True),
                ("paused", False),
                ("enabled", False),
                ("enabled", True),
                ("symbols_deny", ("SOLUSDT",)),
                ("symbols_deny", ()),
                ("max_leverage", 5),
                ("max_leverage", None),
                ("on_start", "new_only"),
                ("max_position_notional", Decimal("800")),
                ("max_position_notional", None),
                ("reverse", True),
                ("reverse", False),
            ]
        ),
    )
    def edit(self, i: int, edit: tuple[str, object]) -> None:
        h, model = self.slaves[i]
        field, value = edit
        if field == "reverse" and (self.master or h.account.positions):
            return  # reverse is switched while flat (the target of a held position has no other side)
        was = h.slave.config
        h.set_config(**{field: value})
        now = h.slave.config
        if (was.paused and not now.paused) or (not was.enabled and now.enabled) or (was.symbols_deny and not now.symbols_deny):
            h.correct()  # trading again: one check catches up what the pause / filter left
            for skey in set(model.intended) | set(h.account.positions):
                if skey[0] in now.symbols_deny:
                    continue  # a denied symbol is not copied: what the slave holds of it stays its own
                self.check(h, model, skey)
        self.check(h, model)

    @rule(i=st.integers(0, 2), key=st.sampled_from(KEYS), fraction=st.sampled_from(["1", "0.5", "0.3"]))
    def liquidation(self, i: int, key: tuple[str, str], fraction: str) -> None:
        h, model = self.slaves[i]
        held = h.account.positions.get(key, ZERO)
        if not held:
            return
        cut = down(abs(held) * Decimal(fraction), FILTERS[key[0]].step_size)
        side = ("SELL" if held > 0 else "BUY") if key[1] == "BOTH" else ("SELL" if key[1] == "LONG" else "BUY")
        before = self.accepted.get((h.slave.config.id, key), signed_pos(key, held))
        h.account.move(key[0], key[1], side, cut, reduce_only=True)  # liquidated / ADL: a fault
        cfg = h.slave.config
        if cfg.enabled and not cfg.paused and key[0] not in cfg.symbols_deny:
            h.correct()  # the check puts back what the fault took: where the last fill had left it
            actual = signed_pos(key, h.account.positions.get(key, ZERO))
            assert Model().acceptable(
                msgspec.structs.replace(cfg, min_notional_policy="defer"), key, before, actual, FILTERS[key[0]], self.price[key[0]]
            ), (key, "restored to", actual, "not", before)
            self.accepted[(cfg.id, key)] = actual
            self.check(h, model)

    @precondition(lambda self: hasattr(self, "slaves"))
    @invariant()
    def sent_only_as_the_rules_say(self) -> None:
        for h, _ in self.slaves:
            assert all(o.qty > 0 for o in h.account.sent)


CopyMachine.TestCase.settings = settings(
    max_examples=int(__import__("os").environ.get("MODEL_EXAMPLES", "500")),
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestCopyModel = CopyMachine.TestCase
