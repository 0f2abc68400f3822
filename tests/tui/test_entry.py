"""Entry points: `python -m tui --config FILE` and `copytrader tui`; tui imports only protocol."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_tui_imports_nothing_of_ours_but_protocol() -> None:
    ours = {"actors", "keystore", "simulator", "tests"}
    for path in (REPO / "tui").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots = {node.module.split(".")[0]}
            else:
                continue
            assert not roots & ours, f"{path.relative_to(REPO)} imports {roots & ours}"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=REPO, timeout=60)


def test_python_m_tui_refuses_a_missing_config_with_a_clear_error(tmp_path: Path) -> None:
    done = run("-m", "tui", "--config", str(tmp_path / "nope.toml"))
    assert done.returncode == 2 and "nope.toml does not exist" in done.stderr


def test_copytrader_tui_execs_python_m_tui() -> None:
    done = run("-m", "actors.cli", "--config", "/nonexistent/copytrader.toml", "tui")
    assert done.returncode == 2 and "copytrader tui: config file /nonexistent/copytrader.toml" in done.stderr
    assert "--probe-interval" in run("-m", "actors.cli", "tui", "--help").stdout
