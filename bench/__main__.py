"""`python -m bench` = scripts/bench."""

import sys

from .run import main

sys.exit(main())
