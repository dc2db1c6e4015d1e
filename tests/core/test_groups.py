"""Near-duplicate grouping: every signal on tiny synthetic pictures, the split that keeps groups
whole, and multi-index hashing against brute force."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from horsehuman_gui.core import groups
from horsehuman_gui.core.groups import (BURST, FEATURES, NAME_SERIES, SAME_BYTES, SAME_PIXELS,
                                        SIMILAR, describe_image, feature_links, find_links,
                                        group_images, hash_pairs, split_groups)


def scene(seed: int, size: int = 64) -> Image.Image:
    """A smooth random picture (blobs of colour), different for every seed."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    return Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC)


def save(img: Image.Image, path, **options):
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, **options)
    return path


def _infos(paths):
    infos = [describe_image(p) for p in paths]
    assert not any(isinstance(i, str) for i in infos), infos
    return infos


def _signals_between(infos, a, b) -> set[str]:
    return {link.signal for link in find_links(infos) if {link.a, link.b} == {a, b}}


def test_describe_image_reads_size_and_reports_bad_files(tmp_path):
    info = describe_image(save(scene(1, 48).resize((48, 20)), tmp_path / "a.png"))
    assert (info.width, info.height) == (48, 20) and len(info.thumb) == 256
    (tmp_path / "bad.png").write_bytes(b"not an image")
    assert describe_image(tmp_path / "bad.png") == "not an image (unrecognised content)"


def test_exact_copies_and_same_pixels_in_another_format(tmp_path):
    original = scene(1)
    paths = [save(original, tmp_path / "a.png"), save(original, tmp_path / "copy" / "a.png"),
             save(original, tmp_path / "b.bmp"), save(scene(2), tmp_path / "other.png")]
    infos = _infos(paths)
    assert SAME_BYTES in _signals_between(infos, 0, 1)
    assert SAME_PIXELS in _signals_between(infos, 0, 2)
    assert SAME_BYTES not in _signals_between(infos, 0, 2)
    ids = [g.group for g in group_images(infos)]
    assert ids[0] == ids[1] == ids[2] != ids[3]


def test_near_duplicates_reencoded_resized_and_shifted(tmp_path):
    original = scene(7, 64)
    shifted = original.crop((2, 1, 64, 64)).resize((64, 64))  # framed 2 pixels to the right
    paths = [save(original, tmp_path / "a.png"),
             save(original, tmp_path / "a.jpg", quality=60),
             save(original.resize((40, 40)), tmp_path / "small.png"),
             save(shifted, tmp_path / "shifted.png"),
             *(save(scene(100 + i), tmp_path / f"other{i}.png") for i in range(6))]
    infos = _infos(paths)
    for copy in (1, 2, 3):
        assert SIMILAR in _signals_between(infos, 0, copy), paths[copy].name
    ids = [g.group for g in group_images(infos)]
    assert len(set(ids[:4])) == 1
    assert len(set(ids[4:])) == 6 and not set(ids[4:]) & set(ids[:4])


def test_flat_pictures_are_not_similar_to_each_other(tmp_path):
    paths = [save(Image.new("RGB", (32, 32), colour), tmp_path / f"{i}.png")
             for i, colour in enumerate([(255, 0, 0), (0, 0, 255), (10, 200, 10)])]
    infos = _infos(paths)
    assert len({g.group for g in group_images(infos)}) == 3


@pytest.mark.parametrize("names, linked", [
    (["horse05-3.png", "horse05-7.png"], True),
    (["horse05-3.png", "horse06-1.png"], False),
    (["human12-17.png", "human12-2.png"], True),
    (["cat.1.png", "cat.2.png"], False),  # a counter alone: unrelated photos
    (["IMG_0412.png", "IMG_0413.png"], False),  # idem without a capture time or a similar look
    (["20190504_1201.png", "20190504_1203.png"], False),  # a date is no series id
])
def test_name_series(tmp_path, names, linked):
    paths = [save(scene(seed), tmp_path / name) for seed, name in enumerate(names)]
    infos = _infos(paths)
    assert (NAME_SERIES in _signals_between(infos, 0, 1)) == linked


@pytest.mark.parametrize("stem", [
    "horse05-3", "c0003_horse01-0", "IMG_0412", "set1_0001", "20190504_1201", "cat.1", "h1234-1",
    "h12345-1", "x-12345", "A_1_2", "ab 3", "-5", "..5", "123", "abc", "a1b2", "", "a-",
    "x\u06612", "x\u0661", "\u0661\u0662", "photo\u0967\u0968-3", "sup\u00b2"])
