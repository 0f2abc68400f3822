"""Private files: atomic writes (temp file, fsync, rename, fsync dir), mode checks, a lock.

Every file is written as `.<name>.<random>.tmp` in the target directory with mode 0600, fsynced,
then renamed over the target (atomic on POSIX) and the directory fsynced, so a crash leaves either the
old file or the new one, never a mix. Left-over temp files are ignored by readers and swept by writers.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from keystore.errors import KeystoreError, UnsafePermissions

FILE_MODE = 0o600
DIR_MODE = 0o700
TMP_SUFFIX = ".tmp"


def ensure_private_dir(path: Path) -> None:
    """Create `path` (and parents) with mode 0700, or check an existing one."""
    if not path.exists():
        path.mkdir(mode=DIR_MODE, parents=True)
        os.chmod(path, DIR_MODE)  # mkdir's mode is filtered by the umask
        _fsync_dir(path.parent)
    check_private_dir(path)


def check_private_dir(path: Path) -> None:
    """Refuse a keystore directory that is not a directory or that others can enter."""
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise KeystoreError(f"{path} is not a directory")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise UnsafePermissions(f"keystore directory {path} has mode {mode:04o}; it must be 0700 (chmod 700 {path})")
    if st.st_uid != os.geteuid():
        raise UnsafePermissions(f"keystore directory {path} belongs to uid {st.st_uid}, not to this user")


def check_private_file(path: Path) -> os.stat_result:
    """Refuse a keystore file that is not a regular file or that others can read."""
    st = os.lstat(path)
    if not stat.S_ISREG(st.st_mode):
        raise KeystoreError(f"{path} is not a regular file")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise UnsafePermissions(f"keystore file {path} has mode {mode:04o}; it must be 0600 (chmod 600 {path})")
    return st


def read_private(path: Path) -> bytes:
    """Read a keystore file after checking its mode."""
    check_private_file(path)
    with open(path, "rb") as fh:
        return fh.read()


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically, with mode 0600."""
    directory = path.parent
    tmp = directory / f".{path.name}.{secrets.token_hex(6)}{TMP_SUFFIX}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    try:
        try:
            os.fchmod(fd, FILE_MODE)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


def remove_durably(path: Path) -> None:
    """Unlink `path` and fsync its directory."""
    os.unlink(path)
    _fsync_dir(path.parent)


def sweep_temp_files(directory: Path) -> None:
    """Remove temp files left by an interrupted write (the writer holds the lock)."""
    for entry in directory.glob(f".*{TMP_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            entry.unlink()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def exclusive_lock(directory: Path) -> Iterator[None]:
    """Hold an exclusive flock on `<directory>/.lock` so writers never interleave."""
    lock_path = directory / ".lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
