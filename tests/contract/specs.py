"""Binance's published request specs, read from `<repo>/../shared/binance-reference/` (read-only).

Sources, merged per endpoint (`Spec.sources` names which ones spoke):
- Postman collections `binance-api-postman/*.json` (USD-M, margin, spot, wallet; 2026-07): method,
  path, query/body parameter names.
- The spot OpenAPI spec `binance-api-swagger/spot_api.yaml` (2024-10): parameter names, `required`,
  enums, for /api and /sapi.
- Markdown parameter tables (`Name | Type | Mandatory | Description`): the spot WebSocket API
  (`binance-spot-api-docs/web-socket-api.md`), the USD-M WebSocket API and the few USD-M REST
  endpoints of the third-party scrape (`thirdparty-coincise-scrape/docs/binance/usdm/`).

An endpoint is keyed `(transport, method, path)`: `("rest", "POST", "/fapi/v1/order")`,
`("wsapi", "order.place", "/ws-fapi/v1")`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from tests.helpers.sim import REPO

REFERENCE = REPO.parent / "shared" / "binance-reference"
POSTMAN = REFERENCE / "binance-api-postman"
OPENAPI = REFERENCE / "binance-api-swagger" / "spot_api.yaml"
SPOT_WS_DOC = REFERENCE / "binance-spot-api-docs" / "web-socket-api.md"
USDM_DOCS = REFERENCE / "thirdparty-coincise-scrape" / "docs" / "binance" / "usdm"
USDM_WS_DOC = USDM_DOCS / "private_websocket_api.md"

SPOT_WS, FUTURES_WS = "/ws-api/v3", "/ws-fapi/v1"
Key = tuple[str, str, str]  # (transport, method, path)

# WebSocket-API methods and the REST endpoint each one mirrors (the docs say so per method: "same
# parameters as ..."). The REST spec lends its enums, and its parameters where no WebSocket doc
# lists them (the USD-M scrape has no `order.place` section): plus `apiKey` and `signature`, which
# every signed WebSocket-API request carries (web-socket-api.md "SIGNED request security").
WS_REST: dict[tuple[str, str], tuple[str, str]] = {
    (SPOT_WS, "order.place"): ("POST", "/api/v3/order"),
    (SPOT_WS, "order.cancel"): ("DELETE", "/api/v3/order"),
    (SPOT_WS, "order.status"): ("GET", "/api/v3/order"),
    (SPOT_WS, "openOrders.status"): ("GET", "/api/v3/openOrders"),
    (SPOT_WS, "account.status"): ("GET", "/api/v3/account"),
    (SPOT_WS, "orderList.place.oco"): ("POST", "/api/v3/orderList/oco"),
    (SPOT_WS, "orderList.cancel"): ("DELETE", "/api/v3/orderList"),
    (SPOT_WS, "orderList.status"): ("GET", "/api/v3/orderList"),
    (FUTURES_WS, "order.place"): ("POST", "/fapi/v1/order"),
    (FUTURES_WS, "order.cancel"): ("DELETE", "/fapi/v1/order"),
    (FUTURES_WS, "order.status"): ("GET", "/fapi/v1/order"),
    (FUTURES_WS, "order.modify"): ("PUT", "/fapi/v1/order"),
    # the Algo Service (USD-M change log 2025-11-06): the scrape has no section for them; the official
    # SDK's websocket_api new_algo_order / cancel_algo_order send the REST endpoints' parameters
    (FUTURES_WS, "algoOrder.place"): ("POST", "/fapi/v1/algoOrder"),
    (FUTURES_WS, "algoOrder.cancel"): ("DELETE", "/fapi/v1/algoOrder"),
}
WS_AUTH = frozenset({"apiKey", "signature"})


@dataclass
class Spec:
    key: Key
    params: set[str] = field(default_factory=set)
    mandatory: set[str] = field(default_factory=set)
    enums: dict[str, set[str]] = field(default_factory=dict)
    sources: set[str] = field(default_factory=set)

    def add(self, source: str, params: Iterator[tuple[str, bool, list[str] | None]]) -> None:
        self.sources.add(source)
        for name, mandatory, enum in params:
            self.params.add(name)
            if mandatory:
                self.mandatory.add(name)
            if enum:
                self.enums.setdefault(name, set()).update(enum)


def available() -> str | None:
    """None when the reference folder is usable, else why not (the check skips, saying so)."""
    for path in (POSTMAN, OPENAPI, SPOT_WS_DOC, USDM_WS_DOC):
        if not path.exists():
            return f"{path} not present"
    return None


# -- Postman ----------------------------------------------------------------------------------------


def _postman_items(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for item in items:
        if "item" in item:
            yield from _postman_items(item["item"])
        elif "request" in item:
            yield item


def postman_specs(specs: dict[Key, Spec]) -> None:
    for path in sorted(POSTMAN.glob("*.json")):
        doc = json.loads(path.read_text())
        for item in _postman_items(doc["item"]):
            req = item["request"]
            url = req["url"]
            route = "/" + "/".join(url.get("path", []))
            names = [q["key"] for q in url.get("query", [])]
            body = req.get("body") or {}
            names += [f["key"] for f in body.get("urlencoded", []) or []]
            spec = specs.setdefault(("rest", req["method"].upper(), route), Spec(("rest", req["method"].upper(), route)))
            spec.add(f"postman:{path.name}", ((n, False, None) for n in names))


# -- OpenAPI ----------------------------------------------------------------------------------------


def openapi_specs(specs: dict[Key, Spec]) -> None:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    doc = yaml.load(OPENAPI.read_text(), Loader=loader)
    shared = doc.get("components", {}).get("parameters", {})
    for route, ops in doc["paths"].items():
        for method, op in ops.items():
            if not isinstance(op, dict) or "parameters" not in op and "responses" not in op:
                continue
            params = []
            for p in op.get("parameters", []):
                if "$ref" in p:
                    p = shared[p["$ref"].rsplit("/", 1)[1]]
                schema = p.get("schema", {})
                enum = schema.get("enum") or schema.get("items", {}).get("enum")
                params.append((p["name"], bool(p.get("required")), [str(v) for v in enum] if enum else None))
            key = ("rest", method.upper(), route)
            specs.setdefault(key, Spec(key)).add("openapi:spot_api.yaml", iter(params))


# -- Markdown parameter tables ------------------------------------------------------------------------

SUBHEADINGS = {
    "api description",
    "method",
    "request",
    "request weight",
    "request parameters",
    "parameters",
    "response example",
    "response",
    "data source",
    "http request",
}
_HEADING = re.compile(r"^(#{2,4})\s+(.*?)\s*$")
_WS_METHOD = re.compile(r'"method"\s*:\s*"([A-Za-z0-9_.]+)"')
_HTTP = re.compile(r"^(GET|POST|PUT|DELETE)\s+`?(/[A-Za-z0-9_/]+)`?\s*$", re.M)


def sections(text: str) -> Iterator[tuple[str, str]]:
    """(title, body) per documented operation: a heading starts one unless it names a part
    of the one before (Method, Request Parameters, Response Example...)."""
    title, lines = "", []
    for line in text.splitlines():
        m = _HEADING.match(line)
        if m and m.group(2).strip("*: ").lower() not in SUBHEADINGS:
            if lines:
                yield title, "\n".join(lines)
            title, lines = m.group(2), []
        else:
            lines.append(line)
    if lines:
        yield title, "\n".join(lines)


def lenient_json(text: str) -> Any:
    """The docs' examples are JavaScript-ish: `//` comments, trailing commas, now and then a comma
    missing at a line's end (usdm get_fapi_v3_account.md). None if still not JSON."""
    text = text.replace("\xa0", " ")  # no-break spaces between values (usdm get_fapi_v3_account.md)
    out, in_string, i = [], False, 0
    while i < len(text):
        c = text[i]
        if in_string:
            out.append(c)
            if c == "\\":
                out.append(text[i + 1 : i + 2])
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
            out.append(c)
        elif text.startswith("//", i):
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        else:
            out.append(c)
        i += 1
    cleaned = re.sub(r",(\s*[}\]])", r"\1", "".join(out))
    cleaned = re.sub(r'(["\d\]}el])(\s*\n\s*")', r"\1,\2", cleaned)  # a comma the doc forgot at a line's end
    try:
        return orjson.loads(cleaned)
    except orjson.JSONDecodeError:
        return None


