"""Data health rules on hand-made ImageInfo records (no decoding)."""

from __future__ import annotations

from pathlib import Path

from horsehuman_gui.core import health
from horsehuman_gui.core.groups import SAME_BYTES, SIMILAR, ImageInfo, Link
from horsehuman_gui.core.health import Item

ROOT = Path("/data")


def info(name: str, width: int = 64, height: int = 64, pixels: str | None = None) -> ImageInfo:
    return ImageInfo(ROOT / name, width, height, name, pixels or name, 0, b"")


def test_small_images_and_extreme_aspect_ratios():
    infos = [info("ok.png"), info("tiny.png", 31, 100), info("edge.png", 32, 96),
             info("wide.png", 97, 32), info("tall.png", 10, 400)]
    found = {f.kind: f for f in health.image_findings(infos, ROOT)}
    assert [p.name for p in found["small image"].files] == ["tiny.png", "tall.png"]
    assert [p.name for p in found["aspect ratio"].files] == ["tiny.png", "wide.png", "tall.png"]
    assert found["small image"].message.startswith("2 images are smaller than 32 pixels")


def test_duplicates_are_sorted_by_how_bad_they_are():
    items = [Item(info("a/1.png", pixels="x"), 0, "train"),
             Item(info("a/2.png", pixels="x"), 0, "train"),
             Item(info("a/3.png"), 0, "train"), Item(info("b/4.png"), 1, "validation"),
             Item(info("a/5.png"), 0, "train"), Item(info("a/6.png"), 0, "validation")]
    links = [Link(0, 1, SAME_BYTES), Link(2, 3, SIMILAR), Link(4, 5, SIMILAR),
             Link(0, 4, "name series")]  # a series is related, not a duplicate
    findings = health.duplicate_findings(items, links, ("a", "b"), ROOT)
    assert [(f.kind, [p.name for p in f.files]) for f in findings] == [
        ("label conflict", ["3.png", "4.png"]), ("across parts", ["5.png", "6.png"]),
        ("duplicate", ["1.png", "2.png"])]
    assert "the same picture 2 times in class a: a/1.png, a/2.png" == findings[2].message
    assert findings[0].message.startswith("near-identical pictures in classes a, b")
    items[1] = Item(info("a/2.png", pixels="y"), 0, "train")
    near = health.duplicate_findings(items, links, ("a", "b"), ROOT)[2]
    assert (near.kind, near.message) == ("near duplicate",
                                         "2 near-identical pictures in class a: a/1.png, a/2.png")


def test_small_classes_and_classes_without_validation():
    items = [Item(info(f"a/{i}.png"), 0, "train") for i in range(12)]
    items += [Item(info(f"b/{i}.png"), 1, "train") for i in range(3)]
    groups = list(range(12)) + [12, 12, 12]
    findings = health.class_findings(items, ("a", "b"), groups, "classes")
    assert [(f.kind, len(f.files)) for f in findings] == [("few images", 3), ("no validation", 3)]
    assert findings[0].message == \
        "class b has only 3 images; a class needs about 10 or more to learn from"
    assert health.class_findings(items, ("a", "b"), groups, "split")[1:] == []


def test_blocking_problems_say_plainly_what_is_wrong():
    findings, blocking = health.folder_findings([ROOT / "x", ROOT / "y"], 4, {"a": 1, "b": 40})
    assert blocking == [
        "2 of the 4 sub-folders hold no images (x, y): this does not look like a dataset "
        "(one sub-folder of pictures per class)",
        "class a has only 1 image: a class needs at least 2, one to learn from and one to check "
        "(and about 10 or more to learn anything)"]
    assert [f.kind for f in findings] == ["empty folder", "not a dataset"]
    findings, blocking = health.folder_findings([ROOT / "x"], 3, {"a": 5, "b": 5})
    assert blocking == [] and [f.kind for f in findings] == ["empty folder"]
