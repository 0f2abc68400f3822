"""Where the keystore passphrase comes from: a private file, an environment variable, or a prompt.

Never from the command line (argv is visible to every user in `ps`).
- file: named in the config or by `--passphrase-file`; mode must be exactly 0400 or 0600, owned by
  this user; one trailing newline is ignored;
- environment: `COPYTRADER_PASSPHRASE` (for supervisord's `environment=`); a process that has read it
  should `take_from_env()` so its children do not inherit it;
- prompt: no echo (getpass), asked twice when a new passphrase is set.
"""

from __future__ import annotations

import getpass
import os
import stat
import sys
from collections.abc import Callable, MutableMapping
from pathlib import Path

from keystore.errors import PassphraseUnavailable, UnsafePermissions
from keystore.secret import Secret

PASSPHRASE_ENV = "COPYTRADER_PASSPHRASE"
ALLOWED_FILE_MODES = (0o400, 0o600)
MAX_PASSPHRASE_BYTES = 4096


def read_passphrase_file(path: str | Path) -> Secret:
    """The passphrase in `path`; refused unless the file is private (0400/0600) and ours."""
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise PassphraseUnavailable(f"passphrase file {path} does not exist") from None
    if not stat.S_ISREG(st.st_mode):
        raise PassphraseUnavailable(f"passphrase file {path} is not a regular file")
    mode = stat.S_IMODE(st.st_mode)
    if mode not in ALLOWED_FILE_MODES:
        raise UnsafePermissions(f"passphrase file {path} has mode {mode:04o}; it must be 0400 or 0600 (chmod 400 {path})")
    if st.st_uid != os.geteuid():
        raise UnsafePermissions(f"passphrase file {path} belongs to uid {st.st_uid}, not to this user")
    with open(path, "rb") as fh:
        data = fh.read(MAX_PASSPHRASE_BYTES + 1)
    if len(data) > MAX_PASSPHRASE_BYTES:
        raise PassphraseUnavailable(f"passphrase file {path} is longer than {MAX_PASSPHRASE_BYTES} bytes")
    return _finish(_strip_newline(data), f"passphrase file {path}")


def passphrase_from_env(env: MutableMapping[str, str] | None = None, *, remove: bool = False) -> Secret | None:
    """The passphrase from COPYTRADER_PASSPHRASE, or None. `remove` deletes it from the environment."""
    env = os.environ if env is None else env
    value = env.pop(PASSPHRASE_ENV, None) if remove else env.get(PASSPHRASE_ENV)
    if value is None:
        return None
    return _finish(value.encode("utf-8"), f"environment variable {PASSPHRASE_ENV}")


def take_from_env(env: MutableMapping[str, str] | None = None) -> Secret | None:
    """Read and remove COPYTRADER_PASSPHRASE (for a long-running process such as a slave)."""
    return passphrase_from_env(env, remove=True)


def prompt_passphrase(*, confirm: bool = False, label: str = "Keystore passphrase", ask: Callable[[str], str] = getpass.getpass) -> Secret:
    """Ask at the terminal without echo; with `confirm` ask twice and require equal answers."""
    first = ask(f"{label}: ")
    if confirm:
        second = ask(f"{label} (again): ")
        if first != second:
            raise PassphraseUnavailable("the two passphrases differ")
    return _finish(first.encode("utf-8"), "the prompt")


def get_passphrase(
    file: str | Path | None = None,
    *,
    env: MutableMapping[str, str] | None = None,
    interactive: bool | None = None,
    confirm: bool = False,
    ask: Callable[[str], str] = getpass.getpass,
) -> Secret:
    """The passphrase from `file`, else the environment, else a prompt (when a terminal is attached)."""
    if file is not None:
        return read_passphrase_file(file)
    from_env = passphrase_from_env(env)
    if from_env is not None:
        return from_env
    if interactive is None:
        interactive = sys.stdin.isatty()
    if not interactive:
        raise PassphraseUnavailable(f"no passphrase: give --passphrase-file (mode 0400/0600), set {PASSPHRASE_ENV}, or run at a terminal")
    return prompt_passphrase(confirm=confirm, ask=ask)


def _strip_newline(data: bytes) -> bytes:
    if data.endswith(b"\r\n"):
        return data[:-2]
    if data.endswith(b"\n"):
        return data[:-1]
    return data


def _finish(data: bytes, where: str) -> Secret:
    if not data:
        raise PassphraseUnavailable(f"the passphrase from {where} is empty")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise PassphraseUnavailable(f"the passphrase from {where} is not UTF-8 text") from None
    return Secret(data)
