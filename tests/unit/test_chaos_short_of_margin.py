"""The chaos checker's `short_of_margin` rule: a position under k x master is the account's capital
(not the copier) only when the slave's last order on it was refused for capital for the gap, or for
a gap the slave does not retry yet (CAPITAL_RICHER / CAPITAL_SMALLER in actors/slave/rules.py)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.chaos.checks import Filters, OrderRow, short_of_margin

XRP = Filters(step=D("0.1"), min_notional=D("5"))


def refused(qty: str, side: str = "SELL", code: int = -2019, kind: str = "failed") -> OrderRow:
    return OrderRow(
        id=1,
        ts_ms=0,
        kind=kind,
        slave_id="slave02",
        market="usdm",
        symbol="XRPUSDT",
        position_side="SHORT",
        side=side,
        qty=D(qty),
        client_order_id="ct-x",
        error_code=code,
        error_msg="Margin is insufficient.",
    )


def test_the_gap_itself_refused_and_paged_is_short_of_margin():
    assert short_of_margin(D("-2837.7"), D("-3680.4"), "SHORT", refused("842.7"), XRP, paged=True)


def test_a_gap_within_the_band_the_slave_holds_back_is_short_of_margin():
    # refused 900 earlier; the gap is now 842.7 (6% smaller): the slave does not retry below 10%
    assert short_of_margin(D("-2837.7"), D("-3680.4"), "SHORT", refused("900"), XRP, paged=True)
    # refused 830; the gap grew 1.5%: not retried either
    assert short_of_margin(D("-2837.7"), D("-3680.4"), "SHORT", refused("830"), XRP, paged=True)


def test_a_gap_the_slave_should_have_retried_is_out_of_sync():
    # seed 303: last refusal 1685.3, gap 842.7 (half): the slave retries a gap 10% smaller
    assert short_of_margin(D("-2837.7"), D("-3680.4"), "SHORT", refused("1685.3"), XRP, paged=True) is None


def test_not_paged_not_capital_wrong_side_or_over_is_out_of_sync():
    assert short_of_margin(D("-2837.7"), D("-3680.4"), "SHORT", refused("842.7"), XRP, paged=False) is None
    assert short_of_margin(D("-2837.7"), D("-3680.4"), "SHORT", refused("842.7", code=-1013), XRP, paged=True) is None
    assert short_of_margin(D("-2837.7"), D("-3680.4"), "SHORT", refused("842.7", side="BUY"), XRP, paged=True) is None
    assert short_of_margin(D("-3700"), D("-3680.4"), "SHORT", refused("842.7"), XRP, paged=True) is None
    assert short_of_margin(D("-2837.7"), D("-3680.4"), "SHORT", refused("842.7", kind="mirrored"), XRP, paged=True) is None
