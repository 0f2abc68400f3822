"""`python -m actors.cli`: the `copytrader` console script."""

import sys

from . import main

sys.exit(main())
