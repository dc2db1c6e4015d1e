"""Shared fixtures. Qt runs offscreen and nothing touches the person's own settings or data."""

from __future__ import annotations

import os

# Before any Qt or TensorFlow import anywhere in the test session.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

COLOURS = {
    "blue": (20, 40, 220),
    "green": (30, 200, 40),
    "red": (220, 30, 30),
}


@pytest.fixture(autouse=True)
def _private_data_dir(tmp_path_factory, monkeypatch):
    """Models saved automatically go to a temporary folder, never the person's own."""
    monkeypatch.setenv("HORSEHUMAN_DATA_DIR", str(tmp_path_factory.mktemp("data-dir")))


def write_image(path: Path, colour: tuple[int, int, int], size: int = 32, seed: int = 0,
                fmt: str | None = None) -> Path:
    """A mostly-``colour`` image with a little noise, so classes are trivially separable."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(-25, 26, size=(size, size, 3))
    pixels = np.clip(np.array(colour)[None, None, :] + noise, 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format=fmt)
    return path


def make_class_folders(root: Path, classes=("blue", "red"), per_class: int = 10,
                       size: int = 32, ext: str = ".png") -> Path:
    """root/<class>/<class>_<i><ext>, each class its own colour."""
    for ci, name in enumerate(classes):
        for i in range(per_class):
            write_image(root / name / f"{name}_{i:03d}{ext}", COLOURS[name], size, seed=ci * 1000 + i)
    return root


@pytest.fixture
def class_folders(tmp_path) -> Path:
    """Layout (b): a root whose sub-folders blue/ and red/ are the classes, 10 images each."""
    return make_class_folders(tmp_path / "colours")


@pytest.fixture
def split_folders(tmp_path) -> Path:
    """Layout (a): train/ and validation/ with the same class sub-folders."""
    root = tmp_path / "course"
    make_class_folders(root / "train", per_class=12)
    make_class_folders(root / "validation", per_class=4)
    return root
