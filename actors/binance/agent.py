"""The `User-Agent` our transport sends, REST and WebSocket handshakes alike.

`copytrader/<version>` from any process using our client; an actor process (master, slave,
control: `actors.base.setup_logging`) adds its name, `copytrader/<version> (slave-s1)`, so an
exchange log (the simulator's request recorder, the tests' contract check) can tell the actors'
own traffic from tests and tools that use the same client. Imports nothing.
"""

from __future__ import annotations

__all__ = ["VERSION", "USER_AGENT", "set_actor"]

VERSION = "0.1.0"  # keep equal to pyproject.toml's [project] version (a unit test checks)

#: read by the transport for every request head (a module attribute, so set_actor takes effect)
USER_AGENT = f"copytrader/{VERSION}"


def set_actor(name: str | None) -> None:
    """Name this process's actor in the User-Agent (None: plain `copytrader/<version>`). Characters
    other than ASCII letters, digits, '-', '_' and '.' become '_' (a header line must stay one token)."""
    global USER_AGENT
    safe = "".join(c if (c.isascii() and c.isalnum()) or c in "-_." else "_" for c in name or "")
    USER_AGENT = f"copytrader/{VERSION}" + (f" ({safe})" if safe else "")
