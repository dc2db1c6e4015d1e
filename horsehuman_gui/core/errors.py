"""Small typed errors raised by the core; the CLI and the UI turn them into sentences."""


class HorsehumanError(Exception):
    """Base of every expected failure the core reports to a person."""


class DatasetError(HorsehumanError):
    """The dataset folder cannot be used (missing, fewer than 2 classes, no images...)."""


class ModelFileError(HorsehumanError):
    """A model file cannot be read, written, or does not match what it claims."""


class ImageError(HorsehumanError):
    """One image cannot be used; ``reason`` is the short per-file reason shown to the user."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class WeightsUnavailable(HorsehumanError):
    """Pretrained weights cannot be had: no connection, a refused download, a damaged file.

    The message is one plain sentence for a person; ``fallback`` names the backbone that works
    without a download (what the UI offers instead), empty when the offline one itself failed.
    """

    def __init__(self, message: str, fallback: str = "squeezenet"):
        super().__init__(message)
        self.fallback = fallback


class DownloadCancelled(HorsehumanError):
    """A download was cancelled by the person; nothing of it was kept."""
