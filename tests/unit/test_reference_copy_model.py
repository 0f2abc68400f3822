"""The integration oracle's reference model (tests/helpers/copy_model.py) on the examples of
ARCHITECTURE.md "One target" and issue 21 (BTCUSDT step 0.001, min notional 100, price 50,000)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.helpers.copy_model import Book, Filters

BTC = Filters(D("0.001"), D("0.001"), D("100"))
SOL = Filters(D("0.01"), D("0.01"), D("5"))
PX = D("50000")


def walk(book, fills, k, policy, f=BTC, price=PX):
    before = D(0)
    out = []
    for after in fills:
        book.on_fill(before, D(after), D(k), price, f, policy)
        out.append(book.actual)
        before = D(after)
    return out


@pytest.mark.parametrize(
    ("policy", "want"),
    [
        ("defer", ["0", "0.003", "0.003", "0.005"]),  # carried, sent with the fill that makes it copyable
        ("skip", ["0", "0", "0", "0"]),  # each k x q dropped; never placed later
        ("round_up", ["0.002", "0.004", "0.004", "0.006"]),  # the minimum now; a sub-step remainder carried
    ],
)
def test_small_partial_fills_from_flat(policy, want):
    got = walk(Book(), ["0.003", "0.006", "0.009", "0.01"], "0.5", policy)
    assert got == [D(w) for w in want]


def test_same_fraction_reduce_and_exact_close():
    book = Book()
    assert walk(book, ["0.3", "0.2", "0.1", "0"], "0.5", "defer") == [D("0.15"), D("0.1"), D("0.05"), D(0)]
    assert book.intended == 0 and book.orders == 4


def test_one_way_flip_closes_then_opens_k_times_the_new_side():
    book = Book()
    walk(book, ["0.2"], "0.5", "defer")
    sent = book.on_fill(D("0.2"), D("-0.1"), D("0.5"), PX, BTC, "defer")
    assert (book.actual, sent) == (D("-0.05"), D("-0.15"))


def test_round_up_over_copy_is_never_sold_back_on_an_increase():
    book = Book()  # ratio 0.37: 0.0148 SOL intended, the minimum 0.04 bought (SOL at 150: 5 USDT = 0.04)
    walk(book, ["0.04"], "0.37", "round_up", f=SOL, price=D("150"))
    assert book.actual == D("0.04")
    assert book.on_fill(D("0.04"), D("0.08"), D("0.37"), D("150"), SOL, "round_up") == 0  # 0.0296 < 0.04 held
    assert book.on_fill(D("0.08"), D("0.27"), D("0.37"), D("150"), SOL, "round_up") == D("0.05")  # to 0.0999 -> 0.09


def test_round_up_carries_less_than_a_step_and_raises_a_step_to_the_minimum():
    book = Book()  # ratio 0.37 x 0.002 = 0.00074 BTC: under one step, a remainder (nothing sent);
    # 0.00148 rounds to one step, under min notional: raised to the minimum 0.002; then 0.00022 short
    assert walk(book, ["0.002", "0.004", "0.006"], "0.37", "round_up") == [D("0"), D("0.002"), D("0.002")]


def test_decrease_never_buys():
    book = Book()  # deferred: the slave holds less than intended when the master reduces
    walk(book, ["0.003"], "0.5", "defer")
    assert book.on_fill(D("0.003"), D("0.002"), D("0.5"), PX, BTC, "defer") == 0
    assert book.actual == 0 and book.intended == D("0.001")
