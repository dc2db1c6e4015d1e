"""The Qt-free engine shared by the GUI and the CLI.

Importing this package is cheap: it never imports TensorFlow, PySide6 or pyqtgraph. Modules that
need TensorFlow (``pipeline``, ``models``, ``training``, ``bundle``, ``prediction``) import it
themselves, so only callers that train or predict pay for it.
"""

from horsehuman_gui.core.config import BatchProgress, EpochMetrics, TrainConfig, TrainResult
from horsehuman_gui.core.errors import DatasetError, HorsehumanError, ImageError, ModelFileError

__all__ = [
    "BatchProgress",
    "DatasetError",
    "EpochMetrics",
    "HorsehumanError",
    "ImageError",
    "ModelFileError",
    "TrainConfig",
    "TrainResult",
]