_BLOCK = re.compile(r"```[A-Za-z]*\n(.*?)```", re.S)


def example_params(body: str) -> list[tuple[str, bool, list[str] | None]]:
    """Parameter names of the section's first request example (`{"id", "method", "params": {...}}`):
    the USD-M WebSocket-API tables leave out `apiKey` and `signature`, which their examples send."""
    for block in _BLOCK.findall(body):
        value = lenient_json(block)
        if isinstance(value, dict) and "method" in value and "status" not in value:
            params = value.get("params")
            return [(name, False, None) for name in params] if isinstance(params, dict) else []
    return []


def param_table(body: str) -> list[tuple[str, bool, list[str] | None]] | None:
    """The first `Name | Type | Mandatory` table: (name, mandatory YES, None); [] where the doc
    says `**Parameters:** NONE`; None where it has no table."""
    if re.search(r"\*\*Parameters:?\*\*:?\s*NONE", body):
        return []
    lines = body.splitlines()
    for i, line in enumerate(lines):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].lower() == "name" and "mandatory" in [c.lower() for c in cells]:
            col = [c.lower() for c in cells].index("mandatory")
            rows = []
            for row in lines[i + 2 :]:
                if "|" not in row:
                    break
                rc = [c.strip() for c in row.strip().strip("|").split("|")]
                for name in re.findall(r"[A-Za-z][A-Za-z0-9]*", rc[0].replace("`", " ")):
                    rows.append((name, len(rc) > col and rc[col].upper() == "YES", None))
            return rows
    return None


