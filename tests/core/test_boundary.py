"""The core/UI boundary is mechanical: importing the core never loads Qt or TensorFlow."""

import subprocess
import sys

CHECK = """
import sys
import horsehuman_gui.core
import horsehuman_gui.core.dataset, horsehuman_gui.core.images, horsehuman_gui.core.files
import horsehuman_gui.core.export, horsehuman_gui.core.bundle, horsehuman_gui.core.prediction
import horsehuman_gui.cli
loaded = sorted(m for m in sys.modules
                if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'tensorflow', 'keras'))
print(','.join(loaded))
"""


def test_core_and_cli_import_without_qt_or_tensorflow():
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"the core pulled in: {out.stdout.strip()}"


def test_training_modules_do_not_import_qt():
    code = ("import sys, horsehuman_gui.core.training, horsehuman_gui.core.pipeline;"
            "print([m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
