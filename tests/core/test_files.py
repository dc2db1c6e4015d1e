"""Walking folders: images found, every other entry reported with a reason, loops terminate."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import make_bad_files, make_odd_images, write_image

from horsehuman_gui.core import files
from horsehuman_gui.core.files import SkippedFile, collect_images, walk_images


def _reasons(skipped) -> dict[str, str]:
    return {s.path.name: s.reason for s in skipped}


def test_finds_images_by_extension_case_insensitive_sorted(tmp_path):
    for name in ["b.PNG", "a.jpg", "c.JpEg", "d.tif"]:
        write_image(tmp_path / name, (1, 2, 3), 8, fmt="PNG")
    images, skipped = walk_images(tmp_path)
    assert [p.name for p in images] == ["a.jpg", "b.PNG", "c.JpEg", "d.tif"]
    assert skipped == []


def test_every_unusable_entry_is_reported_by_name(tmp_path):
    expected = make_bad_files(tmp_path)
    images, skipped = walk_images(tmp_path)
    reasons = _reasons(skipped)
    decoded_later = {"truncated.png", "truncated.jpg", "text.jpg", "bomb.png"}
    assert {p.name for p in images} == decoded_later  # right extension: the decoder judges them
    for name, reason in expected.items():
        if name not in decoded_later:
            assert reason in reasons[name], name
    assert len(skipped) == len(expected) - len(decoded_later)


def test_recursive_walk_and_non_ascii_names(tmp_path):
    make_odd_images(tmp_path / "deep" / "deeper")
    write_image(tmp_path / "top.png", (1, 2, 3), 8)
    images, _ = walk_images(tmp_path)
    names = {p.name for p in images}
    assert "ñandú_馬.png" in names and "top.png" in names and "photo.BMP" in names
    flat, _ = walk_images(tmp_path, recursive=False)
    assert [p.name for p in flat] == ["top.png"]


def test_hidden_folder_reported_once_not_per_file(tmp_path):
    for i in range(3):
        write_image(tmp_path / ".thumbnails" / f"{i}.png", (1, 2, 3), 8)
    write_image(tmp_path / "__MACOSX" / "x.png", (1, 2, 3), 8)
    images, skipped = walk_images(tmp_path)
    assert images == []
    assert [s.path.name for s in skipped] == [".thumbnails", "__MACOSX"]
    assert all("hidden or system folder" in s.reason for s in skipped)


def test_symlink_loop_terminates_and_is_reported(tmp_path):
    write_image(tmp_path / "a" / "x.png", (1, 2, 3), 8)
    os.symlink(tmp_path, tmp_path / "a" / "back-to-root")
    os.symlink(tmp_path / "a" / "self", tmp_path / "a" / "self")
    images, skipped = walk_images(tmp_path)
    assert [p.name for p in images] == ["x.png"]
    reasons = _reasons(skipped)
    assert "link loop" in reasons["back-to-root"]
    assert reasons["self"] == "link loop"


def test_links_that_resolve_are_followed(tmp_path):
    write_image(tmp_path / "real" / "x.png", (1, 2, 3), 8)
    (tmp_path / "data").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "data" / "linked", target_is_directory=True)
    os.symlink(tmp_path / "real" / "x.png", tmp_path / "data" / "y.png")
    images, skipped = walk_images(tmp_path / "data")
    assert [p.relative_to(tmp_path / "data").as_posix() for p in images] == \
        ["linked/x.png", "y.png"]  # the link's own path, not the resolved one
    assert skipped == []


def test_unreadable_file_is_reported(tmp_path, monkeypatch):
    write_image(tmp_path / "locked.png", (1, 2, 3), 8)
    # tests run as root, who can read a chmod 000 file: simulate the refusal
    monkeypatch.setattr(files.os, "access", lambda path, mode: False)
    images, skipped = walk_images(tmp_path)
    assert images == []
    assert skipped == [SkippedFile(tmp_path / "locked.png", "cannot read: permission denied")]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read a chmod 000 folder")
def test_unreadable_folder_is_reported(tmp_path):
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked").chmod(0)
    try:
        _, skipped = walk_images(tmp_path)
        assert "permission denied" in _reasons(skipped)["locked"]
    finally:
        (tmp_path / "locked").chmod(0o755)


def test_missing_folder_gives_a_reason_not_an_exception(tmp_path):
    assert walk_images(tmp_path / "nope") == ([], [SkippedFile(tmp_path / "nope",
                                                               "folder not found")])


def test_collect_keeps_input_order_and_removes_duplicates(tmp_path):
    a = write_image(tmp_path / "z_first.png", (1, 2, 3), 8)
    for name in ["b.png", "a.png"]:
        write_image(tmp_path / "folder" / name, (1, 2, 3), 8)
    write_image(tmp_path / "folder" / "sub" / "c.png", (1, 2, 3), 8)
    (tmp_path / "notes.txt").write_text("x")
    images, skipped = collect_images([a, tmp_path / "folder", str(tmp_path / "folder" / "a.png"),
                                      tmp_path / "notes.txt", tmp_path / "missing.jpg", a])
    assert [p.name for p in images] == ["z_first.png", "a.png", "b.png"]  # not recursive
    assert _reasons(skipped) == {"notes.txt": "not an image file (.txt)",
                                 "missing.jpg": "not found"}
    deep, _ = collect_images([tmp_path / "folder"], recursive=True)
    assert [p.name for p in deep] == ["a.png", "b.png", "c.png"]


def test_collect_takes_a_hidden_file_given_explicitly(tmp_path):
    path = write_image(tmp_path / ".chosen.png", (1, 2, 3), 8)
    assert collect_images([path]) == ([path], [])


def test_child_paths_from_pathlib_internals_or_the_public_operator(tmp_path, monkeypatch):
    from horsehuman_gui.core import files

    made = files._child_maker()
    assert made(tmp_path, "a b.png") == tmp_path / "a b.png"
    assert type(made(tmp_path, "x")) is type(tmp_path)
    for changed in (None, lambda folder, name: folder / "wrong" / name,
                    lambda folder, name: 1 / 0):  # gone, different, or failing
        monkeypatch.setattr(files.Path, "_make_child_relpath", changed, raising=False)
        fallback = files._child_maker()
        assert fallback(tmp_path, "p.png") == tmp_path / "p.png"


def test_paths_sort_as_their_parts_do():
    paths = [Path(p) for p in ["/d/a b/x.png", "/d/a/z.png", "/d/a.png", "/d/a/b/c.png", "/d/a-b",
                               "/d/A/x.png", "/d/a/ b.png", "/d/é/x.png", "/d/a!/x.png", "/d/a"]]
    assert sorted(paths, key=files._sort_key) == sorted(paths, key=lambda p: p.parts)


@pytest.mark.parametrize("name", ["a.png", "a.tar.gz", ".png", "..png", "a.", "a", "a..b",
                                  "IMG_0001.JPG", "x.y.", "é.jpeg"])
def test_split_suffix_is_path_stem_and_suffix(name):
    assert files.split_suffix(name) == (Path(name).stem, Path(name).suffix)
