"""`copytrader` console script (minimal: created by the keystore engineer; the lead owns and extends it).

    copytrader keys ...     manage the encrypted API keys (keystore/cli.py)
"""
from __future__ import annotations

import sys
from typing import Sequence

USAGE = "usage: copytrader keys {init,add,list,verify,rotate,remove,change-passphrase} ...\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0 if args else 2
    if args[0] == "keys":
        from keystore.cli import main_keys

        return main_keys(args[1:])
    sys.stderr.write(f"copytrader: unknown command {args[0]!r}\n{USAGE}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