def ws_method_of(title: str, body: str) -> str | None:
    if "format" in title.lower() or "example" in title.lower():  # general info, signing examples
        return None
    m = (
        re.search(r"^`([A-Za-z0-9_.]+)`\s*$", body, re.M)
        or re.search(r'\*\*Method\*\*:?\s*"([A-Za-z0-9_.]+)"', body)
        or _WS_METHOD.search(body)
    )
    return m.group(1) if m else None


def markdown_specs(specs: dict[Key, Spec]) -> None:
    for doc, ws_path in ((SPOT_WS_DOC, SPOT_WS), (USDM_WS_DOC, FUTURES_WS)):
        for title, body in sections(doc.read_text()):
            method, table = ws_method_of(title, body), param_table(body)
            if method and table is not None:
                key = ("wsapi", method, ws_path)
                specs.setdefault(key, Spec(key)).add(f"docs:{doc.name}", iter(table + example_params(body)))
    for path in sorted((USDM_DOCS / "endpoints").rglob("*.md")):
        for _title, body in sections(path.read_text()):
            m, table = _HTTP.search(body), param_table(body)
            if m and table is not None:
                key = ("rest", m.group(1), m.group(2))
                specs.setdefault(key, Spec(key)).add(f"docs:{path.name}", iter(table))


def load() -> dict[Key, Spec]:
    from tests.contract import sdk_enums

    specs: dict[Key, Spec] = {}
    postman_specs(specs)
    openapi_specs(specs)
    markdown_specs(specs)
    twins = []
    for (ws_path, method), (rest_method, route) in WS_REST.items():
        rest, key = specs.get(("rest", rest_method, route)), ("wsapi", method, ws_path)
        if rest is None:
            continue
        if key not in specs:  # no WebSocket doc section: the REST endpoint's parameters, signed in-band
            spec = specs[key] = Spec(key)
            spec.add(f"rest:{rest_method} {route}", ((n, n in rest.mandatory, None) for n in rest.params))
            spec.params |= WS_AUTH
        twins.append((specs[key], rest))
    for key, values in sdk_enums.enums().items():  # USD-M enums, from the official SDK
        for name, allowed in values.items():
            if key in specs and name in specs[key].params:
                specs[key].enums.setdefault(name, set()).update(allowed)
                specs[key].sources.add(f"sdk:{sdk_enums.SDK}")
    for spec, rest in twins:  # a WebSocket method takes its REST twin's enums where nothing else lists one
        for name, values in rest.enums.items():
            if name in spec.params and name not in spec.enums:
                spec.enums[name] = set(values)
    return specs
