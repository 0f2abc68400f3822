"""`change-passphrase` killed mid-way: every key opens with the old passphrase, or every key with the
new one, never a mix. The change runs in a subprocess that SIGKILLs itself at a chosen step of the
atomic write, or is killed by the test at an arbitrary moment while it changes passphrases in a loop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from keystore import KdfParams, Keystore, WrongPassphrase, load_account

ROOT = Path(__file__).resolve().parents[2]
OLD, NEW = "old passphrase", "new passphrase"
ACCOUNTS = {f"slave{i:02d}": f"secret-of-slave-{i:02d}-" + "k" * 40 for i in range(5)}
API_KEY = "A" * 64

# Runs `change_passphrase` and SIGKILLs itself at STAGE (patched into the os calls of the write).
CRASH_AT = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {root!r})
    from keystore import Keystore
    from keystore import files

    stage, directory = sys.argv[1], sys.argv[2]
    die = lambda: os.kill(os.getpid(), signal.SIGKILL)
    real_write, real_fsync, real_replace = os.write, os.fsync, os.replace
    armed = False

    def write(fd, data):
        if armed and stage == "mid-write":
            real_write(fd, bytes(data)[: len(data) // 2])
            die()
        return real_write(fd, data)

    def fsync(fd):
        if armed and stage == "before-fsync":
            die()
        return real_fsync(fd)

    def replace(src, dst):
        if armed and stage == "before-rename":
            die()
        real_replace(src, dst)
        if armed and stage == "after-rename":
            die()

    os.write, os.fsync, os.replace = write, fsync, replace
    ks = Keystore.open(directory, {old!r}, register_redaction=False)
    armed = True
    ks.change_passphrase({new!r})
    if stage == "after-return":
        die()
    """
)

# Changes the passphrase back and forth for ever, printing a line after each change.
FLIP_FLOP = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {root!r})
    from keystore import Keystore

    directory = sys.argv[1]
    current, other = {old!r}, {new!r}
    while True:
        with Keystore.open(directory, current, register_redaction=False) as ks:
            ks.change_passphrase(other)
        current, other = other, current
        print("changed", flush=True)
    """
)


@pytest.fixture
def ksdir(tmp_path: Path) -> Path:
    directory = tmp_path / "ks"
    with Keystore.create(directory, OLD, kdf=KdfParams.cheap()) as ks:
        for account, secret in ACCOUNTS.items():
            ks.put(account, "hmac", API_KEY, secret)
    return directory


def readable_with(directory: Path, passphrase: str) -> set[str]:
    """The accounts whose secret decrypts correctly with `passphrase`."""
    ok = set()
    for account, secret in ACCOUNTS.items():
        try:
            key = load_account(directory, account, passphrase, register_redaction=False)
        except WrongPassphrase:
            continue
        assert key.secret.reveal_str() == secret
        ok.add(account)
    return ok


def assert_all_old_or_all_new(directory: Path) -> str:
    old, new = readable_with(directory, OLD), readable_with(directory, NEW)
    everyone = set(ACCOUNTS)
    assert (old, new) in ((everyone, set()), (set(), everyone)), f"mixed: old={sorted(old)} new={sorted(new)}"
    return "old" if old else "new"


@pytest.mark.parametrize(
    ("stage", "expected"),
    [("mid-write", "old"), ("before-fsync", "old"), ("before-rename", "old"), ("after-rename", "new"), ("after-return", "new")],
)
def test_change_passphrase_killed_at_each_step(ksdir: Path, stage: str, expected: str) -> None:
    script = CRASH_AT.format(root=str(ROOT), old=OLD, new=NEW)

    proc = subprocess.run([sys.executable, "-c", script, stage, str(ksdir)], capture_output=True, timeout=60)

    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert assert_all_old_or_all_new(ksdir) == expected
    # the keystore stays usable: the next writer sweeps the half-written temp file
    with Keystore.open(ksdir, OLD if expected == "old" else NEW) as ks:
        ks.put("slave99", "hmac", API_KEY, "after-the-crash-secret")
    assert not list(ksdir.glob(".*.tmp"))


def test_change_passphrase_killed_at_arbitrary_moments(ksdir: Path) -> None:
    script = FLIP_FLOP.format(root=str(ROOT), old=OLD, new=NEW)
    outcomes = []
    for changes_before_kill in (1, 3, 8):
        proc = subprocess.Popen([sys.executable, "-c", script, str(ksdir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            for _ in range(changes_before_kill):
                assert proc.stdout is not None and proc.stdout.readline() == b"changed\n", proc.stderr
            os.kill(proc.pid, signal.SIGKILL)  # lands somewhere inside the next change
        finally:
            proc.kill()
            proc.wait(timeout=30)
        outcomes.append(assert_all_old_or_all_new(ksdir))
        if outcomes[-1] == "new":  # the loop always starts from OLD
            with Keystore.open(ksdir, NEW, register_redaction=False) as ks:
                ks.change_passphrase(OLD)
    assert len(outcomes) == 3
