"""The oracle on spot and cross margin (issue 21): the copy engine against the reference model of
tests/unit/test_copy_model.py (`Model`, written from ARCHITECTURE.md, not from actors/).

Hypothesis drives random master actions on a spot holding or a margin net position (buys in
partial fills of every size, sells of any fraction, sell-outs, margin shorts and flips through
zero, price moves, live edits of ratio / sizing / policy / pause, an outside change of the slave's
holding) through real `MarketMirror`s on simulated spot / margin accounts (tests/helpers/mirror.py).
After every master fill, for each slave:
- every order it sent goes the fill's way;
- the engine's intended position equals the model's, exactly;
- a periodic check would send no corrective order (a policy outcome is never "corrected");
- its position is within one step of the model's intended one, or off by less than one minimum
  order (spot and margin sells are not exempt from min notional: a deferred or skipped remainder,
  a round_up over-copy, an unsellable dust holding).
An outside change of the holding is a fault: one check puts the slave back on the target.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from protocol.messages import SlaveConfig
from tests.helpers.decisions import SPOT
from tests.helpers.mirror import Harness
from tests.unit.test_copy_model import Model, down, sgn, smallest

ZERO = Decimal(0)
KEY = ("BTCUSDT", "BOTH")
STEP = SPOT.step_size
PRICES = [Decimal("50000"), Decimal("20000"), Decimal("99999.99")]
LOOSEST = max(smallest(SPOT, p) for p in PRICES)  # the largest minimum order at any price used

CONFIGS = st.builds(
    dict,
    ratio=st.sampled_from(["0.37", "0.5", "1", "2", "0.013", "1.9999"]),
    sizing=st.sampled_from(["fixed_ratio", "fixed_ratio", "balance_multiplier"]),
    multiplier=st.sampled_from(["1", "0.25", "3"]),
    min_notional_policy=st.sampled_from(["defer", "round_up", "skip"]),
)


class SpotMarginMachine(RuleBasedStateMachine):
    @initialize(market=st.sampled_from(["spot", "margin"]), configs=st.lists(CONFIGS, min_size=2, max_size=2), pre=st.integers(0, 3000))
    def start(self, market: str, configs: list[dict], pre: int) -> None:
        self.market = market
        self.master: dict[tuple[str, str], Decimal] = {}
        self.price: dict[str, Decimal] = {"BTCUSDT": PRICES[0]}
        self.equity = Decimal("10000")
        self.slaves: list[tuple[Harness, Model]] = []
        if pre:
            self.master[KEY] = pre * STEP  # held before the slaves started: synced (k x it)
        for i, raw in enumerate(configs):
            cfg = SlaveConfig(
                id=f"s{i}",
                markets=(market,),
                **{  # type: ignore[arg-type]
                    k: (Decimal(v) if k in ("ratio", "multiplier") else v) for k, v in raw.items()
                },
            )
            h = Harness(cfg, {"BTCUSDT": SPOT}, market=market)
            h.master, h.price = self.master, self.price
            h.account.equity = Decimal(10000 + 1000 * i)
            model = Model()
            h.mirror._move_target(h.snapshot(reason="start"))
            h.correct()
            if self.master:
                model.intended[KEY] = self.k(h) * self.master[KEY]
            self.slaves.append((h, model))
            self.check(h, model)

    def k(self, h: Harness, master_equity: Decimal | None = None) -> Decimal:
        cfg = h.slave.config
        if cfg.sizing == "fixed_ratio":
            return cfg.ratio
        assert h.account.equity is not None
        return cfg.multiplier * h.account.equity / (master_equity or self.equity)

    def _fill(self, after: Decimal, p: int) -> None:
        before = self.master.get(KEY, ZERO)
        if after == before:
            return
        price = PRICES[p]
        h0 = self.slaves[0][0]
        self.price["BTCUSDT"] = price
        fill = h0.make_fill("BTCUSDT", after, price=price, equity=self.equity)
        for h, model in self.slaves:
            h.seq, h.trade = h0.seq, h0.trade
            cfg = h.slave.config
            actual = h.account.positions.get(KEY, ZERO)
            model.on_fill(cfg, KEY, before, after, self.k(h, fill.equity), actual, SPOT, price, not cfg.paused)
            sent = h.apply(fill)
            assert all(o.side == fill.side for o in sent), (cfg, fill, sent)
            self.check(h, model)

    def check(self, h: Harness, model: Model) -> None:
        want = model.intended.get(KEY, ZERO)
        got = h.mirror.book.intended.get(KEY, ZERO)
        assert abs(got - want) < Decimal("1e-12"), ("engine intended", got, "model", want)
        if h.slave.config.paused:
            return
        actual = h.account.positions.get(KEY, ZERO)
        diff = abs(actual - want)
        same_side = actual == 0 or want == 0 or sgn(actual) == sgn(want)
        most = max(LOOSEST, model.over.get(KEY, ZERO)) + STEP
        # a holding under the minimum order cannot be sold: dust may stay on the other side of a flip
        dust = not same_side and abs(actual) < LOOSEST and abs(want) < most
        assert diff <= STEP or (same_side and diff < most) or dust, (
            "position",
            actual,
            "intended",
            want,
            h.slave.config.min_notional_policy,
        )
        assert h.corrections() == [], h.corrections()

    # -- the master's actions
    @rule(steps=st.integers(1, 3000), parts=st.integers(1, 4), p=st.integers(0, 2), short=st.booleans())
    def buy_or_short(self, steps: int, parts: int, p: int, short: bool) -> None:
        now = self.master.get(KEY, ZERO)
        direction = sgn(now) or (-1 if short and self.market == "margin" else 1)
        for i in range(1, parts + 1):  # a limit order filling in parts
            self._fill(now + direction * down(Decimal(steps) * STEP * i / parts, STEP), p)

    @rule(fraction=st.fractions(0, 1), p=st.integers(0, 2))
    def reduce(self, fraction: object, p: int) -> None:
        now = self.master.get(KEY, ZERO)
        cut = down(abs(now) * Decimal(fraction.numerator) / Decimal(fraction.denominator), STEP)  # type: ignore[attr-defined]
        self._fill(now - sgn(now) * cut, p)

    @rule(p=st.integers(0, 2))
    def close(self, p: int) -> None:
        self._fill(ZERO, p)

    @rule(steps=st.integers(1, 3000), p=st.integers(0, 2))
    def flip(self, steps: int, p: int) -> None:
        now = self.master.get(KEY, ZERO)
        if now and self.market == "margin":
            self._fill(-sgn(now) * steps * STEP, p)

    @rule(equity=st.sampled_from(["10000", "5000", "25000"]))
    def master_equity(self, equity: str) -> None:
        self.equity = Decimal(equity)

    # -- the slaves: live edits, faults
    @rule(
        i=st.integers(0, 1),
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
            ]
        ),
    )
    def edit(self, i: int, edit: tuple[str, object]) -> None:
        h, model = self.slaves[i]
        was = h.slave.config
        h.set_config(**{edit[0]: edit[1]})
        if was.paused and not h.slave.config.paused:
            h.correct()  # trading again: one check catches up what the pause left
        self.check(h, model)

    @rule(i=st.integers(0, 1), fraction=st.sampled_from(["1", "0.5", "0.3"]))
    def outside_change(self, i: int, fraction: str) -> None:
        h, model = self.slaves[i]
        held = h.account.positions.get(KEY, ZERO)
        if not held or h.slave.config.paused:
            return
        cut = down(held * Decimal(fraction), STEP)
        if abs(cut) < LOOSEST:
            return  # under one minimum order: no check places it (nor several of them: see the report)
        h.account.positions[KEY] = held - cut  # withdrawn / repaid: a fault
        if not h.account.positions[KEY]:
            del h.account.positions[KEY]
        h.correct()  # the check puts back what the fault took
        self.check(h, model)


SpotMarginMachine.TestCase.settings = settings(
    max_examples=int(__import__("os").environ.get("MODEL_EXAMPLES", "200")),
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSpotMarginModel = SpotMarginMachine.TestCase
