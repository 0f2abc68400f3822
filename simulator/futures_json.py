"""The futures API's replies in Binance's JSON shapes (orders, symbols, brackets, account, positions,
balances), built from the engine's state; nothing changes state here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from simulator import errors
from simulator.futures import FuturesEngine
from simulator.futures_model import FuturesAccount, FuturesOrder, FuturesReject, Position, fixed, plain, price_text
from simulator.futures_symbols import FuturesSymbol

# ----------------------------------------------------------------------------------------------------
# wire builders (pure functions of the engine state)


FUNDING_INTERVAL_MS = 8 * 3600 * 1000
ONBOARD_MS = 1569398400000
DELIVERY_MS = 4133404800000


def _fail(exc: FuturesReject) -> errors.BinanceError:
    return errors.BinanceError(exc.code, exc.msg, exc.http_status)


def _qty(engine: FuturesEngine, symbol: str, value: Decimal) -> str:
    return fixed(value, engine.spec(symbol).quantity_precision)


def _price(engine: FuturesEngine, symbol: str, value: Decimal) -> str:
    return fixed(value, engine.spec(symbol).price_precision)


def _order_common(engine: FuturesEngine, o: FuturesOrder) -> dict[str, Any]:
    return {
        "orderId": o.order_id,
        "symbol": o.symbol,
        "status": o.status,
        "clientOrderId": o.client_order_id,
        "price": _price(engine, o.symbol, o.price) if o.price else "0",
        "avgPrice": price_text(o.avg_price) if o.executed_qty else "0.00",
        "origQty": _qty(engine, o.symbol, o.orig_qty),
        "executedQty": _qty(engine, o.symbol, o.executed_qty),
        "cumQuote": fixed(o.cum_quote, 8).rstrip("0").rstrip(".") if o.cum_quote else "0",
        "timeInForce": o.time_in_force,
        "type": o.type,
        "reduceOnly": o.reduce_only,
        "closePosition": False,
        "side": o.side,
        "positionSide": o.position_side,
        "stopPrice": "0",
        "workingType": o.working_type,
        "priceProtect": False,
        "origType": o.orig_type or o.type,
        "priceMatch": o.price_match,
        "selfTradePreventionMode": o.stp_mode,
        "goodTillDate": o.good_till_date,
        "updateTime": o.update_time,
    }


def order_result(engine: FuturesEngine, o: FuturesOrder) -> dict[str, Any]:
    """POST / DELETE /fapi/v1/order (and order.place / order.cancel) result."""
    out = _order_common(engine, o)
    out["cumQty"] = out["executedQty"]
    return out


def cancel_result(engine: FuturesEngine, o: FuturesOrder) -> dict[str, Any]:
    """DELETE /fapi/v1/order (order.cancel) result: the new order's fields but `avgPrice`, which
    neither the docs' examples (REST and WebSocket API "Cancel Order") nor the official SDK's
    CancelOrderResponse(Result) models carry."""
    out = order_result(engine, o)
    out.pop("avgPrice", None)
    return out


def order_query(engine: FuturesEngine, o: FuturesOrder) -> dict[str, Any]:
    """GET /fapi/v1/order, openOrders, allOrders (and order.status) result."""
    out = _order_common(engine, o)
    out["time"] = o.time
    return out


def bracket_json(spec: FuturesSymbol) -> dict[str, Any]:
    return {
        "symbol": spec.symbol,
        "notionalCoef": 1.0,
        "brackets": [
            {
                "bracket": b.bracket,
                "initialLeverage": b.initial_leverage,
                "notionalCap": int(b.notional_cap),
                "notionalFloor": int(b.notional_floor),
                "maintMarginRatio": float(b.maint_margin_ratio),
                "cum": int(b.cum) if b.cum == b.cum.to_integral_value() else float(b.cum),
            }
            for b in spec.brackets
        ],
    }


def symbol_json(spec: FuturesSymbol) -> dict[str, Any]:
    pp = spec.price_precision
    qp = spec.quantity_precision
    return {
        "symbol": spec.symbol,
        "pair": spec.symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": DELIVERY_MS,
        "onboardDate": ONBOARD_MS,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": spec.base_asset,
        "quoteAsset": spec.quote_asset,
        "marginAsset": spec.quote_asset,
        "pricePrecision": pp,
        "quantityPrecision": qp,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "settlePlan": 0,
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": plain(spec.min_price),
                "maxPrice": plain(spec.max_price),
                "tickSize": plain(spec.tick_size),
            },
            {"filterType": "LOT_SIZE", "minQty": plain(spec.min_qty), "maxQty": plain(spec.max_qty), "stepSize": plain(spec.step_size)},
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": plain(spec.market_min_qty),
                "maxQty": plain(spec.market_max_qty),
                "stepSize": plain(spec.step_size),
            },
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": plain(spec.min_notional)},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": fixed(spec.multiplier_up, spec.multiplier_decimal),
                "multiplierDown": fixed(spec.multiplier_down, spec.multiplier_decimal),
                "multiplierDecimal": str(spec.multiplier_decimal),
            },
        ],
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        "permissionSets": ["GRID", "COPY"],
    }


def _asset_json(engine: FuturesEngine, fa: FuturesAccount, version: int) -> dict[str, Any]:
    t = engine.totals(fa)
    out = {
        "asset": "USDT",
        "walletBalance": fixed(t.wallet, 8),
        "unrealizedProfit": fixed(t.unrealized, 8),
        "marginBalance": fixed(t.margin_balance, 8),
        "maintMargin": fixed(t.maint_margin, 8),
        "initialMargin": fixed(t.initial_margin, 8),
        "positionInitialMargin": fixed(t.position_im, 8),
        "openOrderInitialMargin": fixed(t.open_order_im, 8),
        "crossWalletBalance": fixed(t.cross_wallet, 8),
        "crossUnPnl": fixed(t.cross_unrealized, 8),
        "availableBalance": fixed(t.available, 8),
        "maxWithdrawAmount": fixed(t.max_withdraw, 8),
    }
    if version == 2:
        out["marginAvailable"] = True
    out["updateTime"] = fa.update_time
    return out


def account_json(engine: FuturesEngine, fa: FuturesAccount, version: int) -> dict[str, Any]:
    """GET /fapi/v2/account (version=2) or /fapi/v3/account (version=3)."""
    t = engine.totals(fa)
    out: dict[str, Any] = {}
    if version == 2:
        out.update(
            feeTier=0,
            feeBurn=True,
            canTrade=fa.can_trade,
            canDeposit=True,
            canWithdraw=True,
            updateTime=0,
            multiAssetsMargin=fa.multi_assets,
            tradeGroupId=-1,
        )
    out.update(
        totalInitialMargin=fixed(t.initial_margin, 8),
        totalMaintMargin=fixed(t.maint_margin, 8),
        totalWalletBalance=fixed(t.wallet, 8),
        totalUnrealizedProfit=fixed(t.unrealized, 8),
        totalMarginBalance=fixed(t.margin_balance, 8),
        totalPositionInitialMargin=fixed(t.position_im, 8),
        totalOpenOrderInitialMargin=fixed(t.open_order_im, 8),
        totalCrossWalletBalance=fixed(t.cross_wallet, 8),
        totalCrossUnPnl=fixed(t.cross_unrealized, 8),
        availableBalance=fixed(t.available, 8),
        maxWithdrawAmount=fixed(t.max_withdraw, 8),
        assets=[_asset_json(engine, fa, version)],
    )
    sides = ("LONG", "SHORT") if fa.dual_side else ("BOTH",)
    if version == 2:
        out["positions"] = [_account_position_v2(engine, fa, fa.position(s, side)) for s in engine.symbols for side in sides]
    else:
        out["positions"] = [
            _account_position_v3(engine, fa, p)
            for p in list(fa.positions.values())
            if p.side in sides and (p.amt != 0 or any(o.position_side == p.side for o in fa.open_orders(p.symbol)))
        ]
    return out


def _account_position_v2(engine: FuturesEngine, fa: FuturesAccount, pos: Position) -> dict[str, Any]:
    f = engine.position_figures(fa, pos)
    spec = engine.spec(pos.symbol)
    lev = fa.lev(pos.symbol)
    return {
        "symbol": pos.symbol,
        "initialMargin": fixed(f.position_im + f.open_order_im, 8),
        "maintMargin": fixed(f.maint_margin, 8),
        "unrealizedProfit": fixed(f.unrealized, 8),
        "positionInitialMargin": fixed(f.position_im, 8),
        "openOrderInitialMargin": fixed(f.open_order_im, 8),
        "leverage": str(lev),
        "isolated": fa.is_isolated(pos.symbol),
        "entryPrice": price_text(pos.entry),  # no breakEvenPrice in v2 account positions (scrape, official SDK)
        "maxNotional": plain(spec.max_notional(lev)),
        "bidNotional": "0",
        "askNotional": "0",
        "positionSide": pos.side,
        "positionAmt": _qty(engine, pos.symbol, pos.amt),
        "updateTime": pos.update_time,
    }


def _account_position_v3(engine: FuturesEngine, fa: FuturesAccount, pos: Position) -> dict[str, Any]:
    f = engine.position_figures(fa, pos)
    return {
        "symbol": pos.symbol,
        "positionSide": pos.side,
        "positionAmt": _qty(engine, pos.symbol, pos.amt),
        "unrealizedProfit": fixed(f.unrealized, 8),
        "isolatedMargin": fixed(f.isolated_margin, 8),
        "notional": fixed(f.notional, 8),
        "isolatedWallet": fixed(pos.isolated_wallet, 8),
        "initialMargin": fixed(f.position_im + f.open_order_im, 8),
        "maintMargin": fixed(f.maint_margin, 8),
        "updateTime": pos.update_time,
    }


def position_risk_v2_json(engine: FuturesEngine, fa: FuturesAccount, pos: Position) -> dict[str, Any]:
    f = engine.position_figures(fa, pos)
    spec = engine.spec(pos.symbol)
    lev = fa.lev(pos.symbol)
    return {
        "symbol": pos.symbol,
        "positionAmt": _qty(engine, pos.symbol, pos.amt),
        "entryPrice": price_text(pos.entry),
        "breakEvenPrice": price_text(f.break_even),
        "markPrice": fixed(f.mark, 8),
        "unRealizedProfit": fixed(f.unrealized, 8),
        "liquidationPrice": "0",
        "leverage": str(lev),
        "maxNotionalValue": plain(spec.max_notional(lev)),
        "marginType": "isolated" if fa.is_isolated(pos.symbol) else "cross",
        "isolatedMargin": fixed(f.isolated_margin, 8),
        "isAutoAddMargin": "false",
        "positionSide": pos.side,
        "notional": fixed(f.notional, 8),
        "isolatedWallet": fixed(pos.isolated_wallet, 8),
        "updateTime": pos.update_time,
    }


def position_risk_v3_json(engine: FuturesEngine, fa: FuturesAccount, pos: Position) -> dict[str, Any]:
    f = engine.position_figures(fa, pos)
    return {
        "symbol": pos.symbol,
        "positionSide": pos.side,
        "positionAmt": _qty(engine, pos.symbol, pos.amt),
        "entryPrice": price_text(pos.entry),
        "breakEvenPrice": price_text(f.break_even),
        "markPrice": fixed(f.mark, 8),
        "unRealizedProfit": fixed(f.unrealized, 8),
        "liquidationPrice": "0",
        "isolatedMargin": fixed(f.isolated_margin, 8),
        "notional": fixed(f.notional, 8),
        "marginAsset": "USDT",
        "isolatedWallet": fixed(pos.isolated_wallet, 8),
        "initialMargin": fixed(f.position_im + f.open_order_im, 8),
        "maintMargin": fixed(f.maint_margin, 8),
        "positionInitialMargin": fixed(f.position_im, 8),
        "openOrderInitialMargin": fixed(f.open_order_im, 8),
        "adl": 0,
        "bidNotional": "0",
        "askNotional": "0",
        "updateTime": pos.update_time,
    }


def balance_json(engine: FuturesEngine, fa: FuturesAccount, uid: int) -> list[dict[str, Any]]:
    """GET /fapi/v2/balance (and /fapi/v3/balance)."""
    t = engine.totals(fa)
    return [
        {
            "accountAlias": f"Sim{uid}",
            "asset": "USDT",
            "balance": fixed(t.wallet, 8),
            "crossWalletBalance": fixed(t.cross_wallet, 8),
            "crossUnPnl": fixed(t.cross_unrealized, 8),
            "availableBalance": fixed(t.available, 8),
            "maxWithdrawAmount": fixed(t.max_withdraw, 8),
            "marginAvailable": True,
            "updateTime": fa.update_time,
        }
    ]
