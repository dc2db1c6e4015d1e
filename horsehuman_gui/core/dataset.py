"""Scan a dataset folder: layout, classes, images per part, skipped files with reasons.

Two layouts are detected automatically:

* ``"split"``: the course's layout, a root holding ``train/`` (or ``training/``) and
  ``validation/`` (or ``val/``, ``test/``), each with the same class sub-folders;
* ``"classes"``: a root whose sub-folders are the classes; a stratified, seeded validation part
  is held out (every class in both parts, same proportions) group by group: near-duplicates and
  series of the same subject (``core.groups``) never straddle the two parts, so validation
  accuracy predicts accuracy on new pictures.

Every image is decoded once (``groups.describe_image``): that checks it and gives its hashes and
size for the grouping and the data health findings (``core.health``). Folders of more than
``CONTENT_CHECK_LIMIT`` images would take minutes to decode: their images are checked from
their headers and ends (``groups.describe_header``) and grouped by name only, which the report
says (``decoded``, ``grouping_signals``, a warning); a file damaged inside is then found by the
training pipeline when it decodes it. Verdicts are cached by path, size and modification time
(``core.scan_cache``), so scanning an unchanged folder again takes seconds. For the "split"
layout, near-duplicates shared by the two parts are a warning with the files. No TensorFlow
here: the GUI can scan before TF has loaded.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from horsehuman_gui.core import health
from horsehuman_gui.core.dataset_summary import report_to_json, summary_lines
from horsehuman_gui.core.errors import DatasetError
from horsehuman_gui.core.files import SkippedFile, is_hidden, walk_images
from horsehuman_gui.core.gc_pause import gc_paused
from horsehuman_gui.core.groups import (DEFAULT_SIGNALS, NAME_SIGNALS, ImageInfo, find_links,
                                        group_ids, split_groups)
from horsehuman_gui.core.health import Finding
from horsehuman_gui.core.scan_cache import ScanCache
from horsehuman_gui.core.scan_checks import ScanCancelled, Throttle, check_images

logger = logging.getLogger(__name__)

__all__ = ["Finding", "LabeledImage", "ScanCancelled", "ScanReport", "SkippedFile",
           "report_to_json", "scan_dataset", "summary_lines"]

TRAIN_NAMES = ("train", "training")
VALIDATION_NAMES = ("validation", "valid", "val", "test")  # valid/: Kaggle's, Roboflow's
IMBALANCE_RATIO = 1.5
#: images decoded in full during a scan at most (~5 ms each, 2 cores: ~1 minute); beyond, the
#: headers are checked (~0.1 ms each) and near-duplicates are grouped by name only
CONTENT_CHECK_LIMIT = 20_000


@dataclass(frozen=True, slots=True)  # slots: one per image, and a scan may find 100,000s
class LabeledImage:
    """One usable image and its class."""

    path: Path
    label: int  # index into ScanReport.classes
    #: near-duplicate group (``core.groups``): a group is wholly in one part (-1: not grouped)
    group: int = -1
    #: the signals that linked it to others in its group (``core.groups`` names), if any
    linked_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScanReport:
    """What a scan found; parts are sorted by (label, path), skipped files by path."""

    root: Path
    layout: str  # "split" or "classes"
    classes: tuple[str, ...]
    train: tuple[LabeledImage, ...]
    validation: tuple[LabeledImage, ...]
    skipped: tuple[SkippedFile, ...]
    warnings: tuple[str, ...]
    #: fraction held out for the "classes" layout (None for "split")
    validation_split: float | None
    seed: int
    #: data health problems, each with its files (``core.health``)
    findings: tuple[Finding, ...] = ()
    #: why this folder cannot be trained on, in sentences; empty when it can
    blocking_problems: tuple[str, ...] = ()
    #: grouping signals looked for, and (signal, links found) for those that linked files
    grouping_signals: tuple[str, ...] = DEFAULT_SIGNALS
    grouping_links: tuple[tuple[str, int], ...] = ()
    #: every image was decoded in full; False: checked from its header (too many to decode)
    decoded: bool = True

    def counts(self, part: str) -> dict[str, int]:
        """Images per class name in ``part`` ("train" or "validation"), every class present."""
        items = self.train if part == "train" else self.validation
        counts = {name: 0 for name in self.classes}
        for item in items:
            counts[self.classes[item.label]] += 1
        return counts


ProgressFn = Callable[[int, int], None]  # (files checked, files found)
WalkFn = Callable[[int], None]  # (images found so far)


def _sub_folders(folder: Path) -> dict[str, Path]:
    """Non-hidden sub-folders (links followed) by name."""
    found = {}
    try:
        entries = list(os.scandir(folder))
    except OSError:  # walk_images on the same folder reports it with a reason
        return found
    for entry in entries:
        try:
            if entry.is_dir() and not is_hidden(entry.name):
                found[entry.name] = folder / entry.name
        except OSError:  # idem
            continue
    return found


def _find_part(folders: dict[str, Path], names: tuple[str, ...]) -> Path | None:
    lowered = {name.lower(): path for name, path in folders.items()}
    return next((lowered[n] for n in names if n in lowered), None)


def _loose_entries(folder: Path, used: set[Path]) -> list[SkippedFile]:
    """Everything in ``folder`` that is not one of the ``used`` folders, with a reason."""
    images, skipped = walk_images(folder, recursive=False)  # reports hidden folders, not others
    skipped += [SkippedFile(p, "not inside a class folder") for p in images]
    for name, path in _sub_folders(folder).items():
        if path not in used:
            skipped.append(SkippedFile(path, "folder not used (not a train or validation part)"))
    return skipped


def _check_root(root: Path) -> None:
    try:
        st = os.stat(root)
        if stat.S_ISDIR(st.st_mode):
            os.scandir(root).close()  # an unreadable root is an error, not "no sub-folders"
    except FileNotFoundError:
        raise DatasetError(f"folder not found: {root}") from None
    except OSError as exc:
        raise DatasetError(f"cannot read folder {root}: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise DatasetError(f"not a folder: {root}")


def _too_few_classes(names: list[str], where: Path) -> DatasetError:
    if not names:
        loose = len(walk_images(where, recursive=False)[0])
        found = f" (only {loose} images directly in it)" if loose else ""
        return DatasetError(f"found no sub-folders in {where}{found}; need at least 2 class "
                            "folders (one sub-folder of images per class)")
    return DatasetError(f"found {len(names)} class folder ({', '.join(names)}) in {where}; "
                        "need at least 2")


def _layout(root: Path) -> tuple[str, dict[str, Path], list[SkippedFile]]:
    """(layout, part name -> folder, loose entries at the root)."""
    folders = _sub_folders(root)
    train, validation = _find_part(folders, TRAIN_NAMES), _find_part(folders, VALIDATION_NAMES)
    if train is not None and validation is not None:
        parts = {"train": train, "validation": validation}
        return "split", parts, _loose_entries(root, set(parts.values()))
    return "classes", {"all": root}, []


def _class_folders(parts: dict[str, Path], skipped: list) -> dict[str, dict[str, Path]]:
    """part -> class name -> folder; loose files in a part are reported in ``skipped``."""
    found = {part: _sub_folders(folder) for part, folder in parts.items()}
    for part, folder in parts.items():
        skipped += _loose_entries(folder, set(found[part].values()))
    names = sorted(set().union(*found.values()))
    if len(names) < 2:
        raise _too_few_classes(names, parts.get("train", parts.get("all")))
    return found


def _walk_classes(folders, names, skipped, roots, on_walk: WalkFn | None,
                  should_stop: Callable[[], bool] | None, keys: list | None = None
                  ) -> dict[str, dict[str, list[Path]]]:
    """part -> class name -> candidate image paths (walked recursively); ``keys`` (a list,
    extended) gets their cache keys in that order (``walk_images``).

    One ``visited`` set for all walks, seeded with the root, the parts and every class folder:
    a link from one class folder into another (or up to the root) is reported, never walked.
    ``on_walk(images found so far)`` about 10 times a second and once at the end;
    ``should_stop`` is checked as often (True raises ``ScanCancelled``).
    """
    seeds = [*roots, *(f for per_class in folders.values() for f in per_class.values())]
    visited = {(st.st_dev, st.st_ino) for st in map(os.stat, seeds)}
    found: dict[str, dict[str, list[Path]]] = {}
    progress, before = Throttle(on_walk), 0

    def on_found(count: int) -> None:
        if should_stop is not None and should_stop():
            raise ScanCancelled()
        progress(before + count)

    for part, per_class in folders.items():
        found[part] = {}
        for name in names:
            if name in per_class:
                images, bad = walk_images(per_class[name], recursive=True, visited=visited,
                                          on_found=on_found, keys=keys)
                found[part][name] = images
                skipped += bad
                before += len(images)
    progress(before, force=True)
    return found


def scan_dataset(
    root: str | Path,
    validation_split: float = 0.2,
    seed: int = 42,
    on_progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_walk: WalkFn | None = None,
    cache: bool = True,
) -> ScanReport:
    """Scan ``root`` into a ``ScanReport`` (classes, both parts, skipped files, warnings,
    near-duplicate groups, data health findings).

    ``validation_split`` (0 < x < 1) and ``seed`` apply to the "classes" layout only. The
    folders are walked first: ``on_walk(images found so far)`` is called about 10 times a
    second and at the end. Every image is then checked once in a few threads (decoded in full
    up to ``CONTENT_CHECK_LIMIT`` images, else from its header; see the module docstring), or
    its verdict taken from the scan cache when the file is unchanged (``cache=False``: neither
    read nor written); ``on_progress(done, total)`` is called about 10 times a second and for
    the last file. ``should_stop()`` is checked during both; True raises ``ScanCancelled``.
    Raises ``DatasetError`` (message says what was found, or that the folder disappeared during
    the scan) when the folder cannot be used and ``ValueError`` for a bad ``validation_split``.
    """
    if isinstance(validation_split, bool) or not isinstance(validation_split, (int, float)) \
            or not 0 < validation_split < 1:
        raise ValueError("`validation_split` must be between 0 and 1 (exclusive). "
                         f"Received: {validation_split!r}")
    root = Path(root)
    _check_root(root)
    store = ScanCache() if cache else None
    try:
        with gc_paused():  # its objects all live on: collecting meanwhile only costs time
            return _scan(root, validation_split, seed, on_progress, should_stop, on_walk, store)
    except ScanCancelled:
        raise
    except DatasetError:
        if not os.path.isdir(root):
            raise DatasetError(f"the folder disappeared during the scan: {root}") from None
        raise
    finally:
        if store is not None:
            store.close()


def _scan(root, validation_split, seed, on_progress, should_stop, on_walk, store) -> ScanReport:
    layout, parts, skipped = _layout(root)
    folders = _class_folders(parts, skipped)
    names = sorted(set().union(*folders.values()))
    keys: list = []  # the walk's stat of each image: the cache's key without a second stat
    found = _walk_classes(folders, names, skipped, [root, *parts.values()], on_walk,
                          should_stop, keys)
    candidates = [path for per_class in found.values() for paths in per_class.values()
                  for path in paths]
    decoded = len(candidates) <= CONTENT_CHECK_LIMIT
    # lists in the walk's order throughout, not dicts by path: hashing 100,000 paths took ~0.4 s
    verdicts = iter(check_images(candidates, full=decoded, cache=store, on_progress=on_progress,
                                 should_stop=should_stop, keys=keys))
    if candidates and not os.path.isdir(root):
        raise DatasetError(f"the folder disappeared during the scan: {root}")
    checked = {part: {name: [next(verdicts) for _ in paths] for name, paths in per_class.items()}
               for part, per_class in found.items()}
    skipped += [SkippedFile(p, v) for part, per_class in found.items()
                for name, paths in per_class.items()
                for p, v in zip(paths, checked[part][name]) if isinstance(v, str)]
    usable = {part: {name: [v for v in of_class if not isinstance(v, str)]
                     for name, of_class in per_class.items()}
              for part, per_class in checked.items()}
    report = _build_report(root, layout, parts, folders, names, usable, skipped,
                           validation_split, seed, decoded)
    if not decoded:
        report = dataclasses.replace(report, warnings=(*report.warnings, _undecoded_warning(
            len(candidates))))
    return report


def _undecoded_warning(count: int) -> str:
    return (f"{count:,} images (more than {CONTENT_CHECK_LIMIT:,}): each was checked from its "
            "header rather than decoded, and near-duplicates were looked for by file name only "
            "(copies of a picture may be in both training and validation); a picture damaged "
            "inside is left out when training reads it")


def _part_warnings(names, parts, folders, usable) -> list[str]:
    warnings = []
    for name in names:
        for part, folder in parts.items():
            if name not in folders[part]:
                warnings.append(f"class {name} has no folder in {folder.name}/")
            elif not usable[part][name]:
                warnings.append(f"class {name} has no usable images in {folder.name}/")
    return warnings


def _items(kept: list[str], usable: dict) -> list[tuple[str, int, ImageInfo]]:
    """(part, label, info) of every usable image of the kept classes: by part, then label, then
    path (``walk_images`` gives each class's paths sorted by their parts)."""
    return [(part, label, info) for part, per_class in usable.items()
            for label, name in enumerate(kept) for info in per_class.get(name, [])]


def _grouped(items, signals):
    """(group id per item, LabeledImage per item, links, signal -> links found)."""
    links = find_links([info for _, _, info in items], signals=signals)
    ids = group_ids(len(items), links)
    # per item, a frozenset shared by every item linked the same ways (not a set per item:
    # 100,000 sets are 20 MB), and one linked_by tuple per such combination
    signals: list[frozenset] = [frozenset()] * len(items)
    combos: dict[frozenset, frozenset] = {}
    fired: dict[str, int] = {}
    for link in links:
        for i in (link.a, link.b):
            union = signals[i] | {link.signal}
            signals[i] = combos.setdefault(union, union)
        fired[link.signal] = fired.get(link.signal, 0) + 1
    linked_by = {combo: tuple(sorted(combo)) for combo in {*combos, frozenset()}}
    labelled = [LabeledImage(info.path, label, ids[i], linked_by[signals[i]])
                for i, (_, label, info) in enumerate(items)]
    return ids, labelled, links, tuple(sorted(fired.items()))


def _assign(layout, items, ids, kept, parts, folders, usable, fraction, seed):
    """(whether each item is in validation, warnings): the folders' parts for "split", else
    whole near-duplicate groups held out per class (``groups.split_groups``)."""
    if layout == "split":
        return ([part == "validation" for part, _, _ in items],
                _part_warnings(kept, parts, folders, usable))
    in_validation = split_groups([label for _, label, _ in items], ids, fraction, seed)
    return in_validation, [f"class {n} has only 1 usable image; it is used for training only"
                           for n in kept if len(usable["all"][n]) == 1]


def _build_report(root, layout, parts, folders, names, usable, skipped, fraction, seed, decoded):
    kept = [n for n in names if any(per_class.get(n) for per_class in usable.values())]
    warnings = [f"class folder {n} has no usable images; left out" for n in names
                if n not in kept]
    if len(kept) < 2:
        raise DatasetError(f"found {len(names)} class folders ({', '.join(names)}) but "
                           f"{len(kept)} with usable images ({', '.join(kept) or 'none'}); "
                           "need at least 2")
    items = _items(kept, usable)
    signals = DEFAULT_SIGNALS if decoded else NAME_SIGNALS
    ids, labelled, links, fired = _grouped(items, signals)
    in_validation, more = _assign(layout, items, ids, kept, parts, folders, usable, fraction, seed)
    warnings += more
    checked = [health.Item(info, label, "validation" if held else "train")
               for (_, label, info), held in zip(items, in_validation)]
    empty = [folders[part][n] for part in parts for n in names
             if n in folders[part] and not usable[part].get(n)]
    findings, blocking = health.check_scan(root, layout, checked, kept, ids, links, empty,
                                           sum(map(len, folders.values())))
    if layout == "split":
        warnings += health.leak_warnings(findings, parts["train"], parts["validation"])
    # items are in (part, label, path) order: each part's images are already by (label, path)
    report = ScanReport(
        root=root, layout=layout, classes=tuple(kept),
        train=tuple(x for x, v in zip(labelled, in_validation) if not v),
        validation=tuple(x for x, v in zip(labelled, in_validation) if v),
        skipped=tuple(sorted(skipped, key=lambda s: s.path.parts)), warnings=(),
        validation_split=float(fraction) if layout == "classes" else None, seed=seed,
        findings=tuple(findings), blocking_problems=tuple(blocking), grouping_signals=signals,
        grouping_links=fired, decoded=decoded)
    imbalance = health.imbalance_warning(report.counts("train"), IMBALANCE_RATIO)
    warnings += [imbalance] if imbalance else []
    if not report.validation:
        warnings.append("no validation images: accuracy on unseen images cannot be measured")
    logger.info("scanned %s: %s layout, %d classes, %d train, %d validation, %d skipped, "
                "%d groups", root, layout, len(kept), len(report.train), len(report.validation),
                len(skipped), len(set(ids)))
    return dataclasses.replace(report, warnings=tuple(warnings))
