"""``python -m test_coordinator.cli``: the command, without the console script."""

import sys

from test_coordinator.entry import main

sys.exit(main())
