"""actors/base.py: runtime dir permissions, ZmqReader draining from the loop."""

from __future__ import annotations

import asyncio
import os
import stat

import uvloop
import zmq

from actors.base import Endpoints, StructuredFormatter, ZmqReader, ensure_private_dir
from tests.helpers.wait import aeventually


def test_runtime_dir_is_private_even_when_it_existed_wider(tmp_path):
    d = tmp_path / "run"
    d.mkdir(mode=0o755)
    os.chmod(d, 0o755)
    ensure_private_dir(d)
    assert stat.S_IMODE(d.stat().st_mode) == 0o700


def test_reader_gets_every_message_and_survives_a_failing_handler(tmp_path):
    ends = Endpoints(ensure_private_dir(tmp_path / "run"))

    async def main() -> tuple[list[bytes], int]:
        ctx = zmq.Context.instance()
        pub = ctx.socket(zmq.PUB)
        pub.bind(ends.master_pub("usdm"))
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"master.")
        sub.connect(ends.master_pub("usdm"))
        got: list[bytes] = []
        probes: list[bytes] = []

        def handler(frames):
            if frames[1] == b"boom":
                raise ValueError("bad message")
            if frames[1] == b"probe":
                probes.append(frames[1])
                return
            got.append(frames[1])

        reader = ZmqReader(sub, handler, "test")
        reader.start()

        # slow joiner: publish probes until the subscription is live
        async def joined():
            pub.send_multipart([b"master.usdm.hb", b"probe"])
            await asyncio.sleep(0)
            return bool(probes)

        await aeventually(joined, timeout=5)
        for i in range(500):
            pub.send_multipart([b"master.usdm.fill", b"boom" if i == 100 else str(i).encode()])
        await aeventually(lambda: _ready(got, 499), timeout=5)
        reader.stop()
        sub.close(0)
        pub.close(0)
        return got, reader.errors

    got, errors = uvloop.run(main())
    assert got == [str(i).encode() for i in range(500) if i != 100]
    assert errors == 1


async def _ready(got, n):
    return len(got) >= n


def test_structured_formatter_puts_fields_on_one_line():
    import logging

    rec = logging.LogRecord("x", logging.INFO, __file__, 1, "order sent", None, None)
    rec.fields = {"symbol": "BTCUSDT", "qty": "0.001"}
    line = StructuredFormatter("slave-s1").format(rec)
    assert line.endswith("slave-s1 INFO order sent symbol=BTCUSDT qty=0.001")


def test_a_logged_exception_keeps_its_traceback_after_redaction():
    """The redaction filter turns exc_info into redacted text: the formatter must still print it."""
    import io
    import logging

    from keystore.redact import RedactingFilter, clear_registry, register_secret

    secret = "s3cr3t-value-that-must-not-leak-0123456789"
    register_secret(secret)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(StructuredFormatter("slave-s1"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("test.traceback")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise RuntimeError(f"bad reply for key {secret}")
        except RuntimeError:
            logger.exception("mirroring BTCUSDT seq 2 failed")
    finally:
        logger.removeHandler(handler)
        clear_registry()
    out = stream.getvalue()
    assert "slave-s1 ERROR mirroring BTCUSDT seq 2 failed" in out
    assert "Traceback (most recent call last)" in out
    assert "RuntimeError: bad reply for key" in out
    assert secret not in out
