"""Exporting predictions: the CSV's columns and content, copies that never overwrite."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
from conftest import write_image

from horsehuman_gui.core.export import (
    CopySummary, copy_into_class_folders, csv_columns, folder_name, write_csv)
from horsehuman_gui.core.prediction import Prediction

CLASSES = ("horses", "humans")


def _ok(path, label="horses", confidence=0.9, scores=(0.9, 0.1)) -> Prediction:
    return Prediction(Path(path), label, confidence, scores)


def _failed(path, error="corrupt or truncated image") -> Prediction:
    return Prediction(Path(path), None, None, (), error)


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_csv_columns():
    assert csv_columns(CLASSES) == ["path", "label", "confidence", "score_horses",
                                    "score_humans", "error"]


def test_csv_content_scores_and_error_rows(tmp_path):
    out = write_csv([_ok("a/ñandú, 1.jpg", "humans", 0.25, (0.25, 0.75)),
                     _failed("b.jpg")], CLASSES, tmp_path / "out.csv")
    assert out == tmp_path / "out.csv"
    first, second = _read(out)
    assert first == {"path": "a/ñandú, 1.jpg", "label": "humans", "confidence": "0.250000",
                     "score_horses": "0.250000", "score_humans": "0.750000", "error": ""}
    assert second == {"path": "b.jpg", "label": "", "confidence": "", "score_horses": "",
                      "score_humans": "", "error": "corrupt or truncated image"}


def test_csv_never_overwrites_unless_asked(tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("precious")
    with pytest.raises(FileExistsError):
        write_csv([_ok("a.jpg")], CLASSES, out)
    assert out.read_text() == "precious"
    write_csv([_ok("a.jpg")], CLASSES, out, overwrite=True)
    assert _read(out)[0]["path"] == "a.jpg"
    assert sorted(os.listdir(tmp_path)) == ["out.csv"]  # no temporary file left behind


def test_failed_csv_write_leaves_the_previous_file(tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("previous")

    def predictions():
        yield _ok("a.jpg")
        raise RuntimeError("model crashed")

    with pytest.raises(RuntimeError):
        write_csv(predictions(), CLASSES, out, overwrite=True)
    assert out.read_text() == "previous"
    assert sorted(os.listdir(tmp_path)) == ["out.csv"]


def test_csv_rejects_scores_that_do_not_match_the_classes(tmp_path):
    with pytest.raises(ValueError, match="3 scores but there are 2 class names"):
        write_csv([_ok("a.jpg", scores=(0.1, 0.2, 0.7))], CLASSES, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


@pytest.fixture
def photos(tmp_path) -> list[Path]:
    paths = [write_image(tmp_path / "in" / name, (i * 40, 10, 10), 8, seed=i)
             for i, name in enumerate(["a.png", "b.png", "c.png"])]
    paths.append(write_image(tmp_path / "in" / "other" / "a.png", (7, 7, 7), 8))
    return paths


def test_copy_sorts_into_class_folders_and_never_overwrites(tmp_path, photos):
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in photos}
    target = tmp_path / "sorted"
    (target / "horses").mkdir(parents=True)
    (target / "horses" / "a.png").write_bytes(b"already here")
    predictions = [_ok(photos[0]), _ok(photos[1], "humans"), _failed(photos[2]), _ok(photos[3])]
    summary = copy_into_class_folders(predictions, target)
    assert isinstance(summary, CopySummary) and not summary.stopped
    assert [(s.name, d.relative_to(target).as_posix()) for s, d in summary.copied] == [
        ("a.png", "horses/a (1).png"), ("b.png", "humans/b.png"), ("a.png", "horses/a (2).png")]
    assert [(s.path, s.reason) for s in summary.skipped] == [
        (photos[2], "corrupt or truncated image")]
    assert (target / "horses" / "a.png").read_bytes() == b"already here"
    for source, copy in summary.copied:
        assert copy.read_bytes() == before[source][0]
    for path, (data, mtime) in before.items():  # sources still there, byte-identical
        assert path.read_bytes() == data and path.stat().st_mtime_ns == mtime


def test_copy_skips_vanished_and_repeated_sources(tmp_path, photos):
    photos[1].unlink()
    summary = copy_into_class_folders([_ok(photos[0]), _ok(photos[1]), _ok(photos[0])],
                                      tmp_path / "sorted")
    assert len(summary.copied) == 1
    assert [s.reason for s in summary.skipped] == ["source file no longer exists",
                                                   "already copied (listed twice)"]


def test_copy_progress_and_stop(tmp_path, photos):
    calls = []
    summary = copy_into_class_folders([_ok(p) for p in photos], tmp_path / "all",
                                      on_progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (4, 4) and len(summary.copied) == 4
    stopped = copy_into_class_folders([_ok(p) for p in photos], tmp_path / "none",
                                      should_stop=lambda: True)
    assert stopped.stopped and stopped.copied == () and not (tmp_path / "none").exists()


def test_labels_cannot_escape_the_target(tmp_path, photos):
    summary = copy_into_class_folders([_ok(photos[0], "../evil")], tmp_path / "sorted")
    (copy,) = [d for _, d in summary.copied]
    assert copy.parent.parent == tmp_path / "sorted"
    assert folder_name("..") == "_" and folder_name("a/b") == "a_b"
