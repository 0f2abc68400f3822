"""Running the repository's supervisor.conf in a temporary deployment (service tests, chaos run)."""

from __future__ import annotations

import os
import pathlib
import sys
import urllib.error
import urllib.request

from tests.helpers.sim import REPO


def supervisor_conf(root: pathlib.Path) -> pathlib.Path:
    """The repository's supervisor.conf in `root`, pointed at this interpreter and repository
    (a test deployment has no .venv of its own)."""
    text = (REPO / "supervisor.conf").read_text()
    text = text.replace("%(here)s/.venv/bin/python", sys.executable)
    text = text.replace('PYTHONPATH="%(here)s"', f'PYTHONPATH="{REPO}"')
    path = root / "supervisor.conf"
    path.write_text(text)
    return path


def answers(url: str) -> bool:
    """True when `url` answers 200 (readiness: supervisord's RUNNING only means alive)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
