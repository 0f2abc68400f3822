"""The control actor (`python -m actors.control --config FILE`): configuration, the control socket,
reports, journal, notifications, supervisor. `actor.py` says how it works.

    actor.py     ControlActor: sockets, lifecycle, requests; main
    reports.py   slaves' reports and masters' events: journal, coverage, pushes, stream watch
    programs.py  supervisor: process polling, deaths and flapping, the slave programs
    state.py     the configuration it owns, its own state, the status it answers
    rules.py     constants, ControlState, helpers
"""
from __future__ import annotations

from .actor import ControlActor, main, parse_args
from .rules import ControlState, peek_request_id

__all__ = ["ControlActor", "ControlState", "main", "parse_args", "peek_request_id"]
