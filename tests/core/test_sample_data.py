"""Sample datasets: downloaded from a server on 127.0.0.1, verified, extracted safely."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from horsehuman_gui.core import sample_data
from horsehuman_gui.core.dataset import scan_dataset
from horsehuman_gui.core.safe_zip import UnsafeArchiveError, check_members
from horsehuman_gui.core.sample_data import (Archive, DownloadCancelled, DownloadError,
                                             SampleDataset, download_dataset)


def png_bytes(seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


PNG = png_bytes()


def write_zip(path: Path, entries) -> Path:
    """``entries``: (name, bytes) pairs, or ZipInfo/bytes pairs for crafted members."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return path


def images(prefix: str, count: int):
    return [(f"{prefix}/{prefix.rsplit('/', 1)[-1]}{i:03d}.png", PNG) for i in range(count)]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    """Serves tmp_path/served on 127.0.0.1; HORSEHUMAN_DATASETS_URL points at it."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(_Quiet, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HORSEHUMAN_DATASETS_URL", f"http://127.0.0.1:{httpd.server_port}/")
    yield folder
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


TINY = SampleDataset("tiny", "Tiny", (Archive("t.zip", "train", 4), Archive("v.zip",
                                                                           "validation", 2)),
                     "Tiny, CC BY 2.0\n")


def serve_tiny(served: Path, train_entries=None) -> None:
    write_zip(served / "t.zip", train_entries or images("cats", 2) + images("dogs", 2))
    write_zip(served / "v.zip", images("cats", 1) + images("dogs", 1))


def test_horses_or_humans_lands_in_the_course_layout(server, tmp_path):
    write_zip(server / "horse-or-human.zip", images("horses", 500) + images("humans", 527))
    write_zip(server / "validation-horse-or-human.zip",
              images("horses", 128) + images("humans", 128))
    calls = []
    dest = tmp_path / "horse-or-human"
    result = download_dataset("horses-or-humans", dest, progress=lambda d, t: calls.append((d, t)))
    assert result.root == dest
    assert result.counts == {"train": {"horses": 500, "humans": 527},
                             "validation": {"horses": 128, "humans": 128}}
    size = sum(f.stat().st_size for f in server.iterdir())
    assert calls[-1] == (size, size)
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))
    licence = (dest / "LICENSE.txt").read_text()
    assert "CC BY 2.0" in licence and "Laurence Moroney" in licence
    assert sorted(p.name for p in dest.iterdir()) == ["LICENSE.txt", "train", "validation"]
    report = scan_dataset(dest)
    assert report.layout == "split" and report.classes == ("horses", "humans")
    assert (len(report.train), len(report.validation)) == (1027, 256)


def test_a_single_top_folder_is_removed(server, tmp_path):
    spec = SampleDataset("rps", "RPS", (Archive("rps.zip", "train", 3),
                                        Archive("rps-test-set.zip", "validation", 3)), "CC\n")
    write_zip(server / "rps.zip", [(f"rps/{c}/{c}1.png", PNG) for c in ("paper", "rock",
                                                                         "scissors")]
              + [("__MACOSX/rps/._rock", b"junk"), ("rps/.DS_Store", b"junk")])
    write_zip(server / "rps-test-set.zip",
              [(f"rps-test-set/{c}/t.png", PNG) for c in ("paper", "rock", "scissors")])
    result = download_dataset(spec, tmp_path / "rps")
    assert (tmp_path / "rps" / "train" / "rock" / "rock1.png").read_bytes() == PNG
    assert result.counts["validation"] == {"paper": 1, "rock": 1, "scissors": 1}
    assert not list((tmp_path / "rps").rglob("*DS_Store*"))


def symlink_member(name: str, target: str):
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = 0o120777 << 16
    return info, target


@pytest.mark.parametrize("bad", [
    ("../evil.png", PNG),
    ("cats/../../evil.png", PNG),
    ("/tmp/evil.png", PNG),
    ("C:/evil.png", PNG),
    ("cats\\..\\..\\evil.png", PNG),
    symlink_member("cats/link.png", "/etc/passwd"),
    ("cats/bomb.png", b"\0" * (20 * 2**20)),
    ("cats/cats000.png", PNG),  # a second member with the same name
], ids=["dotdot", "nested-dotdot", "absolute", "drive", "backslash", "symlink", "bomb",
        "duplicate"])
@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_malicious_archives_write_nothing(server, tmp_path, bad):
    serve_tiny(server, images("cats", 2) + images("dogs", 1) + [bad])
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    with pytest.raises(DownloadError, match="refused"):
        download_dataset(TINY, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before
    assert not Path("/tmp/evil.png").exists()


def test_total_size_and_member_count_are_bounded(tmp_path):
    path = write_zip(tmp_path / "a.zip", images("cats", 3))
    with zipfile.ZipFile(path) as archive:
        with pytest.raises(UnsafeArchiveError, match="unpacks to more"):
            check_members(archive, max_total_bytes=2 * len(PNG))
        with pytest.raises(UnsafeArchiveError, match="members"):
            check_members(archive, max_members=2)
        assert len(check_members(archive)) == 3


def test_unexpected_counts_are_refused(server, tmp_path):
    serve_tiny(server, images("cats", 2) + images("dogs", 3))
    with pytest.raises(DownloadError, match="holds 5 images; 4 were expected"):
        download_dataset(TINY, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_damaged_archives_are_refused(server, tmp_path):
    serve_tiny(server)
    data = bytearray((server / "t.zip").read_bytes())
    data[60] ^= 0xFF  # inside the first member's compressed bytes: its CRC fails
    (server / "t.zip").write_bytes(bytes(data))
    with pytest.raises(DownloadError, match="damaged|refused"):
        download_dataset(TINY, tmp_path / "dest")
    (server / "t.zip").write_bytes(b"this is not a zip file")
    with pytest.raises(DownloadError, match="damaged"):
        download_dataset(TINY, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_published_hash_is_checked(server, tmp_path):
    serve_tiny(server)
    good = hashlib.sha256((server / "t.zip").read_bytes()).hexdigest()
    spec = SampleDataset("h", "H", (Archive("t.zip", "train", 4, sha256="0" * 64),), "CC\n")
    with pytest.raises(DownloadError, match="SHA-256"):
        download_dataset(spec, tmp_path / "dest")
    spec = SampleDataset("h", "H", (Archive("t.zip", "train", 4, sha256=good),), "CC\n")
    assert download_dataset(spec, tmp_path / "dest").counts["train"] == {"cats": 2, "dogs": 2}


def test_cancel_leaves_nothing(server, tmp_path):
    serve_tiny(server)
    dest = tmp_path / "dest"
    dest.mkdir()  # an empty folder chosen by the person stays, empty
    with pytest.raises(DownloadCancelled):
        download_dataset(TINY, dest, should_stop=lambda: True)
    assert dest.is_dir() and list(dest.iterdir()) == []


def test_a_folder_with_files_is_never_used(server, tmp_path):
    serve_tiny(server)
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "mine.txt").write_text("keep")
    with pytest.raises(DownloadError, match="not empty"):
        download_dataset(TINY, dest)
    assert [p.name for p in dest.iterdir()] == ["mine.txt"]


def test_missing_file_on_server_is_a_download_error(server, tmp_path):
    write_zip(server / "t.zip", images("cats", 2) + images("dogs", 2))  # no v.zip
    with pytest.raises(DownloadError, match="Could not download.*v.zip"):
        download_dataset(TINY, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_default_location_is_the_courses(monkeypatch):
    monkeypatch.delenv("HORSEHUMAN_DATASETS_URL", raising=False)
    assert sample_data.base_url() == "https://storage.googleapis.com/learning-datasets/"
    names = {a.file_name for spec in sample_data.DATASETS.values() for a in spec.archives}
    assert names == {"horse-or-human.zip", "validation-horse-or-human.zip", "rps.zip",
                     "rps-test-set.zip"}
    with pytest.raises(DownloadError, match="Unknown dataset"):
        download_dataset("mnist", "/nonexistent")
