"""``python -m horsehuman_gui.cli``: the ``horsehuman`` command."""

import sys

from horsehuman_gui.cli import main

sys.exit(main())
