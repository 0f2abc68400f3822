"""actors/slave/accounts: every market's account has what the `Account` protocol promises the mirror,
with the same kind of member (data, property, coroutine or plain method) and the protocol's parameters."""

from __future__ import annotations

import inspect

import pytest

from actors.binance.endpoints import Endpoints
from actors.binance.signing import make_signer
from actors.slave.accounts import Account
from actors.slave.accounts.margin import MarginAccount
from actors.slave.accounts.spot import SpotAccount
from actors.slave.accounts.usdm import UsdmAccount

DATA = ("market", "ws", "filters", "equity_stale")


def _members() -> dict[str, object]:
    return {
        name: value
        for name, value in vars(Account).items()
        if not name.startswith("_") and (callable(value) or isinstance(value, property))
    }


@pytest.mark.parametrize("cls", [UsdmAccount, SpotAccount, MarginAccount], ids=lambda c: c.__name__)
def test_account_satisfies_the_protocol(cls: type) -> None:
    acct = cls("s1", Endpoints.local("http://127.0.0.1:9"), make_signer("HMAC", "k", "s"), on_state=lambda s: None)
    for name in DATA:
        assert hasattr(acct, name), f"{cls.__name__} lacks {name}"
    assert acct.market in ("usdm", "spot", "margin")
    assert set(Account.__annotations__) >= set(DATA)
    members = _members()
    assert "execute" in members and "equity" in members
    for name, proto in members.items():
        ours = inspect.getattr_static(acct, name)
        if isinstance(proto, property):
            assert isinstance(ours, property) or not callable(ours), f"{cls.__name__}.{name} is not a value"
            continue
        assert callable(ours), f"{cls.__name__} lacks {name}()"
        assert inspect.iscoroutinefunction(ours) == inspect.iscoroutinefunction(proto), (
            f"{cls.__name__}.{name}: async in one, not in the other"
        )
        wanted = [p for p in inspect.signature(proto).parameters if p != "self"]
        have = inspect.signature(getattr(acct, name)).parameters
        assert all(p in have for p in wanted), f"{cls.__name__}.{name} takes {list(have)}, not {wanted}"
