"""Issue #12: odd names survive printing and the CSV, a FIFO never blocks decoding, a CSV
never replaces a file that appeared meanwhile, a huge EXIF block is not parsed."""

from __future__ import annotations

import csv
import errno
import io
import os
import struct
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import write_image
from horsehuman_gui.core import images
from horsehuman_gui.core.errors import ImageError
from horsehuman_gui.core.export import write_csv
from horsehuman_gui.core.files import printable
from horsehuman_gui.core.images import load_array, open_rgb, verify_image
from horsehuman_gui.core.prediction import Prediction

CLASSES = ("horses", "humans")
NOT_UTF8 = os.fsdecode(b"caf\xe9.png")  # Latin-1 bytes, as from an old camera or archive


def _ok(path) -> Prediction:
    return Prediction(Path(path), "horses", 0.9, (0.9, 0.1))


# ---------------------------------------------------------------- 3. names

@pytest.mark.parametrize("name, shown", [
    ("plain ñandú 馬.jpg", "plain ñandú 馬.jpg"),
    (NOT_UTF8, "caf\\xe9.png"),
    ("two\nlines.jpg", "two\\nlines.jpg"),
    ("tab\there\r.jpg", "tab\\there\\r.jpg"),
    ("bell\x07 del\x7f sep\u2028.jpg", "bell\\x07 del\\x7f sep\\u2028.jpg"),
])
def test_printable_names_are_one_line_of_valid_text(name, shown):
    assert printable(Path(name)) == shown
    printable(name).encode("utf-8")  # strict: no surrogates left


def test_a_name_that_is_not_utf8_does_not_lose_the_csv(tmp_path):
    out = write_csv([_ok(tmp_path / NOT_UTF8), _ok(tmp_path / "two\nlines.jpg"),
                     Prediction(Path("b.jpg"), None, None, (), f"cannot read: {NOT_UTF8}")],
                    CLASSES, tmp_path / "out.csv")

    with open(out, encoding="utf-8", newline="") as handle:  # strict UTF-8 reads it
        rows = list(csv.DictReader(handle))
    assert [r["path"] for r in rows] == [str(tmp_path / "caf\\xe9.png"),
                                         str(tmp_path / "two\\nlines.jpg"), "b.jpg"]
    assert rows[2]["error"].startswith("cannot read: caf")


# ---------------------------------------------------------------- 1. CSV not clobbered

def test_a_csv_appearing_during_the_write_is_kept(tmp_path):
    out = tmp_path / "out.csv"

    def predictions():
        yield _ok("a.jpg")
        out.write_text("theirs")  # another run, or the person, took the name meanwhile
        yield _ok("b.jpg")

    with pytest.raises(FileExistsError):
        write_csv(predictions(), CLASSES, out)
    assert out.read_text() == "theirs"
    assert sorted(os.listdir(tmp_path)) == ["out.csv"]


def test_a_full_disk_names_the_csv(tmp_path):
    def predictions():
        yield _ok("a.jpg")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError) as caught:
        write_csv(predictions(), CLASSES, tmp_path / "out.csv")
    assert caught.value.filename == str(tmp_path / "out.csv")
    assert caught.value.errno == errno.ENOSPC and os.listdir(tmp_path) == []


def test_stale_temporary_csvs_are_removed(tmp_path):
    old = tmp_path / ".out.csv.0123abcd.horsehuman.tmp"
    old.write_text("half")
    past = time.time() - 7200
    os.utime(old, (past, past))
    young = tmp_path / ".out.csv.89abcdef.horsehuman.tmp"
    young.write_text("a run still writing")

    write_csv([_ok("a.jpg")], CLASSES, tmp_path / "out.csv")

    assert not old.exists() and young.exists()


# ---------------------------------------------------------------- 7. special files

def _finishes(function, *args, seconds: float = 10.0):
    result: list = []
    thread = threading.Thread(target=lambda: result.append(_outcome(function, *args)),
                              daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "blocked"
    return result[0]


def _outcome(function, *args):
    try:
        return function(*args)
    except ImageError as exc:
        return exc.reason


@pytest.mark.parametrize("function", [load_array, verify_image])
def test_a_fifo_where_an_image_was_never_blocks(tmp_path, function):
    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)

    assert _finishes(function, fifo) == "not a regular file"


def test_a_device_is_refused_without_reading(tmp_path):
    assert _finishes(load_array, Path("/dev/zero")) == "not a regular file"


# ---------------------------------------------------------------- 8. huge EXIF

def _jpeg_with_metadata(path: Path, orientation: int, junk_segments: int) -> Path:
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    Image.fromarray(np.full((30, 40, 3), 200, np.uint8)).save(buffer, "JPEG", exif=exif)
    data = buffer.getvalue()
    payload = b"Exif\0\0MM\0*\0\0\0\x08" + b"\0" * 65000
    junk = (b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload) * junk_segments
    exif_end = data.index(b"\xff\xe1") + 2 + struct.unpack(">H", data[data.index(b"\xff\xe1")
                                                                       + 2:][:2])[0]
    path.write_bytes(data[:exif_end] + junk + data[exif_end:])  # real EXIF first, then junk
    return path


def test_a_huge_exif_block_is_not_parsed(tmp_path):
    photo = _jpeg_with_metadata(tmp_path / "big.jpg", orientation=6, junk_segments=160)
    assert photo.stat().st_size > 10_000_000

    tracemalloc.start()
    try:
        upright = open_rgb(photo)
        pixels = load_array(photo, 16)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert upright.size == (30, 40)  # the orientation in the first EXIF segment still applies
    assert pixels.shape == (16, 16, 3) and verify_image(photo) is None
    assert peak < 2 * 2**20  # Pillow given it all: >20 MB here, ~230 MB and ~10 s for 50 MB


def test_ordinary_jpegs_are_read_from_the_file_itself(tmp_path):
    photo = write_image(tmp_path / "small.jpg", (10, 20, 30))
    with open(photo, "rb") as handle:
        assert images._lean_jpeg(handle) is handle
