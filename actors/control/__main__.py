"""`python -m actors.control --config FILE`: the control actor."""

import sys

from .actor import main

sys.exit(main())
