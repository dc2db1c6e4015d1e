"""Scanning a dataset: both layouts, the stratified split, bad files, warnings, errors."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from conftest import COLOURS, make_bad_files, make_class_folders, make_odd_images, write_image

from horsehuman_gui.core.dataset import ScanCancelled, report_to_json, scan_dataset, summary_lines
from horsehuman_gui.core.errors import DatasetError


def _paths(items) -> set:
    return {item.path for item in items}


def test_classes_layout_holds_out_a_stratified_part(class_folders):
    report = scan_dataset(class_folders)
    assert report.layout == "classes"
    assert report.classes == ("blue", "red")
    assert report.counts("train") == {"blue": 8, "red": 8}
    assert report.counts("validation") == {"blue": 2, "red": 2}
    assert not _paths(report.train) & _paths(report.validation)
    for item in report.train + report.validation:
        assert item.path.parent.name == report.classes[item.label]
    assert report.skipped == () and report.warnings == ()
    assert report.validation_split == 0.2 and report.seed == 42


def test_split_layout_uses_the_given_parts(split_folders):
    report = scan_dataset(split_folders)
    assert report.layout == "split"
    assert report.counts("train") == {"blue": 12, "red": 12}
    assert report.counts("validation") == {"blue": 4, "red": 4}
    assert all(item.path.parts[-3] == "validation" for item in report.validation)
    assert report.validation_split is None


def test_split_layout_aliases_and_unused_folders(tmp_path):
    make_class_folders(tmp_path / "Training", per_class=3)
    make_class_folders(tmp_path / "val", per_class=2)
    make_class_folders(tmp_path / "test", per_class=1)
    report = scan_dataset(tmp_path)
    assert report.layout == "split"
    assert report.counts("validation") == {"blue": 2, "red": 2}  # val/ preferred over test/
    assert [(s.path.name, s.reason) for s in report.skipped] == \
        [("test", "folder not used (not a train or validation part)")]


def test_split_is_proportional_with_every_class_in_both_parts(tmp_path):
    make_class_folders(tmp_path, classes=("blue", "green", "red"), per_class=1)
    for c, (name, n) in enumerate({"blue": 10, "green": 20, "red": 3}.items()):
        for i in range(n):  # a seed per image: the same noise in two classes is a near-duplicate
            write_image(tmp_path / name / f"more_{i}.png", COLOURS[name], 8, seed=100 * c + i)
    report = scan_dataset(tmp_path, validation_split=0.25)
    assert report.counts("validation") == {"blue": 3, "green": 5, "red": 1}
    assert report.counts("train") == {"blue": 8, "green": 16, "red": 3}


def test_split_is_reproducible_and_depends_on_the_seed(tmp_path):
    make_class_folders(tmp_path, per_class=20, size=8)
    first, again = scan_dataset(tmp_path, seed=1), scan_dataset(tmp_path, seed=1)
    other = scan_dataset(tmp_path, seed=2)
    assert first.validation == again.validation and first.train == again.train
    assert _paths(first.validation) != _paths(other.validation)
    assert other.counts("validation") == first.counts("validation")


def test_small_classes_keep_at_least_one_image_per_part(tmp_path):
    make_class_folders(tmp_path, classes=("blue", "green", "red"), per_class=2, size=8)
    (tmp_path / "red" / "red_001.png").unlink()
    report = scan_dataset(tmp_path, validation_split=0.1)
    assert report.counts("validation") == {"blue": 1, "green": 1, "red": 0}
    assert report.counts("train") == {"blue": 1, "green": 1, "red": 1}
    assert any("red has only 1 usable image" in w for w in report.warnings)


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.2, True, "0.2"])
def test_validation_split_must_be_a_fraction(class_folders, bad):
    with pytest.raises(ValueError, match=f"Received: {bad!r}"):
        scan_dataset(class_folders, validation_split=bad)


def test_fewer_than_two_classes_says_what_was_found(tmp_path):
    make_class_folders(tmp_path / "one", classes=("blue",), per_class=2, size=8)
    with pytest.raises(DatasetError, match=r"found 1 class folder \(blue\).*need at least 2"):
        scan_dataset(tmp_path / "one")
    write_image(tmp_path / "flat" / "a.png", (1, 2, 3), 8)
    with pytest.raises(DatasetError, match="no sub-folders"):
        scan_dataset(tmp_path / "flat")
    with pytest.raises(DatasetError, match="folder not found"):
        scan_dataset(tmp_path / "missing")
    with pytest.raises(DatasetError, match="not a folder"):
        scan_dataset(tmp_path / "flat" / "a.png")


def test_hidden_folders_are_not_classes(tmp_path):
    make_class_folders(tmp_path, classes=("blue",), per_class=2, size=8)
    write_image(tmp_path / ".git" / "x.png", (1, 2, 3), 8)
    with pytest.raises(DatasetError, match="found 1 class folder"):
        scan_dataset(tmp_path)


def test_empty_class_folder_is_left_out_with_a_warning(tmp_path):
    make_class_folders(tmp_path, classes=("blue", "red"), per_class=3, size=8)
    (tmp_path / "empty").mkdir()
    report = scan_dataset(tmp_path)
    assert report.classes == ("blue", "red")
    assert "class folder empty has no usable images; left out" in report.warnings


def test_too_few_usable_classes_is_an_error(tmp_path):
    make_class_folders(tmp_path, classes=("blue",), per_class=3, size=8)
    (tmp_path / "red").mkdir()
    (tmp_path / "red" / "broken.png").write_bytes(b"nope")
    with pytest.raises(DatasetError, match=r"1 with usable images \(blue\)"):
        scan_dataset(tmp_path)


def test_bad_and_odd_files_in_class_folders(tmp_path):
    make_class_folders(tmp_path, per_class=5, size=8)
    expected = make_bad_files(tmp_path / "red" / "junk")
    odd = make_odd_images(tmp_path / "blue" / "odd")
    write_image(tmp_path / "loose.png", (1, 2, 3), 8)
    report = scan_dataset(tmp_path)
    counts = report.counts("train")
    assert counts["blue"] + report.counts("validation")["blue"] == 5 + len(odd)
    assert counts["red"] + report.counts("validation")["red"] == 5
    reasons = {s.path.name: s.reason for s in report.skipped}
    for name, reason in expected.items():
        assert reason in reasons[name], name
    assert reasons["loose.png"] == "not inside a class folder"
    assert len(report.skipped) == len(expected) + 1


def test_links_between_class_folders_are_not_walked(tmp_path):
    make_class_folders(tmp_path, per_class=3, size=8)
    write_image(tmp_path / "loose.png", (1, 2, 3), 8)
    os.symlink(tmp_path / "red", tmp_path / "blue" / "reds")
    os.symlink(tmp_path, tmp_path / "blue" / "up")
    report = scan_dataset(tmp_path)
    assert report.counts("train")["blue"] + report.counts("validation")["blue"] == 3
    reasons = {s.path.name: s.reason for s in report.skipped}
    assert "link loop" in reasons["reds"] and "link loop" in reasons["up"]


def test_class_in_one_part_only_is_kept_with_a_warning(tmp_path):
    make_class_folders(tmp_path / "train", classes=("blue", "green", "red"), per_class=2, size=8)
    make_class_folders(tmp_path / "validation", classes=("blue", "red"), per_class=1, size=8)
    report = scan_dataset(tmp_path)
    assert report.classes == ("blue", "green", "red")
    assert "class green has no folder in validation/" in report.warnings


def test_imbalance_warning_names_the_classes(tmp_path):
    make_class_folders(tmp_path / "balanced", per_class=10, size=8)
    assert not any("imbalanced" in w for w in scan_dataset(tmp_path / "balanced").warnings)
    make_class_folders(tmp_path / "skewed", classes=("blue",), per_class=20, size=8)
    for i in range(5):  # seeds unlike blue's: the same noise in both would be near-duplicates
        write_image(tmp_path / "skewed" / "red" / f"red_{i}.png", COLOURS["red"], 8, seed=500 + i)
    warning = next(w for w in scan_dataset(tmp_path / "skewed").warnings if "imbalanced" in w)
    assert "blue has 16" in warning and "red has 4" in warning


def test_no_validation_images_is_a_warning(tmp_path):
    make_class_folders(tmp_path / "train", per_class=2, size=8)
    (tmp_path / "validation" / "blue").mkdir(parents=True)
    report = scan_dataset(tmp_path)
    assert any(w.startswith("no validation images") for w in report.warnings)


def test_progress_is_reported_and_ends_with_the_total(class_folders):
    calls = []
    scan_dataset(class_folders, on_progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, 20) and calls[-1] == (20, 20)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_scan_can_be_cancelled(class_folders):
    with pytest.raises(ScanCancelled, match="scan cancelled") as caught:
        scan_dataset(class_folders, should_stop=lambda: True)
    assert isinstance(caught.value, DatasetError)


def test_summary_lines_tell_everything(tmp_path):
    make_class_folders(tmp_path, per_class=10, size=8)
    (tmp_path / "red" / "notes.txt").write_text("x")
    (tmp_path / "blue" / "bad.jpg").write_bytes(b"")
    text = "\n".join(summary_lines(scan_dataset(tmp_path)))
    assert "Layout: classes" in text and "20% held out" in text
    assert "Classes (2): blue, red" in text
    assert re.search(r"^  blue +8 +2$", text, re.M) and re.search(r"^  total +16 +4$", text, re.M)
    assert "red/notes.txt: not an image file (.txt)" in text
    assert "blue/bad.jpg: empty file (0 bytes)" in text
    short = summary_lines(scan_dataset(tmp_path), max_skipped=1)
    assert "  ... and 1 more" in short


def test_summary_counts_have_thousands_separators(tmp_path):
    make_class_folders(tmp_path, per_class=3, size=8)
    report = scan_dataset(tmp_path)
    many = dataclasses.replace(report, train=report.train * 500)  # 2,000 training images
    text = "\n".join(summary_lines(many))
    assert re.search(r"^  total +2,000 +\d+$", text, re.M)
    assert re.search(r"^  blue +1,000 ", text, re.M)
    assert "Near-duplicate groups: " in text and " for 2,00" in text


# --- near-duplicate groups, valid/, data health (issue #10) ---------------------------------



def scene(seed: int, size: int = 64) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)).resize(
        (size, size), Image.Resampling.BICUBIC)


def _save(img, path, **options):
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, **options)
    return path


def _scenes(root, counts: dict[str, int], first_seed=0):
    seed = first_seed
    for name, n in counts.items():
        for i in range(n):
            _save(scene(seed), root / name / f"{name}{i:02d}.png")
            seed += 1
    return root


def test_near_duplicates_stay_in_one_part(tmp_path):
    root = _scenes(tmp_path, {"a": 12, "b": 12})
    original = scene(3)  # a/a03.png, copied four ways into class a
    copies = [_save(original, root / "a" / "copy.png"), _save(original, root / "a" / "copy.bmp"),
              _save(original, root / "a" / "copy.jpg", quality=70),
              _save(original.resize((48, 48)), root / "a" / "small.png"),
              _save(original.crop((2, 0, 64, 64)).resize((64, 64)), root / "a" / "shifted.png")]
    family = {root / "a" / "a03.png", *copies}
    for seed in range(6):
        report = scan_dataset(root, seed=seed)
        in_validation = family & _paths(report.validation)
        assert in_validation in (set(), family), seed
        groups = {item.group for item in report.train + report.validation if item.path in family}
        assert len(groups) == 1
    linked = {item.path.name: item.linked_by for item in report.train + report.validation}
    assert "same pixels" in linked["copy.bmp"] and "similar picture" in linked["copy.jpg"]
    assert linked["a05.png"] == ()
    found = {f.kind: f for f in report.findings}
    assert set(found[("near duplicate")].files) == family


def test_valid_folder_is_the_validation_part(tmp_path):
    make_class_folders(tmp_path / "train", per_class=4, size=8)
    make_class_folders(tmp_path / "valid", per_class=2, size=8)
    report = scan_dataset(tmp_path)
    assert report.layout == "split" and report.classes == ("blue", "red")
    assert all(item.path.parts[-3] == "valid" for item in report.validation)
    assert report.counts("validation") == {"blue": 2, "red": 2}


def test_split_layout_warns_about_near_duplicates_shared_by_the_parts(tmp_path):
    _scenes(tmp_path / "train", {"a": 5, "b": 5})
    _scenes(tmp_path / "validation", {"a": 2, "b": 2}, first_seed=100)
    leaked = _save(scene(1), tmp_path / "validation" / "a" / "again.jpg", quality=80)
    report = scan_dataset(tmp_path)
    warning = next(w for w in report.warnings if "near-duplicate in train/" in w)
    assert warning.startswith("1 image in validation/ has a copy or near-duplicate in train/")
    finding = next(f for f in report.findings if f.kind == "across parts")
    assert set(finding.files) == {tmp_path / "train" / "a" / "a01.png", leaked}


def test_health_findings_list_their_files(tmp_path):
    root = _scenes(tmp_path, {"cats": 12, "dogs": 12})
    shutil.copy(root / "cats" / "cats00.png", root / "cats" / "again.png")
    shutil.copy(root / "cats" / "cats01.png", root / "dogs" / "mislabelled.png")
    tiny = _save(scene(50, 16), root / "dogs" / "tiny.png")
    wide = _save(scene(51).resize((200, 40)), root / "dogs" / "wide.png")
    _scenes(root, {"owls": 4}, first_seed=60)
    (root / "empty").mkdir()
    report = scan_dataset(root)
    found = {}
    for finding in report.findings:
        found.setdefault(finding.kind, []).append(set(finding.files))
    assert found["duplicate"] == [{root / "cats" / "cats00.png", root / "cats" / "again.png"}]
    assert found["label conflict"] == [{root / "cats" / "cats01.png",
                                        root / "dogs" / "mislabelled.png"}]
    assert found["small image"] == [{tiny}] and found["aspect ratio"] == [{wide}]
    assert found["few images"] == [set((root / "owls").glob("*.png"))]
    assert found["empty folder"] == [{root / "empty"}]
    assert report.blocking_problems == ()
    both = {root / "cats" / "cats01.png", root / "dogs" / "mislabelled.png"}
    assert len(both & _paths(report.validation)) in (0, 2)  # a conflict is still one group


def test_a_class_of_one_series_cannot_hold_out_validation(tmp_path):
    root = _scenes(tmp_path, {"b": 6})
    for i in range(5):  # renders of one figure: one name series
        _save(scene(200 + i), root / "a" / f"horse05-{i}.png")
    report = scan_dataset(root)
    assert report.counts("validation")["a"] == 0
    finding = next(f for f in report.findings if f.kind == "no validation")
    assert "class a cannot hold out validation images" in finding.message
    assert len(finding.files) == 5
    assert all(item.linked_by == ("name series",) for item in report.train if item.label == 0)


def test_not_a_dataset_is_a_blocking_problem(tmp_path):
    _scenes(tmp_path, {"cache": 1, "logs": 3})
    for name in ("pytest-of-root", "systemd-private", "tmpabc"):
        (tmp_path / name).mkdir()
    report = scan_dataset(tmp_path)
    problems = "\n".join(report.blocking_problems)
    assert "3 of the 5 sub-folders hold no images" in problems
    assert "does not look like a dataset" in problems
    assert "class cache has only 1 image" in problems
    assert any(f.kind == "not a dataset" for f in report.findings)
    assert scan_dataset(_scenes(tmp_path / "fine", {"a": 3, "b": 3})).blocking_problems == ()


def test_a_folder_deleted_during_the_scan_says_so(tmp_path):
    root = make_class_folders(tmp_path / "gone", per_class=3, size=8)

    def delete(done, total):
        if root.exists():
            shutil.rmtree(root)

    with pytest.raises(DatasetError, match="the folder disappeared during the scan"):
        scan_dataset(root, on_progress=delete)


def test_report_to_json_has_everything_the_dataset_tab_shows(tmp_path):
    root = _scenes(tmp_path, {"a": 10, "b": 10})
    shutil.copy(root / "a" / "a00.png", root / "a" / "again.png")
    (root / "b" / "notes.txt").write_text("x")
    report = scan_dataset(root)
    data = json.loads(json.dumps(report_to_json(report)))
    assert data["classes"] == ["a", "b"] and data["layout"] == "classes"
    assert data["counts"]["train"]["a"] + data["counts"]["validation"]["a"] == 11
    items = data["parts"]["train"] + data["parts"]["validation"]
    assert len(items) == 21 and {i["class"] for i in items} == {"a", "b"}
    groups = {Path(i["path"]).name: i["group"] for i in items}
    assert groups["a00.png"] == groups["again.png"] != groups["a01.png"]
    assert data["grouping"]["links"] == {"same bytes": 1, "same pixels": 1,
                                         "similar picture": 1}
    assert data["skipped"] == [{"path": str(root / "b" / "notes.txt"),
                                "reason": "not an image file (.txt)"}]
    assert data["findings"][0]["kind"] == "duplicate"
    assert sorted(data["findings"][0]["files"]) == [str(root / "a" / n)
                                                    for n in ("a00.png", "again.png")]
    assert data["blocking_problems"] == [] and isinstance(data["warnings"], list)
    text = "\n".join(summary_lines(report))
    assert "Near-duplicate groups: 20 for 21 images" in text and "[duplicate]" in text


# --- big folders: header checks, walk progress and cancel (issues #14, #11) ------------------


@pytest.fixture
def header_checks(monkeypatch):
    """Scans check images from their headers, as for a folder too big to decode."""
    from horsehuman_gui.core import dataset

    monkeypatch.setattr(dataset, "CONTENT_CHECK_LIMIT", 0)


def test_header_checks_still_report_every_bad_file(tmp_path, header_checks):
    make_class_folders(tmp_path, per_class=5, size=8)
    expected = make_bad_files(tmp_path / "red" / "junk")
    odd = make_odd_images(tmp_path / "blue" / "odd")
    report = scan_dataset(tmp_path)
    assert report.decoded is False
    total = report.counts("train")["blue"] + report.counts("validation")["blue"]
    assert total == 5 + len(odd)  # unusual formats and modes are fine, as when decoded
    reasons = {s.path.name: s.reason for s in report.skipped}
    for name, reason in expected.items():
        assert reason in reasons[name], name
    assert len(report.skipped) == len(expected)


def test_header_checks_group_by_name_and_say_so(tmp_path, header_checks):
    root = _scenes(tmp_path, {"b": 6})
    for i in range(5):
        _save(scene(200 + i), root / "a" / f"horse05-{i}.png")
    shutil.copy(root / "b" / "b00.png", root / "b" / "again.png")  # not looked for: no hashes
    report = scan_dataset(root)
    assert report.grouping_signals == ("name series", "burst")
    assert dict(report.grouping_links) == {"name series": 4}
    assert not any(f.kind == "duplicate" for f in report.findings)
    assert any("checked from its header rather than decoded" in w for w in report.warnings)
    text = "\n".join(summary_lines(report))
    assert "file names only: not decoded" in text
    assert report_to_json(report)["decoded"] is False
    assert scan_dataset(root, cache=False).decoded is False


def test_decoded_scans_say_so(class_folders):
    report = scan_dataset(class_folders)
    assert report.decoded is True and report_to_json(report)["decoded"] is True
    assert not any("header" in w for w in report.warnings)


def test_walk_progress_counts_images_found_before_the_checks(class_folders):
    calls = []
    scan_dataset(class_folders, on_walk=lambda found: calls.append(("walk", found)),
                 on_progress=lambda done, total: calls.append(("check", done)))
    walk = [n for kind, n in calls if kind == "walk"]
    assert walk[-1] == 20 and walk == sorted(walk)
    assert calls.index(("walk", 20)) < calls.index(("check", 0))


def test_scan_is_cancelled_while_walking(class_folders):
    checked = []
    with pytest.raises(ScanCancelled):
        scan_dataset(class_folders, should_stop=lambda: True,
                     on_progress=lambda done, total: checked.append(done))
    assert checked == []  # stopped before any image was checked


def test_a_walk_inside_one_huge_folder_can_be_stopped(tmp_path, monkeypatch):
    from horsehuman_gui.core import files

    monkeypatch.setattr(files, "_FOUND_EVERY", 4)  # as every 512 entries of a huge folder
    make_class_folders(tmp_path, per_class=30, size=4)
    seen = []

    def stop_after_a_few():
        seen.append(1)
        return len(seen) > 2

    with pytest.raises(ScanCancelled):
        scan_dataset(tmp_path, should_stop=stop_after_a_few)
    assert len(seen) == 3  # asked within the first class folder, not only between folders
