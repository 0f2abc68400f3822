"""The control actor (`python -m actors.control --config FILE`): configuration, the control socket,
reports, journal, notifications, supervisor. `actor.py` says how it works.

    actor.py     ControlActor: sockets, lifecycle, requests; main
    reports.py   slaves' reports and masters' events: journal, coverage, pushes, stream watch
    programs.py  supervisor: process polling, deaths and flapping, the slave programs
    state.py     the configuration it owns, its own state, the status it answers
    rules.py     constants, ControlState, helpers
    journal.py   the journal (SQLite, WAL)
    notify.py    notifications (apprise), grouped and durable
    supervision.py  the supervisor adapter and the program files
    commands/    the control commands, one module per family (circus-style)

Nothing is imported here: `actors.control.supervision` (used by the deployment tools) must not load
the whole actor. `from actors.control import ControlActor` still works (module `__getattr__`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ControlActor", "ControlState", "main", "parse_args", "peek_request_id"]


def __getattr__(name: str) -> Any:
    if name in ("ControlActor", "main", "parse_args"):
        from . import actor

        return getattr(actor, name)
    if name in ("ControlState", "peek_request_id"):
        from . import rules

        return getattr(rules, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