def test_series_parts_of_a_name(stem):
    """(prefix, index, has id): the index is the longest run of (any script's) digits ending the
    name, the id 1-4 digits ending the prefix before its separators."""
    found = re.match(r"^(.*?)(\d+)$", stem)
    expected = None
    if found and found.group(1):
        prefix = found.group(1)
        base = prefix.rstrip("-_ .")
        expected = (prefix, int(found.group(2)),
                    base != prefix and re.search(r"(?<!\d)\d{1,4}$", base) is not None)
    assert groups._series(stem) == expected


def test_a_naming_scheme_for_a_whole_folder_is_no_series(tmp_path):
    paths = [save(scene(i, 16), tmp_path / "set1" / f"set1_{i:04d}.png") for i in range(20)]
    paths += [save(scene(50 + i, 16), tmp_path / "few" / f"fig1_{i}.png") for i in range(3)]
    ids = [g.group for g in group_images(_infos(paths))]
    assert len(set(ids[:20])) == 20  # 20 files, all one "series": a scheme
    assert len(set(ids[20:])) == 1


def test_name_series_stay_within_their_folder(tmp_path):
    paths = [save(scene(1), tmp_path / "a" / "horse05-1.png"),
             save(scene(2), tmp_path / "b" / "horse05-2.png")]
    assert _signals_between(_infos(paths), 0, 1) == set()


def _with_time(img, when: str):
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = when
    return {"exif": exif}


def test_burst_needs_close_numbers_and_capture_times(tmp_path):
    shots = {"IMG_0412.jpg": "2024:05:01 10:00:00", "IMG_0414.jpg": "2024:05:01 10:00:04",
             "IMG_0415.jpg": "2024:05:01 18:30:00", "IMG_0460.jpg": "2024:05:01 18:30:01"}
    paths = [save(scene(seed), tmp_path / name, **_with_time(None, when))
             for seed, (name, when) in enumerate(shots.items())]
    infos = _infos(paths)
    assert infos[0].taken is not None and infos[1].taken - infos[0].taken == 4
    assert BURST in _signals_between(infos, 0, 1)
    assert _signals_between(infos, 1, 2) == set()  # hours apart
    assert _signals_between(infos, 2, 3) == set()  # a second apart but 45 numbers
    assert [g.signals for g in group_images(infos)][2:] == [(), ()]


def test_hash_pairs_match_brute_force():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 2**63, 300, dtype=np.int64).astype(np.uint64)
    flips = rng.integers(0, 64, (300, 8))
    near = base.copy()
    for i in range(0, 300, 3):  # a third get a copy with 0-8 bits flipped
        for bit in flips[i, :i % 9]:
            near[i] ^= np.uint64(1) << np.uint64(bit)
    hashes = [int(h) for h in np.r_[base, near[::3]]]
    found = {tuple(p) for p in hash_pairs(hashes, 6).tolist()}
    values = np.array(hashes, dtype=np.uint64)
    distance = np.bitwise_count(values[:, None] ^ values[None, :])
    close = np.triu((distance >= 1) & (distance <= 6), 1)  # identical ones: one representative
    expected = {(int(a), int(b)) for a, b in zip(*np.nonzero(close))}
    assert found == expected and len(expected) >= 50


def test_feature_links_are_mutual_nearest_neighbours_above_the_threshold():
    features = np.array([[1, 0], [0.99, 0.05], [0, 1], [0.05, 1], [0.7, 0.7]], dtype=float)
    links = feature_links(features, k=1, threshold=0.95)
    assert {(link.a, link.b) for link in links} == {(0, 1), (2, 3)}
    assert all(link.signal == FEATURES for link in links)
    assert feature_links(features, k=1, threshold=0.9999) == []


def test_features_join_groups_when_given(tmp_path):
    paths = [save(scene(i), tmp_path / f"p{i}.png") for i in range(4)]
    infos = _infos(paths)
    assert len({g.group for g in group_images(infos)}) == 4
    features = np.array([[1, 0], [1, 0.01], [0, 1], [-1, 0.2]], dtype=float)
    grouped = group_images(infos, features)
    assert grouped[0].group == grouped[1].group and grouped[0].signals == (FEATURES,)
    with pytest.raises(ValueError, match="one row per image"):
        group_images(infos, features[:2])


