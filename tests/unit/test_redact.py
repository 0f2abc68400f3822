"""Redaction of key material in text, log records, exceptions, streams and reports."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import msgspec
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from keystore import Secret, redact
from tests.helpers.secrets import Needle, scan_blobs, scan_for_secrets, secret_needles

ROOT = Path(__file__).resolve().parents[2]
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"


@pytest.fixture(scope="module")
def pem() -> str:
    return (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )


@pytest.fixture(autouse=True)
def clean_registry():
    redact.clear_registry()
    yield
    redact.clear_registry()
    redact.uninstall()


def assert_clean(text: str, *secrets: str) -> None:
    hits = scan_blobs({"text": text}, [n for s in secrets for n in secret_needles(s)])
    assert not hits, hits


# --- redact() --------------------------------------------------------------------------------------
def test_registered_secret_is_masked_in_every_form() -> None:
    redact.register_secret(Secret(SECRET))
    text = f'a {SECRET} b {SECRET!r} c {{"s": "{SECRET}"}} d'

    out = redact.redact(text)

    assert_clean(out, SECRET)
    assert out.count(redact.MASK) == 3


def test_unregistered_text_is_left_alone() -> None:
    redact.register_secret(SECRET)
    assert redact.redact("order 123 filled 0.001 BTCUSDT") == "order 123 filled 0.001 BTCUSDT"


def test_pem_key_is_masked_line_by_line_and_escaped(pem: str) -> None:
    redact.register_secret(pem)
    lines = pem.splitlines()
    text = "\n".join(
        [
            "one line: " + lines[1],  # a fragment without the BEGIN header
            "json: " + msgspec.json.encode({"k": pem}).decode(),  # \n-escaped
            "repr: " + repr(pem),
        ]
    )
    out = redact.redact(text)
    assert_clean(out, pem)


def test_raw_ed25519_bytes_are_masked(pem: str) -> None:
    redact.register_secret(pem)
    key = serialization.load_pem_private_key(pem.encode(), None)
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    assert raw.hex() not in redact.redact(f"seed={raw.hex()} ")


def test_api_key_is_masked_to_its_ends() -> None:
    redact.register_secret(API_KEY, keep_ends=True)
    out = redact.redact(f"key {API_KEY} used")
    assert out == f"key {API_KEY[:4]}…{API_KEY[-4:]} used"


def test_full_mask_wins_over_keep_ends() -> None:
    redact.register_secret(SECRET, keep_ends=True)
    redact.register_secret(SECRET)
    assert redact.redact(SECRET) == redact.MASK


def test_one_off_secrets_argument() -> None:
    out = redact.redact(f"x {SECRET} y", secrets=[SECRET])
    assert out == f"x {redact.MASK} y" and redact.registered_count() == 0


@pytest.mark.parametrize(
    "text",
    [
        "secret=abcdefgh1234",
        '{"apiSecret": "abcdefgh1234"}',
        "passphrase: hunter2hunter2",
        "private_key='abcdefgh1234'",
        "X-MBX-APIKEY: " + API_KEY,
    ],
)
def test_generic_patterns_need_no_registration(text: str) -> None:
    out = redact.redact(text)
    assert "abcdefgh1234" not in out and "hunter2hunter2" not in out and API_KEY not in out


def test_generic_pem_block_is_masked(pem: str) -> None:
    out = redact.redact(f"before {pem} after")
    assert out == "before [REDACTED PRIVATE KEY]\n after"


def test_short_values_are_not_registered() -> None:
    redact.register_secret("abc")
    assert redact.registered_count() == 0


def test_redact_data_walks_containers_and_structs() -> None:
    class Report(msgspec.Struct, frozen=True):
        error: str
        details: dict
        count: int

    redact.register_secret(SECRET)
    report = Report(error=f"failed with {SECRET}", details={"k": [SECRET, 1]}, count=3)

    out = redact.redact_data(report)

    assert_clean(msgspec.json.encode(out).decode(), SECRET)
    assert out.count == 3


def test_describe_and_format_exception() -> None:
    redact.register_secret(SECRET)
    try:
        raise ValueError(f"bad secret {SECRET}")
    except ValueError as exc:
        described, formatted = redact.describe_exception(exc), redact.format_exception(exc)
    assert described == f"ValueError: bad secret {redact.MASK}"
    assert "Traceback" in formatted
    assert_clean(described + formatted, SECRET)


# --- logging ------------------------------------------------------------------------------------------
def test_log_records_are_redacted_message_args_and_exceptions() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("test_redact.child.grandchild")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    redact.install()
    redact.register_secret(SECRET)
    try:
        logger.info("secret in args %s", SECRET)
        logger.info(f"secret in message {SECRET}")
        try:
            raise RuntimeError(f"boom {SECRET}")
        except RuntimeError:
            logger.exception("failed")
        logger.info("stack", stack_info=True, extra={})
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert "secret in args ***" in out and "RuntimeError: boom ***" in out
    assert_clean(out, SECRET)


def test_redacting_filter_on_a_handler() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(redact.RedactingFilter())
    logger = logging.getLogger("test_redact.filter")
    logger.addHandler(handler)
    logger.propagate = False
    redact.register_secret(SECRET)
    try:
        logger.warning("x=%r", {"secret": SECRET})
    finally:
        logger.removeHandler(handler)
    assert_clean(stream.getvalue(), SECRET)
    assert stream.getvalue().strip()


def test_redacting_formatter_wraps_another() -> None:
    redact.register_secret(SECRET)
    record = logging.LogRecord("n", logging.INFO, __file__, 1, "v=%s", (SECRET,), None)
    out = redact.RedactingFormatter(logging.Formatter("%(levelname)s %(message)s")).format(record)
    assert out == "INFO v=***"


def test_unformattable_record_does_not_raise() -> None:
    redact.install()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("test_redact.bad")
    logger.addHandler(handler)
    try:
        logger.warning("%d apples", "not-a-number")
    finally:
        logger.removeHandler(handler)
    assert "unformattable" in stream.getvalue()


# --- streams and uncaught exceptions -------------------------------------------------------------------
def test_redacting_stream_catches_a_secret_split_across_writes() -> None:
    redact.register_secret(SECRET)
    inner = io.StringIO()
    stream = redact.RedactingStream(inner)

    stream.write("start " + SECRET[:10])
    stream.flush()
    stream.write(SECRET[10:] + " end\nnext")
    stream.close()

    assert inner.getvalue() == "start *** end\nnext"


def test_uncaught_exception_and_prints_are_redacted_in_a_process() -> None:
    script = textwrap.dedent(
        f"""
        import sys, logging
        sys.path.insert(0, {str(ROOT)!r})
        from keystore import redact
        redact.install(); redact.install_excepthook(); redact.wrap_std_streams()
        redact.register_secret({SECRET!r})
        logging.basicConfig(level=logging.INFO)
        logging.getLogger("x").info("logged %s", {SECRET!r})
        print("printed", {SECRET!r})
        raise RuntimeError("crashed with " + {SECRET!r})
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=30)

    output = proc.stdout + proc.stderr
    assert proc.returncode == 1
    assert b"printed ***" in proc.stdout and b"RuntimeError: crashed with ***" in proc.stderr
    assert not scan_blobs({"process output": output}, secret_needles(SECRET))


# --- the scan helper itself ------------------------------------------------------------------------------
def test_scan_for_secrets_finds_planted_material(tmp_path: Path, pem: str) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "clean.log").write_text("nothing to see\n")
    (tmp_path / "logs" / "leak.log").write_text("x " + pem.splitlines()[1] + "\n")
    (tmp_path / "journal.sqlite-wal").write_bytes(b"\x00\x01" + SECRET.encode() + b"\x00")
    needles = secret_needles(pem, "pem") + secret_needles(SECRET, "hmac")

    hits = scan_for_secrets([tmp_path, tmp_path / "missing"], needles)

    assert sorted({(Path(h.where).name, h.label.split(" ")[0]) for h in hits}) == [("journal.sqlite-wal", "hmac"), ("leak.log", "pem")]
    assert all(SECRET not in repr(h) for h in hits)
    assert SECRET not in repr(Needle("n", SECRET.encode()))
