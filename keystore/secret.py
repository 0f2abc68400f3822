"""`Secret`: key material that will not print, pickle or serialise itself.

Python cannot promise that no copy of a secret survives in memory (`bytes` objects are immutable and
the allocator reuses pages), but it can make accidental disclosure hard:

- `repr`, `str` and `format` show `Secret(***)`, never the value;
- pickling, copying to JSON/msgpack (unknown type) and comparisons by `==` are refused or constant time;
- the value lives in a `bytearray` that `wipe()` overwrites with zeros (also done on garbage collection).

`reveal()` / `reveal_str()` hand out the value; call them only where the value is consumed (the request
signer), never to log or display it.
"""

from __future__ import annotations

import hmac
from typing import NoReturn

_MASK = "Secret(***)"


class Secret:
    """A secret byte string that masks itself everywhere it could be shown."""

    __slots__ = ("_value", "__weakref__")

    def __init__(self, value: bytes | bytearray | str) -> None:
        if isinstance(value, str):
            self._value = bytearray(value.encode("utf-8"))
        elif isinstance(value, (bytes, bytearray, memoryview)):
            self._value = bytearray(value)
        else:
            raise TypeError(f"Secret takes str or bytes, not {type(value).__name__}")

    # --- access ---------------------------------------------------------------------------------
    def reveal(self) -> bytes:
        """The secret as bytes. Only for the code that consumes it (signing, encryption)."""
        if self._value is None:
            raise ValueError("secret was wiped")
        return bytes(self._value)

    def reveal_str(self) -> str:
        """The secret as text (UTF-8). Only for the code that consumes it."""
        return self.reveal().decode("utf-8")

    def wipe(self) -> None:
        """Overwrite the value with zeros and forget it; later reveal() raises ValueError."""
        value = self._value
        if value is not None:
            for i in range(len(value)):
                value[i] = 0
            self._value = None

    @property
    def wiped(self) -> bool:
        return self._value is None

    def equals(self, other: "Secret | bytes | str") -> bool:
        """Constant-time comparison with another secret or a raw value."""
        if isinstance(other, Secret):
            other_bytes = other.reveal()
        elif isinstance(other, str):
            other_bytes = other.encode("utf-8")
        else:
            other_bytes = bytes(other)
        return hmac.compare_digest(self.reveal(), other_bytes)

    def __len__(self) -> int:
        return 0 if self._value is None else len(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    # --- never show -----------------------------------------------------------------------------
    def __repr__(self) -> str:
        return _MASK

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        # `==` is identity only: use equals() for a constant-time comparison of values.
        return self is other

    __hash__ = object.__hash__

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")

    def __copy__(self) -> "Secret":
        return Secret(self.reveal())

    def __deepcopy__(self, memo: dict) -> "Secret":
        return Secret(self.reveal())

    def __del__(self) -> None:
        try:
            self.wipe()
        except Exception:  # noqa: BLE001 - never raise from a finaliser
            pass
