"""The control socket from other processes: malformed frames from a second process get errors
(or are dropped) and control keeps serving; a client running as another OS user cannot reach
the socket at all (the runtime directory is 0700)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from actors.control import ControlActor
from tests.helpers.control_actor import FakeSupervisor, Setup
from tests.helpers.sim import REPO

CLIENT = textwrap.dedent("""
    import sys, zmq
    from protocol.codec import decode_control_server_msg, encode
    from protocol.control_api import GetStatus
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(sys.argv[1])
    garbage = [[b""], [b"\\x00" * 10], [b"\\xc1"], [b"\\x81\\xa1t\\xa5bogus"], [b"x" * 2_000_000],
               [b"a", b"b", b"c"], [b"\\x82\\xa1t\\xa7status?\\xa2id\\xff"]]
    if sys.argv[2] == "garbage":
        for frames in garbage:
            s.send_multipart(frames)
    s.send(encode(GetStatus(id=4242)))
    replies = []
    poller = zmq.Poller(); poller.register(s, zmq.POLLIN)
    while poller.poll(3000):
        replies.append(decode_control_server_msg(s.recv_multipart()[-1]))
        if any(getattr(r, "id", None) == 4242 and type(r).__name__ == "Ok" for r in replies):
            print("SERVED", len(replies)); sys.exit(0)
    print("NO-REPLY", len(replies)); sys.exit(1)
""")


def client(endpoint: str, mode: str, **kw) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-c", CLIENT, endpoint, mode], capture_output=True, text=True, env=env, timeout=60, **kw)


@pytest.fixture
async def control(setup: Setup):  # noqa: F811
    actor = ControlActor(
        setup.config_path,
        require_key=False,
        supervisor=FakeSupervisor(),  # type: ignore[arg-type]
        programs_dir=setup.programs,
        poll_interval_s=0.2,
    )
    await actor.start()
    yield actor
    await actor.stop()


async def test_malformed_frames_from_another_process_then_a_good_request_is_served(control):
    import asyncio

    done = await asyncio.to_thread(client, control.endpoints.control, "garbage")
    assert done.returncode == 0 and done.stdout.startswith("SERVED"), done.stdout + done.stderr
    assert control.bad_requests >= 5


CONNECT_AS_OTHER = textwrap.dedent("""
    import socket, sys
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(sys.argv[1])
    except PermissionError:
        print("REFUSED"); sys.exit(1)
    except OSError as exc:
        print("ERROR", exc); sys.exit(2)
    print("CONNECTED"); sys.exit(0)
""")
SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists(SYSTEM_PYTHON),
    reason="needs root (to run a client as another user) and a system python that user can run",
)
async def test_a_client_of_another_user_cannot_reach_the_control_socket(control):
    """The client is the system python (our venv may be unreadable to that user): a plain
    connect() on the ipc socket path, which is what any ZeroMQ client does underneath."""
    import asyncio

    assert os.stat(control.config.runtime_dir).st_mode & 0o777 == 0o700
    path = control.endpoints.control.removeprefix("ipc://")

    def connect(**kw):
        return subprocess.run([SYSTEM_PYTHON, "-c", CONNECT_AS_OTHER, path], capture_output=True, text=True, timeout=30, **kw)

    other = await asyncio.to_thread(connect, user=65534, group=65534, extra_groups=[])
    assert other.returncode == 1 and "REFUSED" in other.stdout, other.stdout + other.stderr
    ours = await asyncio.to_thread(connect)  # the same probe as our own user connects
    assert ours.returncode == 0, ours.stdout + ours.stderr
