"""The package boundaries of STYLE.md: each side imports only what it may."""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
OURS = {"protocol", "actors", "keystore", "tui", "simulator", "bench"}
# package -> packages of ours it must never import (bench/ is not shipped: nothing shipped imports it)
FORBIDDEN = {
    "protocol": OURS - {"protocol"},
    "actors": {"tui", "simulator", "bench"},
    "tui": {"keystore", "simulator", "actors", "bench"},
    "simulator": {"actors", "keystore", "tui", "protocol", "bench"},
    "keystore": {"tui", "simulator", "actors", "bench"},  # the keys CLI, which checks keys at Binance, is actors/cli/keys.py
}


def imported_roots(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_stay_inside_their_boundary(package: str) -> None:
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = imported_roots(path) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offenders, "\n".join(offenders)


def test_boundary_check_sees_a_violation(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "x.py"
    bad.write_text("import os\nfrom actors.binance import rest\n")
    assert "actors" in imported_roots(bad)


# The domain package (pure: no I/O, no asyncio) imports only these: the standard library's pure
# modules, msgspec, `protocol`, itself, and the exchange's filters (parsing and rounding, no I/O).
DOMAIN_MAY_IMPORT = {
    "__future__",
    "abc",
    "base64",
    "collections",
    "dataclasses",
    "decimal",
    "enum",
    "functools",
    "hashlib",
    "itertools",
    "math",
    "operator",
    "typing",
    "msgspec",
    "protocol",
}
DOMAIN_OURS = ("actors.domain", "actors.binance.filters")


def domain_imports(path: pathlib.Path) -> set[str]:
    """Every module a domain file imports, relative imports resolved (actors.domain.x)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = ["actors", "domain"]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            names.add(".".join([*base, node.module] if node.module else base))
    return names


def test_the_domain_package_does_no_io() -> None:
    offenders = []
    for path in sorted((ROOT / "actors" / "domain").rglob("*.py")):
        for name in sorted(domain_imports(path)):
            ok = name.split(".")[0] in DOMAIN_MAY_IMPORT or any(name == p or name.startswith(p + ".") for p in DOMAIN_OURS)
            if not ok:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offenders, "\n".join(offenders)


def test_domain_check_sees_io(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "x.py"
    bad.write_text("import asyncio\nfrom ..binance import rest\nfrom .orders import Skip\n")
    assert domain_imports(bad) == {"asyncio", "actors.binance", "actors.domain.orders"}
