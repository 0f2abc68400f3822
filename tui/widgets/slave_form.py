"""The per-slave settings as form fields (used by the edit screen and the add-slave wizard)."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, Select

from protocol.messages import MARKETS

from ..forms import SlaveForm

SIZINGS = [
    ("fixed ratio", "fixed_ratio"),
    ("balance multiplier", "balance_multiplier"),
    ("fixed amount per entry", "fixed_amount"),
    ("fixed fraction of equity per entry", "fixed_fraction"),
]
POLICIES = [("defer", "defer"), ("round up", "round_up"), ("skip", "skip")]
ON_START = [
    ("sync to master", "sync"),
    ("new fills only", "new_only"),
    ("clean start (flatten)", "flatten"),
    ("join at a better price", "better_price"),
]
ORDERS = [("copy fills", "fills"), ("mirror orders", "mirror")]
PROTECTIVE = [("mirror stops (usdm)", "mirror"), ("off", "off")]
ON_STOP = [("pause entries", "pause"), ("flatten too", "flatten")]
LOSS_WINDOW = [("UTC day", "utc_day"), ("rolling 24 h", "rolling_24h")]
PARTS = ("identity", "sizing", "limits")


def _row(label: str, *widgets: Widget) -> Horizontal:
    return Horizontal(Label(label, classes="form-label"), *widgets, classes="form-row")


class SlaveFormFields(Vertical):
    """Fields of `parts` ("identity": name, enabled, markets; "sizing": mode, ratio, multiplier, amount, fraction;
    "limits": symbols, caps, reverse, policies). `read()` gives a SlaveForm to validate."""

    def __init__(self, form: SlaveForm, *, parts: Iterable[str] = PARTS, markets: tuple[str, ...] = (), **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.form = form
        self.parts = tuple(parts)
        self.markets = tuple(m for m in MARKETS if not markets or m in markets or m in form.markets)

    def compose(self) -> ComposeResult:
        f = self.form
        if "identity" in self.parts:
            yield _row("name", Input(compact=True, value=f.name, id="f-name", max_length=64))
            yield _row("enabled", Checkbox(compact=True, label="", value=f.enabled, id="f-enabled"))
            yield _row("markets", *(Checkbox(compact=True, label=m, value=m in f.markets, id=f"f-market-{m}") for m in self.markets))
        if "sizing" in self.parts:
            yield _row("sizing", Select(compact=True, options=SIZINGS, value=f.sizing, allow_blank=False, id="f-sizing"))
            yield _row("ratio (fixed)", Input(compact=True, value=f.ratio, id="f-ratio", placeholder="e.g. 0.5"))
            yield _row("multiplier (balance)", Input(compact=True, value=f.multiplier, id="f-multiplier", placeholder="e.g. 1"))
            yield _row("amount USDT (fixed)", Input(compact=True, value=f.amount, id="f-amount", placeholder="notional per entry"))
            yield _row("fraction (of equity)", Input(compact=True, value=f.fraction, id="f-fraction", placeholder="e.g. 0.05"))
        if "limits" in self.parts:
            yield _row("symbols allowed", Input(compact=True, value=f.symbols_allow, id="f-allow", placeholder="empty: every symbol"))
            yield _row("symbols denied", Input(compact=True, value=f.symbols_deny, id="f-deny", placeholder="BTCUSDT, ..."))
            yield _row("max leverage", Input(compact=True, value=f.max_leverage, id="f-max-leverage", placeholder="master's"))
            yield _row("max notional", Input(compact=True, value=f.max_position_notional, id="f-max-notional", placeholder="no cap"))
            yield _row("symbol caps", Input(compact=True, value=f.symbol_max_notional, id="f-caps", placeholder="BTCUSDT=1000, ..."))
            yield _row("reverse (usdm)", Checkbox(compact=True, label="", value=f.reverse, id="f-reverse"))
            yield _row(
                "min notional", Select(compact=True, options=POLICIES, value=f.min_notional_policy, allow_blank=False, id="f-policy")
            )
            yield _row("on start", Select(compact=True, options=ON_START, value=f.on_start, allow_blank=False, id="f-on-start"))
            yield _row("margin level min", Input(compact=True, value=f.margin_level_min, id="f-margin-level", placeholder="none"))
            yield _row("orders", Select(compact=True, options=ORDERS, value=f.orders, allow_blank=False, id="f-orders"))
            yield _row("settle after ms", Input(compact=True, value=f.settle_after_ms, id="f-settle", placeholder="0"))
            yield _row("stops", Select(compact=True, options=PROTECTIVE, value=f.protective, allow_blank=False, id="f-protective"))
            yield _row("close only (guard)", Checkbox(compact=True, label="", value=f.close_only, id="f-close-only"))
            yield _row(
                "max positions (guard)", Input(compact=True, value=f.max_open_positions, id="f-max-positions", placeholder="no limit")
            )
            yield _row("max exposure USDT", Input(compact=True, value=f.max_total_exposure, id="f-max-exposure", placeholder="no limit"))
            yield _row("max slippage %", Input(compact=True, value=f.max_slippage_pct, id="f-slippage", placeholder="off: market"))
            yield _row("equity floor USDT", Input(compact=True, value=f.equity_floor, id="f-equity-floor", placeholder="off"))
            yield _row("max drawdown %", Input(compact=True, value=f.max_drawdown_pct, id="f-drawdown", placeholder="off"))
            yield _row("on equity stop", Select(compact=True, options=ON_STOP, value=f.on_stop, allow_blank=False, id="f-on-stop"))
            yield _row("daily loss limit USDT", Input(compact=True, value=f.daily_loss_limit, id="f-daily-loss", placeholder="off"))
            yield _row(
                "daily loss window",
                Select(compact=True, options=LOSS_WINDOW, value=f.daily_loss_window, allow_blank=False, id="f-loss-window"),
            )

    def read(self) -> SlaveForm:
        """The form with this widget's current values (parts not shown keep their values)."""
        f = self.form

        def text(widget_id: str, default: str) -> str:
            found = self.query(f"#{widget_id}")
            return found.first(Input).value if found else default

        def flag(widget_id: str, default: bool) -> bool:
            found = self.query(f"#{widget_id}")
            return bool(found.first(Checkbox).value) if found else default

        def choice(widget_id: str, default: str) -> str:
            found = self.query(f"#{widget_id}")
            return str(found.first(Select).value) if found else default

        markets = f.markets
        if "identity" in self.parts:
            markets = tuple(m for m in self.markets if self.query_one(f"#f-market-{m}", Checkbox).value)
        return SlaveForm(
            id=f.id,
            name=text("f-name", f.name),
            enabled=flag("f-enabled", f.enabled),
            paused=f.paused,
            markets=markets,
            sizing=choice("f-sizing", f.sizing),
            ratio=text("f-ratio", f.ratio),
            multiplier=text("f-multiplier", f.multiplier),
            amount=text("f-amount", f.amount),
            fraction=text("f-fraction", f.fraction),
            symbols_allow=text("f-allow", f.symbols_allow),
            symbols_deny=text("f-deny", f.symbols_deny),
            max_leverage=text("f-max-leverage", f.max_leverage),
            max_position_notional=text("f-max-notional", f.max_position_notional),
            symbol_max_notional=text("f-caps", f.symbol_max_notional),
            reverse=flag("f-reverse", f.reverse),
            min_notional_policy=choice("f-policy", f.min_notional_policy),
            on_start=choice("f-on-start", f.on_start),
            margin_level_min=text("f-margin-level", f.margin_level_min),
            orders=choice("f-orders", f.orders),
            settle_after_ms=text("f-settle", f.settle_after_ms),
            protective=choice("f-protective", f.protective),
            close_only=flag("f-close-only", f.close_only),
            max_open_positions=text("f-max-positions", f.max_open_positions),
            max_total_exposure=text("f-max-exposure", f.max_total_exposure),
            max_slippage_pct=text("f-slippage", f.max_slippage_pct),
            equity_floor=text("f-equity-floor", f.equity_floor),
            max_drawdown_pct=text("f-drawdown", f.max_drawdown_pct),
            on_stop=choice("f-on-stop", f.on_stop),
            daily_loss_limit=text("f-daily-loss", f.daily_loss_limit),
            daily_loss_window=choice("f-loss-window", f.daily_loss_window),
        )
