"""Where every socket of a deployment is: the one factory of endpoint addresses, for every actor,
the CLI and the TUI alike (imports only the standard library).

Today every socket is `ipc://` in the deployment's runtime directory (mode 0700: only our user can
reach it). This is the seam for other hosts: the scale-out issue gives `Endpoints` a `tcp://` form
(with CurveZMQ keys) built from the same configuration, and no caller changes.
"""

from __future__ import annotations

from pathlib import Path

MAX_IPC_PATH = 107  # sun_path is 108 bytes with its terminating NUL


def ipc_endpoint(runtime_dir: Path, name: str) -> str:
    """`ipc://` address of socket `name` in the runtime directory (path must stay < 108 bytes)."""
    path = str((runtime_dir / name).resolve())
    if len(path) >= MAX_IPC_PATH:
        raise ValueError(f"runtime dir path too long for an ipc socket: {runtime_dir}")
    return f"ipc://{path}"


class Endpoints:
    """The well-known socket names of one deployment (all under one 0700 runtime directory)."""

    def __init__(self, runtime_dir: Path) -> None:
        self.dir = runtime_dir

    def master_pub(self, market: str) -> str:
        return ipc_endpoint(self.dir, f"master-{market}.pub")

    def master_snapshot(self, market: str) -> str:
        return ipc_endpoint(self.dir, f"master-{market}.snap")

    @property
    def control(self) -> str:
        return ipc_endpoint(self.dir, "control.ctl")

    @property
    def reports(self) -> str:
        return ipc_endpoint(self.dir, "control.reports")

    @property
    def config_pub(self) -> str:
        return ipc_endpoint(self.dir, "control.pub")


__all__ = ["Endpoints", "MAX_IPC_PATH", "ipc_endpoint"]
