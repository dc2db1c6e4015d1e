"""``python -m horsehuman_gui`` opens the main window."""

import sys

from horsehuman_gui.app import main

if __name__ == "__main__":
    sys.exit(main())
