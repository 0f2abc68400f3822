"""A reference model of the copy rule (ARCHITECTURE.md "Copy semantics", "One target"), written
from the document and not from actors/domain/decisions.py, so the engine is not its own oracle.

Per slave and (symbol, position side) the model keeps the exact, unrounded *intended* position
and the *actual* one the slave's orders should have produced (both signed for one-way BOTH,
sizes for hedge LONG/SHORT). On every master fill (position before -> after):
- the master reaches zero: intended = actual = 0 (an exact close);
- a one-way flip through zero: the slave closes (actual = 0) and opens k x the new side from
  nothing (intended = k x after);
- an increase by q: intended += k x q; a decrease by a fraction f: intended x= (1 - f);
- then one order in the master's direction brings actual to intended, rounded to the step: an
  increase buys (never sells) what is missing, rounded down (rounded up instead when only the
  rounding takes a copyable amount under the minimum); under min notional/minQty the
  slave's policy decides: `defer` sends nothing now (the next copyable fill carries it),
  `round_up` sends the minimum (intended stays exact, so the next increase is smaller); what is
  under one step is a rounding remainder, not a too-small order, and is carried under every
  policy (README: scale-ins never drift by more than one step), `skip`
  sends nothing and forgets this fill's k x q (the remainder carried from earlier fills stays);
  a decrease sells (never buys) the excess, rounded to the nearest step, never more than held
  (reductions are exempt from min notional on USD-M: reduce-only / hedge-closing orders).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_UP, Decimal

ZERO = Decimal(0)


def _sign(x: Decimal) -> int:
    return (x > 0) - (x < 0)


def _round(x: Decimal, step: Decimal, rounding: str) -> Decimal:
    return (x / step).to_integral_value(rounding=rounding) * step


class Filters:
    def __init__(self, step: Decimal, min_qty: Decimal, min_notional: Decimal) -> None:
        self.step, self.min_qty, self.min_notional = step, min_qty, min_notional

    def smallest(self, price: Decimal) -> Decimal:
        """The smallest quantity that passes minQty, the step and min notional at `price`."""
        need = max(self.min_qty, self.step, _round(self.min_notional / price, self.step, ROUND_CEILING))
        return _round(need, self.step, ROUND_CEILING)


class Book:
    """One slave's (symbol, position side)."""

    def __init__(self) -> None:
        self.intended = ZERO
        self.actual = ZERO
        self.orders = 0  # orders the model sent
        self.held_back = 0  # fills whose order the policy did not send (deferred / skipped)

    def __repr__(self) -> str:
        return f"Book(intended={self.intended}, actual={self.actual})"

    def on_fill(self, before: Decimal, after: Decimal, k: Decimal, price: Decimal, f: Filters, policy: str) -> Decimal:
        """Apply one master fill; returns the signed quantity the slave should have ordered."""
        if after == 0:
            sent, self.intended, self.actual = -self.actual, ZERO, ZERO
            self.orders += sent != 0
            return sent
        sent = ZERO
        if before != 0 and _sign(after) != _sign(before):  # one-way flip: close, then open afresh
            sent, self.actual, self.intended = -self.actual, ZERO, ZERO
            self.orders += sent != 0
            before = ZERO
        if abs(after) > abs(before):
            added = k * (after - before)
            self.intended += added
            return sent + self._increase(_sign(after), added, price, f, policy)
        self.intended *= after / before
        return sent + self._decrease(_sign(after), f)

    def _increase(self, direction: int, added: Decimal, price: Decimal, f: Filters, policy: str) -> Decimal:
        missing = direction * (self.intended - self.actual)  # in the position's direction
        if missing <= 0:  # round_up bought more before: this increase is smaller by that
            return ZERO
        qty = _round(missing, f.step, ROUND_DOWN)
        if qty <= 0:
            return ZERO  # under one step: a remainder, carried to the next fill under every policy
        if (qty < f.min_qty or qty * price < f.min_notional) and missing >= f.min_qty and missing * price >= f.min_notional:
            qty = _round(missing, f.step, ROUND_CEILING)  # the exact amount is copyable: one step up
        if qty < f.min_qty or qty * price < f.min_notional:
            self.held_back += 1
            if policy == "round_up":
                qty = f.smallest(price)
            elif policy == "skip":
                self.intended -= added  # the intended forgets this fill; earlier remainder stays
                return ZERO
            else:  # defer
                return ZERO
        self.actual += direction * qty
        self.orders += 1
        return direction * qty

    def _decrease(self, direction: int, f: Filters) -> Decimal:
        excess = direction * (self.actual - self.intended)
        if excess <= 0:
            return ZERO
        qty = min(_round(excess, f.step, ROUND_HALF_UP), abs(self.actual))
        if qty <= 0:
            return ZERO
        self.actual -= direction * qty
        self.orders += 1
        return -direction * qty


class Model:
    """Every slave's books: model.fill(...) for each master fill, in the master's order."""

    def __init__(self) -> None:
        self.books: dict[tuple[str, str, str], Book] = {}

    def book(self, slave: str, symbol: str, position_side: str) -> Book:
        return self.books.setdefault((slave, symbol, position_side), Book())

    def fill(
        self,
        slave: str,
        symbol: str,
        position_side: str,
        before: Decimal,
        after: Decimal,
        k: Decimal,
        price: Decimal,
        f: Filters,
        policy: str,
    ) -> Decimal:
        return self.book(slave, symbol, position_side).on_fill(before, after, k, price, f, policy)

    def positions(self, slave: str) -> dict[tuple[str, str], Decimal]:
        return {(sym, ps): b.actual for (sid, sym, ps), b in self.books.items() if sid == slave and b.actual}
