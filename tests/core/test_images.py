"""Decoding real-world images: every odd format loads as RGB, every bad file gives a reason."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from conftest import bomb_png_bytes, make_bad_files, make_odd_images
from PIL import Image

from horsehuman_gui.core import images
from horsehuman_gui.core.errors import ImageError
from horsehuman_gui.core.images import load_array, open_rgb, verify_image


@pytest.fixture
def odd(tmp_path):
    folder = tmp_path / "odd"
    return folder, make_odd_images(folder)


def test_every_odd_format_loads_as_upright_rgb(odd):
    folder, expected = odd
    for name, size in expected.items():
        image = open_rgb(folder / name)
        assert image.mode == "RGB", name
        assert image.size == size, name
        assert verify_image(folder / name) is None, name


def test_cmyk_jpeg_keeps_its_colour(odd):
    folder, _ = odd
    r, g, b = np.asarray(open_rgb(folder / "cmyk.jpg")).reshape(-1, 3).mean(axis=0)
    assert r > 200 and g < 60 and b < 60  # C=0 M=255 Y=255 is red, not inverted cyan


def test_16_bit_png_is_scaled_not_clipped_to_white(odd):
    folder, _ = odd
    assert Image.open(folder / "grey16.png").mode.startswith("I")  # really 16-bit on disk
    pixels = load_array(folder / "grey16.png")
    assert pixels.dtype == np.uint8
    assert np.all(np.abs(pixels.astype(int) - round(20000 / 257)) <= 1)


def test_32_bit_integer_tiff_with_16_bit_values_is_scaled(tmp_path):
    path = tmp_path / "deep.tif"
    Image.fromarray(np.full((8, 8), 40000, dtype=np.int32)).save(path)
    assert Image.open(path).mode == "I"
    assert np.all(np.abs(load_array(path).astype(int) - round(40000 / 257)) <= 1)


def test_transparency_is_composited_on_white(tmp_path):
    rgba = np.zeros((10, 20, 4), dtype=np.uint8)
    rgba[:, :10] = (0, 0, 255, 255)  # left half opaque blue, right half transparent black
    Image.fromarray(rgba).save(tmp_path / "half.png")
    pixels = load_array(tmp_path / "half.png")
    assert pixels[5, 2].tolist() == [0, 0, 255]
    assert pixels[5, 15].tolist() == [255, 255, 255]


def test_palette_transparency_is_composited_on_white(tmp_path):
    palette = Image.new("P", (20, 10), 0)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.paste(1, (0, 0, 10, 10))
    palette.save(tmp_path / "p.png", transparency=0)
    pixels = load_array(tmp_path / "p.png")
    assert pixels[5, 2].tolist() == [255, 0, 0]
    assert pixels[5, 15].tolist() == [255, 255, 255]


@pytest.mark.parametrize("name", ["animated.gif", "animated.webp"])
def test_animation_gives_its_first_frame(odd, name):
    folder, _ = odd
    r, g, b = load_array(folder / name).reshape(-1, 3).mean(axis=0)
    assert r > 200 and b < 60  # frame 1 is red, frame 2 blue


def test_exif_rotation_is_applied(odd):
    folder, _ = odd
    assert Image.open(folder / "rotated.jpg").size == (40, 30)  # as stored
    assert open_rgb(folder / "rotated.jpg").size == (30, 40)
    assert load_array(folder / "rotated.jpg").shape == (40, 30, 3)


def test_large_jpeg_decodes_at_reduced_scale(tmp_path):
    path = tmp_path / "big.jpg"
    Image.new("RGB", (800, 600), (90, 90, 90)).save(path)
    assert open_rgb(path, (100, 75)).size == (100, 75)  # 1/8 scale: just enough
    assert open_rgb(path, (101, 75)).size == (200, 150)  # never below the asked size
    assert open_rgb(path).size == (800, 600)


def test_reduced_scale_accounts_for_exif_rotation(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (400, 200), (1, 1, 1)).save(tmp_path / "r.jpg", exif=exif)
    # upright it is 200x400; asking for 25x50 upright must pick 1/8 scale, not 1/4
    assert open_rgb(tmp_path / "r.jpg", (25, 50)).size == (25, 50)


def test_load_array_resizes_exactly_ignoring_aspect(odd):
    folder, _ = odd
    assert load_array(folder / "photo.tiff", 16).shape == (16, 16, 3)
    assert load_array(folder / "photo.tiff", (20, 10)).shape == (10, 20, 3)  # (width, height)
    assert load_array(folder / "photo.tiff").shape == (30, 40, 3)


@pytest.mark.parametrize("size", [0, -3, (1, 2, 3), 2.5])
def test_load_array_rejects_bad_size(odd, size):
    folder, _ = odd
    with pytest.raises(ValueError, match="Received"):
        load_array(folder / "photo.tiff", size)


def test_every_bad_file_gives_its_reason(tmp_path):
    folder = tmp_path / "bad"
    expected = make_bad_files(folder)
    for name, reason in expected.items():
        if reason in ("hidden or system file", "not an image file (.txt)"):
            continue  # decided by the folder walk, not by decoding
        with pytest.raises(ImageError) as caught:
            open_rgb(folder / name)
        assert reason in caught.value.reason, name
        assert verify_image(folder / name) == caught.value.reason


def test_missing_file_and_folder(tmp_path):
    assert verify_image(tmp_path / "nope.jpg") == "file not found"
    assert verify_image(tmp_path) == "is a folder, not a file"


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # pytest resets filters
def test_bomb_header_is_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb_png_bytes(13000, 12000))  # 156 MP: above ours, below Pillow's error
    assert path.stat().st_size < 200
    with pytest.raises(ImageError, match=r"too large: 156 megapixels \(limit 150\)"):
        load_array(path)


def test_no_warning_reaches_the_person(tmp_path):
    # a subprocess: pytest replaces warning filters per test, the app does not
    (tmp_path / "bomb.png").write_bytes(bomb_png_bytes(13000, 12000))
    code = ("import sys; from horsehuman_gui.core.images import verify_image; "
            "print(verify_image(sys.argv[1]))")
    result = subprocess.run([sys.executable, "-W", "default", "-c", code,
                             str(tmp_path / "bomb.png")], capture_output=True, text=True)
    assert result.stdout.startswith("too large: 156 megapixels")
    assert "Warning" not in result.stderr, result.stderr


def test_images_we_accept_never_trigger_pillows_warning():
    assert Image.MAX_IMAGE_PIXELS >= images.MAX_PIXELS


def test_pillows_own_bomb_error_becomes_a_reason(tmp_path, monkeypatch):
    Image.new("RGB", (30, 30), (5, 5, 5)).save(tmp_path / "p.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 200)  # 900 px > 2 x 200: Pillow raises
    with pytest.raises(ImageError, match="too large"):
        load_array(tmp_path / "p.png")


def test_image_below_the_limit_loads(tmp_path, monkeypatch):
    Image.new("RGB", (40, 25), (5, 5, 5)).save(tmp_path / "wide.png")
    monkeypatch.setattr(images, "MAX_PIXELS", 1000)
    assert load_array(tmp_path / "wide.png").shape == (25, 40, 3)  # exactly 1000: allowed
    Image.new("RGB", (41, 25), (5, 5, 5)).save(tmp_path / "wider.png")
    with pytest.raises(ImageError, match="too large"):
        load_array(tmp_path / "wider.png")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read a chmod 000 file")
def test_unreadable_file(tmp_path):
    path = tmp_path / "locked.png"
    Image.new("RGB", (8, 8)).save(path)
    path.chmod(0)
    try:
        assert verify_image(path) == "cannot read: permission denied"
    finally:
        path.chmod(0o644)


def test_load_array_is_thread_safe(tmp_path):
    paths = []
    for i in range(12):
        colour = (i * 20, 255 - i * 20, 7)
        paths.append(tmp_path / f"{i}.png")
        Image.new("RGB", (64, 48), colour).save(paths[-1])
    barrier = threading.Barrier(4)

    def load(path):
        barrier.wait(timeout=10) if path in paths[:4] else None
        return load_array(path, 32)

    with ThreadPoolExecutor(4) as pool:
        arrays = list(pool.map(load, paths * 3))
    for i, array in enumerate(arrays):
        assert array[0, 0].tolist() == [(i % 12) * 20, 255 - (i % 12) * 20, 7]


def test_images_module_imports_neither_tensorflow_nor_qt():
    code = ("import sys; import horsehuman_gui.core.images, horsehuman_gui.core.files, "
            "horsehuman_gui.core.dataset, horsehuman_gui.core.export; "
            "bad = [m for m in ('tensorflow', 'keras', 'PySide6', 'pyqtgraph') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def pillow_only(monkeypatch):
    """Decode as if imagecodecs were not installed."""
    monkeypatch.setattr(images, "_spng_decode", None)


def _pngs(folder) -> list:
    rng = np.random.default_rng(3)
    rgba = rng.integers(0, 256, (37, 53, 4), dtype=np.uint8)
    opaque = rgba.copy()
    opaque[..., 3] = 255
    found = []
    for name, pixels in (("rgb", rgba[..., :3]), ("rgba", rgba), ("opaque", opaque)):
        Image.fromarray(pixels).save(folder / f"{name}.png")
        found.append(folder / f"{name}.png")
    return found


def test_libspng_decodes_plain_pngs_to_the_same_pixels_as_pillow(tmp_path, monkeypatch):
    pytest.importorskip("imagecodecs")
    calls = []
    real = images._spng()
    monkeypatch.setattr(images, "_spng_decode", lambda data: calls.append(1) or real(data))
    paths = _pngs(tmp_path)

    fast = [(load_array(p), load_array(p, (20, 30))) for p in paths]
    monkeypatch.setattr(images, "_spng_decode", None)
    slow = [(load_array(p), load_array(p, (20, 30))) for p in paths]

    assert len(calls) == 2 * len(paths)
    assert all(np.array_equal(a, b) for pair in zip(fast, slow) for a, b in zip(*pair))


@pytest.mark.parametrize("decoder", ["libspng", "pillow"])
def test_a_damaged_png_gets_pillows_reason_either_way(tmp_path, monkeypatch, decoder):
    if decoder == "pillow":
        monkeypatch.setattr(images, "_spng_decode", None)
    path = _pngs(tmp_path)[1]
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])  # the pixels stop half way

    with pytest.raises(ImageError, match="corrupt or truncated"):
        load_array(path)
    assert "corrupt or truncated" in verify_image(path)


def test_pngs_that_are_not_plain_rgb_are_left_to_pillow(odd, monkeypatch):
    monkeypatch.setattr(images, "_spng_decode", lambda data: pytest.fail("not for libspng"))
    folder, _ = odd
    for name in ("grey16.png", "palette.png"):
        assert load_array(folder / name).shape[2] == 3
