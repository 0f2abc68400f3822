"""master-<market>'s entry point: configuration, the master's key, the adapter, the shell."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from typing import Any

import zmq

from protocol.messages import MARKETS, Market

from ..base import Endpoints, run, settle_gc, setup_logging
from .shell import CONNECT_WAIT_S, DEFAULT_POLL_S, PUB_IO_THREADS, Adapter, MasterActor
from .side_reads import describe as _describe

log = logging.getLogger("copytrader.master")


# market -> how its adapter is built (spot and margin share one, imported only when asked)
def _usdm(market: Market, endpoints: Any, signer: Any, recv_window: int) -> Adapter:
    from .usdm import UsdmAdapter

    return UsdmAdapter(endpoints, signer, recv_window=recv_window)


def _spot(market: Market, endpoints: Any, signer: Any, recv_window: int) -> Adapter:
    from .spot import SpotAdapter

    return SpotAdapter(market, endpoints, signer, recv_window=recv_window)


ADAPTERS: dict[str, Callable[[Market, Any, Any, int], Adapter]] = {"usdm": _usdm, "spot": _spot, "margin": _spot}


def build_adapter(market: Market, config: Any, signer: Any) -> Adapter:
    return ADAPTERS[market](market, config.exchange.endpoints(), signer, config.exchange.recv_window)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m actors.master", description="follow the master account of one market and publish its fills"
    )
    parser.add_argument("--config", required=True, help="the deployment TOML")
    parser.add_argument("--market", required=True, choices=MARKETS)
    parser.add_argument(
        "--poll-s", type=float, default=DEFAULT_POLL_S, help="seconds between cheap REST checks (position mode, leverage, drift)"
    )
    parser.add_argument("--connect-wait-s", type=float, default=CONNECT_WAIT_S)
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(f"master-{args.market}", args.log_level)
    from keystore.process import unlock_own_key

    from ..binance.signing import make_signer
    from ..config import ConfigError, load_config

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        log.error("bad configuration", extra={"fields": {"error": str(exc)}})
        return 2
    master_cfg = config.masters.get(args.market)
    if master_cfg is None:
        log.error("no [masters.%s] table in the configuration", args.market)
        return 2
    try:
        key = unlock_own_key(config.keystore_dir, master_cfg.account, config.passphrase_file)
    except Exception as exc:  # wrong passphrase, missing record: say which, no secret
        log.error("cannot unlock the master key", extra={"fields": {"account": master_cfg.account, "error": _describe(exc)}})
        return 3
    try:
        signer = make_signer(key.key_type.value.upper(), key.api_key, key.secret.reveal_str())
    except ValueError as exc:
        log.error("master key unusable", extra={"fields": {"error": str(exc)}})
        return 3
    finally:
        key.wipe()
    adapter = build_adapter(args.market, config, signer)
    # Two ZeroMQ I/O threads: the PUB socket's connections are spread over both, so the writes that
    # wake up to 100 subscribers go out on both cores at once instead of one after another.
    zmq.Context.instance(io_threads=PUB_IO_THREADS)
    actor = MasterActor(
        args.market,
        adapter,
        Endpoints(config.runtime_dir),
        snapshot_interval_s=master_cfg.snapshot_interval_s,
        poll_s=args.poll_s,
        connect_wait_s=args.connect_wait_s,
    )
    settle_gc()  # everything imported and built so far is never scanned by the collector again
    return run(actor.run)
