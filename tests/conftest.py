"""Shared fixtures. Qt runs offscreen and nothing touches the person's own settings or data."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

# Before any Qt or TensorFlow import anywhere in the test session.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _private_home() -> None:
    """The session's own home folder, so nothing (Keras's ~/.keras/keras.json, caches, Qt's and
    the launcher's XDG folders) is written into the person's real one. Keras reads KERAS_HOME,
    else ~, once at import: this runs before anything imports it. Subprocesses inherit it."""
    home = Path(tempfile.mkdtemp(prefix="horsehuman-tests-home-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ["HOME"] = str(home)
    os.environ["KERAS_HOME"] = str(home / ".keras")
    for name, sub in (("XDG_CONFIG_HOME", ".config"), ("XDG_CACHE_HOME", ".cache"),
                      ("XDG_DATA_HOME", ".local/share")):
        os.environ[name] = str(home / sub)


_private_home()

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


# --------------------------------------------------------------------------------------------
# Bad and unusual files (helper H1). Reusable by any test: make_bad_files() writes files that
# must be skipped, make_odd_images() files that look unusual but must load.
# --------------------------------------------------------------------------------------------

import struct  # noqa: E402
import zlib  # noqa: E402


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png_bytes(width: int = 20000, height: int = 20000) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` RGB pixels (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _png_chunk(b"IEND", b""))


def _image_bytes(fmt: str, size: int = 48, seed: int = 0) -> bytes:
    import io
    buffer = io.BytesIO()
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def make_bad_files(folder: Path) -> dict[str, str]:
    """Write every kind of unusable file into ``folder``; return {name: expected reason part}.

    The reasons are what core.files.walk_images / core.images.verify_image report (so what a
    dataset scan reports). Symbolic links are included (the tests run on Linux).
    """
    folder.mkdir(parents=True, exist_ok=True)
    png, jpeg = _image_bytes("PNG"), _image_bytes("JPEG")
    contents = {
        "empty.jpg": (b"", "empty file (0 bytes)"),
        "truncated.png": (png[: len(png) // 2], "corrupt or truncated"),
        "truncated.jpg": (jpeg[: len(jpeg) // 2], "corrupt or truncated"),
        "text.jpg": (b"this is not a picture\n" * 20, "not an image (unrecognised content)"),
        "bomb.png": (bomb_png_bytes(), "too large"),
        "notes.txt": (b"hello", "not an image file (.txt)"),
        ".DS_Store": (b"\0\0\0\1Bud1", "hidden or system file"),
        "Thumbs.db": (b"\xd0\xcf\x11\xe0", "hidden or system file"),
        ".hidden.png": (png, "hidden or system file"),
    }
    for name, (data, _) in contents.items():
        (folder / name).write_bytes(data)
    expected = {name: reason for name, (_, reason) in contents.items()}
    os.symlink(folder / "missing-target.jpg", folder / "broken.jpg")
    os.symlink(folder / "loop.jpg", folder / "loop.jpg")  # points at itself
    expected.update({"broken.jpg": "broken link", "loop.jpg": "link loop"})
    return expected


def make_odd_images(folder: Path) -> dict[str, tuple[int, int]]:
    """Write unusual but valid images into ``folder``; return {name: (width, height) upright}."""
    folder.mkdir(parents=True, exist_ok=True)
    made: dict[str, tuple[int, int]] = {}

    def save(name: str, image: Image.Image, upright=None, **options) -> None:
        image.save(folder / name, **options)
        made[name] = upright or image.size

    save("cmyk.jpg", Image.new("CMYK", (40, 30), (0, 255, 255, 0)))
    save("grey16.png", Image.fromarray(np.full((30, 40), 20000, dtype=np.uint16)))
    palette = Image.new("P", (40, 30), 1)
    palette.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    save("palette.png", palette)
    save("rgba.png", Image.new("RGBA", (40, 30), (0, 200, 0, 255)))
    frames = [Image.new("RGB", (40, 30), c) for c in ((255, 0, 0), (0, 0, 255))]
    save("animated.gif", frames[0], save_all=True, append_images=frames[1:], duration=100)
    save("animated.webp", frames[0], save_all=True, append_images=frames[1:], duration=100)
    save("photo.tiff", Image.new("RGB", (40, 30), (10, 20, 30)))
    save("photo.BMP", Image.new("RGB", (40, 30), (10, 20, 30)), format="BMP")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    save("rotated.jpg", Image.new("RGB", (40, 30), (200, 200, 0)), upright=(30, 40), exif=exif)
    save("ñandú_馬.png", Image.new("RGB", (40, 30), (1, 2, 3)))
    return made
