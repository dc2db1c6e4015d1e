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
