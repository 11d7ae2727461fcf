"""Entry point of the PyInstaller bundle."""

import sys

from samcut.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
