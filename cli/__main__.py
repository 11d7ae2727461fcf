"""``python -m samcut.cli``."""

import sys

from samcut.cli.main import main

sys.exit(main())
