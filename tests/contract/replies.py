"""The simulator's replies to our actors against the example responses in Binance's docs.

Examples come from the spot docs (`rest-api.md` "**Response...**" blocks, `web-socket-api.md`
replies' `result`) and the USD-M scrape (endpoint pages' "Response Example", and the WebSocket API
page's replies). An endpoint may show several (ACK / RESULT / FULL, an object OR a list): a reply
passes when its field structure equals one of them, recursively, apart from the fields
`rest-api.md` lists under "Conditional fields in Order Responses" (spot), those an example's own
comment says are "only return[ed] with" some orders (USD-M), and the allow-list
(`allowlist.REPLY_FIELDS`). Endpoints the docs show no example for are listed, not failed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from simulator.recorder import shape
from tests.contract import allowlist
from tests.contract.check import Finding, actor_of, describe, key_of
from tests.contract.specs import (
    FUTURES_WS,
    OPENAPI,
    REFERENCE,
    SPOT_WS,
    SPOT_WS_DOC,
    USDM_DOCS,
    USDM_WS_DOC,
    WS_REST,
    Key,
    lenient_json,
    sections,
    ws_method_of,
)

REST_DOC = REFERENCE / "binance-spot-api-docs" / "rest-api.md"
_BLOCK = re.compile(r"```[A-Za-z]*\n(.*?)```", re.S)
_HTTP = re.compile(r"^(GET|POST|PUT|DELETE)\s+`?(/[A-Za-z0-9_/]+)`?\s*$", re.M)


_ONLY = re.compile(r'"(\w+)"\s*:[^\n]*//[^\n]*\bonly return', re.I)


def _blocks(body: str) -> list[Any]:
    return [v for v in (lenient_json(b) for b in _BLOCK.findall(body)) if v is not None]


def _commented_conditional(body: str) -> set[str]:
    """Fields an example marks `// ... only return with TRAILING_STOP_MARKET order` (USD-M docs)."""
    return set(_ONLY.findall(body))


#: endpoint key -> fields its examples say appear only sometimes (filled by examples())
CONDITIONAL: dict[Key, set[str]] = {}


@lru_cache(maxsize=1)
def examples() -> dict[Key, list[Any]]:
    """Endpoint key -> the shapes of its documented example responses."""
    out: dict[Key, list[Any]] = {}
    for path in [REST_DOC, USDM_WS_DOC, *sorted((USDM_DOCS / "endpoints").rglob("*.md"))]:  # (its listenKey REST)
        for _title, body in sections(path.read_text()):
            m = _HTTP.search(body)
            at = max(body.find("**Response"), body.find("Response Example"))
            if m and at >= 0:
                for value in _blocks(body[at:]):
                    out.setdefault(("rest", m.group(1), m.group(2)), []).append(shape(value))
                CONDITIONAL.setdefault(("rest", m.group(1), m.group(2)), set()).update(_commented_conditional(body[at:]))
    for path, ws_path in ((SPOT_WS_DOC, SPOT_WS), (USDM_WS_DOC, FUTURES_WS)):
        for title, body in sections(path.read_text()):
            method = ws_method_of(title, body)
            if method:
                for value in _blocks(body):
                    if isinstance(value, dict) and "result" in value and "status" in value:
                        out.setdefault(("wsapi", method, ws_path), []).append(shape(value["result"]))
                CONDITIONAL.setdefault(("wsapi", method, ws_path), set()).update(_commented_conditional(body))
    for key, variants in openapi_examples().items():  # /api and /sapi endpoints no markdown example shows
        if key not in out:
            out[key] = [shape_ for shape_, _ in variants]
            CONDITIONAL[key] = set().union(*(optional for _, optional in variants))
    for (ws_path, method), (rest_method, route) in WS_REST.items():  # the same reply as its REST twin
        if ("wsapi", method, ws_path) not in out and ("rest", rest_method, route) in out:
            out[("wsapi", method, ws_path)] = out[("rest", rest_method, route)]
            CONDITIONAL[("wsapi", method, ws_path)] = CONDITIONAL.get(("rest", rest_method, route), set())
    return out


def openapi_examples() -> dict[Key, list[tuple[Any, set[str]]]]:
    """From spot_api.yaml's 200-response schemas: per endpoint, per `oneOf` variant, (the shape of its
    properties, the dotted paths of the properties it does not list as `required` or describes as
    "will not return if ...")."""
    import yaml

    doc = yaml.load(OPENAPI.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    schemas = doc.get("components", {}).get("schemas", {})

    def resolve(s: dict[str, Any]) -> dict[str, Any]:
        return resolve(schemas[s["$ref"].rsplit("/", 1)[1]]) if "$ref" in s else s

    def convert(s: dict[str, Any], where: str, optional: set[str], depth: int = 0) -> Any:
        s = resolve(s)
        if depth > 6:
            return None
        if s.get("type") == "array" and isinstance(s.get("items"), dict):
            return [convert(s["items"], where.rstrip(".") + "[].", optional, depth + 1)]
        props = s.get("properties")
        if not isinstance(props, dict):
            return None
        required = set(s.get("required", []))
        optional.update(
            f"{where}{k}"
            for k, v in props.items()  # the spec's own "will not return if ..."
            if k not in required or "will not return" in str(resolve(v).get("description", ""))
        )
        return {k: convert(v, f"{where}{k}.", optional, depth + 1) for k, v in props.items()}

    out: dict[Key, list[tuple[Any, set[str]]]] = {}
    for route, ops in doc["paths"].items():
        for method, op in ops.items():
            try:
                schema = resolve(op["responses"]["200"]["content"]["application/json"]["schema"])
            except (KeyError, TypeError):
                continue
            for variant in schema.get("oneOf", [schema]):
                optional: set[str] = set()
                out.setdefault(("rest", method.upper(), route), []).append((convert(variant, "", optional), optional))
    return out


@lru_cache(maxsize=1)
def spot_conditional() -> frozenset[str]:
    """Fields rest-api.md lists under "Conditional fields in Order Responses"."""
    text = REST_DOC.read_text()
    at = text.find("**Conditional fields in Order Responses**")
    if at < 0:
        return frozenset()
    table = text[at : text.find("\n\n", text.find("----", at))]
    return frozenset(re.findall(r"^`([A-Za-z]+)`", table, re.M))


def compare(ours: Any, doc: Any, optional: frozenset[str], where: str = "") -> list[str]:
    if isinstance(ours, dict) and isinstance(doc, dict):
        out = [
            f"field {where}{k} not in the docs' example"
            for k in ours
            if k not in doc and k not in optional and f"{where}{k}" not in optional
        ]
        out += [f"field {where}{k} missing" for k in doc if k not in ours and k not in optional and f"{where}{k}" not in optional]
        for k in ours.keys() & doc.keys():
            if k not in optional and f"{where}{k}" not in optional:  # an allowed field is exempt, nested too
                out += compare(ours[k], doc[k], optional, f"{where}{k}.")
        return out
    if isinstance(ours, list) and isinstance(doc, list):
        # `[{}]` in an example: the elements are described elsewhere (rest-api.md "rateLimits": [{ // These
        # are defined in the `ENUM definitions` section }]): nothing to compare
        if ours and doc and ours[0] is not None and doc[0] is not None and doc[0] != {}:
            return compare(ours[0], doc[0], optional, where.rstrip(".") + "[].")
        return []
    if ours is None or doc is None:
        # a scalar against an object/list; null examples ("apiKey": null) match anything
        return (
            []
            if doc is None or ours is None and not isinstance(doc, (dict, list))
            else [f"{where.rstrip('.') or 'reply'} is a value, the docs show {'an object' if isinstance(doc, dict) else 'a list'}"]
        )
    return [
        f"{where.rstrip('.') or 'reply'} is {'an object' if isinstance(ours, dict) else 'a list'}, the docs show "
        f"{'an object' if isinstance(doc, dict) else 'a list'}"
    ]


def check(records: Iterable[dict[str, Any]]) -> tuple[list[Finding], int, set[str]]:
    """(findings, replies compared, endpoints without a documented example)."""
    docs = examples()
    found: dict[tuple[str, str], Finding] = {}
    compared, undocumented = 0, set()
    for record in records:
        actor = actor_of(record)
        if actor is None or record.get("status") != 200 or record.get("reply") is None:
            continue
        key = key_of(record)
        variants = docs.get(key)
        if not variants:
            undocumented.add(describe(key))
            continue
        compared += 1
        optional = frozenset(allowlist.REPLY_FIELDS.get(key, {})) | frozenset(CONDITIONAL.get(key, ()))
        if key[2].startswith("/api/") or key[2] == SPOT_WS:
            optional |= spot_conditional()
        best = min((compare(record["reply"], v, optional) for v in variants), key=len)
        for problem in best:
            finding = found.setdefault((describe(key), problem), Finding(describe(key), problem))
            finding.actors.add(actor)
            finding.count += 1
    return sorted(found.values(), key=lambda f: (f.endpoint, f.problem)), compared, undocumented