def test_split_groups_keeps_groups_whole_and_stratified():
    rng = np.random.default_rng(3)
    labels = np.repeat([0, 1], [120, 60])
    groups_ = np.r_[np.repeat(np.arange(30), 4), 30 + rng.integers(0, 20, 60)]
    held = split_groups(labels, groups_, 0.25, seed=5)
    for g in np.unique(groups_):
        assert len(set(held[groups_ == g])) == 1, g
    assert abs(held[labels == 0].sum() - 30) <= 2 and abs(held[labels == 1].sum() - 15) <= 3
    assert np.array_equal(held, split_groups(labels, groups_, 0.25, seed=5))
    assert not np.array_equal(held, split_groups(labels, groups_, 0.25, seed=6))


def test_split_groups_with_single_images_is_the_plain_stratified_split():
    labels = np.repeat([0, 1, 2], [10, 20, 3])
    held = split_groups(labels, np.arange(len(labels)), 0.25, seed=0)
    assert [int(held[labels == c].sum()) for c in range(3)] == [3, 5, 1]


def test_split_groups_holds_out_a_group_for_a_class_of_big_groups():
    labels = np.zeros(20, dtype=int)
    held = split_groups(labels, np.repeat([0, 1], 10), 0.2, seed=0)
    assert held.sum() == 10  # one whole group: better than no validation at all
    assert not split_groups(labels, np.zeros(20, dtype=int), 0.2, seed=0).any()


def test_grouping_20000_images_is_fast():
    """Grouping (not decoding) of 20,000 images well under a minute: here a few seconds."""
    import time
    rng = np.random.default_rng(1)
    n = 20_000
    thumbs = rng.integers(0, 256, (n, 256), dtype=np.uint8)
    infos = [groups.ImageInfo(groups.Path(f"/d/c{i % 3}/IMG_{i:05d}.jpg"), 64, 64, f"{i}",
                              f"{i}", int(h), thumbs[i].tobytes())
             for i, h in enumerate(rng.integers(0, 2**63, n, dtype=np.int64))]
    start = time.perf_counter()
    grouped = group_images(infos)
    assert time.perf_counter() - start < 30
    assert len(grouped) == n


# --- header checks, for folders too big to decode during a scan (issue #14) ------------------


def test_describe_header_reads_the_size_without_hashes(tmp_path):
    info = groups.describe_header(save(scene(1, 48).resize((48, 20)), tmp_path / "a.png"))
    assert (info.width, info.height) == (48, 20) and not info.hashed
    jpeg = groups.describe_header(save(scene(2, 300), tmp_path / "b.jpg", quality=80))
    assert (jpeg.width, jpeg.height) == (300, 300) and not jpeg.hashed


def test_describe_header_catches_truncated_and_fake_files(tmp_path):
    for name in ("a.png", "b.jpg", "c.gif"):
        data = save(scene(3, 64), tmp_path / name).read_bytes()
        (tmp_path / f"cut-{name}").write_bytes(data[: len(data) * 2 // 3])
        assert groups.describe_header(tmp_path / f"cut-{name}") == "corrupt or truncated image"
    (tmp_path / "text.png").write_text("not a picture")
    assert groups.describe_header(tmp_path / "text.png") == "not an image (unrecognised content)"
    (tmp_path / "empty.png").write_bytes(b"")
    assert groups.describe_header(tmp_path / "empty.png") == "empty file (0 bytes)"


def test_describe_header_decodes_what_it_cannot_vouch_for(tmp_path):
    grey16 = save(Image.fromarray(np.full((8, 8), 20000, dtype=np.uint16)), tmp_path / "g.png")
    appended = save(scene(4), tmp_path / "more.png")
    with open(appended, "ab") as handle:
        handle.write(b"trailing bytes")
    assert groups.describe_header(grey16).hashed  # unusual mode: decoded
    assert groups.describe_header(appended).hashed  # does not end as a PNG does: decoded
    assert groups.describe_header(save(scene(5), tmp_path / "b.bmp")).hashed


def test_header_infos_link_by_name_only(tmp_path):
    same = scene(6)
    paths = [save(same, tmp_path / "IMG_0001.png"), save(same, tmp_path / "IMG_0002.png"),
             save(scene(7), tmp_path / "horse05-1.png"), save(scene(8), tmp_path / "horse05-2.png")]
    infos = [groups.describe_header(p) for p in paths]
    links = find_links(infos, signals=groups.NAME_SIGNALS)
    assert [(link.a, link.b, link.signal) for link in links] == [(2, 3, NAME_SERIES)]
    # the same bytes, but no hashes: never linked, even when asked to look (no false groups)
    assert {link.signal for link in find_links(infos)} == {NAME_SERIES}
