"""`python -m actors.slave --config F --id ID`: one slave process."""

import sys

from .process import main

sys.exit(main())
