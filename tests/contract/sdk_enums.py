"""USD-M enum values from Binance's official SDK (`binance-sdk-derivatives-trading-usds-futures`, a
test dependency): the Postman collection and the scrape list USD-M parameters without their enums.

The SDK's generated API modules declare, per operation, `send_request(method=..., path=...)` (REST)
or `"method": "/order.place"...` (WebSocket API) and type each enum parameter as a
`<Operation><Param>Enum` from its `models/enums.py`. Read with `ast` (nothing of the SDK runs but
its enum module), keyed as specs.py keys endpoints; {} where the SDK is not installed.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
from enum import Enum
from pathlib import Path

from tests.contract.specs import FUTURES_WS, Key

SDK = "binance_sdk_derivatives_trading_usds_futures"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _enum_names(annotation: ast.expr | None) -> list[str]:
    if annotation is None:
        return []
    return [n.id for n in ast.walk(annotation) if isinstance(n, ast.Name) and n.id.endswith("Enum")]


def _endpoint(func: ast.FunctionDef | ast.AsyncFunctionDef, ws: bool) -> Key | None:
    for node in ast.walk(func):
        if ws and isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values, strict=False):
                if isinstance(k, ast.Constant) and k.value == "method":
                    text = ast.unparse(v)
                    m = re.search(r"['\"]/?([A-Za-z0-9_.]+)['\"]", text)
                    if m:
                        return ("wsapi", m.group(1), FUTURES_WS)
        if not ws and isinstance(node, ast.Call) and getattr(node.func, "id", "") == "send_request":
            kw = {k.arg: k.value for k in node.keywords if isinstance(k.value, ast.Constant)}
            if "method" in kw and "path" in kw:
                return ("rest", str(kw["method"].value).upper(), str(kw["path"].value))
    return None


def enums() -> dict[Key, dict[str, set[str]]]:
    spec = importlib.util.find_spec(SDK)
    if spec is None or spec.origin is None:
        return {}
    root = Path(spec.origin).parent
    out: dict[Key, dict[str, set[str]]] = {}
    for part, ws in (("rest_api", False), ("websocket_api", True)):
        models = importlib.import_module(f"{SDK}.{part}.models.enums")
        for path in sorted((root / part / "api").glob("*_api.py")):
            for func in ast.walk(ast.parse(path.read_text())):
                if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)) or func.name.startswith("_"):
                    continue
                key = _endpoint(func, ws)
                if key is None:
                    continue
                for arg in func.args.args:
                    for enum_name in _enum_names(arg.annotation):
                        cls = getattr(models, enum_name, None)
                        if isinstance(cls, type) and issubclass(cls, Enum):
                            out.setdefault(key, {}).setdefault(_camel(arg.arg), set()).update(str(m.value) for m in cls)
    return out
