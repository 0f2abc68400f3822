"""`slave-<id>`'s process life: load the config and its own key, start the `Slave` (retried while
the exchange is unreachable), keep it up until asked to stop (`python -m actors.slave`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

from protocol.messages import SlaveError

from ..base import settle_gc
from ..binance.errors import AuthError, BinanceAPIError
from ..binance.signing import make_signer
from ..config import ConfigError, load_config

log = logging.getLogger("copytrader.slave")


def now_ns() -> int:
    import time

    return time.monotonic_ns()


async def main_async(args: argparse.Namespace, stop: asyncio.Event, slave_type: Any) -> int:
    """The slave process: config, its own key, start (retried while the exchange is unreachable),
    then status and equity upkeep until `stop`."""
    try:
        app = load_config(args.config)
        config = app.slave(args.id)
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    from keystore.errors import KeystoreError
    from keystore.process import unlock_own_key

    try:
        key = unlock_own_key(app.keystore_dir, args.id, app.passphrase_file)
    except KeystoreError as exc:
        log.error("cannot load this slave's key: %s", exc)
        return 3

    def signer_factory() -> Any:
        return make_signer(key.key_type.value, key.api_key, key.secret.reveal_str())

    slave = slave_type(app, config)
    delay = 0.5
    while True:
        try:
            await slave.start(signer_factory)
            break
        except AuthError as exc:
            slave.report(
                SlaveError(
                    slave_id=slave.slave_id,
                    code="key_invalid",
                    fatal=True,
                    message=f"API key refused at start ({exc.code}): {exc.msg}",
                    t_ns=now_ns(),
                )
            )
            log.error("API key refused at start (%s)", exc.code)
            await slave.close()
            return 3
        except (TimeoutError, BinanceAPIError, OSError) as exc:
            # The exchange (or the simulator, in the demo) is not reachable yet: try again.
            log.warning("start failed (%s); retrying in %.1fs", exc, delay)
            await slave.close()
            slave = slave_type(app, config)
            try:
                await asyncio.wait_for(stop.wait(), delay)
                return 0
            except TimeoutError:
                delay = min(delay * 2, 10.0)
    log.info("slave %s started: markets %s", slave.slave_id, ",".join(slave.mirrors))
    settle_gc()
    maint = asyncio.get_running_loop().create_task(slave.maintain(stop))
    await stop.wait()
    maint.cancel()
    await slave.close()
    return 0
